// Asks to sharded entities on the local node against plain local asks, in the same run.
//
//   deno run -A bench/sharding_bench.ts [--asks N] [--rounds R]
//
// One node forms a one-member cluster over loopback, starts sharding and hosts an entity type;
// the baseline is the same actor definition spawned directly. Each round runs both jobs in turn
// (so the machine's ups and downs hit both alike): N asks over 100 entities, 1000 in flight.
// A warm-up round of each comes first. It prints each round and the medians and ranges.
import { ActorSystem, defineActor, RemoteNode } from "../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  Sharding,
  ShardingExtensions,
  StaticSeeds,
} from "../src/cluster/mod.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) {
  args.set(Deno.args[i], Deno.args[i + 1]);
}
const ASKS = Number(args.get("--asks") ?? 500_000);
const ROUNDS = Number(args.get("--rounds") ?? 5);
const ENTITIES = 100;
const IN_FLIGHT = 1000;

const counter = defineActor({
  name: "counter",
  init: (_id: string) => ({ count: 0 }),
  handlers: {
    add: (state, by: number) => (state.count += by),
  },
});

type Asker = (i: number) => Promise<number>;

/** Asks/s of `ask` over ASKS asks, IN_FLIGHT at a time. */
async function measure(ask: Asker): Promise<number> {
  const start = performance.now();
  for (let done = 0; done < ASKS; done += IN_FLIGHT) {
    const batch: Promise<number>[] = [];
    for (let i = 0; i < IN_FLIGHT; i++) batch.push(ask(done + i));
    await Promise.all(batch);
  }
  return ASKS / ((performance.now() - start) / 1000);
}

const system = new ActorSystem({ node: "bench", askTimeoutMs: 60_000 });
const clusterExtensions = new ClusterExtensions();
const shardingExtensions = new ShardingExtensions();
const node = await RemoteNode.start(system, {
  cluster: "sharding-bench",
  secret: "sharding bench secret, not for production",
  hostname: "127.0.0.1",
  extensions: [...clusterExtensions.remote, ...shardingExtensions.remote],
  logger: { error() {} },
});
const cluster = await Cluster.join(node, {
  extensions: clusterExtensions,
  discovery: new StaticSeeds([node.address]),
});
const sharding = await Sharding.start(cluster, {
  extensions: shardingExtensions,
});
const counters = sharding.entityType(counter);

const plain = await Promise.all(
  Array.from(
    { length: ENTITIES },
    (_, i) => system.spawn(counter, `p${i}`, { id: `plain-${i}` }),
  ),
);
const entities = Array.from(
  { length: ENTITIES },
  (_, i) => counters.ref(`e${i}`),
);
// Start every entity (and learn every shard's home) before measuring.
await Promise.all(entities.map((ref) => ref.ask("add", 0)));

// A warm-up round of each (not counted), so the JIT has compiled both paths.
await measure((i) => plain[i % ENTITIES].ask("add", 1));
await measure((i) => entities[i % ENTITIES].ask("add", 1));

const baseline: number[] = [];
const sharded: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const b = await measure((i) => plain[i % ENTITIES].ask("add", 1));
  const s = await measure((i) => entities[i % ENTITIES].ask("add", 1));
  baseline.push(b);
  sharded.push(s);
  console.log(
    `round ${round}: plain local asks ${Math.round(b)}/s, sharded local asks ${
      Math.round(s)
    }/s (${(s / b).toFixed(2)}×)`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const range = (xs: number[]) =>
  `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
console.log(
  `median of ${ROUNDS}: plain ${Math.round(median(baseline))}/s (${
    range(baseline)
  }), sharded ${Math.round(median(sharded))}/s (${range(sharded)}), ratio ${
    (median(sharded) / median(baseline)).toFixed(2)
  }`,
);
await sharding.close();
await cluster.close();
await node.close();
await system.shutdown();
