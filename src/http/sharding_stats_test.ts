import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { ShardingKit } from "../cluster/sharding/_sharding_kit_test.ts";
import type { Sharding } from "../cluster/mod.ts";
import { HttpApi } from "./http_api.ts";
import { shardingStatsProvider } from "./sharding_stats.ts";

const NODES = ["n1", "n2", "n3"];

async function get(
  kit: ShardingKit,
  api: HttpApi,
  path: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await kit.settle(
    api.fetch(new Request(`http://n2.test${path}`)),
  );
  return { status: response.status, body: await response.json() };
}

test("shardingStatsProvider(): an HttpApi over a three-node sharded cluster answers /sharding/types and /sharding/stats/{type} with the real allocation, and leaves out what a node does not report", async () => {
  await using kit = await ShardingKit.start(NODES);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  // Ids that cover every shard (12 in the kit), two or more each.
  const logs = kit.member("n1").logs;
  const perShard = new Map<number, number>();
  const ids: string[] = [];
  for (
    let i = 0;
    [...perShard.values()].filter((n) => n >= 2).length < 12;
    i++
  ) {
    const shard = logs.shardOf(`acct-${i}`);
    perShard.set(shard, (perShard.get(shard) ?? 0) + 1);
    ids.push(`acct-${i}`);
  }
  // A rebalance may follow the first allocations: touch every entity until each region hosts
  // four shards (a region learns it hosts a shard on the shard's first message there).
  for (let round = 0;; round++) {
    for (const id of ids) await kit.addUntilAnswered("n3", id, "x");
    const counts = NODES.map((n) =>
      kit.member(n).logs.localStats().shards.length
    );
    if (counts.every((c) => c === 4)) break;
    if (round === 30) throw new Error(`the shards never spread: ${counts}`);
    await kit.tc.advance(1000);
  }

  const n2 = kit.member("n2");
  await using api = new HttpApi({
    system: kit.tc.system("n2"),
    cluster: n2.cluster,
    sharding: shardingStatsProvider(n2.sharding, { timeoutMs: 1000 }),
  });
  assert.deepEqual((await get(kit, api, "/sharding/types")).body, {
    types: ["log"],
  });

  // The truth: where each node's region runs shards, and how many ids hash to each shard.
  const expectedShards = NODES.flatMap((node) =>
    kit.member(node).logs.localStats().shards.map((shard) => ({
      id: String(shard),
      node,
      entities: perShard.get(shard) ?? 0,
    }))
  ).sort((a, b) => Number(a.id) - Number(b.id));
  const expectedNodes = NODES.map((node) => {
    const local = kit.member(node).logs.localStats();
    return { node, shards: local.shards.length, entities: local.entities };
  });
  assert.equal(
    expectedNodes.reduce((a, n) => a + n.entities, 0),
    ids.length,
  );
  const stats = await get(kit, api, "/sharding/stats/log");
  assert.equal(stats.status, 200);
  assert.deepEqual(stats.body, {
    type: "log",
    nodes: expectedNodes,
    shards: expectedShards,
  });

  const unknown = await get(kit, api, "/sharding/stats/cart");
  assert.equal(unknown.status, 404);
  assert.equal(unknown.body.code, "UNKNOWN_SHARDING_TYPE");

  // n3's sharding closes without a hand-off while it stays a member: the coordinator still
  // places its shards there, but n3 reports nothing, so its counts are left out, not made up.
  await kit.settle(kit.member("n3").sharding.close({ handOff: false }));
  const after = await get(kit, api, "/sharding/stats/log");
  assert.deepEqual(after.body, {
    type: "log",
    nodes: expectedNodes.map((n) =>
      n.node === "n3" ? { node: "n3", shards: n.shards } : n
    ),
    shards: expectedShards.map((s) =>
      s.node === "n3" ? { id: s.id, node: s.node } : s
    ),
  });

  assert.throws(() => shardingStatsProvider({} as Sharding), TypeError);
  assert.throws(
    () => shardingStatsProvider(n2.sharding, { timeoutMs: 0 }),
    RangeError,
  );
});

test("shardingStatsProvider(): while the shard coordinator is unavailable, /sharding/stats/{type} answers 503 with Retry-After and a problem body, not 500", async () => {
  await using kit = await ShardingKit.start(NODES);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const n2 = kit.member("n2");
  await using api = new HttpApi({
    system: kit.tc.system("n2"),
    cluster: n2.cluster,
    sharding: shardingStatsProvider(n2.sharding, { timeoutMs: 1000 }),
  });
  assert.equal((await get(kit, api, "/sharding/stats/log")).status, 200);
  // n2's sharding closes: it no longer knows a coordinator to ask.
  await kit.settle(n2.sharding.close({ handOff: false }));
  const response = await kit.settle(
    api.fetch(new Request("http://n2.test/sharding/stats/log")),
  );
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "2");
  assert.equal(
    response.headers.get("content-type"),
    "application/problem+json",
  );
  const problem = await response.json();
  assert.equal(problem.code, "SHARD_COORDINATOR_UNAVAILABLE");
  assert.equal(problem.title, "shard coordinator unavailable");
  assert.match(problem.detail, /coordinator of "log" is not available/);
});
