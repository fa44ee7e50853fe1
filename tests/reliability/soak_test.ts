// Reliability, soak: three stream nodes (journal in a Redis of the test's own), steady load from
// 24 clients on 12 streams, and every 10-15 s a random node SIGKILLed and started again (a new
// incarnation on the same address). The RSS of every node process is sampled throughout; the
// actors of every node are counted after a warm-up and again at the end, both times once the
// load stopped and idle entities were passivated. Passes when the history checks out, every
// restart is one cluster again, no actors were left behind, and no incarnation's RSS grew more
// than RSS_BOUND_MIB. Prints one verdict line and the RSS curve of each node.
//
// 60 s of load in CI. By hand, 30 minutes:
//   deno test -A tests/reliability/soak_test.ts -- --long
//   (or TROUPE_SOAK_SECONDS=<n> for any length; both work under node --test too)
import assert from "node:assert/strict";
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

const NAMES = ["m1", "m2", "m3"];
const STREAMS = streamIds(12);
const LONG = scriptArgs().includes("--long") ||
  platform.env("TROUPE_SOAK") === "long";
const SECONDS = Number(platform.env("TROUPE_SOAK_SECONDS") ?? "") ||
  (LONG ? 1800 : 60);
/** How much one incarnation's RSS may grow under steady load (from 5 s after its start). */
const RSS_BOUND_MIB = 100;
/** Passivate stream entities idle this long, so that the leak check can wait for none. */
const IDLE_MS = 1500;
const STABLE_AFTER_MS = 1000;

interface Sample {
  readonly node: string;
  readonly pid: number;
  readonly at: number;
  readonly mib: number;
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
  `Reliability, soak: ${SECONDS} s of steady load with random node restarts keeps the history intact, every node's RSS bounded and no actor leaked`,
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
      const sampler = (async () => {
        while (sampling) {
          for (const n of nodes) {
            const mib = n.exit === undefined ? await rssMiB(n.pid) : undefined;
            if (mib !== undefined) {
              samples.push({ node: n.node, pid: n.pid, at: Date.now(), mib });
            }
          }
          await sleep(LONG ? 10_000 : 1000);
        }
      })();
      try {
        await using workload = await Workload.connect(nodes);
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

        workload.start(load);
        const loadAt = Date.now();
        const seeds = nodes.map((n) => n.address()!);
        const restarts: string[] = [];
        const rejoinMs: number[] = [];
        while (true) {
          const wait = 10_000 + Math.random() * 5000;
          if (Date.now() + wait > loadAt + SECONDS * 1000) break;
          await sleep(wait);
          const i = Math.floor(Math.random() * nodes.length);
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
        sampling = false;
        await sampler;

        const states = await readBack(workload, NAMES, STREAMS, journalAt);
        const verdict = check(workload.history, states);
        // RSS growth of each incarnation under the load, from 5 s after its start (or the end of
        // the warm-up) to its last sample.
        const growth: {
          node: string;
          pid: number;
          from: number;
          to: number;
        }[] = [];
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
        console.log(verdictLine("soak", verdict, {
          load_s: Math.round(loadMs / 1000),
          rate_per_s: Math.round(acked / (loadMs / 1000)),
          restarts: `${restarts.length} (${restarts.join(" ")})`,
          rejoin_ms_max: rejoinMs.length === 0 ? "-" : Math.max(...rejoinMs),
          rss_mib: growth.map((g) =>
            `${g.node}#${g.pid} ${g.from.toFixed(0)}→${g.to.toFixed(0)}`
          ).join(", "),
          rss_growth_max_mib: worst.toFixed(1),
          actors_idle: `${actorsBefore}→${actorsAfter}`,
          errors: codeCounts(
            workload.history.filter((op) =>
              op.completion !== "ok"
            ),
          ),
        }));
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
        assert.ok(verdict.valid, JSON.stringify(verdict));
        assert.ok(acked > 0, "appends were acknowledged under load");
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
      } finally {
        sampling = false;
        await sampler;
        await stopAll(nodes);
      }
    });
  },
);
