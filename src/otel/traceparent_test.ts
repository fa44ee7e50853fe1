import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { formatTraceparent, parseTraceparent } from "./mod.ts";

const hex = (length: number): fc.Arbitrary<string> =>
  fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`));

test("formatTraceparent() and parseTraceparent() round-trip any valid ids and flags", () => {
  fc.assert(
    fc.property(
      hex(32).filter((id) => /[^0]/.test(id)),
      hex(16).filter((id) => /[^0]/.test(id)),
      fc.integer({ min: 0, max: 255 }),
      (traceId, spanId, traceFlags) => {
        const header = formatTraceparent({ traceId, spanId, traceFlags });
        assert.equal(header.length, 55);
        assert.deepStrictEqual(parseTraceparent(header), {
          traceId,
          spanId,
          traceFlags,
        });
      },
    ),
    { numRuns: 100 },
  );
});

test("parseTraceparent() follows the W3C rules for versions, zero ids and extra fields", () => {
  const id = "4bf92f3577b34da6a3ce929d0e0e4736";
  const span = "00f067aa0ba902b7";
  assert.deepStrictEqual(parseTraceparent(`00-${id}-${span}-01`), {
    traceId: id,
    spanId: span,
    traceFlags: 1,
  });
  // A later version may add fields; version 00 may not; ff is invalid.
  assert.equal(parseTraceparent(`01-${id}-${span}-09-more`)?.traceFlags, 9);
  assert.equal(parseTraceparent(`00-${id}-${span}-01-more`), undefined);
  assert.equal(parseTraceparent(`ff-${id}-${span}-01`), undefined);
  assert.equal(parseTraceparent(`00-${"0".repeat(32)}-${span}-01`), undefined);
  assert.equal(parseTraceparent(`00-${id}-${"0".repeat(16)}-01`), undefined);
  assert.equal(
    parseTraceparent(`00-${id.toUpperCase()}-${span}-01`),
    undefined,
  );
  assert.equal(parseTraceparent(`00-${id}-${span}-1`), undefined);
  assert.equal(
    parseTraceparent(`01-${id}-${span}-01-${"x".repeat(500)}`),
    undefined,
  );
  assert.equal(parseTraceparent(42), undefined);
});

test("parseTraceparent() never throws on arbitrary input, and what it accepts formats back to its first 55 characters", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string({ maxLength: 80 }),
        fc.tuple(hex(2), hex(32), hex(16), hex(2), fc.string({ maxLength: 8 }))
          .map((parts) => parts.slice(0, 4).join("-") + parts[4]),
      ),
      (value) => {
        const parsed = parseTraceparent(value);
        if (parsed !== undefined) {
          assert.equal(formatTraceparent(parsed), "00" + value.slice(2, 55));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("formatTraceparent() rejects ids and flags out of the W3C format", () => {
  const ok = {
    traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
    spanId: "00f067aa0ba902b7",
    traceFlags: 1,
  };
  assert.throws(
    () => formatTraceparent({ ...ok, traceId: "0".repeat(32) }),
    TypeError,
  );
  assert.throws(() => formatTraceparent({ ...ok, traceId: "ABC" }), TypeError);
  assert.throws(
    () => formatTraceparent({ ...ok, spanId: "0".repeat(16) }),
    TypeError,
  );
  assert.throws(
    () => formatTraceparent({ ...ok, traceFlags: 256 }),
    RangeError,
  );
  assert.throws(
    () => formatTraceparent({ ...ok, traceFlags: 1.5 }),
    RangeError,
  );
});
