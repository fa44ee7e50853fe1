// Failover of sharded persistent entities after a SIGKILL, at the default settings.
//
//   deno run -A bench/sharding_failover.ts [--entities 10000] [--runs 3]
//     [--kill other|coordinator] [--lease 1]
//
// Each run starts three member processes (bench/sharding_node.ts: every cluster and sharding
// setting at its default; the journal in Redis at REDIS_URL, default redis://127.0.0.1:6379),
// n1 first so it is the oldest and hosts the shard coordinator. It deposits once into each of
// `--entities` persistent accounts through n2 (so the 100 shards spread 34/33/33), keeps a
// deposit load running, then SIGKILLs n3 (a third of the shards; `--kill coordinator`: n1, a
// third of the shards and the coordinator). From then on it asks every account through n2
// (each on its own: a 1 s ask timeout, asked again at once after a failure) until each has answered, and reports
// the time from the kill to each step, taken from the survivors' membership events, the
// coordinator's journal (the timestamps of its `allocated` events) and the answers:
//
//   unreachable → downed → removed → first/last lost shard reallocated → first/last lost
//   entity answered (the last one is the failover time; target ≤ 5 s).
//
// It also reports the CPU time the two survivors used from the kill to the last answer (from
// /proc), a figure that depends less on a busy machine than the times do.
// Finally it reads every account's journal and checks that each acknowledged deposit (before,
// during and after the kill) is there. Medians and ranges over the runs close the output.
import { jsonCodec } from "../mod.ts";
import { RedisPersistence } from "../src/persistence/redis/mod.ts";
import { defaultShardOf } from "../src/cluster/sharding/shard_hash.ts";
import {
  cpuMs,
  Driver,
  load,
  median,
  type NodeLine,
  type NodeProcess,
  range,
  waitFor,
} from "./_sharding_processes.ts";

const args = new Map<string, string>();
for (let i = 0; i < Deno.args.length; i += 2) {
  args.set(Deno.args[i], Deno.args[i + 1]);
}
const ENTITIES = Number(args.get("--entities") ?? 10_000);
const RUNS = Number(args.get("--runs") ?? 3);
const KILL = args.get("--kill") ?? "other";
const LEASE = args.get("--lease") === "1";
/** Print the survivors' sharding log lines after each run (to see where the time went). */
const LOG = args.get("--log") === "1";
const SHARDS = 100; // the default numberOfShards
const REDIS_URL = Deno.env.get("REDIS_URL") || "redis://127.0.0.1:6379";

interface RunResult {
  lostEntities: number;
  lostShards: number;
  unreachable: number;
  downed: number;
  removed: number;
  firstRealloc: number;
  lastRealloc: number;
  firstAnswer: number;
  lastAnswer: number;
  acked: number;
  missing: number;
  /** CPU ms the survivors used from the kill until every entity had answered (both summed). */
  survivorCpu: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function run(index: number): Promise<RunResult> {
  const prefix = `troupe-bench:failover:${crypto.randomUUID()}:`;
  const driver = await Driver.start(
    prefix,
    [
      "--kind",
      "persistent",
      ...(LEASE ? ["--lease", "1"] : []),
      ...(LOG ? ["--log", "1"] : []),
    ],
    3,
  );
  const journal = await RedisPersistence.connect({
    url: REDIS_URL,
    keyPrefix: prefix,
    durability: "ignore",
  });
  try {
    const [n1, n2, n3] = [
      await driver.add("n1"),
      await driver.add("n2"),
      await driver.add("n3"),
    ];
    await driver.converged([n1, n2, n3], 3);
    const victim = KILL === "coordinator" ? n1 : n3;
    const survivors = [n1, n2, n3].filter((n) => n !== victim);
    const via = n2;
    const ids = Array.from({ length: ENTITIES }, (_, i) => `a${i}`);
    const acked = new Map<string, string[]>();
    let tokens = 0;
    const deposit = async (
      items: string[],
      timeoutMs: number,
      through: NodeProcess = via,
    ) => {
      const batch = items.map((id) => ({ id, token: `t${tokens++}` }));
      const results = await through.ref!.ask("deposits", {
        items: batch,
        timeoutMs,
      }, { timeoutMs: timeoutMs + 30_000 });
      return results.map((r, i) => {
        if (r.ok) {
          const { id, token } = batch[i];
          (acked.get(id) ?? acked.set(id, []).get(id)!).push(token);
        }
        return r;
      });
    };
    // Every region registers before the first allocation (within a rebalance interval).
    await sleep(1500);
    for (let i = 0; i < ids.length; i += 1000) {
      const results = await deposit(ids.slice(i, i + 1000), 30_000);
      const failed = results.filter((r) => !r.ok).length;
      if (failed > 0) throw new Error(`${failed} first deposits failed`);
    }
    const victimStats = await victim.ref!.ask("stats");
    const lostShards = new Set(victimStats.shards);
    const lost = ids.filter((id) => lostShards.has(defaultShardOf(id, SHARDS)));
    // A steady load through the survivors while the victim dies.
    let stop = false;
    const loads = survivors.map(async (n) => {
      while (!stop) {
        const some = Array.from(
          { length: 100 },
          () => ids[Math.floor(Math.random() * ids.length)],
        );
        await deposit(some, 2000, n).catch(() => {});
      }
    });
    await sleep(500);
    const cpuBefore = survivors.map((n) => cpuMs(n.pid));
    victim.kill();
    const killedAt = Date.now();
    const answered = new Map<string, number>();
    const probed = await via.ref!.ask("probe", {
      ids,
      prefix: "p",
      timeoutMs: 1000,
      untilMs: killedAt + 120_000,
    }, { timeoutMs: 180_000 });
    probed.forEach((r, i) => {
      if (r === null) return;
      answered.set(ids[i], r.at);
      (acked.get(ids[i]) ?? acked.set(ids[i], []).get(ids[i])!).push(r.token);
    });
    const cpuAfter = survivors.map((n) => cpuMs(n.pid));
    stop = true;
    await Promise.all(loads);
    if (answered.size < ids.length) {
      throw new Error(
        `${ids.length - answered.size} accounts never answered again`,
      );
    }
    // The leader removes the downed victim once the survivors have seen its down (a gossip
    // round or so after it); the last answer can come before that, so wait for every survivor's
    // `removed` event (up to 15 s) rather than report a removal that has not happened yet.
    const aboutVictim = (l: NodeLine) =>
      l.type === "event" && l.member === victim.name && l.at >= killedAt;
    await waitFor(
      () =>
        survivors.every((n) =>
          n.lines.some((l) => aboutVictim(l) && l.event === "removed")
        ),
      `every survivor's removed event for ${victim.name}`,
      15_000,
    );
    const events = survivors.flatMap((n) => n.lines).filter(aboutVictim);
    const first = (event: string) =>
      Math.min(...events.filter((e) => e.event === event).map((e) => e.at)) -
      killedAt;
    const allocations = (await journal.journal.read(
      "troupe.sharding.coordinator.account",
      1,
    )).filter((e) => e.type === "allocated" && e.timestamp >= killedAt)
      .map((e) => ({
        ...(jsonCodec.decode(e.type, e.data) as { shard: number }),
        at: e.timestamp,
      })).filter((e) => lostShards.has(e.shard));
    const lostAnswers = lost.map((id) => answered.get(id)! - killedAt).sort((
      a,
      b,
    ) => a - b);
    const quantile = (q: number) =>
      lostAnswers[
        Math.min(lostAnswers.length - 1, Math.floor(q * lostAnswers.length))
      ];
    // Every acknowledged deposit is in its account's journal.
    let missing = 0;
    let count = 0;
    for (let i = 0; i < ids.length; i += 500) {
      await Promise.all(
        ids.slice(i, i + 500).map(async (id) => {
          const stored = new Set(
            (await journal.journal.read(`account:${id}`, 1)).map((e) =>
              (jsonCodec.decode(e.type, e.data) as { token: string }).token
            ),
          );
          for (const t of acked.get(id) ?? []) {
            count++;
            if (!stored.has(t)) missing++;
          }
        }),
      );
    }
    const result: RunResult = {
      lostEntities: lost.length,
      lostShards: lostShards.size,
      unreachable: first("unreachable"),
      downed: first("downed"),
      removed: first("removed"),
      firstRealloc: Math.min(...allocations.map((a) => a.at)) - killedAt,
      lastRealloc: Math.max(...allocations.map((a) => a.at)) - killedAt,
      firstAnswer: Math.min(...lostAnswers),
      lastAnswer: Math.max(...lostAnswers),
      acked: count,
      missing,
      survivorCpu: cpuAfter.reduce((sum, c, i) => sum + c - cpuBefore[i], 0),
    };
    console.log(
      `run ${index}: killed ${victim.name} (${lost.length} entities, ${lostShards.size} shards${
        KILL === "coordinator" ? ", the coordinator" : ""
      }); ms after SIGKILL: unreachable ${result.unreachable}, downed ${result.downed}, removed ${result.removed}, shards reallocated ${result.firstRealloc}–${result.lastRealloc} (${allocations.length}), lost entities answered ${result.firstAnswer}–${result.lastAnswer} (p50 ${
        quantile(0.5)
      }, p90 ${quantile(0.9)}, p99 ${
        quantile(0.99)
      }); acknowledged deposits ${count}, missing ${missing}; survivors' CPU from the kill to the last answer ${result.survivorCpu} ms (both processes; the work failover cost them, whatever the machine's load); load ${load()}`,
    );
    if (LOG) {
      for (const line of survivors.flatMap((n) => n.lines)) {
        if (line.at >= killedAt && line.type !== "ready") {
          console.log(`  ${line.at - killedAt} ${JSON.stringify(line)}`);
        }
      }
    }
    return result;
  } finally {
    await journal.close();
    await driver.close();
  }
}

console.log(
  `sharding failover: ${ENTITIES} persistent entities on 3 processes, kill ${KILL}${
    LEASE ? " (coordinator fenced by a RedisLease)" : ""
  }, ${RUNS} runs, default settings; load ${load()}`,
);
const results: RunResult[] = [];
for (let i = 1; i <= RUNS; i++) results.push(await run(i));
const row = (name: keyof RunResult) => {
  const xs = results.map((r) => r[name]);
  return `${name} ${median(xs).toFixed(0)} (${range(xs)})`;
};
console.log(
  `median of ${RUNS} runs, ms after SIGKILL: ${
    [
      "unreachable",
      "downed",
      "removed",
      "firstRealloc",
      "lastRealloc",
      "firstAnswer",
      "lastAnswer",
      "survivorCpu",
    ].map((k) => row(k as keyof RunResult)).join(", ")
  }; missing acknowledged events: ${
    results.reduce((s, r) => s + r.missing, 0)
  } of ${results.reduce((s, r) => s + r.acked, 0)}; load ${load()}`,
);
