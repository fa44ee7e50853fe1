import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { MemoryPersistence } from "../../persistence/mod.ts";
import { RememberedEntities, rememberedId } from "./_remembered.ts";
import { isInvalidShardingMessageError } from "./errors.ts";

async function settled(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setTimeout(r, 0));
}

test("RememberedEntities records starts and passivations per shard, and a second writer (the next owner) takes over after a conflict", async () => {
  await using persistence = new MemoryPersistence();
  const errors: string[] = [];
  const log = (m: string) => errors.push(m);
  const a = new RememberedEntities(persistence.journal, "t", log, () => 0);
  const b = new RememberedEntities(persistence.journal, "t", log, () => 0);
  a.record(3, "x", true);
  a.record(3, "y", true);
  a.record(3, "x", true); // already remembered: nothing written
  await settled();
  assert.deepEqual((await b.load(3)).sort(), ["x", "y"]);
  a.record(3, "z", true); // a's view is current: seq 3
  await settled();
  b.record(3, "x", false); // b read at seq 2: conflict, reads again, writes at seq 4
  await settled();
  assert.deepEqual((await a.load(3)).sort(), ["y", "z"]);
  assert.equal(
    await persistence.journal.lastSequenceNr(rememberedId("t", 3)),
    4,
  );
  assert.deepEqual(await a.load(4), []);
  assert.deepEqual(errors, []);
});

test("RememberedEntities.load() rejects a malformed stored event with InvalidShardingMessageError", async () => {
  await using persistence = new MemoryPersistence();
  await persistence.journal.append(rememberedId("t", 0), 0, [{
    type: "started",
    version: 1,
    data: new TextEncoder().encode("{not json"),
    timestamp: 0,
  }]);
  const store = new RememberedEntities(
    persistence.journal,
    "t",
    () => {},
    () => 0,
  );
  await assert.rejects(store.load(0), isInvalidShardingMessageError);
});
