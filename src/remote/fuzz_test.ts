// Bad input at a running node: garbage before the handshake, malformed and oversized frames,
// mutated valid frames, unexpected messages. Every bad connection must be closed and the node
// must go on serving everyone else, with bounded memory. Bounded in time for CI.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { platform, type TcpConn } from "../platform/mod.ts";
import { ActorSystem, defineActor } from "../../mod.ts";
import { RemoteNode } from "./node.ts";
import {
  encodeMessage,
  PROTOCOL_VERSION,
  type RemoteMessage,
} from "./protocol/mod.ts";

const SECRET = "fuzzing secret, test only";
const quiet = { error() {} };
const FUZZ_BUDGET_MS = 4000;

const echo = defineActor({
  name: "echo",
  init: () => ({}),
  handlers: { echo: (_s, text: string) => text },
});

function frame(payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + payload.length);
  new DataView(out.buffer).setUint32(0, payload.length);
  out.set(payload, 4);
  return out;
}

/** Writes bytes, then waits until the node closes the connection (or a short while passes). */
async function throwAt(
  address: string,
  chunks: Uint8Array[],
): Promise<"closed" | "open"> {
  const [hostname, port] = address.split(":");
  let conn: TcpConn;
  try {
    conn = await platform.connect({ hostname, port: Number(port) });
  } catch {
    return "closed";
  }
  const writer = conn.writable.getWriter();
  const reader = conn.readable.getReader();
  try {
    for (const chunk of chunks) await writer.write(chunk);
  } catch {
    // The node may close while we write.
  }
  let timer: ReturnType<typeof platform.setTimer> | undefined;
  const outcome = await Promise.race([
    (async () => {
      try {
        while (true) {
          const { done } = await reader.read();
          if (done) return "closed" as const;
        }
      } catch {
        return "closed" as const;
      }
    })(),
    new Promise<"open">((resolve) => {
      timer = platform.setTimer(() => resolve("open"), 1000);
    }),
  ]);
  if (timer !== undefined) platform.clearTimer(timer);
  conn.close();
  reader.releaseLock();
  writer.releaseLock();
  return outcome;
}

const hello: RemoteMessage = {
  kind: "hello",
  protocolVersion: PROTOCOL_VERSION,
  node: "fuzzer",
  address: "127.0.0.1:1",
  cluster: "fuzz",
  nonce: new Uint8Array(32),
};

test("RemoteNode survives garbage, malformed, oversized and mutated frames, and keeps serving", async () => {
  await using system = new ActorSystem({ node: "target", logger: quiet });
  await system.spawn(echo, undefined, { id: "echo" });
  await using client = new ActorSystem({ node: "client", logger: quiet });
  await using target = await RemoteNode.start(system, {
    cluster: "fuzz",
    secret: SECRET,
    logger: quiet,
    maxFrameBytes: 64 * 1024,
    handshakeTimeoutMs: 500,
  });
  await using good = await RemoteNode.start(client, {
    cluster: "fuzz",
    secret: SECRET,
    logger: quiet,
  });
  await good.connect(target.address);
  const ref = good.ref<{ echo(text: string): string }>("target", "echo");

  // Fixed cases first.
  const cases: Array<[string, Uint8Array[]]> = [
    ["an HTTP request", [
      new TextEncoder().encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
    ]],
    ["an oversized frame header", [new Uint8Array([0x7f, 0xff, 0xff, 0xff])]],
    ["a frame of zeros", [frame(new Uint8Array(16))]],
    ["a message other than hello first", [
      frame(encodeMessage({ kind: "ping", id: 1 })),
    ]],
    ["a hello of another protocol version", [
      frame(encodeMessage({ ...hello, protocolVersion: 99 })),
    ]],
    ["a truncated hello", [frame(encodeMessage(hello)).subarray(0, 20)]],
  ];
  for (const [what, chunks] of cases) {
    assert.equal(await throwAt(target.address, chunks), "closed", what);
    assert.equal(
      await ref.ask("echo", what),
      what,
      `still serving after ${what}`,
    );
  }

  // Then random bytes and mutated valid frames, for a bounded time.
  const valid = frame(encodeMessage(hello));
  const started = Date.now();
  let runs = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.oneof(
        fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => [b]),
        fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 }))
          .map(([at, x]) => {
            const m = valid.slice();
            m[at] ^= x;
            return [m];
          }),
        fc.uint8Array({ minLength: 1, maxLength: 64 }).map((
          b,
        ) => [valid, frame(b)]),
      ),
      async (chunks) => {
        if (Date.now() - started > FUZZ_BUDGET_MS) return;
        runs++;
        await throwAt(target.address, chunks);
      },
    ),
    { numRuns: 60 },
  );
  assert.ok(runs > 0);
  assert.equal(await ref.ask("echo", "after fuzzing"), "after fuzzing");
  assert.equal(
    target.inboundConnections,
    1,
    "only the good client's connection is kept",
  );
});
