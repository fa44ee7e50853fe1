import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { Members } from "../_membership_kit_test.ts";
import { Singletons } from "./_singleton_kit_test.ts";

const THREE = ["a", "b", "c"];

test("ClusterSingleton.start() runs one instance on the oldest member and every proxy reaches it", async () => {
  await using m = await Members.start({ nodes: THREE, seed: 31 });
  await m.joinAll(THREE);
  const s = new Singletons(m);
  try {
    for (const node of THREE) await s.start(node);
    const oldest = m.cluster("a").members().sort((x, y) =>
      x.upNumber - y.upNumber
    )[0].node;
    for (const node of THREE) {
      const where = await m.tc.settle(s.of(node).ref.ask("where"));
      assert.equal(where.node, oldest);
      assert.equal(where.token, 1);
    }
    assert.deepEqual(s.lives.starts(), [oldest]);
    assert.equal(s.of(oldest).runningHere()?.token, 1);
    assert.equal(s.lives.overlaps.length, 0);
  } finally {
    await s.closeAll();
  }
});
