import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  isConverged,
  leaderActions,
  leaderOf,
  prunableThrough,
  supersedeIncarnations,
  unreachableMembers,
} from "./_leader.ts";
import {
  createState,
  decodeParts,
  encodeState,
  type GossipState,
  markSeen,
  mergeIncoming,
  pruneRemoved,
  updateReachability,
} from "./_member_state.ts";
import { row } from "./_schedule_test.ts";

function seenByAll(state: GossipState): GossipState {
  for (const key of state.members.keys()) state = markSeen(state, key);
  return state;
}

/** Each observer monitors every other member; `cuts` are [observer, subject] pairs it finds unreachable. */
function observe(
  state: GossipState,
  cuts: readonly (readonly [string, string])[],
): GossipState {
  const keys = [...state.members.keys()];
  for (const observer of keys) {
    const down = cuts.filter(([o]) => `${o}#i1` === observer).map(([, s]) =>
      `${s}#i1`
    );
    state = updateReachability(
      state,
      observer,
      keys.filter((k) => k !== observer && !down.includes(k)),
      down,
    );
  }
  return state;
}

const FIVE = ["a", "b", "c", "d", "e"].map((n, i) => row(n, "up", i + 1));

test("unreachableMembers() ignores one slow link: two observers must agree", () => {
  const state = observe(createState(FIVE), [["a", "b"], ["b", "a"]]);
  assert.deepEqual([...unreachableMembers(state)], []);
  const one = observe(createState(FIVE), [["c", "b"]]);
  assert.deepEqual([...unreachableMembers(one)], []);
  const two = observe(createState(FIVE), [["c", "b"], ["d", "b"]]);
  assert.deepEqual([...unreachableMembers(two)], ["b#i1"]);
});

test("unreachableMembers() on the small side of a partition: its own reports suffice", () => {
  // d and e are cut off from a, b, c; d's view holds only d's and e's fresh reports (the
  // reports of a, b, c are from before the partition).
  const before = observe(createState(FIVE), []);
  let small = before;
  for (const observer of ["d", "e"]) {
    const keys = [...before.members.keys()];
    small = updateReachability(
      small,
      `${observer}#i1`,
      keys.filter((k) => k === "d#i1" || k === "e#i1").filter((k) =>
        k !== `${observer}#i1`
      ),
      ["a#i1", "b#i1", "c#i1"],
    );
  }
  assert.deepEqual([...unreachableMembers(small)].sort(), [
    "a#i1",
    "b#i1",
    "c#i1",
  ]);
  let large = before;
  for (const observer of ["a", "b", "c"]) {
    const keys = [...before.members.keys()];
    large = updateReachability(
      large,
      `${observer}#i1`,
      keys.filter((k) => !["d#i1", "e#i1", `${observer}#i1`].includes(k)),
      ["d#i1", "e#i1"],
    );
  }
  assert.deepEqual([...unreachableMembers(large)].sort(), ["d#i1", "e#i1"]);
});

test("unreachableMembers() in a cluster of two: one report is enough", () => {
  const state = observe(createState(FIVE.slice(0, 2)), [["a", "b"]]);
  assert.deepEqual([...unreachableMembers(state)], ["b#i1"]);
});

test("leaderOf() is the oldest reachable up or leaving member", () => {
  const state = createState([
    row("a", "joining", 0),
    row("b", "up", 2),
    row("c", "leaving", 1),
  ]);
  assert.equal(leaderOf(state, new Set()), "c#i1");
  assert.equal(leaderOf(state, new Set(["c#i1"])), "b#i1");
  assert.equal(
    leaderOf(
      createState([row("b", "joining", 0), row("a", "joining", 0)]),
      new Set(),
    ),
    "a#i1",
  );
  assert.equal(leaderOf(createState([row("a", "down")]), new Set()), undefined);
});

test("isConverged() needs every live, reachable member in the seen set", () => {
  const state = createState([row("a"), row("b"), row("c", "down")]);
  assert.equal(isConverged(markSeen(state, "a#i1"), new Set()), false);
  assert.equal(isConverged(markSeen(state, "a#i1"), new Set(["b#i1"])), true);
  assert.equal(isConverged(seenByAll(state), new Set()), true);
});

test("leaderActions() move members one step, only at convergence, only on the leader", () => {
  const state = createState([
    row("a", "up", 1),
    row("b", "joining", 0),
    row("c", "joining", 0),
    row("d", "leaving", 2),
    row("e", "exiting", 3),
    row("f", "down", 4),
  ]);
  assert.equal(leaderActions(state, new Set(), "a#i1"), state);
  const converged = seenByAll(state);
  assert.equal(leaderActions(converged, new Set(), "b#i1"), converged);
  const next = leaderActions(seenByAll(state), new Set(), "a#i1");
  const status = (k: string) => next.members.get(k)!;
  assert.deepEqual(
    ["b", "c", "d", "e", "f"].map((
      n,
    ) => [status(`${n}#i1`).status, status(`${n}#i1`).upNumber]),
    [["up", 5], ["up", 6], ["exiting", 2], ["removed", 3], ["removed", 4]],
  );
  assert.deepEqual([...next.seen], ["a#i1"]);
});

test("supersedeIncarnations() downs the old incarnation of a restarted node", () => {
  const state = createState([
    row("a", "up", 1, "old"),
    row("a", "joining", 0, "new"),
    row("b"),
  ]);
  const next = supersedeIncarnations(state, "b#i1");
  assert.equal(next.members.get("a#old")?.status, "down");
  assert.equal(next.members.get("a#new")?.status, "joining");
  assert.equal(supersedeIncarnations(next, "b#i1"), next);
});

test("leaderActions() number each removal after the highest number and the watermark, and number unnumbered tombstones", () => {
  let state = seenByAll(createState([
    row("a", "up", 1),
    row("b", "down", 2),
    row("c", "exiting", 3),
    row("d", "removed", 4),
    { ...row("e", "removed", 5), removal: 6 },
  ]));
  state = seenByAll(leaderActions(state, new Set(), "a#i1"));
  const removal = (n: string) => state.members.get(`${n}#i1`)?.removal;
  // In age order: b (up number 2), c (3), then d's tombstone without a number (4).
  assert.deepEqual([removal("b"), removal("c"), removal("d"), removal("e")], [
    7,
    8,
    9,
    6,
  ]);
  assert.equal(state.members.get("b#i1")?.status, "removed");
  // After pruning, numbering goes on above the watermark.
  const pruned = seenByAll(
    pruneRemoved(
      seenByAll(createState([row("a", "up", 1), row("f", "down", 6)])),
      9,
      "a#i1",
    ),
  );
  assert.equal(
    leaderActions(pruned, new Set(), "a#i1").members.get("f#i1")?.removal,
    10,
  );
});

test("prunableThrough() stops below the lowest tombstone not yet old enough", () => {
  const state = createState([
    row("a", "up", 1),
    { ...row("b", "removed", 2), removal: 1 },
    { ...row("c", "removed", 3), removal: 2 },
    { ...row("d", "removed", 4), removal: 3 },
    row("e", "removed", 5),
  ]);
  const since = new Map([["b#i1", 0], ["c#i1", 50], ["d#i1", 10]]);
  const at = (now: number) =>
    prunableThrough(state, (key) => since.get(key), now, 100);
  assert.equal(at(99), 0);
  assert.equal(at(100), 1);
  // d is old enough at 110, but c, numbered below it, is not before 150.
  assert.equal(at(120), 1);
  assert.equal(at(150), 3);
  // A tombstone this node never saw removed (unknown time) blocks what is numbered above it.
  since.delete("c#i1");
  assert.equal(at(1_000), 1);
  assert.equal(
    prunableThrough(
      pruneRemoved(state, 2, "a#i1"),
      (k) => since.get(k),
      1_000,
      100,
    ),
    3,
  );
});

test("leaderActions() never gives a number past the largest safe integer, even after a peer sent it: the state stays one every peer takes", () => {
  const wire = (state: GossipState) =>
    JSON.parse(JSON.stringify(encodeState(state)));
  const base = () =>
    seenByAll(createState([
      row("a", "up", 1),
      { ...row("b", "up", 2), upNumber: Number.MAX_SAFE_INTEGER },
      row("c", "down", 3),
      row("d", "joining", 0),
    ]));
  const leader = base();
  // A buggy or forged peer: the largest watermark there is.
  const forged = { ...wire(leader), p: Number.MAX_SAFE_INTEGER };
  const merged = seenByAll(
    mergeIncoming(leader, decodeParts(forged, leader)).state,
  );
  assert.equal(merged.prunedThrough, Number.MAX_SAFE_INTEGER);
  const next = leaderActions(merged, new Set(), "a#i1");
  const c = next.members.get("c#i1")!;
  assert.equal(c.status, "removed");
  assert.equal(c.removal, undefined, "numbered past the largest safe integer");
  assert.equal(next.members.get("d#i1")!.status, "joining");
  // Every peer still takes the leader's state.
  const peer = base();
  assert.doesNotThrow(() => decodeParts(wire(next), peer));
  // And the leader has nothing more to do: no change on every round.
  const settled = seenByAll(next);
  assert.equal(leaderActions(settled, new Set(), "a#i1"), settled);
});

test("leaderActions() stamps the removals it numbers with its wall clock, and prunableThrough() ages them by it when this node saw them too late", () => {
  const state = seenByAll(createState([
    row("a", "up", 1),
    row("b", "down", 2),
    { ...row("c", "removed", 3) },
  ]));
  const next = leaderActions(state, new Set(), "a#i1", 1_000_000);
  assert.equal(next.members.get("b#i1")!.removedAt, 1_000_000);
  assert.equal(next.members.get("c#i1")!.removedAt, 1_000_000);
  const unstamped = leaderActions(state, new Set(), "a#i1");
  assert.equal(unstamped.members.get("b#i1")!.removedAt, undefined);
  // Whole milliseconds, as the wire takes them.
  const fractional = leaderActions(state, new Set(), "a#i1", 1_000_000.75);
  assert.equal(fractional.members.get("b#i1")!.removedAt, 1_000_000);
  assert.equal(
    leaderActions(state, new Set(), "a#i1", Number.NaN).members.get("b#i1")!
      .removedAt,
    undefined,
  );
  // A new leader that first saw them just now (removedSince = now): only the stamp ages them.
  const seenNow = () => 5_000;
  const at = (wallNow?: number) =>
    prunableThrough(next, seenNow, 5_000, 100, wallNow);
  assert.equal(at(), 0);
  assert.equal(at(1_000_099), 0);
  assert.equal(at(1_000_100), 2);
  // A stamp ahead of this node's wall clock ages from when its clock gets there.
  assert.equal(at(999_000), 0);
});
