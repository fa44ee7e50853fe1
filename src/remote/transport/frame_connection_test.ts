// FrameConnection against an in-memory TcpConn (_fake_conn_test.ts): sending and closing. The
// receiving side is in frame_connection_receive_test.ts, backpressure and stalls in
// frame_connection_backpressure_test.ts, real sockets in frame_endpoints_test.ts.
import assert from "node:assert/strict";
import { test as register } from "../../platform/test_harness.ts";
import {
  ConnectionClosedError,
  FrameTooLargeError,
  isConnectionClosedError,
} from "./errors.ts";
import { encodeFrame } from "./_frame_parser.ts";
import { FrameConnection, type FrameConnectionOptions } from "./mod.ts";
import {
  concat,
  DirectFakeConn,
  fakeConn,
  open,
  payload,
  recorder,
  settle,
  test,
} from "./_fake_conn_test.ts";

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

test("FrameConnection.sendRange() sends bytes start..end of a buffer as send() sends a view of them, and checks the range", async () => {
  using pair = open({ maxFrameBytes: 100 });
  const { conn, frames } = pair;
  const buffer = payload(300, 7);
  const ranges: Array<[number, number]> = [[0, 0], [5, 6], [10, 74], [
    200,
    300,
  ], [3, 68]];
  for (const [start, end] of ranges) frames.sendRange(buffer, start, end);
  buffer.fill(0); // copied at once
  await settle();
  const original = payload(300, 7);
  assert.deepEqual(
    conn.bytes,
    concat(ranges.map(([s, e]) => encodeFrame(original.subarray(s, e)))),
  );
  for (const [start, end] of [[-1, 2], [2, 1], [0, 301], [0.5, 2]]) {
    assert.throws(() => frames.sendRange(buffer, start, end), RangeError);
  }
  assert.throws(
    () => frames.sendRange(buffer, 0, 101),
    (error: unknown) =>
      error instanceof FrameTooLargeError && error.size === 101,
  );
  assert.throws(
    () => frames.sendRange([1] as unknown as Uint8Array, 0, 1),
    TypeError,
  );
  assert.equal(frames.closed, false);
});

test("FrameConnection hands each frame to onFrameRange, when given, as a range of what was read", async () => {
  const conn = new DirectFakeConn();
  using frames = new FrameConnection(conn);
  const got: Uint8Array[] = [];
  frames.start({
    onFrame: () =>
      assert.fail("onFrame is not called when onFrameRange is given"),
    onFrameRange: (buf, start, end) => got.push(buf.slice(start, end)),
    onClose: () => {},
  });
  const sent = [payload(3), payload(0), payload(70, 2)];
  const stream = concat(sent.map(encodeFrame));
  conn.feed(stream.subarray(0, 9));
  conn.feed(stream.subarray(9));
  await settle();
  assert.deepEqual(got, sent);
  assert.throws(
    () =>
      new FrameConnection(fakeConn()).start({
        onFrame: () => {},
        onFrameRange: 1 as unknown as () => void,
        onClose: () => {},
      }),
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
