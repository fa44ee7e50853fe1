import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { incarnations, ShardingKit } from "./_sharding_kit_test.ts";

test("EntityType.ref() starts the entity on first message where its shard lives, and keeps per-sender order", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"]);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const sent: Promise<number>[] = [];
  for (let i = 0; i < 20; i++) {
    for (const from of ["n1", "n2", "n3"]) {
      const ref = kit.log(from, `e${i % 5}`);
      if (i % 2 === 0) ref.tell("add", `${from}:${i}`);
      else sent.push(ref.ask("add", `${from}:${i}`));
    }
  }
  await kit.settle(Promise.all(sent));
  for (let e = 0; e < 5; e++) {
    const records = await kit.settle(kit.log("n2", `e${e}`).ask("records"));
    for (const from of ["n1", "n2", "n3"]) {
      const mine = records.filter((r) => r.startsWith(`${from}:`)).map((r) =>
        Number(r.split(":")[1])
      );
      assert.deepEqual(mine, [...mine].sort((a, b) => a - b), `order of ${from} at e${e}`);
      assert.deepEqual(mine.length, 4);
    }
  }
  const shards = [...kit.shardCounts().values()];
  assert(shards.reduce((a, b) => a + b, 0) > 0);
  assert.deepEqual(incarnations.maxSeen, 1);
});
