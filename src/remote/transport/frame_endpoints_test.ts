// FrameConnection over real loopback sockets (plain and TLS), through connectFrames/listenFrames.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { platform } from "../../platform/mod.ts";
import {
  LOCALHOST_CERTIFICATE,
  LOCALHOST_PRIVATE_KEY,
} from "../../../tests/fixtures/tls/localhost.ts";
import { isConnectionClosedError } from "./errors.ts";
import {
  connectFrames,
  type ConnectFramesOptions,
  type FrameConnection,
  type FrameConnectionOptions,
  type FrameListener,
  listenFrames,
  type ListenFramesOptions,
} from "./mod.ts";

interface Loopback extends AsyncDisposable {
  listener: FrameListener;
  client: FrameConnection;
  /** The accepted end, not started. */
  server: FrameConnection;
}

/** A listener and both ends of one frame connection; everything is closed on dispose. */
async function loopback(
  options: FrameConnectionOptions & {
    listen?: Partial<ListenFramesOptions>;
    connect?: Partial<ConnectFramesOptions>;
  } = {},
): Promise<Loopback> {
  const accepted: FrameConnection[] = [];
  let onAccepted: (conn: FrameConnection) => void = (conn) => {
    accepted.push(conn);
  };
  const listener = await listenFrames(
    { ...options, ...options.listen },
    (conn) => onAccepted(conn),
  );
  let client: FrameConnection | undefined;
  try {
    const serverPromise = accepted.length > 0
      ? Promise.resolve(accepted[0])
      : new Promise<FrameConnection>((resolve) => {
        onAccepted = (conn) => {
          accepted.push(conn);
          resolve(conn);
        };
      });
    client = await connectFrames({
      ...options,
      ...options.connect,
      port: listener.addr.port,
    });
    const server = await serverPromise;
    const connected = client;
    return {
      listener,
      client: connected,
      server,
      [Symbol.asyncDispose]: async (): Promise<void> => {
        connected.close();
        for (const conn of accepted) conn.close();
        await listener.close();
      },
    };
  } catch (error) {
    client?.close();
    for (const conn of accepted) conn.close();
    await listener.close();
    throw error;
  }
}

/** Starts `conn` as an echo server. */
function echo(conn: FrameConnection): void {
  conn.start({ onFrame: (payload) => conn.send(payload), onClose: () => {} });
}

/** Starts `conn`, collecting frames; `received(n)` resolves once `n` frames arrived. */
function collect(conn: FrameConnection): {
  frames: Uint8Array[];
  closes: unknown[];
  received(count: number): Promise<void>;
} {
  const frames: Uint8Array[] = [];
  const closes: unknown[] = [];
  let wanted = Infinity;
  let wake: (() => void) | null = null;
  let fail: ((error: unknown) => void) | null = null;
  conn.start({
    onFrame: (payload) => {
      frames.push(payload);
      if (frames.length >= wanted) wake?.();
    },
    onClose: (error) => {
      closes.push(error);
      fail?.(error ?? new Error("closed"));
    },
  });
  return {
    frames,
    closes,
    received: (count) =>
      frames.length >= count
        ? Promise.resolve()
        : new Promise<void>((resolve, reject) => {
          wanted = count;
          wake = resolve;
          fail = reject;
        }),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, ms));
}

async function until(
  condition: () => boolean,
  what: string,
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = platform.now() + timeoutMs;
  while (!condition()) {
    if (platform.now() > deadline) {
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await delay(5);
  }
}

test("FrameConnection carries frames of random sizes over loopback and back, in order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.oneof(
          fc.uint8Array({ maxLength: 100 }),
          fc.uint8Array({ minLength: 1000, maxLength: 200_000 }),
        ),
        { minLength: 1, maxLength: 60 },
      ),
      async (payloads) => {
        await using pair = await loopback();
        echo(pair.server);
        const echoed = collect(pair.client);
        for (const payload of payloads) pair.client.send(payload);
        await echoed.received(payloads.length);
        assert.equal(echoed.frames.length, payloads.length);
        echoed.frames.forEach((frame, i) =>
          assert.deepEqual(frame, payloads[i])
        );
      },
    ),
    { numRuns: 15 },
  );
});

test("FrameConnection sends 100k small frames over loopback in far fewer writes", async () => {
  await using pair = await loopback();
  const count = 100_000;
  let received = 0;
  let checksum = 0;
  const done = new Promise<void>((resolve, reject) => {
    pair.server.start({
      onFrame: (payload) => {
        checksum = (checksum + payload[0] + payload[63]) | 0;
        if (++received === count) resolve();
      },
      onClose: reject,
    });
  });
  const frame = new Uint8Array(64);
  let expected = 0;
  for (let i = 0; i < count; i++) {
    frame[0] = i & 0xff;
    frame[63] = (i >> 8) & 0xff;
    expected = (expected + frame[0] + frame[63]) | 0;
    pair.client.send(frame);
  }
  await done;
  assert.equal(checksum, expected);
  // 6.8 MB in writes of at most 1 MiB.
  assert.ok(pair.client.writes <= 10, `${pair.client.writes} writes`);
});

test("FrameConnection ends at the peer with ConnectionClosedError when the other side closes", async () => {
  await using pair = await loopback();
  const server = collect(pair.server);
  pair.client.send(new Uint8Array([1]));
  await server.received(1);
  pair.client.close();
  await until(() => server.closes.length > 0, "the server's onClose");
  assert.ok(isConnectionClosedError(server.closes[0]));
  assert.equal(server.closes.length, 1);
});

test("FrameConnection closes once maxBufferedBytes is reached when the peer stops reading", async () => {
  const maxBufferedBytes = 4 * 1024 * 1024;
  await using pair = await loopback({ connect: { maxBufferedBytes } });
  // The server end is never started: nobody reads, the kernel buffers fill up, then ours.
  const closes: unknown[] = [];
  pair.client.start({
    onFrame: () => {},
    onClose: (error) => closes.push(error),
  });
  const frame = new Uint8Array(64 * 1024);
  let thrown: unknown = undefined;
  let peak = 0;
  for (let i = 0; i < 4_000 && thrown === undefined; i++) {
    try {
      pair.client.send(frame);
    } catch (error) {
      thrown = error;
    }
    peak = Math.max(peak, pair.client.bufferedBytes);
    if (i % 16 === 0) await delay(0);
  }
  assert.ok(
    isConnectionClosedError(thrown),
    "send() threw ConnectionClosedError",
  );
  assert.match((thrown as Error).message, /peer stopped reading/);
  assert.deepEqual(closes, [thrown]);
  assert.ok(peak <= maxBufferedBytes, `peak ${peak} bytes buffered`);
  assert.equal(pair.client.closed, true);
});

test("FrameConnection closes after stallTimeoutMs when the peer stops reading", async () => {
  await using pair = await loopback({ connect: { stallTimeoutMs: 300 } });
  const closes: unknown[] = [];
  pair.client.start({
    onFrame: () => {},
    onClose: (error) => closes.push(error),
  });
  // More than loopback's socket buffers can hold, all queued at once.
  const frame = new Uint8Array(1024 * 1024);
  for (let i = 0; i < 48; i++) pair.client.send(frame);
  const started = platform.now();
  await until(() => closes.length > 0, "the stall to close the connection");
  const elapsed = platform.now() - started;
  assert.ok(elapsed >= 250, `closed after ${elapsed} ms`);
  assert.ok(isConnectionClosedError(closes[0]));
  assert.match((closes[0] as Error).message, /peer stopped reading/);
});

test("FrameConnection.whenWritable() paces a producer over loopback", async () => {
  await using pair = await loopback({
    connect: { highWaterBytes: 256 * 1024, lowWaterBytes: 64 * 1024 },
  });
  const server = collect(pair.server);
  const frame = new Uint8Array(16 * 1024);
  let peak = 0;
  for (let i = 0; i < 1_000; i++) {
    pair.client.send(frame);
    peak = Math.max(peak, pair.client.bufferedBytes);
    if (pair.client.needsDrain) await pair.client.whenWritable();
  }
  await server.received(1_000);
  assert.ok(peak <= 256 * 1024 + frame.byteLength + 4, `peak ${peak}`);
});

test("connectFrames() and listenFrames() carry frames over TLS", async () => {
  await using pair = await loopback({
    listen: {
      tls: {
        certificate: LOCALHOST_CERTIFICATE,
        privateKey: LOCALHOST_PRIVATE_KEY,
      },
    },
    connect: {
      hostname: "localhost",
      tls: { caCertificates: [LOCALHOST_CERTIFICATE] },
    },
  });
  echo(pair.server);
  const echoed = collect(pair.client);
  const payloads = Array.from(
    { length: 2_000 },
    (_, i) => new Uint8Array(i % 300).fill(i & 0xff),
  );
  for (const payload of payloads) pair.client.send(payload);
  await echoed.received(payloads.length);
  assert.deepEqual(echoed.frames, payloads);
});

test("connectFrames() rejects an untrusted TLS server", async () => {
  const listener = await listenFrames({
    port: 0,
    tls: {
      certificate: LOCALHOST_CERTIFICATE,
      privateKey: LOCALHOST_PRIVATE_KEY,
    },
  }, (conn) => conn.close());
  try {
    await assert.rejects(connectFrames({ port: listener.addr.port, tls: {} }));
  } finally {
    await listener.close();
  }
});

test("connectFrames() throws RangeError for a bad option before connecting", async () => {
  await assert.rejects(
    connectFrames({ port: 1, maxFrameBytes: -1 }),
    RangeError,
  );
});

test("listenFrames() closes a connection whose onConnection throws and reports the error", async () => {
  const errors: unknown[] = [];
  const failure = new Error("onConnection bug");
  const listener = await listenFrames(
    { port: 0, onError: (error) => errors.push(error) },
    () => {
      throw failure;
    },
  );
  let client: FrameConnection | undefined;
  try {
    client = await connectFrames({ port: listener.addr.port });
    const closes: unknown[] = [];
    client.start({ onFrame: () => {}, onClose: (error) => closes.push(error) });
    await until(() => closes.length > 0, "the server to close the connection");
    assert.ok(isConnectionClosedError(closes[0]));
    assert.deepEqual(errors, [failure]);
  } finally {
    client?.close();
    await listener.close();
  }
});

test("FrameListener.close() stops accepting and is idempotent", async () => {
  const accepted: FrameConnection[] = [];
  const listener = await listenFrames({ port: 0 }, (conn) => {
    accepted.push(conn);
  });
  const { port } = listener.addr;
  await Promise.all([listener.close(), listener.close()]);
  await assert.rejects(platform.connect({ port }));
  assert.equal(accepted.length, 0);
});
