// The transport conformance suite: the Transport contract (transport.ts), checked the same way
// for every implementation (TCP, TLS, the in-memory network), in the Hono way: one suite, run by
// each implementation's test file.
import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import type {
  ConnectOptions,
  ListenOptions,
  NetAddr,
  TcpConn,
  TcpListener,
} from "../../platform/mod.ts";
import { FrameConnection } from "./mod.ts";
import type { Transport } from "./transport.ts";

/** What the suite needs of an implementation. */
export interface TransportFixture {
  readonly transport: Transport;
  /** Where to listen (any free port). */
  readonly listen: ListenOptions;
  /** How to reach a listener bound at `addr`. */
  connect(addr: NetAddr): ConnectOptions;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Pair {
  readonly listener: TcpListener;
  readonly client: TcpConn;
  readonly server: TcpConn;
  close(): void;
}

async function pair(fixture: TransportFixture): Promise<Pair> {
  const listener = await fixture.transport.listen(fixture.listen);
  const accepting = listener.accept();
  const client = await fixture.transport.connect(
    fixture.connect(listener.addr),
  );
  const server = await accepting;
  return {
    listener,
    client,
    server,
    close() {
      client.close();
      server.close();
      listener.close();
    },
  };
}

/** Reads everything until the end of the stream, through the direct path. */
function readAll(
  conn: TcpConn,
): { done: Promise<Uint8Array>; received: () => number } {
  const chunks: Uint8Array[] = [];
  let size = 0;
  const done = new Promise<Uint8Array>((resolve, reject) => {
    conn.startReading!(
      (chunk) => {
        chunks.push(chunk.slice());
        size += chunk.byteLength;
      },
      (error) => {
        if (error !== undefined) reject(error);
        const all = new Uint8Array(size);
        let at = 0;
        for (const chunk of chunks) {
          all.set(chunk, at);
          at += chunk.byteLength;
        }
        resolve(all);
      },
    );
  });
  return { done, received: () => size };
}

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 31 + seed) & 0xff;
  return bytes;
}

/**
 * Registers the conformance tests of one transport.
 *
 * @param name The implementation's name, in each test's name.
 * @param fixture Makes the implementation's fixture (once per test).
 */
export function runTransportConformance(
  name: string,
  fixture: () => TransportFixture,
): void {
  test(`Transport (${name}): connect() reaches listen(), and bytes flow both ways in order`, async () => {
    const { client, server, close } = await pair(fixture());
    try {
      const toServer = readAll(server);
      const toClient = readAll(client);
      const sent: Uint8Array[] = [];
      for (let i = 0; i < 200; i++) {
        const chunk = pattern(1 + (i * 977) % 5000, i);
        sent.push(chunk);
        await client.write!(chunk);
      }
      await client.closeWrite!();
      const received = await toServer.done;
      const expected = new Uint8Array(
        sent.reduce((n, chunk) => n + chunk.byteLength, 0),
      );
      let at = 0;
      for (const chunk of sent) {
        expected.set(chunk, at);
        at += chunk.byteLength;
      }
      assert.deepEqual(received, expected);
      // Half-closed: the other way still works.
      await server.write!(encoder.encode("still here"));
      await server.closeWrite!();
      assert.equal(decoder.decode(await toClient.done), "still here");
    } finally {
      close();
    }
  });

  test(`Transport (${name}): readable and writable carry the bytes as streams`, async () => {
    const { client, server, close } = await pair(fixture());
    try {
      const writer = client.writable.getWriter();
      await writer.write(encoder.encode("one "));
      await writer.write(encoder.encode("two"));
      await writer.close();
      let text = "";
      for await (const chunk of server.readable) text += decoder.decode(chunk);
      assert.equal(text, "one two");
    } finally {
      close();
    }
  });

  test(`Transport (${name}): close() ends the other side's reading`, async () => {
    const { client, server, close } = await pair(fixture());
    try {
      const ended = new Promise<void>((resolve) => {
        server.startReading!(() => {}, () => resolve());
      });
      client.close();
      client.close(); // idempotent
      await ended;
    } finally {
      close();
    }
  });

  test(`Transport (${name}): writes fail after close()`, async () => {
    const { client, close } = await pair(fixture());
    try {
      client.close();
      await assert.rejects(client.write!(encoder.encode("late")));
    } finally {
      close();
    }
  });

  test(`Transport (${name}): connect() rejects when nothing listens, or when aborted`, async () => {
    const { transport, listen, connect } = fixture();
    const listener = await transport.listen(listen);
    const addr = listener.addr;
    listener.close();
    await assert.rejects(transport.connect(connect(addr)));
    const again = await transport.listen(listen);
    try {
      const aborted = new AbortController();
      aborted.abort(new Error("given up"));
      await assert.rejects(
        transport.connect({
          ...connect(again.addr),
          signal: aborted.signal,
        }),
      );
    } finally {
      again.close();
    }
  });

  test(`Transport (${name}): accept() rejects once the listener is closed`, async () => {
    const { transport, listen } = fixture();
    const listener = await transport.listen(listen);
    const accepting = listener.accept();
    listener.close();
    await assert.rejects(accepting);
  });

  test(`Transport (${name}): FrameConnection carries frames over it`, async () => {
    const { client, server, close } = await pair(fixture());
    const a = new FrameConnection(client);
    const b = new FrameConnection(server);
    try {
      const received: string[] = [];
      const done = new Promise<void>((resolve) => {
        b.start({
          onFrame: (payload) => {
            received.push(decoder.decode(payload));
            if (received.length === 1000) resolve();
          },
          onClose: () => {},
        });
      });
      a.start({ onFrame: () => {}, onClose: () => {} });
      for (let i = 0; i < 1000; i++) a.send(encoder.encode(`frame ${i}`));
      await done;
      assert.deepEqual(
        received,
        Array.from({ length: 1000 }, (_, i) => `frame ${i}`),
      );
    } finally {
      a.close();
      b.close();
      await Promise.all([a.ended(), b.ended()]);
      close();
    }
  });
}
