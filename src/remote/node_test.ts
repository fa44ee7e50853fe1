import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorSystem,
  type DeadLetter,
  defineActor,
  isActorStoppedError,
  isAskTimeoutError,
  isMessageNotHandledError,
  jsonCodec,
  type StopNotice,
} from "../../mod.ts";
import {
  LOCALHOST_CERTIFICATE as TLS_CERTIFICATE,
  LOCALHOST_PRIVATE_KEY as TLS_PRIVATE_KEY,
} from "../../tests/fixtures/tls/localhost.ts";
import {
  isCodecError,
  isHandshakeRefusedError,
  isNodeUnreachableError,
  isRemoteFailureError,
} from "./errors.ts";
import {
  type HandshakeFacts,
  importSecret,
  newNonce,
  prove,
} from "./handshake.ts";
import { RemoteNode } from "./node.ts";
import type { RemoteNodeOptions } from "./options.ts";
import {
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
} from "./protocol/mod.ts";
import { listenFrames, MemoryNetwork } from "./transport/mod.ts";
import { ManualClock } from "../timer/mod.ts";
import { waitFor } from "../../tests/remote/support.ts";

const SECRET = "test secret, not for production";
const quiet = { error() {} };

interface EchoProtocol {
  echo(text: string): string;
  add(n: number): void;
  sum(): number;
  seen(): number[];
  fail(message: string): never;
  hang(): void;
}

const echo = defineActor({
  name: "echo",
  init: () => ({ sum: 0, seen: [] as number[] }),
  handlers: {
    echo: (_s, text: string) => text,
    add: (s, n: number) => {
      s.sum += n;
      s.seen.push(n);
    },
    sum: (s) => s.sum,
    seen: (s) => s.seen,
    fail: (_s, message: string): never => {
      throw new TypeError(message);
    },
    hang: () => new Promise<void>(() => {}),
  },
});

interface Pair extends AsyncDisposable {
  a: ActorSystem;
  b: ActorSystem;
  nodeA: RemoteNode;
  nodeB: RemoteNode;
}

async function pair(
  optionsA: Partial<RemoteNodeOptions> = {},
  optionsB: Partial<RemoteNodeOptions> = {},
): Promise<Pair> {
  const a = new ActorSystem({ node: "a", logger: quiet, stopTimeoutMs: 100 });
  const b = new ActorSystem({ node: "b", logger: quiet, stopTimeoutMs: 100 });
  await b.spawn(echo, undefined, { id: "echo" });
  const nodeA = await RemoteNode.start(a, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
    ...optionsA,
  });
  const nodeB = await RemoteNode.start(b, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
    ...optionsB,
  });
  return {
    a,
    b,
    nodeA,
    nodeB,
    async [Symbol.asyncDispose]() {
      await nodeA.close();
      await nodeB.close();
      await a.shutdown();
      await b.shutdown();
    },
  };
}

test("RemoteNode: tell and ask a remote actor with the same API as a local one", async () => {
  await using p = await pair();
  assert.equal(await p.nodeA.connect(p.nodeB.address), "b");
  const ref = p.nodeA.ref<EchoProtocol>("b", "echo");
  assert.deepEqual(ref.address, { node: "b", path: "echo" });
  assert.equal(JSON.stringify(ref), '"troupe://b/echo"');
  ref.tell("add", 2);
  ref.tell("add", 3);
  assert.equal(await ref.ask("sum"), 5);
  assert.equal(await ref.ask("echo", "héllo 🎭"), "héllo 🎭");
  const byAddress = p.nodeA.ref<EchoProtocol>("troupe://b/echo");
  assert.equal(await byAddress.ask("sum"), 5);
});

test("RemoteNode: messages from one sender arrive in order and are handled one at a time", async () => {
  await using p = await pair();
  await p.nodeA.connect(p.nodeB.address);
  const ref = p.nodeA.ref<EchoProtocol>("b", "echo");
  const sent: number[] = [];
  for (let i = 0; i < 20_000; i++) {
    ref.tell("add", i);
    sent.push(i);
    if (i % 5000 === 0) await new Promise((r) => setTimeout(r, 0));
  }
  assert.deepEqual(
    await ref.ask("seen", undefined, { timeoutMs: 20_000 }),
    sent,
  );
});

test("RemoteNode: remote failures reject with the same typed errors as local ones", async () => {
  await using p = await pair();
  await p.nodeA.connect(p.nodeB.address);
  const ref = p.nodeA.ref<EchoProtocol>("b", "echo");
  await assert.rejects(ref.ask("fail", "bad input"), (e: unknown) => {
    assert.ok(isRemoteFailureError(e));
    assert.equal(e.remoteName, "TypeError");
    assert.equal(e.remoteCode, "HANDLER_FAILED");
    assert.match(e.message, /bad input/);
    return true;
  });
  const missing = p.nodeA.ref<EchoProtocol>("b", "nobody");
  await assert.rejects(missing.ask("sum"), isActorStoppedError);
  const untyped = ref as unknown as { ask(t: string): Promise<unknown> };
  await assert.rejects(untyped.ask("nope"), isMessageNotHandledError);
  await assert.rejects(
    ref.ask("hang", undefined, { timeoutMs: 50 }),
    isAskTimeoutError,
  );
});

test("RemoteNode: a payload the codec cannot encode is a CodecError for the sender", async () => {
  await using p = await pair();
  await p.nodeA.connect(p.nodeB.address);
  const ref = p.nodeA.ref<{ echo(x: unknown): unknown }>("b", "echo");
  const cyclic: { self?: unknown } = {};
  cyclic.self = cyclic;
  await assert.rejects(ref.ask("echo", cyclic), isCodecError);
  assert.throws(() => ref.tell("echo", cyclic), isCodecError);
});

test("RemoteNode: named codecs travel with each message; an unknown one is a typed error", async () => {
  const upper = {
    encode: (_t: string, v: unknown) =>
      jsonCodec.encode("x", String(v).toUpperCase()),
    decode: (_t: string, b: Uint8Array) => jsonCodec.decode("x", b),
  };
  await using p = await pair(
    { codecs: { upper }, messageCodecs: { echo: "upper" } },
    { codecs: { upper } },
  );
  await p.nodeA.connect(p.nodeB.address);
  const ref = p.nodeA.ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "shout"), "SHOUT");
  await using q = await pair({
    codecs: { upper },
    messageCodecs: { echo: "upper" },
  }, {});
  await q.nodeA.connect(q.nodeB.address);
  await assert.rejects(
    q.nodeA.ref<EchoProtocol>("b", "echo").ask("echo", "x"),
    isCodecError,
  );
});

test("RemoteNode.lookup() and spawn() find and create actors on another node", async () => {
  await using p = await pair();
  p.nodeB.register("echo", echo);
  await p.nodeA.connect(p.nodeB.address);
  assert.equal(await p.nodeA.lookup("b", "nobody"), undefined);
  const found = await p.nodeA.lookup<EchoProtocol>("b", "echo");
  assert.equal(await found?.ask("echo", "x"), "x");
  const spawned = await p.nodeA.spawn<EchoProtocol>("b", "echo", undefined, {
    id: "made-remotely",
  });
  assert.equal(spawned.path, "made-remotely");
  assert.equal(await spawned.ask("echo", "y"), "y");
  assert.ok(p.b.lookup("made-remotely"));
  await assert.rejects(
    p.nodeA.spawn("b", "no-such-factory", undefined),
    (e: unknown) => {
      assert.ok(isRemoteFailureError(e));
      assert.equal(e.remoteCode, "FACTORY_UNKNOWN");
      return true;
    },
  );
  await spawned.stop();
  assert.equal(p.b.lookup("made-remotely"), undefined);
});

test("RemoteNode: watching a remote actor delivers terminated when it stops", async () => {
  await using p = await pair();
  await p.nodeA.connect(p.nodeB.address);
  const notices: Array<[string, string]> = [];
  const watcher = defineActor({
    name: "watcher",
    init: () => ({}),
    handlers: { watch: (_s, ref: ActorRef<object>, ctx) => ctx.watch(ref) },
    terminated: (_s, notice: StopNotice) =>
      void notices.push([notice.ref.path, notice.fault?.kind ?? "clean"]),
  });
  const w = await p.a.spawn(watcher, undefined);
  const remote = p.nodeA.ref<EchoProtocol>("b", "echo");
  await w.ask("watch", remote);
  const stopped = p.a.whenStopped(remote);
  await p.b.lookup("echo")!.stop();
  await stopped;
  await waitFor(() => notices.length > 0, "the terminated hook ran");
  assert.deepEqual(notices, [["echo", "clean"]]);
  assert.equal(remote.stopped, true);
});

test("RemoteNode: node loss rejects waiting asks at once and tells watchers", async () => {
  await using p = await pair();
  await p.nodeA.connect(p.nodeB.address);
  const remote = p.nodeA.ref<EchoProtocol>("b", "echo");
  const stopped = p.a.whenStopped(remote);
  const hanging = remote.ask("hang", undefined, { timeoutMs: 60_000 }).catch((
    e,
  ) => e);
  await p.nodeA.lookup("b", "echo"); // a round trip: the watch and the hanging ask are on the wire
  const started = Date.now();
  await p.nodeB.close();
  const error = await hanging;
  assert.ok(isNodeUnreachableError(error), String(error));
  assert.ok(
    Date.now() - started < 5000,
    "rejected at once, not at the timeout",
  );
  const notice = await stopped;
  assert.equal(notice.fault?.kind, "error");
});

test("RemoteNode: a wrong secret, cluster or protocol is refused with a clear reason on both sides", async () => {
  const errors: string[] = [];
  const logger = {
    error: (m: string, e: unknown) =>
      void errors.push(`${m}: ${(e as Error).message}`),
  };
  await using p = await pair({}, { logger });
  const wrongSecret = new ActorSystem({ node: "intruder" });
  const intruder = await RemoteNode.start(wrongSecret, {
    cluster: "test",
    secret: "not the secret, a guess",
    logger: quiet,
  });
  await assert.rejects(intruder.connect(p.nodeB.address), (e: unknown) => {
    assert.ok(isHandshakeRefusedError(e));
    assert.equal(e.refusal, "auth");
    return true;
  });
  const otherCluster = new ActorSystem({ node: "stranger" });
  const stranger = await RemoteNode.start(otherCluster, {
    cluster: "other",
    secret: SECRET,
    logger: quiet,
  });
  await assert.rejects(stranger.connect(p.nodeB.address), (e: unknown) => {
    assert.ok(isHandshakeRefusedError(e));
    assert.equal(e.refusal, "cluster");
    assert.match(
      e.message,
      /cluster "test" is not "other"|cluster "other" is not "test"/,
    );
    return true;
  });
  assert.ok(errors.some((m) => /cluster/.test(m)), errors.join("\n"));
  // The node keeps serving everyone else.
  await p.nodeA.connect(p.nodeB.address);
  assert.equal(
    await p.nodeA.ref<EchoProtocol>("b", "echo").ask("echo", "still here"),
    "still here",
  );
  await intruder.close();
  await stranger.close();
  await wrongSecret.shutdown();
  await otherCluster.shutdown();
});

test("RemoteNode: TLS connections carry the same protocol", async () => {
  await using p = await pair(
    {
      connectTls: {
        caCertificates: [TLS_CERTIFICATE],
        serverName: "localhost",
      },
    },
    { tls: { certificate: TLS_CERTIFICATE, privateKey: TLS_PRIVATE_KEY } },
  );
  await p.nodeA.connect(p.nodeB.address);
  assert.equal(
    await p.nodeA.ref<EchoProtocol>("b", "echo").ask("echo", "secure"),
    "secure",
  );
});

test("RemoteNode: after a node comes back, sends reconnect; while it is away tells are buffered boundedly", async () => {
  const a = new ActorSystem({ node: "a", logger: quiet });
  const b1 = new ActorSystem({ node: "b", logger: quiet });
  await b1.spawn(echo, undefined, { id: "echo" });
  const nodeA = await RemoteNode.start(a, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
    maxBufferedMessages: 5,
    reconnect: { minMs: 20, maxMs: 50 },
  });
  let nodeB = await RemoteNode.start(b1, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
  });
  const port = Number(nodeB.address.split(":")[1]);
  const letters: DeadLetter[] = [];
  a.deadLetters.subscribe((l) => letters.push(l));
  try {
    await nodeA.connect(nodeB.address);
    const ref = nodeA.ref<EchoProtocol>("b", "echo");
    await ref.ask("sum");
    await nodeB.close();
    await b1.shutdown();
    await waitFor(() => !nodeA.peers()[0].connected, "node a saw the loss");
    for (let i = 1; i <= 8; i++) ref.tell("add", i);
    await waitFor(
      () => letters.length >= 3,
      "the tells without room are dead letters",
    );
    assert.equal(
      letters.filter((l) => l.reason === "node-unreachable").length,
      3,
      "8 tells, room for 5",
    );
    const b2 = new ActorSystem({ node: "b", logger: quiet });
    await b2.spawn(echo, undefined, { id: "echo" });
    nodeB = await RemoteNode.start(b2, {
      cluster: "test",
      secret: SECRET,
      logger: quiet,
      port,
    });
    let sum: number | undefined;
    for (let i = 0; i < 100 && sum === undefined; i++) {
      try {
        sum = await ref.ask("sum", undefined, { timeoutMs: 200 });
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    assert.equal(
      sum,
      1 + 2 + 3 + 4 + 5,
      "the five buffered tells were delivered after reconnecting",
    );
    await nodeB.close();
    await b2.shutdown();
  } finally {
    await nodeA.close();
    await nodeB.close();
    await a.shutdown();
  }
});

test("RemoteNode.start() validates its options", async () => {
  await using system = new ActorSystem();
  await assert.rejects(
    RemoteNode.start(system, { cluster: "", secret: SECRET }),
    TypeError,
  );
  await assert.rejects(
    RemoteNode.start(system, { cluster: "c", secret: "short" }),
    RangeError,
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      heartbeatIntervalMs: 0,
    }),
    RangeError,
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      messageCodecs: { x: "nope" },
    }),
    TypeError,
  );
});

test("RemoteNode: a peer that goes silent after the handshake is dropped by the heartbeat", async () => {
  // A fake node: it completes a real handshake, then never answers anything (no pongs, no replies).
  const key = await importSecret(SECRET);
  const silent = await listenFrames(
    { hostname: "127.0.0.1", port: 0 },
    (conn) => {
      let facts: HandshakeFacts | undefined;
      conn.start({
        onFrame: async (bytes) => {
          const message = decodeMessage(bytes);
          if (message.kind === "hello") {
            facts = {
              cluster: "test",
              dialerNode: message.node,
              listenerNode: "silent",
              dialerNonce: message.nonce.slice(),
              listenerNonce: newNonce(),
            };
            conn.send(encodeMessage({
              kind: "welcome",
              protocolVersion: PROTOCOL_VERSION,
              node: "silent",
              address: "127.0.0.1:1",
              cluster: "test",
              nonce: facts.listenerNonce,
            }));
          } else if (message.kind === "proof" && facts !== undefined) {
            conn.send(encodeMessage({
              kind: "accepted",
              proof: await prove(key, "listener", facts),
            }));
          }
          // Everything after the handshake is swallowed.
        },
        onClose() {},
      });
    },
  );
  const system = new ActorSystem({ node: "a", logger: quiet });
  const node = await RemoteNode.start(system, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 200,
    reconnect: { minMs: 60_000, maxMs: 60_000 },
  });
  try {
    assert.equal(await node.connect(`127.0.0.1:${silent.addr.port}`), "silent");
    const started = Date.now();
    const error = await node.ref<EchoProtocol>("silent", "echo")
      .ask("sum", undefined, { timeoutMs: 10_000 })
      .catch((e) => e);
    assert.ok(isNodeUnreachableError(error), String(error));
    assert.ok(
      Date.now() - started < 5000,
      "dropped by the heartbeat, not by the ask timeout",
    );
    assert.deepEqual(node.peers().map((p) => [p.node, p.connected]), [[
      "silent",
      false,
    ]]);
  } finally {
    await node.close();
    await system.shutdown();
    await silent.close();
  }
});

test("RemoteNode: a producer faster than the network gets dead letters, never a lost connection", async () => {
  await using p = await pair({
    maxSendBufferBytes: 256 * 1024,
    maxFrameBytes: 64 * 1024,
  });
  await p.nodeA.connect(p.nodeB.address);
  const ref = p.nodeA.ref<EchoProtocol>("b", "echo");
  const refused: number[] = [];
  p.a.deadLetters.subscribe((l) => {
    if (l.reason === "mailbox-full") refused.push(l.payload as number);
  });
  const total = 50_000;
  for (let i = 0; i < total; i++) ref.tell("add", i); // ~2 MB in one synchronous burst
  const seen = await ref.ask("seen", undefined, { timeoutMs: 20_000 });
  assert.ok(refused.length > 0, "the burst overflowed the send buffer");
  assert.equal(
    seen.length + refused.length,
    total,
    "every tell was delivered or refused",
  );
  assert.ok(
    seen.every((n, i) => i === 0 || n > seen[i - 1]),
    "what was delivered is in order",
  );
  assert.deepEqual(
    p.nodeA.peers().map((x) => x.connected),
    [true],
    "the connection survived",
  );
});

test("RemoteNode.start() takes its transport and clock as options (a MemoryNetwork under a ManualClock)", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  await using a = new ActorSystem({ node: "a", logger: quiet, clock });
  await using b = new ActorSystem({ node: "b", logger: quiet, clock });
  await b.spawn(echo, undefined, { id: "echo" });
  const options = { cluster: "test", secret: SECRET, logger: quiet, clock };
  await using nodeA = await RemoteNode.start(a, {
    ...options,
    transport: network.transport("host-a"),
  });
  await using nodeB = await RemoteNode.start(b, {
    ...options,
    transport: network.transport("host-b"),
  });
  assert.match(nodeB.address, /^host-b:\d+$/, "listening on the network");
  assert.equal(await nodeA.connect(nodeB.address), "b");
  const ref = nodeA.ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "in memory"), "in memory");
  // The heartbeat runs on the node's clock: a partition is found only as virtual time passes.
  network.partition("host-a", "host-b");
  await clock.advance(4000);
  assert.equal(nodeA.peers()[0].connected, true);
  await clock.advance(2000);
  assert.equal(nodeA.peers()[0].connected, false);
  await using system = new ActorSystem({ logger: quiet });
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      transport: {} as never,
    }),
    TypeError,
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      clock: {} as never,
    }),
    TypeError,
  );
});
