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
    ) => [k, r.node, r.incarnation, r.address, r.status, r.upNumber, r.roles]),
    reachability: [...state.reachability].sort(([a], [b]) => a < b ? -1 : 1),
    seen: [...state.seen].sort(),
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

test("mergeStates() is commutative, associative and idempotent", () => {
  fc.assert(
    fc.property(arbState, arbState, arbState, (a, b, c) => {
      assert.deepEqual(view(mergeStates(a, b)), view(mergeStates(b, a)));
      assert.deepEqual(
        view(mergeStates(mergeStates(a, b), c)),
        view(mergeStates(a, mergeStates(b, c))),
      );
      assert.deepEqual(view(mergeStates(a, a)), view(a));
    }),
    { seed: 11, numRuns: 300 },
  );
});

test("mergeIncoming() of a state from the wire equals mergeStates(), digest computed incrementally", () => {
  const wire = (state: GossipState) =>
    JSON.parse(JSON.stringify(encodeState(state)));
  fc.assert(
    fc.property(arbState, arbState, arbState, (a, b, c) => {
      // Built through merges (incremental sums), then compared with a decode from scratch.
      const ab = mergeStates(a, b);
      const abc = mergeStates(ab, c);
      for (const state of [ab, abc]) {
        assert.equal(decodeState(wire(state)).digest, state.digest);
      }
      const { state, sameAsIncoming } = mergeIncoming(
        a,
        decodeParts(wire(b), a),
      );
      const expected = mergeStates(a, b);
      assert.deepEqual(view(state), view(expected));
      assert.equal(sameAsIncoming, expected.digest === b.digest);
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
      const wire = JSON.parse(JSON.stringify(encodeState(state)));
      assert.deepEqual(view(decodeState(wire)), view(state));
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
