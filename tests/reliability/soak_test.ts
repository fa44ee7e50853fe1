// Reliability, soak: three stream nodes (journal in a Redis of the test's own), steady load from
// 24 clients on 12 streams, and every 10-15 s m1 or m3 (at random) SIGKILLed and started again
// (a new incarnation on the same address); m2, the witness, is never restarted, so one process
// lives through the whole run. The RSS, live timers and socket descriptors of every node
// process are sampled throughout; the actors, live timers and TCP connections of every node are
// counted after a warm-up and again at the end, both times once the load stopped and idle
// entities were passivated (timers as the node reports them, connections from outside through
// /proc, named by the process at the other end: see leaks.ts). Passes when the history checks
// out, every restart is one cluster again, no actors, timers or connections were left behind,
// the witness's heap at idle (after a full collection, entities passivated) grew at most
// HEAP_BOUND_MIB between the warm-up and the end, and no incarnation's RSS grew more than
// RSS_BOUND_MIB (a runaway check: RSS also holds what V8 reserved and keeps, and the streams'
// entries while they run, so it is reported as a curve and only bounded loosely). Prints one verdict line, the RSS curve
// of each node, its timers and sockets under load, and the idle figures before and after.
//
// 60 s of load in CI. By hand, 30 minutes:
//   deno test -A tests/reliability/soak_test.ts -- --long
//   (or TROUPE_SOAK_SECONDS=<n> for any length; both work under node --test too)
import assert from "node:assert/strict";
import process from "node:process";
import { platform } from "../../src/platform/mod.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";
import {
  randomPrefix,
  serverTest,
  withOwnRedis,
} from "../../src/persistence/redis/_helpers_test.ts";
import {
  dump,
  MemberProcess,
  stopAll,
  waitReady,
  waitUntil,
} from "../cluster/support.ts";
import { check, verdictLine } from "./checker.ts";
import {
  codeCounts,
  readBack,
  rssMiB,
  sleep,
  startStreamNodes,
  streamIds,
  type StreamNodeOptions,
  streamNodeOptions,
  waitEveryStreamAnswers,
  waitJoined,
  Workload,
} from "./workload.ts";
import type { WorkloadStats } from "./workload_protocol.ts";
import {
  checkLeaks,
  connectionKey,
  type NodeResources,
  nodeResources,
  resourcesText,
} from "./leaks.ts";
import { socketsOf } from "./sockets.ts";

const NAMES = ["m1", "m2", "m3"];
/**
 * The node that is never restarted: it lives through the whole run, so its RSS curve, timers and
 * connections are those of one process under the whole load and all its peers' restarts (a
 * restarted node starts afresh, which would hide a slow leak). It is m2, not m1: m1 is the first
 * seed and, at first, the oldest member (the leader and the shard coordinator's host), and
 * restarting it is what once made a restarted first seed form a cluster of its own and take
 * the lead, and left a restarted node unreachable for sharding (both fixed, 067eec8 and 805686f).
 */
const WITNESS = "m2";
const STREAMS = streamIds(12);
const LONG = scriptArgs().includes("--long") ||
  platform.env("TROUPE_SOAK") === "long";
const SECONDS = Number(platform.env("TROUPE_SOAK_SECONDS") ?? "") ||
  (LONG ? 1800 : 60);
/** Connections are read from /proc: Linux only (CI is Linux, and must check them). */
const PROC = process.platform === "linux" || platform.env("CI") !== undefined;
if (!PROC) {
  console.log(
    "soak: no /proc on this system: the connection checks are SKIPPED (timers, actors and RSS are still checked)",
  );
}
/** How much one incarnation's RSS may grow under steady load (from 5 s after its start). */
const RSS_BOUND_MIB = 256;
/**
 * The most the witness's heap at idle may grow over the run, in MiB: what a passivated, idle
 * node still holds after a full collection (member tombstones, metrics, connection state), so
 * growth beyond a few MiB is a leak.
 */
const HEAP_BOUND_MIB = 32;
/** Passivate stream entities idle this long, so that the leak check can wait for none. */
const IDLE_MS = 1500;
const STABLE_AFTER_MS = 1000;

interface Sample {
  readonly node: string;
  readonly pid: number;
  readonly at: number;
  readonly mib: number;
  /** Live timers, when the node answered (under load they include the asks in flight). */
  readonly timers?: number;
  /** Open socket descriptors. */
  readonly sockets?: number;
}

/** Waits until no node runs a stream entity, then returns every node's figures. */
async function settled(
  workload: Workload,
  nodes: readonly MemberProcess[],
): Promise<WorkloadStats[]> {
  let stats: (WorkloadStats | undefined)[] = [];
  await waitUntil(
    async () => {
      stats = await Promise.all(NAMES.map((n) => workload.stats(n)));
      return stats.every((s) => s !== undefined && s.entities === 0);
    },
    () => `idle entities passivated: ${JSON.stringify(stats)}\n${dump(nodes)}`,
    IDLE_MS * 10,
  );
  return stats as WorkloadStats[];
}

/**
 * Every node's timers and connections, once `stats` (taken when the cluster was idle) are in:
 * the sockets of all the nodes and of this process are read together, so that each connection
 * can be named by the process at its other end.
 */
async function resources(
  nodes: readonly MemberProcess[],
  stats: readonly WorkloadStats[],
  redisPort: number,
): Promise<NodeResources[]> {
  if (!PROC) {
    const empty = { descriptors: 0, tcp: [] };
    return nodes.map((n, i) =>
      nodeResources(n.node, n.pid, stats[i].timers, empty, {
        endpoints: new Map(),
        listeners: new Map(),
      })
    );
  }
  const sockets = await Promise.all(nodes.map((n) => socketsOf(n.pid)));
  const mine = await socketsOf(process.pid);
  const endpoints = new Map<string, string>();
  for (const s of mine?.tcp ?? []) {
    endpoints.set(connectionKey(s.local, s.remote), "test");
  }
  nodes.forEach((n, i) => {
    for (const s of sockets[i]?.tcp ?? []) {
      endpoints.set(connectionKey(s.local, s.remote), n.node);
    }
  });
  const listeners = new Map([[redisPort, "redis"]]);
  return nodes.map((n, i) => {
    const own = sockets[i];
    if (own === undefined) {
      throw new Error(
        `Cannot read the sockets of ${n.node} (pid ${n.pid}) from /proc`,
      );
    }
    return nodeResources(n.node, n.pid, stats[i].timers, own, {
      endpoints,
      listeners,
    });
  });
}

/**
 * The idle cluster's resources, as the least of five snapshots 200 ms apart for each node: a
 * timer or a connection that only passes through (a Redis command's timeout, a lease renewal in
 * flight) is not counted, while one that leaked is there every time.
 */
async function idleResources(
  workload: Workload,
  nodes: readonly MemberProcess[],
  redisPort: number,
): Promise<NodeResources[]> {
  let best: NodeResources[] | undefined;
  const weight = (r: NodeResources) => r.timers + r.descriptors;
  for (let k = 0; k < 5; k++) {
    if (k > 0) await sleep(200);
    const stats = await Promise.all(NAMES.map((n) => workload.stats(n)));
    const missing = NAMES.filter((_, i) => stats[i] === undefined);
    if (missing.length > 0) {
      throw new Error(`No stats from ${missing.join(", ")}\n${dump(nodes)}`);
    }
    const now = await resources(nodes, stats as WorkloadStats[], redisPort);
    best = best === undefined
      ? now
      : best.map((b, i) => weight(now[i]) < weight(b) ? now[i] : b);
  }
  return best!;
}

interface Growth {
  readonly node: string;
  readonly pid: number;
  readonly from: number;
  readonly to: number;
}

/**
 * Each node's RSS under the load: the first sample, the peak, the last one, how many processes
 * (incarnations) it had, and the largest growth of one of them.
 */
function rssCurves(
  samples: readonly Sample[],
  loadAt: number,
  growth: readonly Growth[],
): { node: string; text: string }[] {
  return NAMES.map((node) => {
    const mine = samples.filter((s) => s.node === node && s.at >= loadAt);
    if (mine.length === 0) return { node, text: `${node} -` };
    const peak = Math.max(...mine.map((s) => s.mib));
    const processes = new Set(mine.map((s) => s.pid)).size;
    const worst = Math.max(
      ...growth.filter((g) => g.node === node).map((g) => g.to - g.from),
    );
    return {
      node,
      text: `${node} ${mine[0].mib.toFixed(0)}→${
        mine.at(-1)!.mib.toFixed(0)
      } peak ${peak.toFixed(0)} (${processes} process${
        processes === 1 ? "" : "es"
      }, largest growth ${worst.toFixed(1)})`,
    };
  });
}

/** Prints each node's RSS curve, and its live timers and socket descriptors under load. */
function printCurves(samples: readonly Sample[], loadAt: number): void {
  for (const name of NAMES) {
    const mine = samples.filter((s) => s.node === name);
    const step = Math.max(1, Math.floor(mine.length / 12));
    console.log(
      `reliability soak RSS ${name} (MiB, every ${step} sample(s); # marks a restart): ${
        mine.filter((_, k) => k % step === 0).map((s, k, all) =>
          `${k > 0 && all[k - 1].pid !== s.pid ? "# " : ""}${
            Math.round((s.at - loadAt) / 1000)
          }s:${s.mib.toFixed(0)}`
        ).join(" ")
      }`,
    );
  }
  for (const name of NAMES) {
    const mine = samples.filter((s) =>
      s.node === name && s.timers !== undefined
    );
    const step = Math.max(1, Math.floor(mine.length / 12));
    console.log(
      `reliability soak timers/sockets ${name} (under load; # marks a restart): ${
        mine.filter((_, k) => k % step === 0).map((s, k, all) =>
          `${k > 0 && all[k - 1].pid !== s.pid ? "# " : ""}${
            Math.round((s.at - loadAt) / 1000)
          }s:${s.timers}/${s.sockets ?? "?"}`
        ).join(" ")
      }`,
    );
  }
}

function sum<T>(items: readonly T[], f: (item: T) => number): number {
  return items.reduce((a, item) => a + f(item), 0);
}

function byType(stats: readonly WorkloadStats[]): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const s of stats) {
    for (const [type, n] of Object.entries(s.byType)) {
      sum[type] = (sum[type] ?? 0) + n;
    }
  }
  return sum;
}

serverTest(
  `Reliability, soak: ${SECONDS} s of steady load with random node restarts keeps the history intact, every node's RSS bounded and no actor, timer or connection leaked`,
  async () => {
    await withOwnRedis(["--appendonly", "no"], async (server) => {
      const journalAt = {
        redisUrl: server.current().url,
        keyPrefix: randomPrefix("reliability-soak"),
      };
      const options: StreamNodeOptions = {
        ...journalAt,
        detector: "fast",
        idleMs: IDLE_MS,
      };
      const nodes = await startStreamNodes(3, options, STABLE_AFTER_MS);
      const samples: Sample[] = [];
      const startedAt = new Map<number, number>();
      for (const n of nodes) startedAt.set(n.pid, Date.now());
      let sampling = true;
      let statsOf:
        | ((node: string) => Promise<WorkloadStats | undefined>)
        | undefined;
      const sampler = (async () => {
        while (sampling) {
          for (const n of nodes) {
            const mib = n.exit === undefined ? await rssMiB(n.pid) : undefined;
            if (mib === undefined) continue;
            const timers = (await statsOf?.(n.node))?.timers;
            const sockets = (await socketsOf(n.pid))?.descriptors;
            samples.push({
              node: n.node,
              pid: n.pid,
              at: Date.now(),
              mib,
              ...(timers === undefined ? {} : { timers }),
              ...(sockets === undefined ? {} : { sockets }),
            });
          }
          await sleep(LONG ? 10_000 : 1000);
        }
      })();
      let curvesFrom: number | undefined;
      try {
        await using workload = await Workload.connect(nodes);
        statsOf = (node) => workload.stats(node);
        await workload.waitOneCluster(NAMES, 30_000, () => dump(nodes));
        const load = {
          streams: STREAMS,
          clientsPerStream: 2,
          routes: [NAMES, ["m2", "m3", "m1"], ["m3", "m1", "m2"]],
          pauseMs: 50,
        };
        // Warm up, then count the actors of an idle cluster.
        const warmAt = Date.now();
        workload.start(load);
        await waitEveryStreamAnswers(
          workload,
          STREAMS,
          warmAt,
          20_000,
          () => dump(nodes),
        );
        await sleep(3000);
        await workload.stop();
        const baseline = await settled(workload, nodes);
        const resourcesBefore = await idleResources(
          workload,
          nodes,
          server.current().port,
        );
        const heapBefore = await workload.heap(WITNESS);

        workload.start(load);
        const loadAt = Date.now();
        curvesFrom = loadAt;
        const seeds = nodes.map((n) => n.address()!);
        const restarts: string[] = [];
        const rejoinMs: number[] = [];
        while (true) {
          const wait = 10_000 + Math.random() * 5000;
          if (Date.now() + wait > loadAt + SECONDS * 1000) break;
          await sleep(wait);
          const victims = NAMES.flatMap((n, k) => n === WITNESS ? [] : [k]);
          const i = victims[Math.floor(Math.random() * victims.length)];
          const victim = nodes[i];
          workload.detach(victim.node);
          victim.kill("SIGKILL");
          await victim.exited;
          const killedAt = Date.now();
          nodes[i] = MemberProcess.start({
            ...streamNodeOptions(options),
            node: victim.node,
            port: Number(victim.address()!.split(":").at(-1)),
            seeds,
            stableAfterMs: STABLE_AFTER_MS,
          });
          startedAt.set(nodes[i].pid, Date.now());
          await waitReady([nodes[i]]);
          await waitJoined([nodes[i]]);
          await workload.attach(nodes[i]);
          await workload.waitOneCluster(NAMES, 30_000, () => dump(nodes));
          restarts.push(victim.node);
          rejoinMs.push(Date.now() - killedAt);
        }
        await sleep(Math.max(0, loadAt + SECONDS * 1000 - Date.now()));
        await workload.stop();
        const loadMs = Date.now() - loadAt;
        const final = await settled(workload, nodes);
        const resourcesAfter = await idleResources(
          workload,
          nodes,
          server.current().port,
        );
        const heapAfter = await workload.heap(WITNESS);
        sampling = false;
        await sampler;
        const leaks = checkLeaks(resourcesBefore, resourcesAfter);

        const states = await readBack(workload, NAMES, STREAMS, journalAt);
        const verdict = check(workload.history, states);
        // RSS growth of each incarnation under the load, from 5 s after its start (or the end of
        // the warm-up) to its last sample.
        const growth: Growth[] = [];
        for (const pid of new Set(samples.map((s) => s.pid))) {
          const mine = samples.filter((s) =>
            s.pid === pid &&
            s.at >= Math.max(startedAt.get(pid)! + 5000, loadAt)
          );
          if (mine.length < 2) continue;
          growth.push({
            node: mine[0].node,
            pid,
            from: mine[0].mib,
            to: mine.at(-1)!.mib,
          });
        }
        const worst = growth.reduce(
          (a, g) => Math.max(a, g.to - g.from),
          -Infinity,
        );
        const actorsBefore = baseline.reduce((a, s) => a + s.actors, 0);
        const actorsAfter = final.reduce((a, s) => a + s.actors, 0);
        const acked = workload.history.filter((op) =>
          op.completion === "ok" && op.invokedAt >= loadAt
        ).length;
        // The line says PASS only when every check of the soak holds, not the history alone.
        const heapGrowth = heapBefore === undefined || heapAfter === undefined
          ? undefined
          : heapAfter.usedMiB - heapBefore.usedMiB;
        const heapHolds = heapGrowth !== undefined &&
          heapGrowth <= HEAP_BOUND_MIB;
        const holds = verdict.valid && leaks.valid && heapHolds &&
          worst <= RSS_BOUND_MIB && actorsAfter <= actorsBefore;
        console.log(verdictLine("soak", { ...verdict, valid: holds }, {
          load_s: Math.round(loadMs / 1000),
          rate_per_s: Math.round(acked / (loadMs / 1000)),
          restarts: `${restarts.length} (${
            NAMES.map((n) =>
              `${n}×${restarts.filter((r) => r === n).length}`
            )
              .join(" ")
          })`,
          rejoin_ms_max: rejoinMs.length === 0 ? "-" : Math.max(...rejoinMs),
          rss_mib: rssCurves(samples, loadAt, growth).map((c) => c.text).join(
            "; ",
          ),
          rss_growth_max_mib: worst.toFixed(1),
          witness_idle_heap_mib:
            heapBefore === undefined || heapAfter === undefined
              ? "-"
              : `${heapBefore.usedMiB.toFixed(1)}→${
                heapAfter.usedMiB.toFixed(1)
              }${heapAfter.collected ? "" : " (no gc)"}`,
          actors_idle: `${actorsBefore}→${actorsAfter}`,
          timers_idle: `${sum(resourcesBefore, (r) => r.timers)}→${
            sum(resourcesAfter, (r) => r.timers)
          }`,
          sockets_idle: `${sum(resourcesBefore, (r) => r.descriptors)}→${
            sum(resourcesAfter, (r) => r.descriptors)
          }`,
          leaks: leaks.valid ? "none" : leaks.problems.length,
          errors: codeCounts(
            workload.history.filter((op) => op.completion !== "ok"),
          ),
        }));
        printCurves(samples, loadAt);
        curvesFrom = undefined; // printed: a failed assertion below need not print them again
        console.log(
          `reliability soak resources after the warm-up: ${
            resourcesBefore.map(resourcesText).join(" | ")
          }`,
        );
        console.log(
          `reliability soak resources at the end: ${
            resourcesAfter.map(resourcesText).join(" | ")
          }`,
        );
        assert.ok(verdict.valid, JSON.stringify(verdict));
        assert.ok(acked > 0, "appends were acknowledged under load");
        assert.ok(
          heapBefore !== undefined && heapAfter !== undefined,
          `the witness ${WITNESS} answered the heap question`,
        );
        assert.ok(
          heapAfter!.collected,
          `the witness could force a full collection (started with --expose-gc, or Bun)`,
        );
        assert.ok(
          heapHolds,
          `${WITNESS}'s heap at idle grew ${
            heapGrowth!.toFixed(1)
          } MiB (bound ${HEAP_BOUND_MIB})`,
        );
        assert.ok(
          worst <= RSS_BOUND_MIB,
          `RSS grew ${worst.toFixed(1)} MiB (bound ${RSS_BOUND_MIB})`,
        );
        assert.ok(
          actorsAfter <= actorsBefore,
          `actors of the idle cluster: ${actorsBefore} after the warm-up, ${actorsAfter} at the end (${
            JSON.stringify(byType(baseline))
          } → ${JSON.stringify(byType(final))})`,
        );
        assert.ok(leaks.valid, leaks.problems.join("\n"));
      } catch (error) {
        // A run that stops early still shows what it measured until then.
        if (curvesFrom !== undefined) printCurves(samples, curvesFrom);
        throw error;
      } finally {
        sampling = false;
        await sampler;
        await stopAll(nodes);
      }
    });
  },
);
