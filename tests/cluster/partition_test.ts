// A real network partition between member processes: five members, each in its own network
// namespace (tests/cluster/netns.ts), are cut 3 | 2 by blackhole routes. The two-member side
// downs itself (keep-majority, the default) and says so; the three-member side downs and removes
// the other two and keeps running; after the heal it still runs. A second test restarts the two
// as new incarnations and expects them to join it again (skipped while a known bug stands, see
// below). Every timing is the core's default.
//
// Needs root and iproute2: skipped loudly without them, and failed instead when CI is set.
import assert from "node:assert/strict";
import { test } from "../../src/platform/test_harness.ts";
import { NetnsLab, netnsUnavailable } from "./netns.ts";
import {
  Controller,
  type ControlView,
  dump,
  MemberProcess,
  ON_CI,
  stopAll,
  waitReady,
  waitUntil,
} from "./support.ts";

const PORT = 7355;
const unavailable = await netnsUnavailable();
if (unavailable !== undefined) {
  if (ON_CI) {
    console.error(
      `\n!!! ${unavailable}: the real-partition test will FAIL (CI is set) !!!\n`,
    );
  } else {
    console.warn(
      `\n!!! ${unavailable}: SKIPPING the real-partition test (run it as root) !!!\n`,
    );
  }
}
const skip = unavailable !== undefined && !ON_CI;

/**
 * Forms 5 members in namespaces, cuts them 3 | 2, checks the downing and the heal, and with
 * `rejoin` restarts the downed two as new incarnations and waits for all 5 to be up again.
 */
async function partition(rejoin: boolean): Promise<void> {
  if (unavailable !== undefined) throw new Error(unavailable);
  await using lab = await NetnsLab.create(5);
  const members: MemberProcess[] = [];
  try {
    const seeds = [1, 2, 3, 4, 5].map((i) => `${lab.address(i)}:${PORT}`);
    const start = (i: number, node: string): MemberProcess =>
      MemberProcess.start({
        node,
        hostname: lab.address(i),
        port: PORT,
        seeds,
        prefix: lab.exec(i),
      });
    for (let i = 1; i <= 5; i++) members.push(start(i, `m${i}`));
    await waitReady(members);
    await using controller = await Controller.start(lab.hostAddress);
    const controls = await Promise.all(
      members.map((m) => controller.control(m.address()!)),
    );
    let last: ControlView[] = [];
    const agreed = async (
      indexes: readonly number[],
      nodes: readonly string[],
    ): Promise<boolean> => {
      try {
        last = await Promise.all(indexes.map((i) => controls[i].ask("view")));
      } catch {
        // A member just restarted: the controller may still be redialing it.
        return false;
      }
      return last.every((v) =>
        v.converged && v.status === "up" && v.leader !== null &&
        v.leader === last[0].leader &&
        JSON.stringify(
            v.members.map((m) => `${m.node}:${m.status}`).sort(),
          ) ===
          JSON.stringify(nodes.map((n) => `${n}:up`).sort())
      );
    };
    const names = ["m1", "m2", "m3", "m4", "m5"];
    await waitUntil(
      () => agreed([0, 1, 2, 3, 4], names),
      () => `5 up: ${JSON.stringify(last)}\n${dump(members)}`,
      45_000,
    );

    // Cut {m1, m2, m3} | {m4, m5}.
    const cutAt = Date.now();
    await lab.cut([1, 2, 3], [4, 5]);
    const major = [0, 1, 2];
    const minor = [3, 4];
    const selfDowned = (i: number) =>
      members[i].events().find((e) => e.event === "self-downed");
    await waitUntil(
      () => minor.every((i) => selfDowned(i) !== undefined),
      () => `m4 and m5 down themselves\n${dump(members)}`,
      // The documented bound is detection (about 2 s) plus stableAfterMs (2 s at five
      // members); more than three times that, for a loaded CI machine.
      21_000,
    );
    const downedAfter = minor.map((i) => selfDowned(i)!.at - cutAt);
    console.log(
      `partition 3 | 2: the 2-side downed itself ${
        downedAfter.join(" and ")
      } ms after the cut (documented bound: detection ≈ 2 s + stableAfterMs 2 s)\n${
        minor.map((i) =>
          `  m${i + 1}: ${selfDowned(i)!.reason}; logged: ${
            members[i].lines().map((l) => l.type === "log" ? l.message : "")
              .filter((m) => m !== "").join(" | ")
          }`
        ).join("\n")
      }`,
    );
    for (const i of minor) {
      assert.match(selfDowned(i)!.reason ?? "", /./);
      const logs = members[i].lines().filter((l) => l.type === "log");
      assert.ok(logs.length > 0, `m${i + 1} logs why it downed itself`);
    }
    const three = ["m1", "m2", "m3"];
    await waitUntil(
      () => agreed(major, three),
      () =>
        `m1..m3 up, m4 and m5 removed: ${JSON.stringify(last)}\n${
          dump(members)
        }`,
      30_000,
    );
    for (const i of major) {
      for (const gone of ["m4", "m5"]) {
        const seen = members[i].events(gone).map((e) => e.event);
        assert.ok(
          ["unreachable", "downed", "removed"].every((t) => seen.includes(t)),
          `m${i + 1} saw ${gone}: ${seen}`,
        );
      }
      assert.equal(selfDowned(i), undefined, `m${i + 1} must keep running`);
    }

    // Heal: the 3-side keeps running; the downed two stay down.
    await lab.heal();
    const leader = last[0].leader;
    await new Promise((r) => setTimeout(r, 3000));
    assert.ok(await agreed(major, three), JSON.stringify(last));
    assert.equal(last[0].leader, leader);
    for (const i of minor) {
      const v = await controls[i].ask("view");
      assert.equal(
        v.status,
        "down",
        `m${i + 1} after the heal: ${JSON.stringify(v)}`,
      );
    }
    for (const i of major) assert.equal(selfDowned(i), undefined);

    if (!rejoin) return;
    // The two restart as new incarnations and join the surviving cluster again.
    for (const i of minor) {
      members[i].kill("SIGKILL");
      await members[i].exited;
      members[i] = start(i + 1, `m${i + 1}`);
    }
    await waitReady(members);
    for (const i of minor) {
      controls[i] = await controller.control(members[i].address()!);
    }
    await waitUntil(
      () => agreed([0, 1, 2, 3, 4], names),
      () => `5 up again: ${JSON.stringify(last)}\n${dump(members)}`,
      45_000,
    );
    assert.equal(last[0].leader, leader, "the surviving leader still leads");
  } finally {
    await stopAll(members);
  }
}

test({
  name: skip
    ? "Cluster across 5 processes in network namespaces: a 3 | 2 partition downs the 2-side (skipped: no network namespaces)"
    : "Cluster across 5 processes in network namespaces: a 3 | 2 partition downs the 2-side, the 3-side runs on, heal",
  ignore: skip,
  fn: () => partition(false),
});

test({
  name:
    "Cluster across 5 processes in network namespaces: after a 3 | 2 partition and the heal, the downed two restart and rejoin" +
    (skip ? " (skipped: no network namespaces)" : ""),
  ignore: skip,
  fn: () => partition(true),
});
