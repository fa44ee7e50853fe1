// FrameConnection against an in-memory TcpConn, where every write, chunk boundary and stall is
// under the test's control. Real sockets are in frame_endpoints_test.ts.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test as register } from "../../platform/test_harness.ts";
import { type NetAddr, platform, type TcpConn } from "../../platform/mod.ts";
import { ManualClock } from "../../timer/mod.ts";
import {
  ConnectionClosedError,
  FrameTooLargeError,
  isConnectionClosedError,
  isFrameTooLargeError,
} from "./errors.ts";
import { isProtocolError } from "../protocol/mod.ts";
import { encodeFrame } from "./_frame_parser.ts";
import { FrameConnection, type FrameConnectionOptions } from "./mod.ts";

interface PendingWrite {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A TcpConn in memory. Inbound bytes are fed by the test; each outbound write is recorded (as a
 * copy) and, while `blocked`, stays pending until released: a peer that does not read.
 */
class FakeConn implements TcpConn {
  readonly localAddr: NetAddr = { hostname: "fake", port: 1 };
  readonly remoteAddr: NetAddr = { hostname: "fake", port: 2 };
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Every write handed to the socket, in order (copies). */
  readonly written: Uint8Array[] = [];
  blocked = false;
  closeCalls = 0;
  #closed = false;
  #pending: PendingWrite[] = [];
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;

  constructor() {
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
    });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => {
        if (this.#closed) throw new Error("fake connection is closed");
        this.written.push(chunk.slice());
        if (!this.blocked) return;
        return new Promise<void>((resolve, reject) => {
          this.#pending.push({ resolve, reject });
        });
      },
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** All bytes written so far, as one buffer. */
  get bytes(): Uint8Array {
    return concat(this.written);
  }

  feed(chunk: Uint8Array): void {
    this.#readController.enqueue(chunk);
  }

  end(): void {
    this.#readController.close();
  }

  fail(error: unknown): void {
    this.#readController.error(error);
  }

  /** Lets the pending writes complete, and the next ones at once. */
  unblock(): void {
    this.blocked = false;
    for (const write of this.#pending.splice(0)) write.resolve();
  }

  /** Lets the oldest pending write complete. */
  releaseOne(): void {
    this.#pending.shift()?.resolve();
  }

  setNoDelay(): void {}

  close(): void {
    this.closeCalls++;
    if (this.#closed) return;
    this.#closed = true;
    const error = new Error("fake connection is closed");
    for (const write of this.#pending.splice(0)) write.reject(error);
    try {
      this.#readController.close();
    } catch {
      // Already ended by the test.
    }
    this.#writeController.error(error);
  }
}

/**
 * A FakeConn that also offers the direct path of TcpConn (startReading(), write()), the one the
 * platforms' connections have; FrameConnection then uses it instead of the streams.
 */
class DirectFakeConn extends FakeConn {
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  startReadingCalls = 0;
  writeCalls = 0;

  startReading(
    onData: (chunk: Uint8Array) => void,
    onEnd: (error?: unknown) => void,
  ): void {
    this.startReadingCalls++;
    const reader = this.readable.getReader();
    (async () => {
      while (true) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          onEnd(error);
          return;
        }
        if (result.done) {
          onEnd();
          return;
        }
        onData(result.value);
      }
    })();
  }

  write(chunk: Uint8Array): Promise<void> {
    this.writeCalls++;
    this.#writer ??= this.writable.getWriter();
    return this.#writer.write(chunk);
  }
}

// Every test runs twice: over a TcpConn with streams only (under its plain name), and over one
// with the direct path.
let direct = false;

function test(name: string, fn: () => void | Promise<void>): void {
  register(name, () => {
    direct = false;
    return fn();
  });
  register(`${name} (direct TcpConn)`, () => {
    direct = true;
    return fn();
  });
}

function fakeConn(): FakeConn {
  return direct ? new DirectFakeConn() : new FakeConn();
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/** Lets queued microtasks and stream callbacks run. */
function settle(): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, 0));
}

interface Recorder {
  frames: Uint8Array[];
  closes: unknown[];
  onFrame(payload: Uint8Array): void;
  onClose(error?: unknown): void;
}

function recorder(): Recorder {
  const frames: Uint8Array[] = [];
  const closes: unknown[] = [];
  return {
    frames,
    closes,
    onFrame: (payload) => {
      frames.push(payload);
    },
    onClose: (error) => {
      closes.push(error);
    },
  };
}

/** A connection over a FakeConn, closed by `using`. */
function open(
  options: FrameConnectionOptions = {},
): { conn: FakeConn; frames: FrameConnection } & Disposable {
  const conn = fakeConn();
  const frames = new FrameConnection(conn, options);
  return {
    conn,
    frames,
    [Symbol.dispose]: () => frames.close(),
  };
}

function payload(length: number, seed = length): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed) & 0xff;
  return bytes;
}

// ---- sending ----------------------------------------------------------------------------------

test("FrameConnection.send() puts 10k frames queued in one tick into one write", async () => {
  using pair = open();
  const { conn, frames } = pair;
  const sent: Uint8Array[] = [];
  for (let i = 0; i < 10_000; i++) {
    const p = payload(i % 100, i);
    sent.push(p);
    frames.send(p);
  }
  assert.equal(
    frames.bufferedBytes,
    sent.reduce((n, p) => n + 4 + p.length, 0),
  );
  assert.equal(conn.written.length, 0, "nothing is written synchronously");
  await settle();
  assert.equal(conn.written.length, 1);
  assert.equal(frames.writes, 1);
  assert.deepEqual(conn.bytes, concat(sent.map(encodeFrame)));
  assert.equal(frames.bufferedBytes, 0);
});

test("FrameConnection.send() keeps batching while a write is in flight, then writes the batch at once", async () => {
  using pair = open();
  const { conn, frames } = pair;
  conn.blocked = true;
  frames.send(payload(10));
  await settle();
  assert.equal(conn.written.length, 1);
  // Frames sent over several ticks while the first write is pending.
  for (let tick = 0; tick < 5; tick++) {
    for (let i = 0; i < 100; i++) frames.send(payload(20, i));
    await settle();
  }
  assert.equal(
    conn.written.length,
    1,
    "nothing more while the write is in flight",
  );
  conn.unblock();
  await settle();
  assert.equal(conn.written.length, 2, "the 500 frames went out in one write");
  assert.equal(conn.written[1].byteLength, 500 * 24);
  assert.equal(frames.bufferedBytes, 0);
});

test("FrameConnection.send() never hands more than maxWriteBytes to one write and keeps the byte order", async () => {
  using pair = open({ maxWriteBytes: 1000 });
  const { conn, frames } = pair;
  const sent = [300, 300, 300, 300, 2500, 0, 10, 999].map((n) => payload(n));
  for (const p of sent) frames.send(p);
  await settle();
  assert.ok(conn.written.length >= 6);
  for (const write of conn.written) assert.ok(write.byteLength <= 1000);
  assert.deepEqual(conn.bytes, concat(sent.map(encodeFrame)));
});

test("FrameConnection.send() copies the payload, so the caller may reuse its buffer", async () => {
  using pair = open();
  const { conn, frames } = pair;
  const buffer = new Uint8Array([1, 2, 3]);
  frames.send(buffer);
  buffer.fill(9);
  frames.send(buffer);
  await settle();
  assert.deepEqual(
    conn.bytes,
    concat([encodeFrame(new Uint8Array([1, 2, 3])), encodeFrame(buffer)]),
  );
});

test("FrameConnection.send() reuses its batch buffers without corrupting frames in flight", async () => {
  using pair = open({ maxWriteBytes: 4096 });
  const { conn, frames } = pair;
  const sent: Uint8Array[] = [];
  for (let round = 0; round < 50; round++) {
    conn.blocked = round % 3 === 0;
    for (let i = 0; i < 1 + (round * 37) % 200; i++) {
      const p = payload((round * 13 + i) % 90, round + i);
      sent.push(p);
      frames.send(p);
    }
    await settle();
    if (round % 3 === 0) conn.unblock();
  }
  await settle();
  await settle();
  assert.deepEqual(conn.bytes, concat(sent.map(encodeFrame)));
});

test("FrameConnection.send() throws FrameTooLargeError over maxFrameBytes and stays open", async () => {
  using pair = open({ maxFrameBytes: 100 });
  const { conn, frames } = pair;
  assert.throws(
    () => frames.send(new Uint8Array(101)),
    (error: unknown) =>
      error instanceof FrameTooLargeError && error.size === 101 &&
      error.limit === 100,
  );
  assert.equal(frames.closed, false);
  assert.equal(frames.bufferedBytes, 0);
  frames.send(new Uint8Array(100));
  await settle();
  assert.equal(conn.bytes.byteLength, 104);
});

test("FrameConnection.send() throws TypeError for a payload that is not a Uint8Array", () => {
  using pair = open();
  assert.throws(
    () => pair.frames.send("text" as unknown as Uint8Array),
    TypeError,
  );
});

test("FrameConnection.send() sends an empty frame as a bare header", async () => {
  using pair = open();
  pair.frames.send(new Uint8Array(0));
  await settle();
  assert.deepEqual([...pair.conn.bytes], [0, 0, 0, 0]);
});

register(
  "FrameConnection reads and writes through the direct path of a TcpConn that has one",
  async () => {
    const conn = new DirectFakeConn();
    using frames = new FrameConnection(conn);
    const received = recorder();
    frames.start(received);
    frames.send(payload(10));
    conn.feed(encodeFrame(payload(3)));
    await settle();
    assert.equal(conn.startReadingCalls, 1);
    assert.equal(conn.writeCalls, 1);
    assert.deepEqual(conn.bytes, encodeFrame(payload(10)));
    assert.deepEqual(received.frames, [payload(3)]);
  },
);

// ---- receiving --------------------------------------------------------------------------------

test("FrameConnection delivers frames of random sizes cut at random chunk boundaries, in order", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 3000 }), { maxLength: 30 }),
      fc.array(fc.nat(), { maxLength: 40 }),
      async (payloads, points) => {
        // Encode through one FrameConnection, decode through another.
        const sender = open();
        for (const p of payloads) sender.frames.send(p);
        await settle();
        const stream = sender.conn.bytes;
        sender.frames.close();
        const receiver = open();
        const seen = recorder();
        receiver.frames.start(seen);
        const cuts = points.map((p) => p % (stream.byteLength + 1)).sort((
          a,
          b,
        ) => a - b);
        let start = 0;
        for (const point of [...cuts, stream.byteLength]) {
          receiver.conn.feed(stream.slice(start, point));
          start = point;
        }
        receiver.conn.end();
        await settle();
        assert.deepEqual(seen.frames, payloads);
        assert.equal(seen.closes.length, 1);
        assert.ok(isConnectionClosedError(seen.closes[0]));
      },
    ),
    { numRuns: 100 },
  );
});

test("FrameConnection payloads stay valid after onFrame returns", async () => {
  using pair = open();
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  const sent = [5, 70_000, 0, 12, 40_000].map((n) => payload(n));
  const stream = concat(sent.map(encodeFrame));
  for (let i = 0; i < stream.byteLength; i += 16_384) {
    conn.feed(stream.slice(i, i + 16_384));
    await settle();
  }
  assert.deepEqual(seen.frames, sent);
});

test("FrameConnection delivers an empty frame as an empty payload", async () => {
  using pair = open();
  const seen = recorder();
  pair.frames.start(seen);
  pair.conn.feed(new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1, 42, 0, 0, 0, 0]));
  await settle();
  assert.deepEqual(seen.frames, [
    new Uint8Array(0),
    new Uint8Array([42]),
    new Uint8Array(0),
  ]);
});

test("FrameConnection closes with FrameTooLargeError when a header announces too much, without reading it", async () => {
  using pair = open({ maxFrameBytes: 1024 });
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  conn.feed(encodeFrame(new Uint8Array([1])));
  // A header of 1025 bytes followed by some of its payload.
  conn.feed(new Uint8Array([0, 0, 4, 1, 9, 9, 9]));
  await settle();
  assert.equal(seen.frames.length, 1);
  assert.equal(seen.closes.length, 1);
  const error = seen.closes[0];
  assert.ok(isFrameTooLargeError(error));
  assert.equal(error.size, 1025);
  assert.equal(frames.closed, true);
  assert.equal(conn.closed, true, "the socket is released");
  assert.throws(() => frames.send(new Uint8Array(1)), ConnectionClosedError);
});

test("FrameConnection.maxFrameBytes can be raised after the start, from the next frame on", async () => {
  using pair = open({ maxFrameBytes: 16 });
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  assert.equal(frames.maxFrameBytes, 16);
  assert.throws(() => frames.send(new Uint8Array(17)), FrameTooLargeError);
  conn.feed(encodeFrame(new Uint8Array(16)));
  await settle();
  frames.maxFrameBytes = 1024;
  frames.send(new Uint8Array(1024));
  conn.feed(encodeFrame(new Uint8Array(1024)));
  await settle();
  assert.deepEqual(seen.frames.map((f) => f.byteLength), [16, 1024]);
  assert.equal(seen.closes.length, 0);
  assert.throws(() => frames.maxFrameBytes = -1, RangeError);
  assert.throws(() => frames.maxFrameBytes = 2 ** 32, RangeError);
});

test("FrameConnection.maxFrameBytes lowered refuses the next larger header without reading it", async () => {
  using pair = open({ maxFrameBytes: 1 << 20 });
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  frames.maxFrameBytes = 64;
  conn.feed(new Uint8Array([0, 0x10, 0, 0]));
  await settle();
  assert.equal(seen.closes.length, 1);
  assert.ok(isFrameTooLargeError(seen.closes[0]));
  assert.equal(conn.closed, true);
});

test("FrameConnection.ended() resolves once closed with no read or write left in flight", async () => {
  using pair = open();
  const { conn, frames } = pair;
  frames.start(recorder());
  conn.blocked = true;
  frames.send(new Uint8Array(8));
  await settle();
  let ended = false;
  const done = frames.ended().then(() => ended = true);
  await settle();
  assert.equal(ended, false, "open: not ended");
  frames.close();
  await done;
  assert.equal(ended, true);
  await frames.ended();
});

test("FrameConnection closes with ConnectionClosedError when the peer ends the stream between frames", async () => {
  using pair = open();
  const seen = recorder();
  pair.frames.start(seen);
  pair.conn.feed(encodeFrame(new Uint8Array([1, 2])));
  pair.conn.end();
  await settle();
  assert.equal(seen.frames.length, 1);
  assert.equal(seen.closes.length, 1);
  const error = seen.closes[0];
  assert.ok(isConnectionClosedError(error));
  assert.match((error as Error).message, /peer closed the connection/);
  assert.equal((error as Error).cause, undefined);
  assert.equal(pair.conn.closed, true);
});

test("FrameConnection reports a header cut short by the end of the stream as a ProtocolError cause", async () => {
  using pair = open();
  const seen = recorder();
  pair.frames.start(seen);
  pair.conn.feed(new Uint8Array([0, 0]));
  pair.conn.end();
  await settle();
  const error = seen.closes[0] as Error;
  assert.ok(isConnectionClosedError(error));
  assert.ok(isProtocolError(error.cause));
  assert.match(error.message, /2 of 4 header bytes/);
});

test("FrameConnection reports a payload cut short by the end of the stream as a ProtocolError cause", async () => {
  using pair = open();
  const seen = recorder();
  pair.frames.start(seen);
  // Garbage that reads as a 0x01020304-byte header is over the limit; this one is in range.
  pair.conn.feed(new Uint8Array([0, 0, 1, 0, 0xde, 0xad, 0xbe, 0xef]));
  pair.conn.end();
  await settle();
  const error = seen.closes[0] as Error;
  assert.deepEqual(seen.frames, []);
  assert.ok(isConnectionClosedError(error));
  assert.ok(isProtocolError(error.cause));
  assert.match(error.message, /4 of 256 payload bytes/);
});

test("FrameConnection closes with FrameTooLargeError on garbage that reads as a huge header", async () => {
  using pair = open();
  const seen = recorder();
  pair.frames.start(seen);
  pair.conn.feed(new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"));
  await settle();
  assert.deepEqual(seen.frames, []);
  assert.ok(isFrameTooLargeError(seen.closes[0]));
});

test("FrameConnection closes with ConnectionClosedError carrying the read error as cause", async () => {
  using pair = open();
  const seen = recorder();
  pair.frames.start(seen);
  const failure = new Error("connection reset");
  pair.conn.fail(failure);
  await settle();
  assert.equal(seen.closes.length, 1);
  const error = seen.closes[0] as Error;
  assert.ok(isConnectionClosedError(error));
  assert.equal(error.cause, failure);
});

test("FrameConnection closes with the exception onFrame threw", async () => {
  using pair = open();
  const closes: unknown[] = [];
  const failure = new Error("handler bug");
  let calls = 0;
  pair.frames.start({
    onFrame: () => {
      calls++;
      throw failure;
    },
    onClose: (error) => closes.push(error),
  });
  pair.conn.feed(
    concat([encodeFrame(new Uint8Array(1)), encodeFrame(new Uint8Array(2))]),
  );
  await settle();
  assert.equal(calls, 1);
  assert.deepEqual(closes, [failure]);
  assert.equal(pair.conn.closed, true);
});

test("FrameConnection.close() inside onFrame stops the delivery of the rest of the chunk", async () => {
  using pair = open();
  const seen: number[] = [];
  const closes: unknown[] = [];
  pair.frames.start({
    onFrame: (p) => {
      seen.push(p[0]);
      if (p[0] === 2) pair.frames.close();
    },
    onClose: (error) => closes.push(error),
  });
  pair.conn.feed(
    concat([1, 2, 3, 4].map((n) => encodeFrame(new Uint8Array([n])))),
  );
  await settle();
  assert.deepEqual(seen, [1, 2]);
  assert.deepEqual(closes, [undefined]);
});

// ---- closing ----------------------------------------------------------------------------------

test("FrameConnection.close() is idempotent, calls onClose once with the reason and releases the socket", async () => {
  const conn = fakeConn();
  const frames = new FrameConnection(conn);
  const seen = recorder();
  frames.start(seen);
  frames.send(new Uint8Array(10));
  const reason = new Error("going away");
  frames.close(reason);
  frames.close();
  frames.close(new Error("again"));
  assert.deepEqual(seen.closes, [reason]);
  assert.equal(frames.closed, true);
  assert.equal(conn.closed, true);
  assert.equal(frames.bufferedBytes, 0, "buffered frames are dropped");
  // The end of the stream that close() causes does not count as a second close.
  await settle();
  assert.equal(seen.closes.length, 1);
  assert.equal(conn.written.length, 0, "nothing was flushed after close()");
  assert.throws(
    () => frames.send(new Uint8Array(1)),
    (error: unknown) =>
      isConnectionClosedError(error) && (error as Error).cause === reason,
  );
  await assert.rejects(frames.whenWritable(), ConnectionClosedError);
});

test("FrameConnection.close() without a reason passes undefined to onClose", () => {
  using pair = open();
  const seen = recorder();
  pair.frames.start(seen);
  pair.frames.close();
  assert.deepEqual(seen.closes, [undefined]);
});

test("FrameConnection.start() throws TypeError when called twice or without handlers", () => {
  using pair = open();
  assert.throws(
    () =>
      pair.frames.start(
        {} as unknown as Parameters<FrameConnection["start"]>[0],
      ),
    TypeError,
  );
  pair.frames.start(recorder());
  assert.throws(() => pair.frames.start(recorder()), TypeError);
});

test("FrameConnection.start() on a closed connection calls onClose at once", () => {
  using pair = open();
  const reason = new Error("closed before start");
  pair.frames.close(reason);
  const seen = recorder();
  pair.frames.start(seen);
  assert.deepEqual(seen.closes, [reason]);
});

test("FrameConnection ignores an exception thrown by onClose", () => {
  using pair = open();
  pair.frames.start({
    onFrame: () => {},
    onClose: () => {
      throw new Error("onClose bug");
    },
  });
  pair.frames.close();
  assert.equal(pair.frames.closed, true);
});

test("new FrameConnection() throws RangeError for options out of range", () => {
  const bad: FrameConnectionOptions[] = [
    { maxFrameBytes: -1 },
    { maxFrameBytes: 2 ** 32 },
    { highWaterBytes: 10, lowWaterBytes: 11 },
    { maxBufferedBytes: 0 },
    { stallTimeoutMs: 0 },
    { maxWriteBytes: 0.5 },
  ];
  for (const options of bad) {
    assert.throws(
      () => new FrameConnection(fakeConn(), options),
      RangeError,
    );
  }
});

// ---- backpressure and a peer that stops reading -----------------------------------------------

test("FrameConnection.whenWritable() waits from highWaterBytes down to lowWaterBytes", async () => {
  using pair = open({
    highWaterBytes: 10_000,
    lowWaterBytes: 2_000,
    maxWriteBytes: 4_000,
  });
  const { conn, frames } = pair;
  await frames.whenWritable(); // nothing buffered: at once
  conn.blocked = true;
  for (let i = 0; i < 10; i++) frames.send(new Uint8Array(996)); // 10 000 bytes
  assert.equal(
    frames.needsDrain,
    false,
    "at the high-water mark, not above it",
  );
  frames.send(new Uint8Array(996));
  assert.equal(frames.needsDrain, true);
  assert.equal(frames.bufferedBytes, 11_000);
  let resolved = false;
  const waiting = frames.whenWritable().then(() => {
    resolved = true;
  });
  await settle();
  // Batches of at most 4000 bytes: 4000, 4000, 3000.
  assert.deepEqual(conn.written.map((w) => w.byteLength), [4000]);
  conn.releaseOne();
  await settle();
  assert.equal(frames.bufferedBytes, 7_000);
  assert.equal(
    resolved,
    false,
    "7000 bytes are still above the low-water mark",
  );
  conn.releaseOne();
  await settle();
  assert.equal(frames.bufferedBytes, 3_000);
  assert.equal(
    resolved,
    false,
    "3000 bytes are still above the low-water mark",
  );
  conn.releaseOne();
  await waiting;
  assert.equal(frames.bufferedBytes, 0);
  assert.equal(frames.needsDrain, false);
});

test("FrameConnection.whenWritable() rejects with the signal's reason when aborted, and on close", async () => {
  using pair = open({ highWaterBytes: 100, lowWaterBytes: 10 });
  pair.conn.blocked = true;
  pair.frames.send(new Uint8Array(200));
  const controller = new AbortController();
  const aborted = pair.frames.whenWritable({ signal: controller.signal });
  const reason = new Error("stop waiting");
  controller.abort(reason);
  await assert.rejects(aborted, (error) => error === reason);
  const closing = pair.frames.whenWritable();
  pair.frames.close();
  await assert.rejects(closing, ConnectionClosedError);
});

test("FrameConnection closes with ConnectionClosedError when buffering would pass maxBufferedBytes", async () => {
  using pair = open({ maxBufferedBytes: 100_000 });
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  conn.blocked = true; // the peer stopped reading
  let sent = 0;
  let thrown: unknown = undefined;
  for (let i = 0; i < 1_000 && thrown === undefined; i++) {
    try {
      frames.send(new Uint8Array(1_000));
      sent++;
    } catch (error) {
      thrown = error;
    }
    assert.ok(frames.bufferedBytes <= 100_000, "bounded by maxBufferedBytes");
    if (i % 10 === 0) await settle();
  }
  assert.equal(sent, 99); // 99 × 1004 bytes fit, the 100th would not
  assert.ok(isConnectionClosedError(thrown));
  assert.match((thrown as Error).message, /peer stopped reading/);
  assert.deepEqual(seen.closes, [thrown]);
  assert.equal(conn.closed, true);
  assert.equal(frames.bufferedBytes, 0);
});

test("FrameConnection closes as stalled when no write completes for stallTimeoutMs", async () => {
  const clock = new ManualClock();
  using pair = open({ clock, stallTimeoutMs: 1_000 });
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  conn.blocked = true;
  frames.send(new Uint8Array(10));
  await settle();
  await clock.advance(999);
  assert.equal(frames.closed, false);
  await clock.advance(1);
  assert.equal(frames.closed, true);
  const error = seen.closes[0] as Error;
  assert.ok(isConnectionClosedError(error));
  assert.match(error.message, /peer stopped reading/);
  assert.equal(conn.closed, true);
  assert.equal(clock.pendingTimers, 0);
});

test("FrameConnection counts a completed write as progress for the stall timeout", async () => {
  const clock = new ManualClock();
  using pair = open({ clock, stallTimeoutMs: 1_000, maxWriteBytes: 100 });
  const { conn, frames } = pair;
  conn.blocked = true;
  for (let i = 0; i < 5; i++) frames.send(new Uint8Array(96)); // five writes of 100 bytes
  await settle();
  // A slow reader: one write completes every 600 ms, never 1000 ms apart.
  for (let i = 0; i < 4; i++) {
    await clock.advance(600);
    assert.equal(frames.closed, false, `still open after write ${i + 1}`);
    conn.releaseOne();
    await settle();
  }
  await clock.advance(999);
  assert.equal(frames.closed, false);
  await clock.advance(1);
  assert.equal(frames.closed, true, "the fifth write stalled");
});

test("FrameConnection does not count idle time without pending data as a stall", async () => {
  const clock = new ManualClock();
  using pair = open({ clock, stallTimeoutMs: 1_000 });
  const { conn, frames } = pair;
  frames.send(new Uint8Array(1));
  await settle();
  assert.equal(frames.bufferedBytes, 0);
  await clock.advance(900); // idle, the stall timer still armed
  conn.blocked = true;
  frames.send(new Uint8Array(1));
  await settle();
  await clock.advance(200); // the timer fires 200 ms into the new wait
  assert.equal(frames.closed, false);
  await clock.advance(799);
  assert.equal(frames.closed, false);
  await clock.advance(1);
  assert.equal(frames.closed, true);
});
