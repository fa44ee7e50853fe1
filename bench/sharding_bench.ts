// Asks to sharded entities against plain asks, in the same run.
//
//   deno run -A bench/sharding_bench.ts [--asks N] [--rounds R]
//     local: one node forms a one-member cluster over loopback, starts sharding and hosts an
//     entity type; the baseline is the same actor definition spawned directly on that node.
//   deno run -A bench/sharding_bench.ts --spread 1 [--asks N] [--rounds R]
//     spread: two peer processes join this node's cluster (the coordinator's journal in Redis at
//     REDIS_URL, default redis://127.0.0.1:6379), so the 100 entities live on three processes;
//     the baseline is plain remote asks to actors spawned on the peers, from this process.
//
// Each round runs both jobs in turn (so the machine's ups and downs hit both alike): N asks over
// 100 entities, 1000 in flight. A warm-up round of each comes first. It prints each round, then
// the medians and ranges, and the CPU time per ask (user + system, summed over this process and
// the peers, from /proc/<pid>/stat): on a shared machine that is steadier than asks/s.
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  RemoteNode,
  usePersistence,
} from "../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  Sharding,
  ShardingExtensions,
  StaticSeeds,
} from "../src/cluster/mod.ts";
import { RedisPersistence } from "../src/persistence/redis/mod.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) {
  args.set(Deno.args[i], Deno.args[i + 1]);
}
const ASKS = Number(args.get("--asks") ?? 500_000);
const ROUNDS = Number(args.get("--rounds") ?? 5);
const PEER = args.get("--peer");
const SPREAD = args.has("--spread") || PEER !== undefined;
const REDIS_URL = Deno.env.get("REDIS_URL") || "redis://127.0.0.1:6379";
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

const CLOCK_TICKS = 100; // USER_HZ on Linux

/** CPU time (user + system) of the processes `pids` so far, in µs. */
function cpuMicros(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      return NaN; // not Linux
    }
  }
  return ticks * (1_000_000 / CLOCK_TICKS);
}

const pids = [Deno.pid];

/**
 * Asks/s of `ask` over ASKS asks, IN_FLIGHT at a time, CPU µs per ask (all processes), and CPU µs
 * per ask of this (the asking) process alone.
 */
async function measure(ask: Asker): Promise<[number, number, number]> {
  const cpu = cpuMicros(pids);
  const own = cpuMicros([Deno.pid]);
  const start = performance.now();
  for (let done = 0; done < ASKS; done += IN_FLIGHT) {
    const batch: Promise<number>[] = [];
    for (let i = 0; i < IN_FLIGHT; i++) batch.push(ask(done + i));
    await Promise.all(batch);
  }
  const rate = ASKS / ((performance.now() - start) / 1000);
  return [
    rate,
    (cpuMicros(pids) - cpu) / ASKS,
    (cpuMicros([Deno.pid]) - own) / ASKS,
  ];
}

const name = PEER ?? "bench";
const system = new ActorSystem({ node: name, askTimeoutMs: 60_000 });
const prefix = args.get("--prefix") ??
  `troupe-bench:sharding:${crypto.randomUUID()}:`;
const persistence = SPREAD
  ? await RedisPersistence.connect({
    url: REDIS_URL,
    keyPrefix: prefix,
    durability: "ignore",
  })
  : undefined;
if (persistence !== undefined) usePersistence(system, persistence);
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
  discovery: new StaticSeeds([args.get("--seed") ?? node.address]),
});
const sharding = await Sharding.start(cluster, {
  extensions: shardingExtensions,
});
const counters = sharding.entityType(counter, {
  rebalanceIntervalMs: 200,
  maxSimultaneousMoves: 20,
});
const plainRefs = await Promise.all(
  Array.from(
    { length: ENTITIES },
    (_, i) => system.spawn(counter, `p${i}`, { id: `plain-${i}` }),
  ),
);

if (PEER !== undefined) {
  // A peer: host shards and plain actors until killed (SIGTERM exits cleanly, so that a CPU
  // profile asked for with PEER_DENO_FLAGS="--cpu-prof" is written).
  Deno.addSignalListener("SIGTERM", () => Deno.exit(0));
  console.log(`READY ${node.address}`);
  await new Promise(() => {});
}

const peers: Deno.ChildProcess[] = [];
let plain: ActorRef<{ add(by: number): number }>[] = plainRefs;
if (SPREAD) {
  for (const peer of ["peer1", "peer2"]) {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        ...(Deno.env.get("PEER_DENO_FLAGS") ?? "").split(" ").filter(Boolean),
        new URL(import.meta.url).pathname,
        "--peer",
        peer,
        "--seed",
        node.address,
        "--prefix",
        prefix,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    peers.push(child);
    pids.push(child.pid);
    const reader = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let banner = "";
    while (!banner.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${peer} exited early`);
      banner += value;
    }
  }
  while (cluster.members().filter((m) => m.status === "up").length < 3) {
    await new Promise((r) => setTimeout(r, 100));
  }
  // The baseline: plain remote asks to the peers' actors.
  plain = plainRefs.map((_, i) =>
    node.ref<{ add(by: number): number }>(
      i % 2 === 0 ? "peer1" : "peer2",
      `plain-${i}`,
    )
  );
}
const entities = Array.from(
  { length: ENTITIES },
  (_, i) => counters.ref(`e${i}`),
);
// Start every entity (and learn every shard's home) before measuring; when spread, wait until
// the shards are balanced over the three processes.
await Promise.all(entities.map((ref) => ref.ask("add", 0)));
if (SPREAD) {
  while (true) {
    const stats = await counters.clusterStats();
    const shards = Object.values(stats).map((s) => s.shards);
    if (shards.length === 3 && Math.max(...shards) - Math.min(...shards) <= 1) {
      break;
    }
    await Promise.all(entities.map((ref) => ref.ask("add", 0)));
    await new Promise((r) => setTimeout(r, 200));
  }
  await Promise.all(entities.map((ref) => ref.ask("add", 0)));
}

// A warm-up round of each (not counted), so the JIT has compiled both paths.
await measure((i) => plain[i % ENTITIES].ask("add", 1));
await measure((i) => entities[i % ENTITIES].ask("add", 1));

const what = SPREAD ? "over 3 processes" : "local";
const baseline: number[] = [];
const sharded: number[] = [];
const baselineCpu: number[] = [];
const shardedCpu: number[] = [];
for (let round = 1; round <= ROUNDS; round++) {
  const [b, bCpu, bOwn] = await measure((i) =>
    plain[i % ENTITIES].ask("add", 1)
  );
  const [s, sCpu, sOwn] = await measure((i) =>
    entities[i % ENTITIES].ask("add", 1)
  );
  baseline.push(b);
  sharded.push(s);
  baselineCpu.push(bCpu);
  shardedCpu.push(sCpu);
  console.log(
    `round ${round}: plain ${SPREAD ? "remote" : "local"} asks ${
      Math.round(b)
    }/s (${bCpu.toFixed(2)} µs CPU/ask, asker ${
      bOwn.toFixed(2)
    }), sharded asks ${what} ${Math.round(s)}/s (${
      sCpu.toFixed(2)
    } µs CPU/ask, asker ${sOwn.toFixed(2)}) (${(s / b).toFixed(2)}×)`,
  );
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const range = (xs: number[]) =>
  `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))}`;
console.log(
  `median of ${ROUNDS} (${what}): plain ${Math.round(median(baseline))}/s (${
    range(baseline)
  }), sharded ${Math.round(median(sharded))}/s (${range(sharded)}), ratio ${
    (median(sharded) / median(baseline)).toFixed(2)
  }; CPU per ask: plain ${median(baselineCpu).toFixed(2)} µs (${
    Math.min(...baselineCpu).toFixed(2)
  }–${Math.max(...baselineCpu).toFixed(2)}), sharded ${
    median(shardedCpu).toFixed(2)
  } µs (${Math.min(...shardedCpu).toFixed(2)}–${
    Math.max(...shardedCpu).toFixed(2)
  })`,
);
for (const peer of peers) {
  peer.kill("SIGTERM");
  await peer.status;
}
await sharding.close({ handOff: false });
await cluster.close();
await node.close();
await system.shutdown();
if (persistence !== undefined) {
  // Drop this run's coordinator journal (the events; a few small keys stay under the prefix).
  await persistence.journal.deleteTo(
    "troupe.sharding.coordinator.counter",
    Number.MAX_SAFE_INTEGER,
  ).catch(() => {});
  await persistence.close();
}
