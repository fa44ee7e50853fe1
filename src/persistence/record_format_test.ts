import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { isCorruptRecordError } from "./errors.ts";
import { crc32, decodeRecord, encodeRecord } from "./record_format.ts";

const record = fc.record({
  sequenceNr: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  type: fc.string({ minLength: 1, maxLength: 50 }).filter((t) =>
    !/[\uD800-\uDFFF]/.test(t)
  ),
  version: fc.integer({ min: 1, max: 0xffffffff }),
  data: fc.uint8Array({ maxLength: 200 }),
  timestamp: fc.double({ noNaN: true, noDefaultInfinity: true }),
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
});
