// Reliability, node kill: three stream nodes (journal, coordinator journal and lease in a Redis
// of the test's own), 24 clients appending to 12 streams through every node; SIGKILL the node
// that owns the most shards under that load. Every stream must answer again through the other
// two, and the checker must find every acknowledged append exactly once, in each client's order.
// Prints one verdict line with the recovery time.
import assert from "node:assert/strict";
import {
  randomPrefix,
  serverTest,
  withOwnRedis,
} from "../../src/persistence/redis/_helpers_test.ts";
import { dump, killAndWitness } from "../cluster/support.ts";
import { check, verdictLine } from "./checker.ts";
import {
  codeCounts,
  readBack,
  sleep,
  streamIds,
  underSteadyLoad,
  waitEveryStreamAnswers,
} from "./workload.ts";

const NAMES = ["m1", "m2", "m3"];
const STREAMS = streamIds(12);

serverTest(
  "Reliability, node kill: after SIGKILL of one of three nodes under load every stream answers again, and no acknowledged append is lost or duplicated",
  async () => {
    await withOwnRedis(["--appendonly", "no"], async (server) => {
      const journalAt = {
        redisUrl: server.current().url,
        keyPrefix: randomPrefix("reliability-kill"),
      };
      await underSteadyLoad(journalAt, STREAMS, async ({ nodes, workload }) => {
        // Let the shards spread (rebalancing every 300 ms), then kill the busiest node.
        await sleep(1500);
        const shards = await Promise.all(
          NAMES.map(async (n) => (await workload.stats(n))?.shards ?? 0),
        );
        const victim = shards.indexOf(Math.max(...shards));
        const killedAt = Date.now();
        const survivors = await killAndWitness(nodes, [0, 1, 2], victim);
        const removedAt = Math.max(
          ...survivors.map((i) =>
            nodes[i].events(NAMES[victim]).find((e) => e.event === "removed")!
              .at
          ),
        );
        const recoveryMs = await waitEveryStreamAnswers(
          workload,
          STREAMS,
          killedAt,
          30_000,
          () => dump(nodes),
        );
        await sleep(1000);
        await workload.stop();
        const live = survivors.map((i) => NAMES[i]);
        const states = await readBack(workload, live, STREAMS, journalAt);
        const verdict = check(workload.history, states);
        const afterKill = workload.history.filter((op) =>
          op.invokedAt >= killedAt && op.completion !== "ok"
        );
        // PASS only when every check below holds, not the history alone.
        const holds = verdict.valid && verdict.acknowledged > 0 &&
          states.every((s) => s.served !== undefined);
        console.log(verdictLine("node-kill", { ...verdict, valid: holds }, {
          killed: `${NAMES[victim]} (owned ${shards[victim]} shards)`,
          removed_after_ms: removedAt - killedAt,
          recovery_ms: recoveryMs,
          errors_after_kill: codeCounts(afterKill),
        }));
        assert.ok(verdict.valid, JSON.stringify(verdict));
        assert.ok(verdict.acknowledged > 0);
        assert.ok(
          states.every((s) => s.served !== undefined),
          "every stream served a read",
        );
      });
    });
  },
);
