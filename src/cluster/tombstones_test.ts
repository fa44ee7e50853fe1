// Tombstones of removed members: numbered by the leader, pruned after `pruneTombstonesAfterMs`
// on every member alike, so views stay bounded by the live members and still converge.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { Members } from "./_membership_kit_test.ts";
import { clusterDriver } from "./cluster.ts";
import type { GossipState } from "./_member_state.ts";

const PRUNE_AFTER_MS = 60_000;

function state(m: Members, name: string): GossipState {
  return clusterDriver(m.cluster(name)).state;
}

/** Whether all of `names` hold one converged state (same digest) without any removed row. */
function prunedEverywhere(m: Members, names: readonly string[]): boolean {
  const digests = new Set(names.map((n) => state(m, n).digest));
  return digests.size === 1 && names.every((n) =>
    m.cluster(n).converged() &&
    [...state(m, n).members.values()].every((row) => row.status !== "removed")
  );
}

test("tombstones: a removed member's row is numbered, kept for pruneTombstonesAfterMs, then dropped from every view alike", async () => {
  const names = ["a", "b", "c", "d"];
  await using m = await Members.start({
    nodes: names,
    seed: 3,
    cluster: { pruneTombstonesAfterMs: PRUNE_AFTER_MS },
  });
  await m.joinAll(names);
  const rest = ["a", "b", "c"];
  const dKey = `d#${m.cluster("d").self.incarnation}`;
  await m.kill("d");
  await m.until(
    () =>
      rest.every((n) => state(m, n).members.get(dKey)?.status === "removed"),
    40_000,
    "d removed",
  );
  const removedAt = m.tc.clock.now();
  for (const n of rest) {
    assert.equal(state(m, n).members.get(dKey)?.removal, 1);
    assert.equal(state(m, n).prunedThrough, 0);
  }
  // Kept for the whole delay (checked every virtual second) ...
  const eventsBefore = rest.map((n) => m.events.get(n)!.length);
  while (m.tc.clock.now() - removedAt < PRUNE_AFTER_MS - 2_000) {
    await m.tc.advance(1_000);
    for (const n of rest) {
      assert.equal(state(m, n).members.get(dKey)?.status, "removed", n);
    }
  }
  // ... then dropped everywhere, with one digest.
  await m.until(() => prunedEverywhere(m, rest), 10_000, "d pruned");
  for (const n of rest) {
    assert.equal(state(m, n).members.has(dKey), false);
    assert.equal(state(m, n).prunedThrough, 1);
    assert.deepEqual(
      Object.keys(m.view(n)).sort(),
      rest,
      `${n} sees ${JSON.stringify(m.view(n))}`,
    );
  }
  // Pruning is no membership news: no event was emitted for it.
  assert.deepEqual(rest.map((n) => m.events.get(n)!.length), eventsBefore);
  // A member joining afterwards learns the watermark with the state, not the tombstone.
  await m.restart("d");
  await m.joinAll(["d"]);
  await m.until(
    () =>
      names.every((n) => m.cluster(n).converged()) &&
      new Set(names.map((n) => state(m, n).digest)).size === 1,
    30_000,
    "new d converged",
  );
  assert.equal(state(m, "d").prunedThrough, 1);
  assert.equal(state(m, "d").members.has(dKey), false);
  assert.ok(
    !m.events.get("d")!.some((e) =>
      "member" in e && `${e.member.node}#${e.member.incarnation}` === dKey
    ),
    "the new d heard of the pruned member",
  );
});

const THREE = ["a", "b", "c"];

/** a, b and c, joined, with tombstones pruned after PRUNE_AFTER_MS. */
async function startThree(): Promise<Members> {
  const m = await Members.start({
    nodes: THREE,
    seed: 4,
    cluster: { pruneTombstonesAfterMs: PRUNE_AFTER_MS },
  });
  await m.joinAll(THREE);
  return m;
}

/** Kills `name`, starts it again (a new incarnation), and waits until every member has it up. */
async function restartAndWait(
  m: Members,
  names: readonly string[],
  name: string,
  what: string,
): Promise<void> {
  await m.kill(name);
  await m.restart(name);
  await m.joinAll([name]);
  await m.until(
    () =>
      names.every((n) => m.cluster(n).converged() && m.view(n)[name] === "up"),
    40_000,
    what,
  );
}

test("tombstones: a node restarted over and over leaves at most the tombstones of the last pruneTombstonesAfterMs behind", async () => {
  const names = THREE;
  await using m = await startThree();
  const RESTARTS = 8;
  let most = 0;
  for (let i = 0; i < RESTARTS; i++) {
    await restartAndWait(m, names, "c", `restart ${i + 1}`);
    most = Math.max(most, state(m, "a").members.size);
    // A restart every 20 virtual seconds: a tombstone outlives three of them at most.
    await m.tc.advance(20_000, { stepMs: 250 });
  }
  const removals =
    [...state(m, "a").members.values()].filter((row) =>
      row.status === "removed"
    ).length;
  assert.ok(removals <= 3, `${removals} tombstones after ${RESTARTS} restarts`);
  await m.tc.advance(PRUNE_AFTER_MS + 5_000, { stepMs: 250 });
  await m.until(() => prunedEverywhere(m, names), 10_000, "all pruned");
  for (const n of names) {
    assert.equal(state(m, n).members.size, 3);
    assert.equal(state(m, n).prunedThrough, RESTARTS);
  }
  assert.ok(most <= 3 + 4, `views held up to ${most} rows`);
});

test("tombstones: with every process restarted in turn before pruneTombstonesAfterMs (rolling restarts), tombstones are pruned all the same", async () => {
  const names = THREE;
  await using m = await startThree();
  // One node every 15 virtual seconds, in turn, so no process (no leader) lives as long as
  // the delay (about 45 of its 60 s): the age of a tombstone must travel with it.
  const RESTARTS = 12;
  let most = 0;
  for (let i = 0; i < RESTARTS; i++) {
    const name = names[i % names.length];
    await restartAndWait(m, names, name, `restart ${i + 1}`);
    await m.tc.advance(15_000, { stepMs: 250 });
    most = Math.max(most, state(m, name).members.size);
  }
  const live = names[(RESTARTS - 1) % names.length];
  const s = state(m, live);
  const tombstones =
    [...s.members.values()].filter((row) => row.status === "removed").length;
  assert.ok(
    tombstones <= 4,
    `${tombstones} tombstones after ${RESTARTS} restarts, watermark ${s.prunedThrough}`,
  );
  assert.ok(s.prunedThrough >= RESTARTS - 4, `watermark ${s.prunedThrough}`);
  assert.ok(most <= 3 + 5, `views held up to ${most} rows`);
});

test("Cluster.join() refuses a pruneTombstonesAfterMs that is not a finite number > 0", async () => {
  for (const bad of [0, -1, Number.NaN, Infinity]) {
    await using m = await Members.start({
      nodes: ["a"],
      cluster: { pruneTombstonesAfterMs: bad },
    });
    await assert.rejects(
      m.join(["a"]),
      (error: unknown) =>
        error instanceof RangeError &&
        error.message.includes(`Invalid pruneTombstonesAfterMs ${bad}`),
    );
  }
});

test("Cluster.join() refuses a wallClock that is not a function", async () => {
  await using m = await Members.start({
    nodes: ["a"],
    cluster: { wallClock: 1_800_000_000_000 as unknown as () => number },
  });
  await assert.rejects(
    m.join(["a"]),
    (error: unknown) =>
      error instanceof TypeError && error.message.includes("`wallClock`"),
  );
});
