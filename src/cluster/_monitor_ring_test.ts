import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { MonitorRing, ringSubjectsOf } from "./_monitor_ring.ts";

const keysArb = fc.uniqueArray(
  fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.nat(1e6)).map((
    [node, inc],
  ) => `${node}#${inc}`),
  { minLength: 0, maxLength: 60 },
);
const kArb = fc.integer({ min: 1, max: 12 });

test("MonitorRing: every member is monitored by min(k, n - 1) distinct others, and observersOf() inverts subjectsOf()", () => {
  fc.assert(
    fc.property(keysArb, kArb, (keys, k) => {
      const ring = new MonitorRing(keys, k);
      const n = keys.length;
      const expected = Math.min(k, Math.max(0, n - 1));
      const watchers = new Map<string, Set<string>>(
        keys.map((key) => [key, new Set()]),
      );
      for (const observer of keys) {
        const subjects = ring.subjectsOf(observer);
        assert.equal(subjects.length, expected);
        assert.equal(new Set(subjects).size, expected, "subjects are distinct");
        assert.ok(!subjects.includes(observer), "nobody monitors itself");
        for (const subject of subjects) watchers.get(subject)!.add(observer);
      }
      for (const subject of keys) {
        const observers = ring.observersOf(subject);
        assert.equal(watchers.get(subject)!.size, expected);
        assert.deepEqual(new Set(observers), watchers.get(subject));
      }
    }),
    { numRuns: 300 },
  );
});

test("MonitorRing is the same for any order of the keys, and duplicates count once", () => {
  fc.assert(
    fc.property(
      keysArb.chain((keys) =>
        fc.tuple(
          fc.constant(keys),
          fc.shuffledSubarray(keys, { minLength: keys.length }),
        )
      ),
      kArb,
      ([keys, shuffled], k) => {
        const a = new MonitorRing(keys, k);
        const b = new MonitorRing([...shuffled, ...shuffled.slice(0, 3)], k);
        assert.deepEqual(a.members, b.members);
        for (const key of keys) {
          assert.deepEqual(a.subjectsOf(key), b.subjectsOf(key));
          assert.deepEqual(a.observersOf(key), b.observersOf(key));
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("MonitorRing: one join changes the subjects of at most k members, each by one", () => {
  fc.assert(
    fc.property(
      keysArb,
      fc.string({ minLength: 1, maxLength: 20 }),
      kArb,
      (keys, joiner, k) => {
        fc.pre(!keys.includes(joiner));
        const before = new MonitorRing(keys, k);
        const after = new MonitorRing([...keys, joiner], k);
        let changed = 0;
        for (const observer of keys) {
          const old = new Set(before.subjectsOf(observer));
          const now = after.subjectsOf(observer);
          const added = now.filter((s) => !old.has(s));
          if (added.length === 0) continue;
          changed++;
          assert.deepEqual(added, [joiner], "only the joiner comes in");
          const kept = now.filter((s) => old.has(s)).length;
          assert.ok(old.size - kept <= 1, "at most one subject goes out");
        }
        assert.ok(
          changed <= k,
          `${changed} members changed subjects for k = ${k}`,
        );
      },
    ),
    { numRuns: 300 },
  );
});

test("MonitorRing spreads 1,000 members evenly: no member monitors or is monitored by more than k", () => {
  const keys = Array.from(
    { length: 1000 },
    (_, i) => `10.0.${i >> 8}.${i & 255}:4000#1`,
  );
  const ring = new MonitorRing(keys, 5);
  for (const key of keys) {
    assert.equal(ring.subjectsOf(key).length, 5);
    assert.equal(ring.observersOf(key).length, 5);
  }
  // Hashing scatters neighbours by name: a member's subjects are not its name neighbours.
  const subjects = ring.subjectsOf(keys[500]);
  const neighbours = keys.slice(495, 506);
  assert.ok(subjects.filter((s) => neighbours.includes(s)).length <= 1);
});

test("MonitorRing returns no subjects for a key that is not a member, and none in a cluster of one", () => {
  const ring = new MonitorRing(["a#1", "b#1", "c#1"], 5);
  assert.deepEqual(ring.subjectsOf("z#1"), []);
  assert.deepEqual(ring.observersOf("z#1"), []);
  assert.equal(ring.subjectsOf("a#1").length, 2);
  assert.deepEqual(new MonitorRing(["a#1"], 3).subjectsOf("a#1"), []);
  assert.deepEqual(new MonitorRing([], 3).members, []);
});

test("MonitorRing rejects keys that are not strings and a k that is not an integer >= 1", () => {
  assert.throws(() => new MonitorRing("a" as unknown as string[], 1), {
    name: "TypeError",
  });
  assert.throws(() => new MonitorRing([1] as unknown as string[], 1), {
    name: "TypeError",
    message: /every key must be a string, got number/,
  });
  assert.throws(() => new MonitorRing(["a"], 0), {
    name: "RangeError",
    message: /monitoredBy must be an integer ≥ 1, got 0/,
  });
  assert.throws(() => new MonitorRing(["a"], 2.5), { name: "RangeError" });
});

test("ringSubjectsOf() finds exactly MonitorRing.subjectsOf(), for any order, duplicates and observer", () => {
  fc.assert(
    fc.property(
      keysArb.chain((keys) =>
        fc.tuple(
          fc.constant(keys),
          fc.shuffledSubarray(keys, { minLength: keys.length }),
          fc.oneof(fc.constantFrom(...keys, "absent#0"), fc.string()),
        )
      ),
      kArb,
      ([keys, shuffled, observer], k) => {
        const withDuplicates = [...shuffled, ...shuffled.slice(0, 5)];
        assert.deepEqual(
          ringSubjectsOf(withDuplicates, observer, k),
          new MonitorRing(keys, k).subjectsOf(observer),
        );
      },
    ),
    { numRuns: 500 },
  );
  // "n512789#1" and "n749192#1" have the same ring hash: ties are ordered by key, both ways.
  const tied = ["n512789#1", "n749192#1", "a#1", "b#1", "c#1", "d#1"];
  for (const observer of tied) {
    for (const k of [1, 2, 5]) {
      assert.deepEqual(
        ringSubjectsOf([...tied].reverse(), observer, k),
        new MonitorRing(tied, k).subjectsOf(observer),
      );
    }
  }
  const ring = new MonitorRing(tied, 1);
  assert.equal(
    ring.members.indexOf("n749192#1") - ring.members.indexOf("n512789#1"),
    1,
  );
  assert.throws(() => ringSubjectsOf([1] as unknown as string[], "a", 1), {
    name: "TypeError",
  });
  assert.throws(() => ringSubjectsOf(["a"], "a", 0), { name: "RangeError" });
});
