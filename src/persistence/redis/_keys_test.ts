// The key cache of the append path: the same keys as streamKeys(), and a bound.
import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { streamKeys, StreamKeysCache } from "./_keys.ts";

test("StreamKeysCache.get() gives streamKeys() for every id, also after it starts over when full", () => {
  const cache = new StreamKeysCache("p:", 3);
  const ids = ["a", "b{c}", "a", "~x", "d", "b{c}", "e", "a"];
  for (const id of ids) {
    assert.deepEqual(cache.get(id), streamKeys("p:", id), id);
  }
  const first = cache.get("z");
  assert.equal(cache.get("z"), first, "a cached id gets the same object");
});
