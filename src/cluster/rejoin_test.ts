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

test("a restarted first seed joins as the youngest member on a slow network (600 ms round trips, 200 ms between join rounds): it never forms a cluster of its own", async () => {
  const three = ["a", "b", "c"];
  // Round trips (600 ms) longer than the pause between join rounds (200 ms).
  await using m = await Members.start({
    nodes: three,
    seed: 5,
    latencyMs: 300,
    cluster: { joinRetryMs: 200 },
  });
  await m.joinAll(three, 60_000);
  await m.until(() => agree(m, three, three), 60_000, "convergence");
  await m.kill("a");
  await m.restart("a", true);
  await m.joinAll(["a"], 60_000);
  await m.until(() => agree(m, three, three), 60_000, "a up again");
  const rows = m.cluster("b").members().filter((r) => r.status === "up");
  const upOf = (n: string) => rows.find((r) => r.node === n)!.upNumber;
  assert(
    upOf("a") > upOf("b") && upOf("a") > upOf("c"),
    `the new a is the youngest: ${JSON.stringify(rows)}`,
  );
  for (const n of three) assert.equal(m.cluster(n).leader()?.node, "b");
});
