// Many idle sharded entities over several processes: memory per entity, and the rebalance when
// one more node joins.
//
//   deno run -A bench/sharding_scale.ts [--entities 1000000] [--nodes 5] [--plain 100000]
//
// It starts `--nodes` member processes (bench/sharding_node.ts, every cluster and sharding
// setting at its default: 100 shards, at most 3 moving at once, a rebalance check each second),
// measures each one's heap and RSS after a full GC, has each start its share of the
// `--entities` idle entities (one ask each, 500 in flight per node; the entities live wherever
// their shard is), and measures again once the asks' deadlines have passed (a settled ask is
// held until then). Memory per entity = the sum of the growths over the
// sum of the entities. The baseline, in the same processes: before the entities, each node
// spawns `--plain / nodes` plain idle actors of the same definition (no sharding), measures
// their cost and stops them, so the output separates the actor itself from sharding's
// bookkeeping. Then one more node joins, and the bench reports how long until the coordinator
// has balanced the shards (max − min ≤ 1 per node) and how many entities each node holds then
// (moved entities stop on their old node and start again on their next message).
import {
  Driver,
  load,
  type NodeProcess,
  waitFor,
} from "./_sharding_processes.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) {
  args.set(Deno.args[i], Deno.args[i + 1]);
}
const ENTITIES = Number(args.get("--entities") ?? 1_000_000);
const NODES = Number(args.get("--nodes") ?? 5);
const PLAIN = Number(args.get("--plain") ?? 100_000);
const KiB = 1024;
const TOUCH_TIMEOUT_MS = 15_000;

const prefix = `troupe-bench:scale:${crypto.randomUUID()}:`;
console.log(
  `sharding scale: ${ENTITIES} idle entities over ${NODES} processes, default settings; load ${load()}`,
);
// The members' connections tolerate long silences (a member busy starting 200,000 entities on
// a shared machine); membership's own failure detector is left at its defaults.
const driver = await Driver.start(prefix, [
  "--kind",
  "idle",
  "--heartbeat-timeout-ms",
  "120000",
], NODES);
try {
  const nodes: NodeProcess[] = [];
  for (let i = 1; i <= NODES; i++) nodes.push(await driver.add(`n${i}`));
  await driver.converged(nodes, NODES);
  // Every region registers before the first allocation (within a rebalance interval).
  await new Promise((r) => setTimeout(r, 1500));
  const memory = () => Promise.all(nodes.map((n) => n.ref!.ask("memory")));

  // The baseline: plain actors of the same definition in the same processes.
  const plain = await Promise.all(
    nodes.map((n) =>
      n.ref!.ask("plain", { count: Math.floor(PLAIN / NODES) }, {
        timeoutMs: 600_000,
      })
    ),
  );
  const plainHeap = plain.reduce((s, p) => s + p.heap, 0) /
    plain.reduce((s, p) => s + p.count, 0);
  const plainRss = plain.reduce((s, p) => s + p.rss, 0) /
    plain.reduce((s, p) => s + p.count, 0);

  const before = await memory();
  const share = Math.ceil(ENTITIES / NODES);
  const started = performance.now();
  const failed = await Promise.all(nodes.map((n, i) =>
    n.ref!.ask("touch", {
      from: i * share,
      to: Math.min(ENTITIES, (i + 1) * share),
      inFlight: 500,
      timeoutMs: TOUCH_TIMEOUT_MS,
    }, { timeoutMs: 3_600_000 })
  ));
  const seconds = (performance.now() - started) / 1000;
  // Membership changes while the entities started (a member starved long enough to be found
  // unreachable, or downed) explain failures and slow runs.
  const changes = nodes.flatMap((n) => n.lines).filter((l) =>
    l.type === "event" && l.event !== "joined" && l.event !== "up"
  );
  for (const c of changes) {
    console.log(`  ${c.node} saw ${c.member} ${c.event} (${c.status})`);
  }
  if (failed.some((f) => f > 0)) {
    throw new Error(
      `${failed.reduce((a, b) => a + b)} entities did not start (by node: ${
        failed.join(", ")
      })`,
    );
  }
  // A settled ask is held (by its sender and by the entity) until its deadline passes.
  await new Promise((r) => setTimeout(r, TOUCH_TIMEOUT_MS + 1000));
  const after = await memory();
  const stats = await Promise.all(nodes.map((n) => n.ref!.ask("stats")));
  const total = stats.reduce((s, x) => s + x.entities, 0);
  const heap = after.reduce(
    (s, m, i) => s + m.heapUsed - before[i].heapUsed,
    0,
  );
  const rss = after.reduce((s, m, i) => s + m.rss - before[i].rss, 0);
  for (let i = 0; i < nodes.length; i++) {
    console.log(
      `${nodes[i].name}: ${stats[i].entities} entities in ${
        stats[i].shards.length
      } shards; heap ${(before[i].heapUsed / 2 ** 20).toFixed(0)} → ${
        (after[i].heapUsed / 2 ** 20).toFixed(0)
      } MiB, RSS ${(before[i].rss / 2 ** 20).toFixed(0)} → ${
        (after[i].rss / 2 ** 20).toFixed(0)
      } MiB`,
    );
  }
  console.log(
    `started ${total} entities in ${seconds.toFixed(1)} s (${
      Math.round(total / seconds)
    }/s); per entity: heap ${(heap / total).toFixed(0)} B (${
      (heap / total / KiB).toFixed(2)
    } KiB), RSS ${(rss / total).toFixed(0)} B (${
      (rss / total / KiB).toFixed(2)
    } KiB); baseline plain actor (no sharding): heap ${
      plainHeap.toFixed(0)
    } B, RSS ${plainRss.toFixed(0)} B; sharding's share: heap ${
      (heap / total - plainHeap).toFixed(0)
    } B per entity; target ≤ 1.5 KiB; load ${load()}`,
  );

  // One more node joins: how long until the shards are balanced again?
  const joinStart = Date.now();
  const extra = await driver.add(`n${NODES + 1}`);
  const joinedAt = extra.lines.find((l) => l.type === "joined")!.at;
  let balancedAt = 0;
  let shards: Record<string, number> = {};
  await waitFor(
    async () => {
      shards = await nodes[0].ref!.ask("clusterStats");
      const counts = Object.values(shards);
      if (
        counts.length === NODES + 1 &&
        Math.max(...counts) - Math.min(...counts) <= 1
      ) {
        balancedAt = Date.now();
        return true;
      }
      return false;
    },
    "the shards to balance over the new node",
    600_000,
  );
  const afterJoin = await Promise.all(
    [...nodes, extra].map((n) => n.ref!.ask("stats")),
  );
  console.log(
    `node n${NODES + 1} joined (${
      joinedAt - joinStart
    } ms to start and join); shards balanced ${
      balancedAt - joinedAt
    } ms after it joined: ${JSON.stringify(shards)}; entities per node then: ${
      afterJoin.map((s) => s.entities).join(", ")
    }; load ${load()}`,
  );
} finally {
  await driver.close();
}
