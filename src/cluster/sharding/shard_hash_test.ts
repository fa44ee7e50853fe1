import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { defaultShardOf, fnv1a32 } from "./shard_hash.ts";

test("fnv1a32() matches the published FNV-1a 32-bit test vectors (so every runtime and version agrees)", () => {
  // From the FNV reference test suite (draft-eastlake-fnv).
  assert.equal(fnv1a32(""), 0x811c9dc5);
  assert.equal(fnv1a32("a"), 0xe40c292c);
  assert.equal(fnv1a32("foobar"), 0xbf9cf968);
  // Non-ASCII goes through UTF-8: "ü" is 0xC3 0xBC.
  let h = 0x811c9dc5;
  for (const b of [0xc3, 0xbc]) h = Math.imul(h ^ b, 0x01000193);
  assert.equal(fnv1a32("ü"), h >>> 0);
});

test("defaultShardOf() is fnv1a32 modulo the number of shards and always in range", () => {
  assert.equal(defaultShardOf("a", 100), 0xe40c292c % 100);
  fc.assert(
    fc.property(
      fc.string({ unit: "grapheme" }),
      fc.integer({ min: 1, max: 10_000 }),
      (id, n) => {
        const shard = defaultShardOf(id, n);
        return Number.isInteger(shard) && shard >= 0 && shard < n &&
          shard === fnv1a32(id) % n;
      },
    ),
    { numRuns: 200 },
  );
  assert.throws(() => defaultShardOf("a", 0), RangeError);
  assert.throws(() => defaultShardOf("a", 1.5), RangeError);
});
