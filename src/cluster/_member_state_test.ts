import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import fc from "fast-check";
import {
  createState,
  decodeParts,
  decodeState,
  encodeState,
  type GossipState,
  markSeen,
  memberKey,
  mergeIncoming,
  mergeStates,
  pruneRemoved,
  statusRank,
  updateMembers,
  updateReachability,
} from "./_member_state.ts";
import { InvalidGossipError } from "./errors.ts";
import { MEMBER_STATUSES, type MemberRow } from "./membership_table.ts";
import { row } from "./_schedule_test.ts";

/** Comparable content of a state. */
function view(state: GossipState): unknown {
  return JSON.stringify({
    digest: state.digest,
    members: [...state.members].sort(([a], [b]) => a < b ? -1 : 1).map((
      [k, r],
    ) => [
      k,
      r.node,
      r.incarnation,
      r.address,
      r.status,
      r.upNumber,
      r.roles,
      r.removal,
    ]),
    reachability: [...state.reachability].sort(([a], [b]) => a < b ? -1 : 1),
    seen: [...state.seen].sort(),
    prunedThrough: state.prunedThrough,
  });
}

const NODES = ["a", "b", "c", "d"];
const KEYS = NODES.map((n) => `${n}#i1`);

const arbRow: fc.Arbitrary<MemberRow> = fc.record({
  node: fc.constantFrom(...NODES),
  incarnation: fc.constant("i1"),
  address: fc.constantFrom("x:1", "y:1"),
  status: fc.constantFrom(...MEMBER_STATUSES),
  roles: fc.uniqueArray(fc.constantFrom("r1", "r2")).map((r) => r.sort()),
  upNumber: fc.nat(5),
});

const arbState: fc.Arbitrary<GossipState> = fc.record({
  rows: fc.array(arbRow, { maxLength: 5 }),
  reports: fc.array(
    fc.record({
      observer: fc.constantFrom(...KEYS),
      times: fc.integer({ min: 1, max: 3 }),
      down: fc.subarray(KEYS),
    }),
    { maxLength: 4 },
  ),
  seen: fc.subarray(KEYS),
}).map(({ rows, reports, seen }) => {
  let state = createState(rows);
  for (const report of reports) {
    for (let i = 0; i < report.times; i++) {
      state = updateReachability(
        state,
        report.observer,
        KEYS.filter((k) => !report.down.includes(k) && i % 2 === 0),
        report.down,
      );
    }
  }
  for (const key of seen) state = markSeen(state, key);
  return state;
});

/** Checks that mergeStates() is commutative, associative and idempotent on these states. */
function assertSemilattice(
  a: GossipState,
  b: GossipState,
  c: GossipState,
): void {
  assert.deepEqual(view(mergeStates(a, b)), view(mergeStates(b, a)));
  assert.deepEqual(
    view(mergeStates(mergeStates(a, b), c)),
    view(mergeStates(a, mergeStates(b, c))),
  );
  assert.deepEqual(view(mergeStates(a, a)), view(a));
}

test("mergeStates() is commutative, associative and idempotent", () => {
  fc.assert(
    fc.property(arbState, arbState, arbState, assertSemilattice),
    { seed: 11, numRuns: 300 },
  );
});

/** A state as the wire carries it. */
function wire(state: GossipState): unknown {
  return JSON.parse(JSON.stringify(encodeState(state)));
}

/** Checks that merging `b` as it comes from the wire into `a` is mergeStates(a, b). */
function assertIncomingMerge(a: GossipState, b: GossipState): void {
  const { state, sameAsIncoming } = mergeIncoming(a, decodeParts(wire(b), a));
  const expected = mergeStates(a, b);
  assert.deepEqual(view(state), view(expected));
  assert.equal(sameAsIncoming, expected.digest === b.digest);
}

test("mergeIncoming() of a state from the wire equals mergeStates(), digest computed incrementally", () => {
  fc.assert(
    fc.property(arbState, arbState, arbState, (a, b, c) => {
      // Built through merges (incremental sums), then compared with a decode from scratch.
      const ab = mergeStates(a, b);
      const abc = mergeStates(ab, c);
      for (const state of [ab, abc]) {
        assert.equal(decodeState(wire(state)).digest, state.digest);
      }
      assertIncomingMerge(a, b);
    }),
    { seed: 13, numRuns: 300 },
  );
});

test("mergeStates() never moves a member's status backwards", () => {
  fc.assert(
    fc.property(arbState, arbState, (a, b) => {
      const merged = mergeStates(a, b);
      for (const input of [a, b]) {
        for (const [key, before] of input.members) {
          const after = merged.members.get(key);
          assert(after !== undefined, `member ${key} was lost`);
          assert(statusRank(after.status) >= statusRank(before.status));
          assert(after.upNumber >= before.upNumber);
        }
      }
    }),
    { seed: 12, numRuns: 300 },
  );
});

test("mergeStates() keeps the seen sets only of inputs at the merged digest", () => {
  const base = markSeen(createState([row("a"), row("b")]), "a#i1");
  const same = markSeen(createState([row("a"), row("b")]), "b#i1");
  const merged = mergeStates(base, same);
  assert.deepEqual([...merged.seen].sort(), ["a#i1", "b#i1"]);
  const newer = markSeen(
    updateMembers(base, [row("b", "leaving")], "b#i1"),
    "b#i1",
  );
  const mixed = mergeStates(base, newer);
  assert.deepEqual(mixed.digest, newer.digest);
  assert.deepEqual([...mixed.seen], ["b#i1"]);
  assert.deepEqual(mixed.members.get("b#i1")?.status, "leaving");
});

test("updateReachability() bumps the observer's version and a merge keeps the later report", () => {
  const s0 = createState([row("a"), row("b")]);
  const s1 = updateReachability(s0, "a#i1", [], ["b#i1"]);
  const s2 = updateReachability(s1, "a#i1", ["b#i1"], []);
  assert.deepEqual(s1.reachability.get("a#i1")?.version, 1);
  assert.deepEqual(s2.reachability.get("a#i1")?.version, 2);
  assert.deepEqual(updateReachability(s2, "a#i1", ["b#i1"], []), s2);
  assert.deepEqual(
    mergeStates(s1, s2).reachability.get("a#i1")?.unreachable,
    [],
  );
  assert.deepEqual(mergeStates(s2, s1).digest, s2.digest);
});

test("the reports of a downed observer and records about removed members are dropped", () => {
  let s = createState([row("a"), row("b"), row("c")]);
  s = updateReachability(s, "a#i1", ["c#i1"], ["b#i1"]);
  s = updateReachability(s, "c#i1", ["a#i1"], ["b#i1"]);
  s = updateMembers(s, [row("a", "down")], "c#i1");
  assert.deepEqual(s.reachability.has("a#i1"), false);
  s = updateMembers(s, [row("b", "removed")], "c#i1");
  assert.deepEqual(s.reachability.get("c#i1")?.unreachable, []);
  assert.deepEqual(s.members.get("b#i1")?.status, "removed");
});

test("encodeState() and decodeState() round-trip the state, digest included", () => {
  fc.assert(
    fc.property(arbState, (state) => {
      assert.deepEqual(view(decodeState(wire(state))), view(state));
    }),
    { seed: 13, numRuns: 200 },
  );
});

test("decodeState() rejects malformed input with InvalidGossipError", () => {
  const bad: unknown[] = [
    null,
    42,
    { m: "x", r: [], s: [] },
    { m: [{ node: "" }], r: [], s: [] },
    { m: [{ ...row("a"), status: "zombie" }], r: [], s: [] },
    { m: [{ ...row("a"), upNumber: -1 }], r: [], s: [] },
    { m: [], r: [["a#i1", 0, [], []]], s: [] },
    { m: [], r: [], s: [1] },
    { m: [{ ...row("a"), removal: 1 }], r: [], s: [] },
    { m: [{ ...row("a", "removed"), removal: 0 }], r: [], s: [] },
    { m: [{ ...row("a", "removed"), removal: "1" }], r: [], s: [] },
    { m: [{ ...row("a", "removed"), removedAt: 5 }], r: [], s: [] },
    {
      m: [{ ...row("a", "removed"), removal: 1, removedAt: -1 }],
      r: [],
      s: [],
    },
    {
      m: [{ ...row("a", "removed"), removal: 1, removedAt: 1.5 }],
      r: [],
      s: [],
    },
    {
      m: [{ ...row("a", "removed"), removal: 1, removedAt: "1" }],
      r: [],
      s: [],
    },
    { m: [], r: [], s: [], p: -1 },
    { m: [], r: [], s: [], p: 1.5 },
    { m: [], r: [], s: [], p: null },
  ];
  for (const value of bad) {
    assert.throws(() => decodeState(value), InvalidGossipError);
  }
  fc.assert(
    fc.property(fc.anything(), (value) => {
      try {
        decodeState(value);
      } catch (error) {
        assert(error instanceof InvalidGossipError, String(error));
      }
    }),
    { seed: 14, numRuns: 300 },
  );
});

test("memberKey() joins node and incarnation", () => {
  assert.deepEqual(memberKey(row("a", "up", 1, "x9")), "a#x9");
});

// ---- tombstones: removal numbers and the watermark ----

/**
 * States as the protocol makes them once tombstones are pruned: nodes a and b are never removed
 * (any status but removed); c is, in every state, either absent or removed with a removal
 * number of 1-4 (two leaders of a split cluster may number one removal differently); d is
 * absent or removed without a number (as from a node of an earlier version, which did not
 * number removals; the leader numbers only removals it makes or finds unnumbered, so one
 * member's tombstone is not numbered in one state and pruned in another, except on a member
 * that missed the news for the whole pruning delay: see the module's comment). A removed
 * member's row is the same in every state but for its removal number (its up number was given
 * once, before it was removed). Each state has a watermark of 0-4.
 */
const arbPrunedState: fc.Arbitrary<GossipState> = fc.record({
  live: fc.array(
    fc.record({
      node: fc.constantFrom("a", "b"),
      status: fc.constantFrom("joining", "up", "leaving", "exiting", "down"),
      upNumber: fc.nat(5),
    }),
    { maxLength: 3 },
  ),
  removed: fc.array(
    fc.oneof(
      fc.record({
        node: fc.constant("c"),
        removal: fc.integer({ min: 1, max: 4 }),
        upNumber: fc.constant(3),
        // When the leader that numbered it stamped it (leaders of a split cluster differ).
        removedAt: fc.option(fc.nat(1000), { nil: undefined }),
      }),
      fc.record({
        node: fc.constant("d"),
        removal: fc.constant(undefined),
        upNumber: fc.constant(4),
        removedAt: fc.constant(undefined),
      }),
    ),
    { maxLength: 3 },
  ),
  through: fc.nat(4),
  down: fc.subarray(KEYS),
  seen: fc.subarray(KEYS),
}).map(({ live, removed, through, down, seen }) => {
  let state = createState([
    ...live.map((r) => ({
      ...row(r.node, r.status as MemberRow["status"], r.upNumber),
    })),
    ...removed.map((r) => ({
      ...row(r.node, "removed", r.upNumber),
      ...(r.removal === undefined ? {} : { removal: r.removal }),
      ...(r.removedAt === undefined ? {} : { removedAt: r.removedAt }),
    })),
  ]);
  // An observer reports on members of its own state only.
  const members = [...state.members.keys()];
  state = updateReachability(
    state,
    "a#i1",
    members.filter((k) => !down.includes(k)),
    members.filter((k) => down.includes(k)),
  );
  state = pruneRemoved(state, through, "a#i1");
  for (const key of seen) state = markSeen(state, key);
  return state;
});

test("tombstones: mergeStates() stays commutative, associative and idempotent with removal numbers and watermarks", () => {
  fc.assert(
    fc.property(arbPrunedState, arbPrunedState, arbPrunedState, (a, b, c) => {
      assertSemilattice(a, b, c);
      // What is dropped depends on the inputs alone: a removed row numbered above the merged
      // watermark in any input is there, with the highest number; none at or below it is.
      const merged = mergeStates(mergeStates(a, b), c);
      const through = Math.max(
        a.prunedThrough,
        b.prunedThrough,
        c.prunedThrough,
      );
      assert.equal(merged.prunedThrough, through);
      for (const key of ["c#i1", "d#i1"]) {
        const rows = [a, b, c].map((s) => s.members.get(key)).filter((r) =>
          r !== undefined
        );
        const highest = Math.max(0, ...rows.map((r) => r!.removal ?? 0));
        const unnumbered = rows.some((r) => r!.removal === undefined);
        const kept = merged.members.get(key);
        if (highest > through) {
          assert.equal(kept?.removal, highest, key);
          // The time that came with the highest number (the latest of those).
          const stamps = rows.flatMap((r) =>
            r!.removal !== highest || r!.removedAt === undefined
              ? []
              : [r!.removedAt]
          );
          assert.equal(
            kept?.removedAt,
            stamps.length === 0 ? undefined : Math.max(...stamps),
            key,
          );
        } else if (unnumbered && highest === 0) {
          assert.equal(kept?.removal, undefined, key);
        } else assert.equal(kept, undefined, key);
      }
    }),
    { seed: 21, numRuns: 400 },
  );
});

test("tombstones: mergeIncoming() from the wire equals mergeStates(), watermark and removal numbers included", () => {
  fc.assert(
    fc.property(arbPrunedState, arbPrunedState, (a, b) => {
      assert.deepEqual(view(decodeState(wire(a))), view(a));
      assertIncomingMerge(a, b);
    }),
    { seed: 22, numRuns: 400 },
  );
});

test("tombstones: late news of a pruned member merges the same in any order: its reports go with its row", () => {
  // d missed x's removal (x up, with a report of its own); e has x removed as number 3; f has
  // pruned it (watermark 5). Merged in either order, x and its report are gone alike.
  const d = updateReachability(
    createState([row("a", "up", 1), row("x", "up", 2)]),
    "x#i1",
    ["a#i1"],
    [],
  );
  const e = createState([
    row("a", "up", 1),
    { ...row("x", "removed", 2), removal: 3 },
  ]);
  const f = pruneRemoved(e, 5, "a#i1");
  const left = mergeStates(mergeStates(d, e), f);
  const right = mergeStates(mergeStates(d, f), e);
  assert.equal(left.digest, right.digest);
  for (const merged of [left, right]) {
    assert.ok(!merged.members.has("x#i1"));
    assert.ok(!merged.reachability.has("x#i1"), "x's report kept");
  }
});

test("tombstones: pruneRemoved() drops the removed rows numbered up to the watermark, and only raises it", () => {
  const base = createState([
    row("a"),
    { ...row("b", "removed"), removal: 1 },
    { ...row("c", "removed"), removal: 2 },
    row("d", "removed"),
  ]);
  const pruned = pruneRemoved(base, 1, "a#i1");
  assert.deepEqual([...pruned.members.keys()].sort(), [
    "a#i1",
    "c#i1",
    "d#i1",
  ]);
  assert.equal(pruned.prunedThrough, 1);
  assert.notEqual(pruned.digest, base.digest);
  assert.deepEqual([...pruned.seen], ["a#i1"]);
  assert.equal(pruneRemoved(pruned, 1, "a#i1"), pruned);
  assert.equal(pruneRemoved(pruned, 0, "a#i1"), pruned);
  // An unnumbered tombstone stays whatever the watermark.
  const all = pruneRemoved(pruned, 9, "a#i1");
  assert.deepEqual([...all.members.keys()].sort(), ["a#i1", "d#i1"]);
  // The news of a removal that was pruned meanwhile does not bring it back.
  assert.equal(mergeStates(all, base).digest, all.digest);
  assert.equal(
    mergeIncoming(
      all,
      decodeParts(wire(base)),
    )
      .state.digest,
    all.digest,
  );
});
