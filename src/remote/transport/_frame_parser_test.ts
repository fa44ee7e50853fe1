import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { isFrameTooLargeError } from "./errors.ts";
import { encodeFrame, FrameParser } from "./_frame_parser.ts";

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

/** Cuts `bytes` at the given (unsorted, possibly repeated) points; empty chunks included. */
function cut(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const sorted = points.map((p) => p % (bytes.byteLength + 1)).sort((a, b) =>
    a - b
  );
  const chunks: Uint8Array[] = [];
  let start = 0;
  for (const point of sorted) {
    chunks.push(bytes.slice(start, point));
    start = point;
  }
  chunks.push(bytes.slice(start));
  return chunks;
}

function parseAll(
  chunks: readonly Uint8Array[],
  maxFrameBytes: number,
): { frames: Uint8Array[]; parser: FrameParser } {
  const parser = new FrameParser(maxFrameBytes);
  const frames: Uint8Array[] = [];
  for (const chunk of chunks) {
    const error = parser.push(chunk, (buf, start, end) => {
      frames.push(buf.subarray(start, end));
    });
    assert.equal(error, undefined);
  }
  return { frames, parser };
}

test("FrameParser delivers every frame in order, whatever the chunk boundaries", () => {
  fc.assert(
    fc.property(
      fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 40 }),
      fc.array(fc.nat(), { maxLength: 60 }),
      (payloads, points) => {
        const stream = concat(payloads.map(encodeFrame));
        const { frames, parser } = parseAll(cut(stream, points), 1024);
        assert.equal(frames.length, payloads.length);
        frames.forEach((frame, i) => assert.deepEqual(frame, payloads[i]));
        assert.equal(parser.partialBytes, 0);
      },
    ),
    { numRuns: 300 },
  );
});

test("FrameParser delivers each frame correctly when fed one byte at a time", () => {
  const payloads = [
    new Uint8Array(0),
    new Uint8Array([7]),
    new Uint8Array(300).fill(9),
    new Uint8Array(0),
  ];
  const stream = concat(payloads.map(encodeFrame));
  const chunks = [...stream].map((byte) => new Uint8Array([byte]));
  const { frames } = parseAll(chunks, 1024);
  assert.deepEqual(frames, payloads);
});

test("FrameParser gives ranges of a chunk for whole frames and own buffers for split ones, never overwritten", () => {
  const first = new Uint8Array([1, 2, 3]);
  const second = new Uint8Array(100).fill(5);
  const stream = concat([encodeFrame(first), encodeFrame(second)]);
  const chunkA = stream.slice(0, 20); // the first frame whole, the second split
  const chunkB = stream.slice(20);
  const { frames } = parseAll([chunkA, chunkB], 1024);
  assert.equal(
    frames[0].buffer,
    chunkA.buffer,
    "a whole frame is in the chunk",
  );
  assert.notEqual(frames[1].buffer, chunkA.buffer);
  assert.notEqual(frames[1].buffer, chunkB.buffer, "a split frame is a copy");
  // Parsing more input does not touch what was delivered.
  const parser = new FrameParser(1024);
  const kept: Uint8Array[] = [];
  for (const chunk of cut(concat([stream, stream]), [3, 9, 50, 111, 150])) {
    parser.push(chunk, (buf, start, end) => {
      kept.push(buf.subarray(start, end));
    });
  }
  assert.deepEqual(kept, [first, second, first, second]);
});

test("FrameParser accepts a frame of exactly maxFrameBytes and an empty one", () => {
  const limit = 64;
  const payloads = [new Uint8Array(limit).fill(1), new Uint8Array(0)];
  const { frames } = parseAll([concat(payloads.map(encodeFrame))], limit);
  assert.deepEqual(frames, payloads);
});

test("FrameParser.push() returns FrameTooLargeError on a header over the limit, without waiting for the payload", () => {
  const parser = new FrameParser(1000);
  let delivered = 0;
  const sink = (): void => {
    delivered++;
  };
  assert.equal(parser.push(encodeFrame(new Uint8Array(10)), sink), undefined);
  // Only the header of a 1001-byte frame, split over two chunks.
  assert.equal(parser.push(new Uint8Array([0, 0]), sink), undefined);
  const error = parser.push(new Uint8Array([0x03, 0xe9]), sink);
  assert.ok(isFrameTooLargeError(error));
  assert.equal(error.size, 1001);
  assert.equal(error.limit, 1000);
  assert.equal(delivered, 1);
  assert.throws(() => parser.push(new Uint8Array(1), sink), TypeError);
});

test("FrameParser.push() rejects the largest length a header can carry", () => {
  const parser = new FrameParser(8 * 1024 * 1024);
  const error = parser.push(new Uint8Array([0xff, 0xff, 0xff, 0xff]), () => {});
  assert.ok(isFrameTooLargeError(error));
  assert.equal(error.size, 0xffff_ffff);
});

test("FrameParser.partialBytes reports an unfinished header or payload", () => {
  const parser = new FrameParser(1024);
  const sink = (): void => {};
  assert.equal(parser.partialBytes, 0);
  parser.push(new Uint8Array([0, 0, 0]), sink);
  assert.equal(parser.partialBytes, 3);
  assert.equal(parser.describePartial(), "3 of 4 header bytes");
  parser.push(new Uint8Array([10, 1, 2]), sink);
  assert.equal(parser.partialBytes, 6);
  assert.equal(parser.describePartial(), "2 of 10 payload bytes");
  parser.push(new Uint8Array(8), sink);
  assert.equal(parser.partialBytes, 0);
});

test("FrameParser.push() stops at once when the sink returns false", () => {
  const parser = new FrameParser(1024);
  const stream = concat([1, 2, 3].map((n) => encodeFrame(new Uint8Array([n]))));
  const seen: number[] = [];
  parser.push(stream, (buf, start) => {
    seen.push(buf[start]);
    return false;
  });
  assert.deepEqual(seen, [1]);
});

test("encodeFrame() writes a 4-byte big-endian length before the payload", () => {
  const payload = new Uint8Array(0x010203).fill(0xaa);
  const frame = encodeFrame(payload);
  assert.deepEqual([...frame.subarray(0, 4)], [0x00, 0x01, 0x02, 0x03]);
  assert.equal(frame.byteLength, 4 + payload.byteLength);
});
