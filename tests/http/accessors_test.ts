// The two accessors the HTTP API added to public APIs: ActorSystem.actors() (the actor tree)
// and Cluster.phi() (the failure detector's φ).
import assert from "node:assert/strict";
import { ActorSystem, defineActor } from "../../mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import { platform } from "../../src/platform/mod.ts";
import { LoopbackCluster, supervisor } from "./support.ts";

test("ActorSystem.actors() lists live actors with their type and queued messages", async () => {
  await using system = new ActorSystem({ node: "a" });
  let release = () => {};
  const gate = new Promise<void>((resolve) => release = resolve);
  const slow = defineActor({
    name: "slow",
    init: () => null,
    handlers: { hold: async () => await gate },
  });
  try {
    await system.spawn(supervisor, 2, { id: "sup" });
    const ref = await system.spawn(slow, undefined, { id: "slow" });
    for (let i = 0; i < 4; i++) ref.tell("hold");
    await new Promise<void>((resolve) => platform.setTimer(resolve, 10));
    const byPath = new Map(system.actors().map((a) => [a.path, a]));
    assert.deepEqual([...byPath.keys()].sort(), [
      "slow",
      "sup",
      "sup/w0",
      "sup/w1",
    ]);
    assert.equal(byPath.get("sup/w1")!.type, "worker");
    assert.equal(
      byPath.get("slow")!.mailboxSize,
      3,
      "one in hand, three waiting",
    );
    await system.lookup("sup/w0")!.stop();
    assert.ok(!system.actors().some((a) => a.path === "sup/w0"));
  } finally {
    release();
  }
});

test("Cluster.phi() grows while a monitored member is silent", async () => {
  await using lc = await LoopbackCluster.start(["p1", "p2"]);
  const before = lc.clusters[0].phi("p2");
  assert.equal(typeof before, "number");
  // p2 stops heartbeating (its membership closed without leaving) but stays a member.
  await lc.clusters[1].close();
  await lc.until(
    () => (lc.clusters[0].phi("p2") ?? 0) > before! + 1,
    5000,
    "φ of the silent member to grow",
  );
});
