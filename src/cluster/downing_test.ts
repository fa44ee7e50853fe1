import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { ManualClock } from "../timer/mod.ts";
import {
  type DowningContext,
  keepMajority,
  leaseMajority,
  staticQuorum,
} from "./downing.ts";
import {
  defaultStableAfterMs,
  type DowningAction,
  DowningRunner,
} from "./_downing_runner.ts";
import type { Lease, LeaseGrant } from "./lease.ts";
import type { MemberRow } from "./membership_table.ts";

function row(node: string, upNumber: number): MemberRow {
  return {
    node,
    incarnation: "i1",
    address: `${node}:1`,
    status: "up",
    roles: [],
    upNumber,
  };
}

const FIVE = ["a", "b", "c", "d", "e"].map((n, i) => row(n, i + 1));

function context(
  self: string,
  unreachable: string[],
  members: MemberRow[] = FIVE,
): DowningContext {
  return {
    self: `${self}#i1`,
    members,
    unreachable: new Set(unreachable.map((n) => `${n}#i1`)),
    wait: () => Promise.resolve(),
    signal: new AbortController().signal,
  };
}

test("keepMajority() keeps the larger side and downs the smaller one", () => {
  const strategy = keepMajority();
  assert.equal(strategy.decide(context("a", ["d", "e"])), "down-unreachable");
  assert.equal(strategy.decide(context("d", ["a", "b", "c"])), "down-self");
});

test("keepMajority() on a tie keeps the side holding the oldest member", () => {
  const four = FIVE.slice(0, 4);
  const strategy = keepMajority();
  assert.equal(
    strategy.decide(context("a", ["c", "d"], four)),
    "down-unreachable",
  );
  assert.equal(strategy.decide(context("c", ["a", "b"], four)), "down-self");
  // Oldest by up number, not by name.
  const swapped = [row("a", 9), row("b", 2), row("c", 1), row("d", 3)];
  assert.equal(strategy.decide(context("a", ["c", "d"], swapped)), "down-self");
  assert.equal(
    strategy.decide(context("c", ["a", "b"], swapped)),
    "down-unreachable",
  );
});

test("staticQuorum() keeps a side of at least the quorum", () => {
  const strategy = staticQuorum(3);
  assert.equal(strategy.decide(context("a", ["d", "e"])), "down-unreachable");
  assert.equal(strategy.decide(context("d", ["a", "b", "c"])), "down-self");
  assert.equal(strategy.decide(context("a", ["c", "d", "e"])), "down-self");
  assert.throws(() => staticQuorum(0), RangeError);
});

class OneLease implements Lease {
  readonly name = "sbr";
  holderKey: string | undefined;
  failing = false;
  acquire(owner: string): Promise<LeaseGrant | undefined> {
    if (this.failing) return Promise.reject(new Error("lease store is down"));
    if (this.holderKey === undefined) this.holderKey = owner;
    return Promise.resolve(
      this.holderKey === owner
        ? { owner, token: 1, expiresAt: Number.MAX_SAFE_INTEGER }
        : undefined,
    );
  }
  release(): Promise<boolean> {
    return Promise.resolve(false);
  }
  holder(): Promise<LeaseGrant | undefined> {
    return Promise.resolve(undefined);
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

test("leaseMajority() keeps the side that holds the lease, with one owner per side", async () => {
  const lease = new OneLease();
  const strategy = leaseMajority(lease);
  // The minority (alone, its majority crashed) gets the lease when nobody else took it.
  assert.equal(
    await strategy.decide(context("d", ["a", "b", "c"])),
    "down-unreachable",
  );
  assert.equal(
    await strategy.decide(context("e", ["a", "b", "c"])),
    "down-unreachable",
  );
  assert.equal(lease.holderKey, "d#i1");
  assert.equal(await strategy.decide(context("a", ["d", "e"])), "down-self");
  lease.failing = true;
  assert.equal(await strategy.decide(context("a", ["d", "e"])), "down-self");
});

test("DowningRunner decides only after stableAfterMs of unchanged reachability", async () => {
  const clock = new ManualClock();
  const actions: DowningAction[] = [];
  const runner = new DowningRunner(
    { stableAfterMs: 1000, downAllWhenUnstableMs: false },
    clock,
    "a#i1",
    (action) => actions.push(action),
    () => {},
  );
  try {
    runner.update({ members: FIVE, unreachable: new Set(["e#i1"]) });
    await clock.advance(900);
    runner.update({ members: FIVE, unreachable: new Set(["d#i1", "e#i1"]) });
    await clock.advance(900);
    assert.deepEqual(actions, []);
    await clock.advance(100);
    assert.deepEqual(actions, ["down-unreachable"]);
    runner.update({ members: FIVE, unreachable: new Set() });
    await clock.advance(5000);
    assert.deepEqual(actions, ["down-unreachable"]);
  } finally {
    runner.close();
  }
});

test("defaultStableAfterMs() is 2 s up to 8 members and grows by 1 s per doubling beyond", () => {
  assert.deepEqual(
    [1, 3, 8, 9, 16, 17, 64, 1000].map(defaultStableAfterMs),
    [2000, 2000, 2000, 3000, 3000, 4000, 5000, 9000],
  );
});

test("DowningRunner without stableAfterMs waits the default for the view's size", async () => {
  const clock = new ManualClock();
  const actions: DowningAction[] = [];
  const runner = new DowningRunner(
    { downAllWhenUnstableMs: false },
    clock,
    "a#i1",
    (action) => actions.push(action),
    () => {},
  );
  try {
    const many = Array.from({ length: 16 }, (_, i) => row(`n${i}`, i + 1));
    runner.update({ members: many, unreachable: new Set(["n15#i1"]) });
    await clock.advance(2999);
    assert.deepEqual(actions, []);
    await clock.advance(1);
    assert.deepEqual(actions, ["down-unreachable"]);
    assert.equal(runner.stableAfterMs(FIVE.length), 2000);
    assert.equal(runner.downAllAfterMs(16), undefined);
    const unconfigured = new DowningRunner(
      undefined,
      clock,
      "a#i1",
      () => {},
      () => {},
    );
    assert.equal(unconfigured.downAllAfterMs(16), 3000 + 2250);
    unconfigured.close();
  } finally {
    runner.close();
  }
});

test("DowningRunner downs all when the reachability stays unstable", async () => {
  const clock = new ManualClock();
  const actions: DowningAction[] = [];
  const runner = new DowningRunner(
    { stableAfterMs: 1000 },
    clock,
    "a#i1",
    (action) => actions.push(action),
    () => {},
  );
  try {
    for (let i = 0; i < 10; i++) {
      runner.update({
        members: FIVE,
        unreachable: new Set([i % 2 === 0 ? "e#i1" : "d#i1"]),
      });
      await clock.advance(500);
    }
    assert.deepEqual(actions, ["down-all"]);
    assert.equal(runner.downAllAfterMs(FIVE.length), 1750);
  } finally {
    runner.close();
  }
});
