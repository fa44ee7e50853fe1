import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { isCorruptRecordError } from "./errors.ts";
import {
  crc32,
  decodeRecord,
  encodedRecordLength,
  encodeRecord,
  encodeRecordInto,
  type RecordFields,
} from "./record_format.ts";

/** The format as its header comment describes it, written the plain way (DataView, TextEncoder). */
function referenceEncode(record: RecordFields): Uint8Array {
  const type = new TextEncoder().encode(record.type);
  const dataAt = 23 + type.length + 4;
  const out = new Uint8Array(dataAt + record.data.length + 4);
  const view = new DataView(out.buffer);
  view.setUint8(0, 1);
  view.setUint32(1, Math.floor(record.sequenceNr / 2 ** 32));
  view.setUint32(5, record.sequenceNr >>> 0);
  view.setUint32(9, record.version);
  view.setFloat64(13, record.timestamp);
  view.setUint16(21, type.length);
  out.set(type, 23);
  view.setUint32(23 + type.length, record.data.length);
  out.set(record.data, dataAt);
  const end = dataAt + record.data.length;
  let crc = 0xffffffff;
  for (let i = 0; i < end; i++) {
    crc ^= out[i];
    for (let k = 0; k < 8; k++) {
      crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
    }
  }
  view.setUint32(end, (crc ^ 0xffffffff) >>> 0);
  return out;
}

const record = fc.record({
  sequenceNr: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  type: fc.string({ minLength: 1, maxLength: 50 }).filter((t) =>
    !/[\uD800-\uDFFF]/.test(t)
  ),
  version: fc.integer({ min: 1, max: 0xffffffff }),
  data: fc.uint8Array({ maxLength: 200 }),
  timestamp: fc.double({ noNaN: true, noDefaultInfinity: true }),
});

/** Type names of every kind: ASCII, any code point, lone surrogates (encoded as U+FFFD). */
const anyType = fc.oneof(
  fc.string({ minLength: 1, maxLength: 50 }),
  fc.string({ unit: "binary", minLength: 1, maxLength: 50 }),
  fc.string({
    unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((c) =>
      String.fromCharCode(c)
    ),
    minLength: 1,
    maxLength: 8,
  }),
);
const anyRecord = fc.record({
  sequenceNr: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  type: anyType,
  version: fc.integer({ min: 1, max: 0xffffffff }),
  data: fc.uint8Array({ maxLength: 300 }),
  timestamp: fc.double({ noNaN: true }),
});

/** What decodeRecord() accepts: an infinite timestamp is refused. */
const readable = anyRecord.filter((r) => Number.isFinite(r.timestamp));

test("encodeRecord() (property): gives exactly the bytes of the documented format", () => {
  fc.assert(
    fc.property(anyRecord, (r) => {
      assert.deepEqual(encodeRecord(r), referenceEncode(r));
    }),
    { numRuns: 2000 },
  );
});

test("encodeRecordInto() (property): writes exactly the bytes of encodeRecord(), back to back, touching nothing else", () => {
  fc.assert(
    fc.property(
      fc.array(anyRecord, { minLength: 1, maxLength: 5 }),
      fc.nat({ max: 9 }),
      (records, offset) => {
        const expected = records.map(encodeRecord);
        const total = expected.reduce((n, bytes) => n + bytes.length, 0);
        const target = new Uint8Array(offset + total + 3).fill(0xa5);
        let at = offset;
        for (let i = 0; i < records.length; i++) {
          assert.equal(encodedRecordLength(records[i]), expected[i].length);
          const end = encodeRecordInto(target, at, records[i]);
          assert.equal(end, at + expected[i].length);
          assert.deepEqual(target.subarray(at, end), expected[i]);
          at = end;
        }
        assert.ok(target.subarray(0, offset).every((b) => b === 0xa5));
        assert.ok(target.subarray(at).every((b) => b === 0xa5));
      },
    ),
    { numRuns: 1000 },
  );
});

test("encodeRecordInto() throws RangeError when the target is too short, writing nothing", () => {
  const r = {
    sequenceNr: 1,
    type: "t",
    version: 1,
    data: new Uint8Array(5),
    timestamp: 0,
  };
  const length = encodedRecordLength(r);
  const target = new Uint8Array(length + 1);
  assert.throws(() => encodeRecordInto(target, 2, r), RangeError);
  assert.throws(() => encodeRecordInto(target, -1, r), RangeError);
  assert.ok(target.every((b) => b === 0));
  assert.equal(encodeRecordInto(target, 1, r), length + 1);
});

test("encodeRecord() throws RangeError for a type name longer than 65535 bytes", () => {
  const r = {
    sequenceNr: 1,
    type: "é".repeat(32768),
    version: 1,
    data: new Uint8Array(),
    timestamp: 0,
  };
  assert.throws(() => encodeRecord(r), RangeError);
  assert.throws(() => encodedRecordLength(r), RangeError);
  assert.equal(
    encodeRecord({ ...r, type: "x".repeat(65535) }).length,
    23 + 65535 + 8,
  );
});

test("encodeRecord() matches a known record byte for byte", () => {
  const bytes = encodeRecord({
    sequenceNr: 2 ** 32 + 5,
    type: "ok",
    version: 3,
    data: new Uint8Array([7, 8]),
    timestamp: 1.5,
  });
  assert.deepEqual(
    [...bytes],
    [
      1, // format
      0,
      0,
      0,
      1,
      0,
      0,
      0,
      5, // sequence number
      0,
      0,
      0,
      3, // version
      0x3f,
      0xf8,
      0,
      0,
      0,
      0,
      0,
      0, // 1.5
      0,
      2,
      0x6f,
      0x6b, // "ok"
      0,
      0,
      0,
      2,
      7,
      8, // data
      ...u32(crc32(bytes.subarray(0, bytes.length - 4))),
    ],
  );
  assert.equal(
    crc32(bytes, 0, bytes.length - 4),
    crc32(bytes.subarray(0, bytes.length - 4)),
  );
});

function u32(n: number): number[] {
  return [n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff];
}

test("decodeRecord() (property): reads back every type name TextDecoder would, and returns data with a buffer of its own", () => {
  fc.assert(
    fc.property(readable, fc.nat({ max: 7 }), (r, pad) => {
      const bytes = encodeRecord(r);
      // Inside a larger buffer, as records arrive from a socket.
      const framed = new Uint8Array(pad + bytes.length + pad);
      framed.set(bytes, pad);
      const back = decodeRecord("p", framed.subarray(pad, pad + bytes.length));
      assert.equal(
        back.type,
        new TextDecoder().decode(new TextEncoder().encode(r.type)),
      );
      assert.equal(back.timestamp, r.timestamp);
      assert.deepEqual([...back.data], [...r.data]);
      assert.equal(back.data.byteLength, back.data.buffer.byteLength);
      assert.equal(Object.getPrototypeOf(back.data), Uint8Array.prototype);
    }),
    { numRuns: 1000 },
  );
});

test("decodeRecord() rejects a type name that is not UTF-8, also after decoding a valid one of the same length", () => {
  const good = encodeRecord({
    sequenceNr: 3,
    type: "ab",
    version: 1,
    data: new Uint8Array(),
    timestamp: 0,
  });
  assert.equal(decodeRecord("p", good).type, "ab");
  const bad = good.slice();
  bad[23] = 0xff;
  bad.set(u32(crc32(bad, 0, bad.length - 4)), bad.length - 4);
  assert.throws(
    () => decodeRecord("p", bad),
    (e: unknown) =>
      isCorruptRecordError(e) && /type name is not UTF-8/.test(e.message),
  );
  const other = good.slice();
  other[24] = 0x63; // "ac"
  other.set(u32(crc32(other, 0, other.length - 4)), other.length - 4);
  assert.equal(decodeRecord("p", other).type, "ac");
  assert.equal(decodeRecord("p", good).type, "ab");
});

test("encodeRecord()/decodeRecord() (property): every record round-trips", () => {
  fc.assert(
    fc.property(record, (r) => {
      const back = decodeRecord("p", encodeRecord(r), r.sequenceNr);
      assert.deepEqual({ ...back, data: [...back.data] }, {
        ...r,
        data: [...r.data],
      });
    }),
    { numRuns: 1000 },
  );
});

test("decodeRecord() (property): random bytes give CorruptRecordError or a valid record, never another error", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      try {
        const r = decodeRecord("p", bytes);
        assert.ok(r.sequenceNr >= 1 && r.version >= 1 && r.type.length > 0);
      } catch (error) {
        assert.ok(isCorruptRecordError(error), String(error));
      }
    }),
    { numRuns: 2000 },
  );
});

test("decodeRecord() (property): every truncated or bit-flipped record is caught", () => {
  fc.assert(
    fc.property(record, fc.nat(), fc.nat({ max: 7 }), (r, at, bit) => {
      const bytes = encodeRecord(r);
      const cut = bytes.slice(0, at % bytes.length);
      assert.throws(
        () => decodeRecord("p", cut, r.sequenceNr),
        isCorruptRecordError,
      );
      const flipped = bytes.slice();
      flipped[at % bytes.length] ^= 1 << bit;
      assert.throws(() => decodeRecord("p", flipped), isCorruptRecordError);
    }),
    { numRuns: 1000 },
  );
});

test("decodeRecord() names the persistence id and sequence number of a bad record", () => {
  assert.throws(
    () => decodeRecord("orders/7", new Uint8Array([9, 9, 9]), 12),
    (e: unknown) => {
      assert.ok(isCorruptRecordError(e));
      assert.equal(e.persistenceId, "orders/7");
      assert.equal(e.sequenceNr, 12);
      assert.match(e.message, /Corrupt record 12 of "orders\/7"/);
      return true;
    },
  );
  const good = encodeRecord({
    sequenceNr: 5,
    type: "t",
    version: 1,
    data: new Uint8Array(),
    timestamp: 0,
  });
  assert.throws(
    () => decodeRecord("x", good, 6),
    /record says sequence number 5/,
  );
});

test("crc32() matches the standard check value", () => {
  // The CRC-32 (IEEE) of "123456789" is cbf43926.
  assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
  assert.equal(
    crc32(new TextEncoder().encode("xx123456789y"), 2, 11),
    0xcbf43926,
  );
  assert.equal(crc32(new Uint8Array()), 0);
});

test("crc32() (property): equals the bitwise CRC-32 of any range", () => {
  fc.assert(
    fc.property(
      fc.uint8Array({ maxLength: 100 }),
      fc.nat(),
      fc.nat(),
      (bytes, a, b) => {
        const start = bytes.length === 0 ? 0 : a % bytes.length;
        const end = start +
          (bytes.length === 0 ? 0 : b % (bytes.length - start + 1));
        let crc = 0xffffffff;
        for (let i = start; i < end; i++) {
          crc ^= bytes[i];
          for (let k = 0; k < 8; k++) {
            crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
          }
        }
        assert.equal(crc32(bytes, start, end), (crc ^ 0xffffffff) >>> 0);
      },
    ),
    { numRuns: 1000 },
  );
});
