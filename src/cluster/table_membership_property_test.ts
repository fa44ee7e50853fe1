import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { staticQuorum } from "./downing.ts";
import { tableDowning } from "./table_downing.ts";
import { TableMembers } from "./_table_kit_test.ts";
import type { Members } from "./_membership_kit_test.ts";
import { arbStep, NODES } from "./_schedule_test.ts";

function isRunning(m: Members, killed: Set<string>, n: string): boolean {
  return !killed.has(n) &&
    !m.events.get(n)!.some((e) => e.type === "self-downed");
}

/** Whether `x`'s view has `y` gone (down, removed, or absent). */
function excludes(m: Members, x: string, y: string): boolean {
  const status = m.view(x)[y];
  return status === undefined || status === "down" || status === "removed";
}

test("tableDowning(staticQuorum(2)) + syncWithTable (property): after random partitions, kills and heals, never two sides running, the table agrees with who runs, and no row ever moves back", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbStep, { minLength: 2, maxLength: 6 }),
      fc.integer({ min: 1, max: 1000 }),
      fc.subarray([...NODES], { minLength: 2, maxLength: 3 }),
      async (steps, seed, lastSide) => {
        await using t = await TableMembers.start({
          nodes: NODES,
          seed,
          // staticQuorum(2) alone lets both sides of a 3|2 (or 2|2) split run: only the table
          // keeps this safe.
          wrap: (table) =>
            tableDowning(table, staticQuorum(2), { logger: { error() {} } }),
        });
        const m = t.m;
        await t.join(NODES.slice(0, 1));
        await t.join(NODES.slice(1));
        const killed = new Set<string>();
        for (const step of steps) {
          switch (step.kind) {
            case "split":
              // A clean split (the earlier cuts healed), so that sides of two or three
              // members form: the case where staticQuorum(2) alone lets both run.
              m.tc.heal();
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
              if (killed.size < 2 && !killed.has(step.node)) {
                killed.add(step.node);
                await t.kill(step.node);
              }
              break;
            case "wait":
              await m.tc.advance(step.ms, { stepMs: 250 });
              break;
          }
        }
        // Last, a clean split into a side of two or three and the rest (the case where
        // staticQuorum(2) alone lets both sides run), held until every decision had time: no
        // two running members exclude each other (two sides that downed each other, running).
        m.tc.heal();
        for (const x of lastSide) {
          for (const y of NODES) {
            if (!lastSide.includes(y)) m.tc.partition(x, y);
          }
        }
        await m.tc.advance(30_000, { stepMs: 250 });
        const runningNow = NODES.filter((n) => isRunning(m, killed, n));
        for (const x of runningNow) {
          for (const y of runningNow) {
            assert.ok(
              x >= y || !(excludes(m, x, y) && excludes(m, y, x)),
              `two sides run: ${x} ${JSON.stringify(m.view(x))}, ${y} ${
                JSON.stringify(m.view(y))
              }`,
            );
          }
        }
        m.tc.heal();
        await m.tc.advance(40_000, { stepMs: 250 });
        assert.deepEqual(t.table.violations, [], "no row moved back");
        assert.deepEqual(t.table.errors, [], "no write was refused");
        const running = NODES.filter((n) => isRunning(m, killed, n));
        const rows = (await t.table.read()).rows;
        // Every member that stopped is dead in the table; every running one is up in it.
        for (const n of NODES.filter((x) => !killed.has(x))) {
          const incarnation = m.cluster(n).self.incarnation;
          const row = rows.find((r) =>
            r.node === n && r.incarnation === incarnation
          );
          assert.ok(row !== undefined, `${n} has a row`);
          if (running.includes(n)) assert.equal(row.status, "up", n);
          else {
            assert.ok(
              row.status === "down" || row.status === "removed",
              `${n} stopped but is ${row.status} in the table`,
            );
          }
        }
        if (running.length === 0) return; // everything downed itself: allowed
        // One side only: every running member holds the same converged view of exactly the
        // running members.
        const views = running.map((n) => JSON.stringify(m.view(n)));
        assert.equal(new Set(views).size, 1, `views differ: ${views}`);
        assert.deepEqual(Object.keys(m.view(running[0])).sort(), running);
        for (const n of running) {
          assert.ok(m.cluster(n).converged(), `${n} has not converged`);
        }
      },
    ),
    { seed: 20261206, numRuns: 4, endOnFailure: true },
  );
});
