import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { runProviderConformance } from "./_conformance_test.ts";
import { MemoryPersistence } from "./memory.ts";

runProviderConformance(
  "MemoryPersistence",
  () => Promise.resolve(new MemoryPersistence()),
);

test("MemoryPersistence copies bytes in and out: callers cannot change what is stored", async () => {
  await using provider = new MemoryPersistence();
  const data = new Uint8Array([1, 2, 3]);
  await provider.journal.append("p", 0, [{
    type: "t",
    version: 1,
    data,
    timestamp: 0,
  }]);
  data[0] = 99;
  const [first] = await provider.journal.read("p", 1);
  assert.deepEqual([...first.data], [1, 2, 3]);
  first.data[1] = 99;
  const [again] = await provider.journal.read("p", 1);
  assert.deepEqual([...again.data], [1, 2, 3]);
});
