import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { Members } from "./_membership_kit_test.ts";
import { clusterDriver } from "./cluster.ts";
import { arbStep, NODES } from "./_schedule_test.ts";

/** Members still running: joined, not killed, and not stopped (downed or removed). */
function running(m: Members, killed: Set<string>): string[] {
  return NODES.filter((n) =>
    !killed.has(n) && m.clusters.has(n) && !clusterDriver(m.cluster(n)).stopped
  );
}

/** Within one converged view (same digest), every member names the same leader. */
function checkLeaders(m: Members, alive: readonly string[]): void {
  const byDigest = new Map<string, string | undefined>();
  for (const n of alive) {
    const cluster = m.cluster(n);
    if (!cluster.converged()) continue;
    const digest = clusterDriver(cluster).state.digest;
    const leader = cluster.leader()?.node;
    if (byDigest.has(digest)) {
      assert.equal(
        leader,
        byDigest.get(digest),
        `two leaders in view ${digest}`,
      );
    } else byDigest.set(digest, leader);
  }
}

/**
 * Random partitions, kills and heals; then the survivors must hold one converged view with one
 * leader, and never two sides running. With `pruneAfterMs`, tombstones are pruned meanwhile,
 * and the view must hold none once that long has passed after the heal.
 */
async function randomSchedules(
  pruneAfterMs: number | undefined,
  seed: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbStep, { minLength: 3, maxLength: 8 }),
      fc.integer({ min: 1, max: 1000 }),
      async (steps, seed) => {
        await using m = await Members.start({
          nodes: NODES,
          seed,
          cluster: pruneAfterMs === undefined
            ? {}
            : { pruneTombstonesAfterMs: pruneAfterMs },
        });
        await m.joinAll(NODES);
        const killed = new Set<string>();
        for (const step of steps) {
          switch (step.kind) {
            case "split":
              for (const x of step.side) {
                for (const y of NODES) {
                  if (!step.side.includes(y)) m.tc.partition(x, y);
                }
              }
              break;
            case "cut":
              if (step.from !== step.to) {
                m.tc.partition(step.from, step.to, { oneWay: true });
              }
              break;
            case "heal":
              m.tc.heal();
              break;
            case "kill":
              // Keep a majority of the processes alive, or nothing is left to check.
              if (killed.size < 2 && !killed.has(step.node)) {
                killed.add(step.node);
                await m.kill(step.node);
              }
              break;
            case "wait":
              await m.tc.advance(step.ms, { stepMs: 250 });
              break;
          }
          checkLeaders(m, running(m, killed));
        }
        m.tc.heal();
        // Detection, stable-after, down-all and removal all fit in this time after the heal
        // (and the pruning of what was removed, when tombstones are pruned).
        await m.tc.advance(40_000 + (pruneAfterMs ?? 0), { stepMs: 250 });
        const alive = running(m, killed);
        checkLeaders(m, alive);
        if (alive.length === 0) return; // everything downed itself (down-all): allowed
        const views = alive.map((n) => JSON.stringify(m.view(n)));
        assert.equal(
          new Set(views).size,
          1,
          `views differ: ${views.join(" / ")}`,
        );
        const view = m.view(alive[0]);
        // One side only: every running member is an up member of the one view, and nothing
        // else is.
        assert.deepEqual(
          Object.keys(view).sort(),
          [...alive].sort(),
          `view ${JSON.stringify(view)} vs running ${alive}`,
        );
        for (const n of alive) {
          assert.equal(view[n], "up");
          assert.ok(m.cluster(n).converged(), `${n} has not converged`);
          if (pruneAfterMs !== undefined) {
            const rows = [
              ...clusterDriver(m.cluster(n)).state.members.values(),
            ];
            assert.deepEqual(
              rows.filter((row) => row.status === "removed").map((row) =>
                row.node
              ),
              [],
              `${n} still holds tombstones`,
            );
          }
        }
      },
    ),
    { seed, numRuns: 6, endOnFailure: true },
  );
}

test("membership (property): after random partitions, kills and heals, the survivors converge on one view, with one leader, and never two sides running", async () => {
  await randomSchedules(undefined, 20261206);
});

test("membership (property): the same with tombstones pruned 15 s after removal, and none left at the end", async () => {
  await randomSchedules(15_000, 20261207);
});
