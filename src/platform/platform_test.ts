// Conformance suite of the Platform contract, run against the current runtime's `platform`
// (deno.ts under `deno test`, node.ts in the npm build under `node --test`).
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "./test_harness.ts";
import { platform } from "./mod.ts";
import type { TcpConn, TcpListener } from "./mod.ts";
import {
  LOCALHOST_CERTIFICATE,
  LOCALHOST_PRIVATE_KEY,
} from "../../tests/fixtures/tls/localhost.ts";

interface Pair {
  listener: TcpListener;
  client: TcpConn;
  server: TcpConn;
  [Symbol.asyncDispose](): Promise<void>;
}

/** A listener and both ends of one connection over loopback, all closed on dispose. */
async function connectPair(): Promise<Pair> {
  const listener = await platform.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [client, server] = await Promise.all([
      platform.connect({ hostname: "127.0.0.1", port: listener.addr.port }),
      listener.accept(),
    ]);
    return {
      listener,
      client,
      server,
      [Symbol.asyncDispose]: (): Promise<void> => {
        client.close();
        server.close();
        listener.close();
        return Promise.resolve();
      },
    };
  } catch (error) {
    listener.close();
    throw error;
  }
}

async function readAll(
  readable: ReadableStream<Uint8Array>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const reader = readable.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      length += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  const bytes = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

async function readExactly(
  readable: ReadableStream<Uint8Array>,
  length: number,
): Promise<Uint8Array> {
  const bytes = new Uint8Array(length);
  let offset = 0;
  const reader = readable.getReader();
  try {
    while (offset < length) {
      const { value, done } = await reader.read();
      if (done) {
        throw new Error(`Stream ended after ${offset} of ${length} bytes`);
      }
      bytes.set(value, offset);
      offset += value.byteLength;
    }
  } finally {
    reader.releaseLock();
  }
  return bytes;
}

/** Writes `payload` in chunks of `chunkSize`, then closes the writable (sends FIN). */
async function writeAll(
  writable: WritableStream<Uint8Array>,
  payload: Uint8Array,
  chunkSize: number,
): Promise<void> {
  const writer = writable.getWriter();
  for (let offset = 0; offset < payload.byteLength; offset += chunkSize) {
    await writer.write(payload.subarray(offset, offset + chunkSize));
  }
  await writer.close();
}

function pattern(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    bytes[i] = (i * 31 + seed + (i >>> 12)) & 0xff;
  }
  return bytes;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, ms));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

test("platform.runtime names the runtime the suite runs on", () => {
  const expected = "Deno" in globalThis
    ? "deno"
    : "Bun" in globalThis
    ? "bun"
    : "node";
  assert.equal(platform.runtime, expected);
});

test("platform.listen() binds a free port and reports both ends of a connection", async () => {
  await using pair = await connectPair();
  const { listener, client, server } = pair;
  assert.equal(listener.addr.hostname, "127.0.0.1");
  assert.ok(listener.addr.port > 0 && listener.addr.port < 65536);
  assert.deepEqual(client.remoteAddr, {
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  assert.deepEqual(server.localAddr, {
    hostname: "127.0.0.1",
    port: listener.addr.port,
  });
  assert.deepEqual(server.remoteAddr, client.localAddr);
});

test("TcpConn carries bytes both ways over loopback", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  client.setNoDelay(true);
  server.setNoDelay(true);
  const clientWriter = client.writable.getWriter();
  const serverWriter = server.writable.getWriter();
  await clientWriter.write(encoder.encode("ping"));
  assert.equal(decoder.decode(await readExactly(server.readable, 4)), "ping");
  await serverWriter.write(encoder.encode("pong!"));
  assert.equal(decoder.decode(await readExactly(client.readable, 5)), "pong!");
  clientWriter.releaseLock();
  serverWriter.releaseLock();
});

test("TcpConn carries a payload of several MiB each way, with half-close", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const upload = pattern(4 * 1024 * 1024 + 123, 1);
  const download = pattern(3 * 1024 * 1024 + 7, 2);
  // The server answers only after the client's FIN, so each direction must finish on its own.
  const serverSide = (async (): Promise<Uint8Array> => {
    const received = await readAll(server.readable);
    await writeAll(server.writable, download, 1024 * 1024);
    return received;
  })();
  const [, received, downloaded] = await Promise.all([
    writeAll(client.writable, upload, 256 * 1024),
    serverSide,
    readAll(client.readable),
  ]);
  assert.equal(received.byteLength, upload.byteLength);
  assert.ok(
    received.every((byte, i) => byte === upload[i]),
    "upload arrived intact",
  );
  assert.equal(downloaded.byteLength, download.byteLength);
  assert.ok(
    downloaded.every((byte, i) => byte === download[i]),
    "download arrived intact",
  );
});

test("TcpConn.writable stalls while the peer does not read, then delivers everything", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const payload = pattern(24 * 1024 * 1024, 3);
  const chunkSize = 64 * 1024;
  let written = 0;
  const writing = (async (): Promise<void> => {
    const writer = client.writable.getWriter();
    for (let offset = 0; offset < payload.byteLength; offset += chunkSize) {
      await writer.write(payload.subarray(offset, offset + chunkSize));
      written += chunkSize;
    }
    await writer.close();
  })();
  await delay(200);
  const writtenBeforeReading = written;
  assert.ok(
    writtenBeforeReading < payload.byteLength,
    `writes stalled (${writtenBeforeReading} of ${payload.byteLength} bytes taken)`,
  );
  const [received] = await Promise.all([readAll(server.readable), writing]);
  assert.equal(received.byteLength, payload.byteLength);
  assert.ok(
    received.every((byte, i) => byte === payload[i]),
    "payload arrived intact",
  );
});

test("TcpConn.readable ends when the peer closes", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const writer = client.writable.getWriter();
  await writer.write(encoder.encode("last words"));
  client.close();
  assert.equal(decoder.decode(await readAll(server.readable)), "last words");
});

test("TcpConn.close() ends pending reads, fails writes and is idempotent", async () => {
  await using pair = await connectPair();
  const { client } = pair;
  const reader = client.readable.getReader();
  const pending = reader.read();
  await delay(10);
  client.close();
  client.close();
  assert.deepEqual(await pending, { value: undefined, done: true });
  const writer = client.writable.getWriter();
  await assert.rejects(writer.write(encoder.encode("too late")));
});

test("TcpListener.accept() rejects once the listener is closed", async () => {
  const listener = await platform.listen({ port: 0 });
  const pending = listener.accept();
  listener.close();
  listener.close();
  await assert.rejects(pending);
  await assert.rejects(listener.accept());
});

test("TcpListener yields connections when iterated, until it is closed", async () => {
  const listener = await platform.listen({ port: 0 });
  const accepted: TcpConn[] = [];
  const clients: TcpConn[] = [];
  try {
    const iterating = (async (): Promise<void> => {
      for await (const conn of listener) {
        accepted.push(conn);
        if (accepted.length === 2) listener.close();
      }
    })();
    clients.push(await platform.connect({ port: listener.addr.port }));
    clients.push(await platform.connect({ port: listener.addr.port }));
    await iterating;
    assert.equal(accepted.length, 2);
  } finally {
    listener.close();
    for (const conn of [...accepted, ...clients]) conn.close();
  }
});

test("platform.connect() rejects for a port nobody listens on", async () => {
  const listener = await platform.listen({ port: 0 });
  const { port } = listener.addr;
  listener.close();
  await assert.rejects(platform.connect({ port }));
});

test("platform.connect() rejects with AbortError when its signal is aborted", async () => {
  const listener = await platform.listen({ port: 0 });
  try {
    const controller = new AbortController();
    controller.abort();
    await assert.rejects(
      platform.connect({ port: listener.addr.port, signal: controller.signal }),
      (error: Error) => error.name === "AbortError",
    );
  } finally {
    listener.close();
  }
});

test("platform.setTimer() runs its callback once after the delay", async () => {
  const started = platform.now();
  let calls = 0;
  await new Promise<void>((resolve) => {
    platform.setTimer(() => {
      calls++;
      resolve();
    }, 20);
  });
  // Node schedules from its cached loop time, so allow the callback to come a little early.
  assert.ok(platform.now() - started >= 15, "the timer waited for its delay");
  await delay(30);
  assert.equal(calls, 1);
});

test("platform.clearTimer() cancels a pending timer and ignores a finished one", async () => {
  let fired = false;
  const handle = platform.setTimer(() => {
    fired = true;
  }, 10);
  platform.clearTimer(handle);
  await delay(40);
  assert.equal(fired, false);
  platform.clearTimer(handle);
});

test("TimerHandle.unref() keeps the timer running", async () => {
  let fired = false;
  const handle = platform.setTimer(() => {
    fired = true;
  }, 5);
  handle.unref();
  await delay(30);
  assert.equal(fired, true);
});

test("platform.now() is monotonic and advances", async () => {
  let previous = platform.now();
  for (let i = 0; i < 10_000; i++) {
    const current = platform.now();
    assert.ok(
      current >= previous,
      `now() went back from ${previous} to ${current}`,
    );
    previous = current;
  }
  await delay(15);
  assert.ok(platform.now() - previous >= 10);
});

test("platform.env() reads a set variable and gives undefined for a missing one", () => {
  const name = "TROUPE_PLATFORM_TEST_VALUE";
  process.env[name] = "actors";
  try {
    assert.equal(platform.env(name), "actors");
  } finally {
    delete process.env[name];
  }
  assert.equal(platform.env(name), undefined);
  assert.equal(platform.env("TROUPE_PLATFORM_TEST_SURELY_UNSET"), undefined);
});

test("TcpConn reads end and writes fail once the peer is gone", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const writer = client.writable.getWriter();
  await writer.write(encoder.encode("never read"));
  await delay(10);
  // Closing with unread bytes in the receive buffer makes the kernel answer with a reset.
  server.close();
  const read = await client.readable.getReader().read().then(
    (result) => result.done ? "ended" : "data",
    () => "error",
  );
  assert.notEqual(read, "data");
  let writeError: unknown = undefined;
  for (let i = 0; i < 100 && writeError === undefined; i++) {
    await writer.write(new Uint8Array(64 * 1024)).catch((error: unknown) => {
      writeError = error;
    });
  }
  assert.ok(
    writeError instanceof Error,
    "a write failed after the peer went away",
  );
  await assert.rejects(
    writer.write(new Uint8Array(1)),
    "later writes fail too",
  );
});

// ---- the direct path: startReading(), write(), closeWrite() ---------------------------------

interface DirectReader {
  /** Every chunk received, as handed out (kept, to check that nothing overwrites them). */
  readonly chunks: Uint8Array[];
  /** Settles with onEnd's argument once reading stopped. */
  readonly ended: Promise<unknown>;
  /** How many times onEnd was called. */
  readonly endCalls: () => number;
  /** All bytes received so far, as one buffer. */
  bytes(): Uint8Array;
  /** Resolves once at least `length` bytes have arrived. */
  until(length: number): Promise<void>;
}

/** Starts the direct reading of `conn`, recording what arrives. */
function readDirect(conn: TcpConn): DirectReader {
  const chunks: Uint8Array[] = [];
  let received = 0;
  let endCalls = 0;
  let waiter: { length: number; resolve(): void } | null = null;
  let resolveEnd!: (error: unknown) => void;
  const ended = new Promise<unknown>((resolve) => resolveEnd = resolve);
  assert.ok(conn.startReading !== undefined, "the platform has startReading()");
  conn.startReading((chunk) => {
    assert.ok(chunk instanceof Uint8Array);
    chunks.push(chunk);
    received += chunk.byteLength;
    if (waiter !== null && received >= waiter.length) {
      const { resolve } = waiter;
      waiter = null;
      resolve();
    }
  }, (...args: unknown[]) => {
    endCalls++;
    assert.ok(args.length <= 1);
    resolveEnd(args[0]);
  });
  return {
    chunks,
    ended,
    endCalls: () => endCalls,
    bytes: () => concat(chunks),
    until: (length) =>
      received >= length ? Promise.resolve() : new Promise((resolve) => {
        waiter = { length, resolve };
      }),
  };
}

function concat(chunks: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(
    chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0),
  );
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

function sameBytes(actual: Uint8Array, expected: Uint8Array): boolean {
  return actual.byteLength === expected.byteLength &&
    actual.every((byte, i) => byte === expected[i]);
}

test("TcpConn.startReading() and write() carry bytes both ways over loopback", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  client.setNoDelay(true);
  server.setNoDelay(true);
  const atServer = readDirect(server);
  const atClient = readDirect(client);
  await client.write!(encoder.encode("ping"));
  await atServer.until(4);
  assert.equal(decoder.decode(atServer.bytes()), "ping");
  await server.write!(encoder.encode("pong!"));
  await atClient.until(5);
  assert.equal(decoder.decode(atClient.bytes()), "pong!");
});

test("TcpConn direct path carries several MiB each way with closeWrite(), and no chunk is overwritten", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const upload = pattern(4 * 1024 * 1024 + 123, 5);
  const download = pattern(3 * 1024 * 1024 + 7, 6);
  const atServer = readDirect(server);
  const atClient = readDirect(client);
  // Writes issued without waiting go out in order.
  const writes: Promise<void>[] = [];
  for (let offset = 0; offset < upload.byteLength; offset += 100_000) {
    writes.push(client.write!(upload.subarray(offset, offset + 100_000)));
  }
  writes.push(client.closeWrite!());
  await Promise.all(writes);
  // The server answers only after the client's FIN: each direction finishes on its own.
  assert.equal(await atServer.ended, undefined, "a FIN ends reading cleanly");
  for (let offset = 0; offset < download.byteLength; offset += 1024 * 1024) {
    await server.write!(download.subarray(offset, offset + 1024 * 1024));
  }
  await server.closeWrite!();
  assert.equal(await atClient.ended, undefined);
  assert.ok(sameBytes(atServer.bytes(), upload), "upload arrived intact");
  assert.ok(sameBytes(atClient.bytes(), download), "download arrived intact");
  assert.equal(atServer.endCalls(), 1);
  await assert.rejects(client.write!(new Uint8Array(1)), "no write after FIN");
});

test("TcpConn.write() stalls while the peer does not read, then delivers everything", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const payload = pattern(24 * 1024 * 1024, 7);
  const chunkSize = 64 * 1024;
  let written = 0;
  const writing = (async (): Promise<void> => {
    for (let offset = 0; offset < payload.byteLength; offset += chunkSize) {
      await client.write!(payload.subarray(offset, offset + chunkSize));
      written += chunkSize;
    }
    await client.closeWrite!();
  })();
  await delay(200);
  assert.ok(
    written < payload.byteLength,
    `writes stalled (${written} of ${payload.byteLength} bytes taken)`,
  );
  const atServer = readDirect(server);
  await writing;
  assert.equal(await atServer.ended, undefined);
  assert.ok(sameBytes(atServer.bytes(), payload), "payload arrived intact");
});

test("TcpConn.close() ends direct reading with onEnd() once, fails writes and is idempotent", async () => {
  await using pair = await connectPair();
  const { client } = pair;
  const reading = readDirect(client);
  await delay(10);
  client.close();
  client.close();
  assert.equal(await reading.ended, undefined);
  await delay(10);
  assert.equal(reading.endCalls(), 1);
  await assert.rejects(client.write!(encoder.encode("too late")));
  await assert.rejects(client.closeWrite!());
});

test("TcpConn.startReading() on a closed connection calls onEnd() at once", async () => {
  await using pair = await connectPair();
  const { client } = pair;
  client.close();
  const reading = readDirect(client);
  assert.equal(await reading.ended, undefined);
  assert.equal(reading.chunks.length, 0);
});

test("TcpConn direct path: reading ends and writes fail once the peer is gone", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const reading = readDirect(client);
  await client.write!(encoder.encode("never read"));
  await delay(10);
  // Closing with unread bytes in the receive buffer makes the kernel answer with a reset.
  server.close();
  await reading.ended;
  assert.equal(reading.chunks.length, 0);
  let writeError: unknown = undefined;
  for (let i = 0; i < 100 && writeError === undefined; i++) {
    await client.write!(new Uint8Array(64 * 1024)).catch((error: unknown) => {
      writeError = error;
    });
  }
  assert.ok(writeError instanceof Error, "a write failed after the peer left");
  await assert.rejects(client.write!(new Uint8Array(1)), "later writes too");
});

test("TcpConn.startReading(): an exception from onData closes the connection and reaches onEnd", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  const failure = new Error("consumer broke");
  const ended = new Promise<unknown>((resolve) => {
    server.startReading!(() => {
      throw failure;
    }, resolve);
  });
  const atClient = readDirect(client);
  await client.write!(encoder.encode("boom"));
  assert.equal(await ended, failure);
  await atClient.ended; // the server's socket is gone
  await assert.rejects(server.write!(new Uint8Array(1)));
});

test("TcpConn: each direction belongs to its stream or to the direct methods, whichever came first", async () => {
  await using pair = await connectPair();
  const { client, server } = pair;
  // Streams first: the direct methods refuse.
  assert.equal(client.readable.locked, false);
  assert.throws(
    () => client.startReading!(() => {}, () => {}),
    TypeError,
  );
  assert.equal(client.writable.locked, false);
  await assert.rejects(client.write!(new Uint8Array(1)), TypeError);
  await assert.rejects(client.closeWrite!(), TypeError);
  // Direct first: the streams are locked.
  readDirect(server);
  assert.throws(() => server.startReading!(() => {}, () => {}), TypeError);
  assert.equal(server.readable.locked, true);
  await server.write!(encoder.encode("direct"));
  assert.equal(server.writable.locked, true);
  assert.throws(() => server.writable.getWriter(), TypeError);
  assert.equal(decoder.decode(await readExactly(client.readable, 6)), "direct");
  // Bad arguments.
  await assert.rejects(
    server.write!("text" as unknown as Uint8Array),
    TypeError,
  );
});

test("TcpConn.startReading() throws TypeError when a callback is missing", async () => {
  await using pair = await connectPair();
  assert.throws(
    () =>
      pair.client.startReading!(
        undefined as unknown as () => void,
        () => {},
      ),
    TypeError,
  );
  // The refused call did not claim the direction.
  readDirect(pair.client);
});

const SERVER_TLS = {
  certificate: LOCALHOST_CERTIFICATE,
  privateKey: LOCALHOST_PRIVATE_KEY,
};

/** Settles like `promise`, or rejects if it has not settled within `ms` (a hang is a failure). */
async function within<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof platform.setTimer> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = platform.setTimer(
      () => reject(new Error(`${what} did not settle within ${ms} ms`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    if (timer !== undefined) platform.clearTimer(timer);
  }
}

test("platform.listen() with tls serves a TLS connection that carries bytes both ways, with half-close", async () => {
  const listener = await platform.listen({ port: 0, tls: SERVER_TLS });
  const conns: TcpConn[] = [];
  try {
    const [client, server] = await Promise.all([
      platform.connect({
        port: listener.addr.port,
        tls: { caCertificates: [LOCALHOST_CERTIFICATE] },
      }),
      listener.accept(),
    ]);
    conns.push(client, server);
    client.setNoDelay(true);
    server.setNoDelay(true);
    assert.deepEqual(server.remoteAddr, client.localAddr);
    assert.equal(client.remoteAddr.port, listener.addr.port);
    const upload = pattern(1024 * 1024 + 5, 4);
    const serverSide = (async (): Promise<Uint8Array> => {
      const received = await readAll(server.readable);
      await writeAll(server.writable, encoder.encode("got it"), 1024);
      return received;
    })();
    const [, received, answer] = await Promise.all([
      writeAll(client.writable, upload, 64 * 1024),
      serverSide,
      readAll(client.readable),
    ]);
    assert.equal(received.byteLength, upload.byteLength);
    assert.ok(
      received.every((byte, i) => byte === upload[i]),
      "upload arrived intact",
    );
    assert.equal(decoder.decode(answer), "got it");
  } finally {
    for (const conn of conns) conn.close();
    listener.close();
  }
});

test("TcpConn direct path works over TLS, with half-close", async () => {
  const listener = await platform.listen({ port: 0, tls: SERVER_TLS });
  const conns: TcpConn[] = [];
  try {
    const [client, server] = await Promise.all([
      platform.connect({
        port: listener.addr.port,
        tls: { caCertificates: [LOCALHOST_CERTIFICATE] },
      }),
      listener.accept(),
    ]);
    conns.push(client, server);
    const upload = pattern(512 * 1024 + 3, 8);
    const atServer = readDirect(server);
    const atClient = readDirect(client);
    await client.write!(upload);
    await client.closeWrite!();
    assert.equal(await atServer.ended, undefined);
    assert.ok(sameBytes(atServer.bytes(), upload), "upload arrived intact");
    await server.write!(encoder.encode("got it"));
    await server.closeWrite!();
    assert.equal(await atClient.ended, undefined);
    assert.equal(decoder.decode(atClient.bytes()), "got it");
  } finally {
    for (const conn of conns) conn.close();
    listener.close();
  }
});

test("platform.connect() with tls checks the certificate against tls.serverName", async () => {
  const listener = await platform.listen({ port: 0, tls: SERVER_TLS });
  const conns: TcpConn[] = [];
  try {
    // Dial the IP address, verify the certificate as "localhost".
    const [client, server] = await Promise.all([
      platform.connect({
        hostname: "127.0.0.1",
        port: listener.addr.port,
        tls: {
          caCertificates: [LOCALHOST_CERTIFICATE],
          serverName: "localhost",
        },
      }),
      listener.accept(),
    ]);
    conns.push(client, server);
    await writeAll(client.writable, encoder.encode("hello"), 16);
    assert.equal(decoder.decode(await readAll(server.readable)), "hello");

    // The certificate is not valid for another name.
    const accepting = listener.accept();
    accepting.catch(() => {});
    await within(
      assert.rejects(platform.connect({
        port: listener.addr.port,
        tls: {
          caCertificates: [LOCALHOST_CERTIFICATE],
          serverName: "example.com",
        },
      })),
      5_000,
      "connect() to a server with a certificate for another name",
    );
    listener.close();
    await assert.rejects(accepting);
  } finally {
    for (const conn of conns) conn.close();
    listener.close();
  }
});

test("platform.connect() with tls rejects, without hanging, when the server's certificate is not trusted", async () => {
  const listener = await platform.listen({ port: 0, tls: SERVER_TLS });
  try {
    // The server side never yields the failed client: accept() waits until the listener closes.
    const accepting = listener.accept();
    accepting.catch(() => {});
    await within(
      assert.rejects(platform.connect({ port: listener.addr.port, tls: {} })),
      5_000,
      "connect() to an untrusted server",
    );
    listener.close();
    await assert.rejects(accepting);
  } finally {
    listener.close();
  }
});

test("TcpListener with tls drops a client that fails the handshake and still accepts the next", async () => {
  const listener = await platform.listen({ port: 0, tls: SERVER_TLS });
  const conns: TcpConn[] = [];
  try {
    const accepting = listener.accept();
    accepting.catch(() => {});
    // A plain TCP client that sends garbage instead of a ClientHello.
    const plain = await platform.connect({ port: listener.addr.port });
    conns.push(plain);
    const plainWriter = plain.writable.getWriter();
    await plainWriter.write(encoder.encode("GET / HTTP/1.1\r\n\r\n"));
    plainWriter.releaseLock();
    const client = await within(
      platform.connect({
        port: listener.addr.port,
        tls: { caCertificates: [LOCALHOST_CERTIFICATE] },
      }),
      5_000,
      "a TLS connect() after a failed handshake",
    );
    conns.push(client);
    const server = await within(accepting, 5_000, "accept()");
    conns.push(server);
    assert.deepEqual(server.remoteAddr, client.localAddr);
    // The garbage client was dropped by the server: its reads end (or fail) rather than hang.
    const plainRead = await within(
      readAll(plain.readable).then(() => "ended", () => "failed"),
      5_000,
      "the dropped client's read",
    );
    assert.ok(plainRead === "ended" || plainRead === "failed");
  } finally {
    for (const conn of conns) conn.close();
    listener.close();
  }
});

test("platform.connect() with tls rejects with the signal's reason when aborted during the handshake", async () => {
  // A plain TCP server never answers the ClientHello, so the handshake would wait for ever.
  const listener = await platform.listen({ port: 0 });
  const accepted: TcpConn[] = [];
  try {
    const accepting = listener.accept().then((conn) => {
      accepted.push(conn);
    });
    const controller = new AbortController();
    const connecting = platform.connect({
      port: listener.addr.port,
      signal: controller.signal,
      tls: { caCertificates: [LOCALHOST_CERTIFICATE] },
    });
    await accepting;
    await delay(20);
    const reason = new Error("gave up");
    controller.abort(reason);
    await within(
      assert.rejects(connecting, (error) => error === reason),
      5_000,
      "an aborted TLS connect()",
    );
  } finally {
    for (const conn of accepted) conn.close();
    listener.close();
  }
});
