// Reliability, Redis restart: three stream nodes journal into a Redis of the test's own, run
// with `appendonly yes`; 24 clients append to 12 streams. The test SIGKILLs Redis under that load,
// leaves it away for a few seconds and starts it again on the same port and directory. While it
// is away, appends must fail with a typed error (and none may be acknowledged); after the restart
// service must resume by itself; and the checker must find every acknowledged append exactly once.
// Prints one verdict line with the outage's figures.
import assert from "node:assert/strict";
import {
  randomPrefix,
  serverTest,
  withOwnRedis,
} from "../../src/persistence/redis/_helpers_test.ts";
import { dump } from "../cluster/support.ts";
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
/** How long Redis stays away. */
const OUTAGE_MS = 5000;
/** The codes an append may fail with while the journal is away (the entity's, or a timeout). */
const TYPED =
  /^(PERSIST_FAILED|PERSIST_OUTCOME_UNKNOWN|JOURNAL_UNAVAILABLE|ASK_TIMEOUT)\b/;
/** The ones that name the journal as the reason. */
const JOURNAL =
  /^(PERSIST_FAILED|PERSIST_OUTCOME_UNKNOWN|JOURNAL_UNAVAILABLE)\b/;

serverTest(
  "Reliability, Redis restart: appends fail with a typed error while Redis is away, resume by themselves after its restart, and no acknowledged append is lost",
  async () => {
    await withOwnRedis(["--appendonly", "yes"], async (server) => {
      const journalAt = {
        redisUrl: server.current().url,
        keyPrefix: randomPrefix("reliability-redis"),
      };
      await underSteadyLoad(journalAt, STREAMS, async ({ nodes, workload }) => {
        await sleep(1000);
        await server.kill();
        const goneAt = Date.now();
        await sleep(OUTAGE_MS);
        const restartAt = Date.now();
        await server.start();
        const backAt = Date.now();
        const resumeMs = await waitEveryStreamAnswers(
          workload,
          STREAMS,
          backAt,
          30_000,
          () => dump(nodes),
        );
        await sleep(1000);
        await workload.stop();
        const states = await readBack(workload, NAMES, STREAMS, journalAt);
        const verdict = check(workload.history, states);
        // Appends sent and answered while Redis was down.
        const away = workload.history.filter((op) =>
          op.invokedAt >= goneAt && op.completedAt <= restartAt
        );
        const acknowledgedAway = away.filter((op) => op.completion === "ok");
        const untyped = away.filter((op) =>
          op.completion !== "ok" && !TYPED.test(op.code ?? "")
        );
        const journalErrors = away.filter((op) => JOURNAL.test(op.code ?? ""));
        // PASS only when every check below holds, not the history alone.
        const holds = verdict.valid && away.length > 0 &&
          acknowledgedAway.length === 0 && untyped.length === 0 &&
          journalErrors.length > 0;
        console.log(verdictLine("redis-restart", { ...verdict, valid: holds }, {
          outage_ms: backAt - goneAt,
          appends_while_away: away.length,
          errors_while_away: codeCounts(away),
          resumed_after_ms: resumeMs,
        }));
        assert.ok(verdict.valid, JSON.stringify(verdict));
        assert.ok(
          away.length > 0,
          "clients kept appending while Redis was away",
        );
        assert.deepEqual(
          acknowledgedAway,
          [],
          "nothing is acknowledged while the journal is away",
        );
        assert.deepEqual(untyped, [], "every failure carries a typed code");
        assert.ok(
          journalErrors.length > 0,
          `some failures name the journal: ${codeCounts(away)}`,
        );
      });
    });
  },
);
