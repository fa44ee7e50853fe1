import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { recorder, type Seen } from "../pubsub/_pubsub_kit_test.ts";
import type { PubSub } from "../pubsub/pubsub.ts";
import { SHARD_EVENTS, type ShardEvent } from "../pubsub/system_topics.ts";
import { ShardingKit } from "./_sharding_kit_test.ts";
import type { NodeShardStats } from "./_cluster_stats.ts";
import { Sharding } from "./sharding.ts";
import { ShardingExtensions } from "./sharding_extensions.ts";

const SHARDS = 12;

/** Subscribes a recorder on `node` to SHARD_EVENTS; what it is told goes to `log`. */
async function watch(kit: ShardingKit, node: string, log: Seen[]) {
  const ref = await kit.tc.system(node).spawn(recorder, { log, name: node }, {
    id: "shard-watcher",
  });
  assert(kit.member(node).pubsub!.subscribe(SHARD_EVENTS, ref));
}

/** The shard events the recorder on `node` was told, of one type. */
function seen(log: Seen[], node: string, type: ShardEvent["type"]) {
  return log.filter(([n, p]) =>
    n === node && (p.message as ShardEvent).type === type
  ).map(([, p]) => p.message as ShardEvent);
}

const shardsOf = (events: ShardEvent[]) =>
  events.map((e) => e.shard).sort((a, b) => a - b);

/** One entity id per shard, by shard. */
function idPerShard(kit: ShardingKit): string[] {
  const logs = kit.member("n1").logs;
  const ids = new Map<number, string>();
  for (let i = 0; ids.size < SHARDS; i++) {
    const shard = logs.shardOf(`e${i}`);
    if (!ids.has(shard)) ids.set(shard, `e${i}`);
  }
  return [...ids].sort(([a], [b]) => a - b).map(([, id]) => id);
}

/** Waits until the coordinator's allocation is spread evenly over `nodes`. */
async function balanced(
  kit: ShardingKit,
  nodes: readonly string[],
): Promise<Record<string, NodeShardStats>> {
  for (let t = 0; t < 60_000; t += 500) {
    const stats = await kit.settle(
      kit.member("n1").logs.clusterStats({ timeoutMs: 1000 }),
    );
    const counts = nodes.map((n) => stats[n]?.shards ?? 0);
    if (
      counts.reduce((a, b) => a + b, 0) === SHARDS &&
      Math.max(...counts) - Math.min(...counts) <= 1
    ) return stats;
    await kit.tc.advance(500);
  }
  throw new Error(`the shards never spread over ${nodes}`);
}

/**
 * Checks the events against the coordinator's allocation: replayed in order, the allocations
 * give it; each move (rebalance, leaving) was handed off by the shard's previous home, for the
 * same reason; and each shard's home saw it start there.
 */
function consistent(log: Seen[], stats: Record<string, NodeShardStats>) {
  const allocated = seen(log, "n1", "shard-allocated");
  const replayed = new Map<number, string>();
  for (const e of allocated) replayed.set(e.shard, e.node);
  for (const [node, s] of Object.entries(stats)) {
    for (const shard of s.allocated) {
      assert.equal(replayed.get(shard), node, `shard ${shard}`);
      assert(
        seen(log, node, "shard-started-here").some((e) => e.shard === shard),
        `shard ${shard} started on ${node}`,
      );
    }
  }
  const moves = allocated.filter((e) => e.previous !== undefined);
  const handedOff = log.filter(([, p]) =>
    (p.message as ShardEvent).type === "shard-handed-off"
  ).map(([n, p]) => [n, p.message as ShardEvent] as const);
  const key = (node: string, e: ShardEvent) => `${node}/${e.shard}/${e.reason}`;
  assert.deepEqual(
    handedOff.map(([n, e]) => key(n, e)).sort(),
    moves.map((e) => key(e.previous!, e)).sort(),
  );
}

async function touchAll(kit: ShardingKit, from: string, ids: string[]) {
  for (const id of ids) await kit.addUntilAnswered(from, id, from);
  await kit.tc.advance(100); // the recorders handle what they were told
}

test("SHARD_EVENTS: first use allocates each shard where it then starts, a join's rebalance and a leave are seen as allocations, hand-offs and starts on the nodes concerned", async () => {
  await using kit = await ShardingKit.start(["n1", "n2"], {}, { pubsub: true });
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const log: Seen[] = [];
  await watch(kit, "n1", log);
  await watch(kit, "n2", log);
  const ids = idPerShard(kit);
  await touchAll(kit, "n1", ids);
  // n2's region may register with the coordinator after the first allocations: a rebalance
  // then spreads the shards.
  const two = await balanced(kit, ["n1", "n2"]);
  await touchAll(kit, "n1", ids);

  // n1 runs the coordinator: it sees every allocation; each owner sees its own starts.
  const firstUse = seen(log, "n1", "shard-allocated").filter((e) =>
    e.reason === "first-use"
  );
  assert.deepEqual(shardsOf(firstUse), [...Array(SHARDS).keys()]);
  assert.deepEqual({ ...firstUse[0] }, {
    type: "shard-allocated",
    entityType: "log",
    shard: firstUse[0].shard,
    node: firstUse[0].node,
    reason: "first-use",
  });
  assert(Object.isFrozen(firstUse[0]), "an event is shared by the subscribers");
  consistent(log, two);
  assert.deepEqual(seen(log, "n2", "shard-allocated"), []);

  const mark = log.length;
  await kit.add("n3");
  await watch(kit, "n3", log);
  const three = await balanced(kit, ["n1", "n2", "n3"]);
  await touchAll(kit, "n3", ids);
  const moves = seen(log.slice(mark), "n1", "shard-allocated");
  assert.deepEqual(shardsOf(moves), three.n3.allocated);
  for (const e of moves) {
    assert.equal(e.reason, "rebalance");
    assert.equal(e.node, "n3");
    assert.equal(e.previous, two.n1.allocated.includes(e.shard) ? "n1" : "n2");
  }
  assert.deepEqual(
    shardsOf(seen(log, "n3", "shard-started-here")),
    three.n3.allocated,
  );
  consistent(log, three);

  // n3 leaves: it hands its shards off, and the coordinator places them on the others.
  const n3Shards = kit.member("n3").logs.localStats().shards;
  log.length = 0;
  await kit.leave("n3");
  await kit.until(
    () => seen(log, "n1", "shard-allocated").length >= n3Shards.length,
    10_000,
    "n3's shards to be placed again",
  );
  const handedOff = seen(log, "n3", "shard-handed-off");
  assert.deepEqual(shardsOf(handedOff), n3Shards);
  assert(handedOff.every((e) => e.reason === "leaving"));
  const placed = seen(log, "n1", "shard-allocated");
  assert.deepEqual(shardsOf(placed), n3Shards);
  for (const e of placed) {
    assert.equal(e.reason, "leaving");
    assert.equal(e.previous, "n3");
    assert.notEqual(e.node, "n3");
  }
});

test("SHARD_EVENTS: a crash reallocates the node's shards (node-lost) and the new owners start them; a close stops the rest; a node without subscribers publishes nothing", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"], {}, {
    pubsub: true,
  });
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const n1 = kit.member("n1");
  assert.throws(
    () =>
      Sharding.start(n1.cluster, {
        extensions: new ShardingExtensions(),
        pubsub: kit.member("n2").pubsub,
      }),
    (e: Error) =>
      e instanceof TypeError && /pub\/sub of node "n2"/.test(e.message),
  );
  assert.throws(
    () =>
      Sharding.start(n1.cluster, {
        extensions: new ShardingExtensions(),
        pubsub: {} as PubSub,
      }),
    TypeError,
  );
  const log: Seen[] = [];
  await watch(kit, "n1", log);
  const ids = idPerShard(kit);
  await touchAll(kit, "n2", ids);
  const before = await balanced(kit, ["n1", "n2", "n3"]);
  await touchAll(kit, "n2", ids);
  const lost = before.n2.allocated;
  const n3Before = kit.member("n3").logs.localStats().shards;
  log.length = 0;

  await kit.kill("n2");
  await touchAll(kit, "n1", ids);
  const again = seen(log, "n1", "shard-allocated");
  assert.deepEqual(shardsOf(again), lost);
  for (const e of again) {
    assert.equal(e.reason, "node-lost");
    assert.equal(e.previous, "n2");
    assert(e.node === "n1" || e.node === "n3", e.node);
  }
  const toN1 = again.filter((e) => e.node === "n1");
  assert(toN1.length > 0 && toN1.length < again.length, "both took some");
  assert.deepEqual(
    shardsOf(seen(log, "n1", "shard-started-here")),
    shardsOf(toN1),
  );
  // n3 started shards too, but nobody there subscribes: nothing was published (or built).
  const n3 = kit.member("n3");
  assert(n3.logs.localStats().shards.length > n3Before.length);
  assert.equal(n3.pubsub!.metrics(SHARD_EVENTS).publishes, 0);
  assert(n1.pubsub!.metrics(SHARD_EVENTS).publishes >= again.length);

  // A close without hand-off: each shard n1 still hosts is reported stopped.
  const hosted = n1.logs.localStats().shards;
  await kit.settle(n1.sharding.close({ handOff: false }));
  await kit.tc.advance(100);
  const stopped = seen(log, "n1", "shard-stopped");
  assert.deepEqual(shardsOf(stopped), hosted);
  assert(stopped.every((e) => e.reason === "closed" && e.node === "n1"));
});

type Step = { op: "join" } | { op: "leave" | "crash"; pick: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.constant<Step>({ op: "join" }),
  fc.nat(9).map((pick): Step => ({ op: "leave", pick })),
  fc.nat(9).map((pick): Step => ({ op: "crash", pick })),
);

test("SHARD_EVENTS under random joins, leaves and crashes: the allocations published on the coordinator's node replay to the coordinator's allocation, and each gives its true reason", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { minLength: 2, maxLength: 4 }),
      async (steps) => {
        await using kit = await ShardingKit.start(["n1", "n2", "n3"], {}, {
          pubsub: true,
        });
        await kit.until(() => kit.converged(), 30_000, "convergence");
        const log: Seen[] = [];
        await watch(kit, "n1", log);
        const ids = idPerShard(kit);
        await touchAll(kit, "n1", ids);
        const crashed = new Set<string>();
        const left = new Set<string>();
        let next = 4;
        for (const s of steps) {
          const names = [...kit.members.keys()];
          if (s.op === "join") {
            if (names.length < 4) await kit.add(`n${next++}`);
          } else if (names.length > 2) {
            // n1 stays: it runs the coordinator, and its subscriber sees every allocation.
            const victim = names.slice(1)[s.pick % (names.length - 1)];
            if (s.op === "crash") {
              crashed.add(victim);
              await kit.kill(victim);
            } else {
              left.add(victim);
              await kit.leave(victim);
            }
          }
          await touchAll(kit, "n1", ids);
        }
        await kit.until(() => kit.converged(), 60_000, "stable membership");
        const stats = await balanced(kit, [...kit.members.keys()]);
        await touchAll(kit, "n1", ids);

        const allocated = seen(log, "n1", "shard-allocated");
        const replayed = new Map<number, string>();
        for (const e of allocated) {
          if (!replayed.has(e.shard)) {
            assert.equal(e.reason, "first-use", `first of shard ${e.shard}`);
          } else {
            assert.notEqual(e.reason, "first-use", `shard ${e.shard} again`);
            assert.equal(e.previous, replayed.get(e.shard));
            assert.notEqual(e.node, e.previous);
          }
          if (e.reason === "node-lost") assert(crashed.has(e.previous!));
          if (e.reason === "leaving") assert(left.has(e.previous!));
          replayed.set(e.shard, e.node);
        }
        for (const [node, s] of Object.entries(stats)) {
          for (const shard of s.allocated) {
            assert.equal(replayed.get(shard), node);
          }
        }
        assert.deepEqual(
          shardsOf(
            seen(log, "n1", "shard-started-here").filter((e) =>
              replayed.get(e.shard) === "n1"
            ),
          ).filter((shard, i, all) => all.indexOf(shard) === i),
          stats.n1.allocated,
        );
      },
    ),
    { numRuns: 4, seed: 7, endOnFailure: true },
  );
});
