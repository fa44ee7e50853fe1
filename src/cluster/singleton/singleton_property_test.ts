// Random schedules of joins, graceful leaves, crashes, partitions and lease-store outages under
// virtual time: with a lease, at most one instance of the singleton is ever live, and once the
// cluster is healed and stable every surviving member's proxy reaches the one instance again.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import type { Members } from "../_membership_kit_test.ts";
import { singletonHost } from "./_host.ts";
import { quickMembers, Singletons, until } from "./_singleton_kit_test.ts";

const FIRST = ["a", "b", "c"];
const ALL = ["a", "b", "c", "d"];

type Op =
  | { readonly kind: "wait"; readonly ms: number }
  | { readonly kind: "join" }
  | { readonly kind: "leave"; readonly node: string }
  | { readonly kind: "kill"; readonly node: string }
  | { readonly kind: "split"; readonly node: string; readonly ms: number }
  | { readonly kind: "downHost"; readonly ms: number }
  | { readonly kind: "cutLease"; readonly node: string; readonly ms: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.integer({ min: 100, max: 3000 }).map((ms) => ({
    kind: "wait" as const,
    ms,
  })),
  fc.constant({ kind: "join" as const }),
  fc.constantFrom(...ALL).map((node) => ({ kind: "leave" as const, node })),
  fc.constantFrom(...ALL).map((node) => ({ kind: "kill" as const, node })),
  fc.record({
    kind: fc.constant("split" as const),
    node: fc.constantFrom(...ALL),
    ms: fc.integer({ min: 500, max: 2500 }),
  }),
  // A split brain: the member running the instance is cut off and the others down it at once
  // (an operator's decision), while it runs on until its own downing strategy stops it.
  fc.integer({ min: 500, max: 2500 }).map((ms) => ({
    kind: "downHost" as const,
    ms,
  })),
  fc.record({
    kind: fc.constant("cutLease" as const),
    node: fc.constantFrom(...ALL),
    ms: fc.integer({ min: 500, max: 5000 }),
  }),
);

/** Advances virtual time in coarse steps (cheap in wall time), checking the invariant. */
async function pass(m: Members, s: Singletons, ms: number): Promise<void> {
  await m.tc.advance(ms, { stepMs: 250 });
  assert.deepEqual(s.lives.overlaps, []);
}

test("ClusterSingleton (property): with a lease at most one instance is live at any time, and the proxies reach the instance again once the cluster is stable", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbOp, { minLength: 2, maxLength: 5 }),
      fc.integer({ min: 1, max: 1000 }),
      async (ops, seed) => {
        await using m = await quickMembers(ALL, seed);
        const s = new Singletons(m);
        // Members that no longer run (killed, left, or downed) and what is still to settle.
        const gone = new Set<string>();
        const joined: string[] = [];
        const pending: Promise<unknown>[] = [];
        const cuts: { node: string; until: number }[] = [];
        try {
          await m.joinAll(FIRST);
          for (const node of FIRST) {
            await s.start(node);
            joined.push(node);
          }
          for (const op of ops) {
            const now = m.tc.clock.now();
            for (const cut of cuts.splice(0)) {
              if (cut.until > now) cuts.push(cut);
              else s.leases.get(cut.node)!.cut = false;
            }
            const live = joined.filter((n) =>
              !gone.has(n) && m.cluster(n).self.status === "up"
            );
            switch (op.kind) {
              case "wait":
                await pass(m, s, op.ms);
                break;
              case "join":
                if (!joined.includes("d")) {
                  await m.joinAll(["d"]);
                  await s.start("d");
                  joined.push("d");
                }
                break;
              case "leave":
              case "kill":
                // Keep a majority of the members that joined, or nothing is left to check.
                if (!live.includes(op.node) || live.length <= 2) break;
                gone.add(op.node);
                if (op.kind === "kill") {
                  s.byNode.delete(op.node);
                  await m.kill(op.node);
                } else {
                  pending.push(
                    m.cluster(op.node).leave().then(() => s.close(op.node)),
                  );
                }
                break;
              case "split":
                if (!live.includes(op.node)) break;
                for (const other of ALL) {
                  if (other !== op.node) m.tc.partition(op.node, other);
                }
                await pass(m, s, op.ms);
                m.tc.heal();
                break;
              case "downHost": {
                const host = live.find((n) => s.of(n).runningHere());
                const other = live.find((n) => n !== host);
                if (host === undefined || live.length <= 2) break;
                for (const x of ALL) {
                  if (x !== host) m.tc.partition(host, x);
                }
                m.cluster(other!).down(host);
                await pass(m, s, op.ms);
                m.tc.heal();
                break;
              }
              case "cutLease":
                if (!live.includes(op.node)) break;
                s.leases.get(op.node)!.cut = true;
                cuts.push({ node: op.node, until: now + op.ms });
                break;
            }
            assert.deepEqual(s.lives.overlaps, []);
          }
          m.tc.heal();
          for (const lease of s.leases.values()) lease.cut = false;
          await m.tc.settle(Promise.all(pending), {
            maxMs: 30_000,
            stepMs: 250,
          });
          // The members still up (a split may have downed one side).
          const up = () =>
            joined.filter((n) =>
              !gone.has(n) && m.cluster(n).self.status === "up"
            );
          const host = () =>
            singletonHost(m.cluster(up()[0]).members(), undefined)?.node;
          await until(
            m,
            () =>
              // A split of a two-member cluster may down both sides: nothing is left to check.
              up().length === 0 || (s.lives.live === 1 &&
                up().every((n) => m.cluster(n).converged()) &&
                s.byNode.get(host()!)?.runningHere() !== undefined),
            40_000,
            "one instance on the oldest member",
          );
          assert.deepEqual(s.lives.overlaps, []);
          if (up().length === 0) return;
          for (const n of up()) {
            const where = await m.tc.settle(
              s.of(n).ref.ask("where", undefined, { timeoutMs: 10_000 }),
              { stepMs: 250 },
            );
            assert.equal(where.node, host(), `the proxy of ${n}`);
          }
          assert.deepEqual(s.lives.overlaps, []);
          assert.equal(s.lives.maxLive, 1);
        } finally {
          await s.closeAll();
        }
      },
    ),
    { seed: 20261207, numRuns: 5, endOnFailure: true },
  );
});
