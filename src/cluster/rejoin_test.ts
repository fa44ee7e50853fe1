import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { Members } from "./_membership_kit_test.ts";

const FIVE = ["a", "b", "c", "d", "e"];

function agree(
  m: Members,
  names: readonly string[],
  expected: readonly string[],
): boolean {
  const want = JSON.stringify(
    Object.fromEntries(expected.map((n) => [n, "up"])),
  );
  return names.every((n) =>
    m.cluster(n).converged() && JSON.stringify(m.view(n)) === want
  );
}

async function rejoinAfterPartition(sameAddress: boolean): Promise<void> {
  await using m = await Members.start({ nodes: FIVE, seed: 11 });
  await m.joinAll(FIVE);
  await m.until(() => agree(m, FIVE, FIVE), 30_000, "convergence");
  const big = ["a", "b", "c"], small = ["d", "e"];
  for (const x of big) for (const y of small) m.tc.partition(x, y);
  await m.until(
    () =>
      small.every((n) =>
        m.events.get(n)!.some((e) => e.type === "self-downed")
      ),
    30_000,
    "the small side downs itself",
  );
  await m.until(() => agree(m, big, big), 30_000, "d and e removed");
  m.tc.heal();
  await m.tc.advance(3000);
  for (const n of small) {
    await m.kill(n);
    await m.restart(n, sameAddress);
  }
  await m.joinAll(small);
  await m.until(() => agree(m, FIVE, FIVE), 30_000, "all five up again");
  for (const n of FIVE) assert.equal(m.cluster(n).leader()?.node, "a");
}

test("members downed by a partition rejoin the surviving cluster as new incarnations after the heal", () =>
  rejoinAfterPartition(false));

test("members downed by a partition rejoin after the heal when restarted at their old addresses", () =>
  rejoinAfterPartition(true));
