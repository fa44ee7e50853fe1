// Cluster membership with real processes on loopback (tests/cluster/member_main.ts): five
// members form a cluster from static seeds, one is killed with SIGKILL and the others find it
// unreachable, down it (keep-majority) and remove it, and one leaves gracefully; 5 s after their
// removal, both tombstones are pruned from every view alike. Every other timing is the core's
// default: the whole test takes about 25 s.
import assert from "node:assert/strict";
import { test } from "../../src/platform/test_harness.ts";
import {
  Controller,
  type ControlView,
  dump,
  inOrder,
  killAndWitness,
  startMembers,
  stopAll,
  waitUntil,
} from "./support.ts";

const PRUNE_AFTER_MS = 5_000;

test("Cluster across 5 processes: formed from seeds, a SIGKILLed member is removed, a leaving one exits, their tombstones are pruned", async () => {
  const members = await startMembers(5, {
    pruneTombstonesAfterMs: PRUNE_AFTER_MS,
  });
  await using controller = await Controller.start();
  try {
    const controls = await Promise.all(
      members.map((m) => controller.control(m.address()!)),
    );
    const views = async (
      indexes: readonly number[],
    ): Promise<ControlView[]> =>
      await Promise.all(indexes.map((i) => controls[i].ask("view")));
    const agreed = (vs: ControlView[], nodes: readonly string[]): boolean =>
      vs.every((v) =>
        v.converged && v.status === "up" &&
        v.leader === vs[0].leader && v.leader !== null &&
        JSON.stringify(v.members.map((m) => `${m.node}:${m.status}`).sort()) ===
          JSON.stringify(nodes.map((n) => `${n}:up`).sort())
      );
    let last: ControlView[] = [];
    const all = [0, 1, 2, 3, 4];
    const names = members.map((m) => m.node);

    // 1. Five up, one leader, in every view.
    await waitUntil(
      async () => agreed(last = await views(all), names),
      () => `5 up with one leader: ${JSON.stringify(last)}\n${dump(members)}`,
      45_000,
    );
    const leader = last[0].leader!;

    // 2. SIGKILL a member that does not lead: every survivor finds it unreachable, then it is
    // downed by the majority and removed.
    const victimIndex = all.find((i) => names[i] !== leader && i !== 4)!;
    const survivors = await killAndWitness(members, all, victimIndex);
    const four = survivors.map((i) => names[i]);
    await waitUntil(
      async () => agreed(last = await views(survivors), four),
      () => `4 up with one leader: ${JSON.stringify(last)}`,
      20_000,
    );

    // 3. The last member leaves gracefully: the others see leaving, exited, removed.
    const leaverIndex = 4;
    const leaver = members[leaverIndex];
    assert.equal(await controls[leaverIndex].ask("leave"), "leaving");
    const rest = survivors.filter((i) => i !== leaverIndex);
    await waitUntil(
      () =>
        rest.every((i) =>
          members[i].events(leaver.node).some((e) => e.event === "removed")
        ),
      () => `every member sees ${leaver.node} removed\n${dump(members)}`,
      30_000,
    );
    for (const i of rest) {
      const seen = members[i].events(leaver.node).map((e) => e.event);
      assert.ok(
        inOrder(seen, ["leaving", "exited", "removed"]),
        `${names[i]} saw ${leaver.node}: ${seen}`,
      );
      assert.ok(!seen.includes("unreachable"), `${names[i]}: ${seen}`);
    }
    await waitUntil(
      () => leaver.lines().some((l) => l.type === "left"),
      () => `${leaver.node}'s leave() resolves\n${dump([leaver])}`,
      10_000,
    );
    const three = rest.map((i) => names[i]);
    await waitUntil(
      async () => agreed(last = await views(rest), three),
      () => `3 up with one leader: ${JSON.stringify(last)}`,
      20_000,
    );
    // 4. Both tombstones are pruned, everywhere alike (one digest, the same watermark).
    await waitUntil(
      async () => {
        last = await views(rest);
        return last.every((v) =>
          v.tombstones === 0 && v.prunedThrough === 2 &&
          v.digest === last[0].digest && v.converged
        );
      },
      () => `tombstones pruned: ${JSON.stringify(last)}`,
      PRUNE_AFTER_MS + 20_000,
    );
    // Nobody downed itself along the way.
    for (const m of members) {
      assert.ok(
        !m.events().some((e) => e.event === "self-downed"),
        `${m.node} downed itself:\n${dump([m])}`,
      );
    }
    // A member exits on request, cleanly.
    assert.equal(await controls[rest[0]].ask("exit"), "bye");
    assert.equal(
      (await members[rest[0]].exited).code,
      0,
      dump([members[rest[0]]]),
    );
  } finally {
    await stopAll(members);
  }
});
