// FrameConnection's receiving side against an in-memory TcpConn: frames cut at any chunk
// boundary, limits on inbound frames, and how the end of the stream or a failure closes it.
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  ConnectionClosedError,
  FrameTooLargeError,
  isConnectionClosedError,
  isFrameTooLargeError,
} from "./errors.ts";
import { isProtocolError } from "../protocol/mod.ts";
import { encodeFrame } from "./_frame_parser.ts";
import {
  concat,
  open,
  payload,
  recorder,
  settle,
  test,
} from "./_fake_conn_test.ts";

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
