import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { TestCluster, TestProbe } from "../testing/mod.ts";
import { defineActor } from "../actor/mod.ts";
import { isNodeUnreachableError } from "../remote/mod.ts";
import { Members, seedsOf } from "./_membership_kit_test.ts";
import { Cluster, joinCluster } from "./cluster.ts";
import { ClusterExtensions } from "./cluster_extensions.ts";
import { isClusterJoinError } from "./errors.ts";
import { StaticSeeds } from "./discovery/static_seeds.ts";
import { MemoryLease } from "./memory_lease.ts";
import { leaseMajority } from "./downing.ts";
import type { MemberEvent, MemberEventProtocol } from "./member_event.ts";
import { MEMBERSHIP_EXTENSION } from "./_gossip_messages.ts";

const THREE = ["a", "b", "c"];

function upView(m: Members, names: readonly string[]): boolean {
  return names.every((n) =>
    m.cluster(n).converged() &&
    m.cluster(n).members().length === names.length &&
    m.cluster(n).members().every((x) => x.status === "up")
  );
}

test("Cluster.down() by an operator downs the node: it stops and the others remove it", async () => {
  await using m = await Members.start({ nodes: THREE, seed: 21 });
  await m.joinAll(THREE);
  await m.until(() => upView(m, THREE), 20_000, "convergence");
  m.cluster("a").down("c");
  await m.until(() => upView(m, ["a", "b"]), 20_000, "c removed");
  await m.until(
    () => m.events.get("c")!.some((e) => e.type === "self-downed"),
    10_000,
    "c hears it",
  );
  assert.throws(() => m.cluster("a").down("zz"), TypeError);
});

test("Cluster.subscribe() tells an actor the membership events", async () => {
  await using m = await Members.start({ nodes: THREE, seed: 22 });
  await m.joinAll(THREE);
  await m.until(() => upView(m, THREE), 20_000, "convergence");
  const probe = await TestProbe.create<MemberEventProtocol>(m.tc.system("a"));
  m.cluster("a").subscribe(probe.ref);
  const leaving = m.cluster("b").leave();
  await m.until(() => upView(m, ["a", "c"]), 20_000, "b removed");
  await leaving;
  const seen = probe.pending.map((p) => (p.payload as MemberEvent).type);
  assert.ok(seen.includes("leaving") && seen.includes("removed"), `${seen}`);
  assert.ok(probe.pending.every((p) => p.type === "memberEvent"));
  m.cluster("a").unsubscribe(probe.ref);
  const before = probe.pending.length;
  m.cluster("a").down("c");
  await m.tc.advance(3000);
  assert.equal(probe.pending.length, before);
});

test("Cluster.events() ends when its signal aborts", async () => {
  await using m = await Members.start({ nodes: ["a"], seed: 23 });
  await m.joinAll(["a"]);
  const controller = new AbortController();
  const collected: MemberEvent[] = [];
  const reading = (async () => {
    for await (const event of m.cluster("a").events(controller.signal)) {
      collected.push(event);
    }
  })();
  controller.abort();
  await reading;
  assert.deepEqual(collected, []);
  assert.equal(m.cluster("a").leader()?.node, "a");
  assert.equal(m.cluster("a").self.status, "up");
});

test("Cluster.join() rejects with ClusterJoinError when no seed answers in time", async () => {
  const extensions = new ClusterExtensions();
  await using tc2 = await TestCluster.start({
    nodes: ["b"],
    nodeOptions: { extensions: extensions.remote },
  });
  let error: unknown;
  const joining = joinCluster(tc2.node("b"), {
    extensions,
    discovery: seedsOf(() => ["nowhere:1", tc2.node("b").address]),
    clock: tc2.clock,
    joinTimeoutMs: 5000,
    logger: { error() {} },
  }, {}).catch((e) => error = e);
  await tc2.advance(6000);
  await joining;
  assert.ok(isClusterJoinError(error), String(error));
});

test("Cluster.join() refuses a node started without the cluster's extensions", async () => {
  await using tc = await TestCluster.start({ nodes: ["a"] });
  await assert.rejects(
    Cluster.join(tc.node("a"), {
      extensions: new ClusterExtensions(),
      discovery: seedsOf(() => []),
      clock: tc.clock,
    }),
    TypeError,
  );
  await assert.rejects(
    // deno-lint-ignore no-explicit-any -- a caller's mistake on purpose
    Cluster.join(tc.node("a"), { discovery: seedsOf(() => []) } as any),
    TypeError,
  );
});

test("membership drops malformed gossip and heartbeats and carries on", async () => {
  await using m = await Members.start({ nodes: THREE, seed: 24 });
  await m.joinAll(THREE);
  await m.until(() => upView(m, THREE), 20_000, "convergence");
  const channel = m.tc.node("a").extension(MEMBERSHIP_EXTENSION);
  const heartbeat = m.tc.node("a").extension("troupe.heartbeat");
  const samples = fc.sample(
    fc.oneof(
      fc.anything(),
      fc.record({
        t: fc.constantFrom("status", "gossip"),
        to: fc.constant("b"),
        from: fc.string(),
        digest: fc.string(),
        seen: fc.anything(),
        state: fc.anything(),
        reply: fc.boolean(),
      }),
      fc.record({
        t: fc.constant("gossip"),
        to: fc.constant("b"),
        from: fc.constant(
          m.cluster("a").self.node + "#" + m.cluster("a").self.incarnation,
        ),
        reply: fc.boolean(),
        state: fc.record({
          m: fc.array(fc.anything()),
          r: fc.anything(),
          s: fc.anything(),
        }),
      }),
    ),
    { seed: 24, numRuns: 200 },
  );
  for (const sample of samples) {
    try {
      channel.tell("b", sample);
      heartbeat.tell("b", sample);
    } catch {
      // Not encodable as JSON (for example a bigint): refused at the sender, fine.
    }
  }
  await m.tc.advance(5000);
  assert.ok(upView(m, THREE), "the cluster is intact");
});

const hanger = defineActor({
  name: "hanger",
  init: () => ({}),
  handlers: { hang: () => new Promise<never>(() => {}) },
});

test("a removed member's node is disconnected: asks in flight to it fail", async () => {
  await using m = await Members.start({ nodes: THREE, seed: 25 });
  await m.joinAll(THREE);
  await m.until(() => upView(m, THREE), 20_000, "convergence");
  await m.tc.system("c").spawn(hanger, undefined, { id: "hanger" });
  const ref = m.tc.node("a").ref<{ hang(): never }>("c", "hanger");
  const failed = ref.ask("hang", undefined, { timeoutMs: 600_000 }).then(
    () => undefined,
    (error) => error,
  );
  m.cluster("b").down("c");
  await m.until(() => upView(m, ["a", "b"]), 20_000, "c removed");
  const error = await failed;
  assert.ok(isNodeUnreachableError(error), String(error));
  assert.match(error.reason, /cluster member c#/);
  assert.equal(
    m.tc.node("a").peers().find((p) => p.node === "c")?.connected ?? false,
    false,
  );
  // c heard that it was downed before it was cut off.
  assert.ok(m.events.get("c")!.some((e) => e.type === "self-downed"));
});

test("Cluster.join() through StaticSeeds discovery", async () => {
  await using m = await Members.start({
    nodes: THREE,
    seed: 26,
    discovery: (addresses) => new StaticSeeds(addresses),
  });
  await m.joinAll(THREE);
  await m.until(() => upView(m, THREE), 20_000, "convergence");
});

test("lease-majority: when the majority crashes, the minority that takes the lease keeps running", async () => {
  const lease = new MemoryLease("sbr");
  const five = ["a", "b", "c", "d", "e"];
  try {
    await using m = await Members.start({
      nodes: five,
      seed: 27,
      downing: { strategy: leaseMajority(lease, { minorityDelayMs: 2000 }) },
    });
    await m.joinAll(five);
    await m.until(() => upView(m, five), 30_000, "convergence");
    for (const n of ["a", "b", "c"]) await m.kill(n);
    await m.until(() => upView(m, ["d", "e"]), 40_000, "d, e keep running");
    assert.equal(
      (await lease.holder())?.owner,
      m.cluster("d").self.node + "#" + m.cluster("d").self.incarnation,
    );
    for (const n of ["d", "e"]) {
      assert.ok(!m.events.get(n)!.some((e) => e.type === "self-downed"));
    }
  } finally {
    await lease.close();
  }
});

test("lease-majority: after a 3|2 partition only the side holding the lease runs", async () => {
  const lease = new MemoryLease("sbr");
  const five = ["a", "b", "c", "d", "e"];
  try {
    await using m = await Members.start({
      nodes: five,
      seed: 28,
      downing: { strategy: leaseMajority(lease) },
    });
    await m.joinAll(five);
    await m.until(() => upView(m, five), 30_000, "convergence");
    for (const x of ["a", "b", "c"]) {
      for (const y of ["d", "e"]) m.tc.partition(x, y);
    }
    await m.until(() => upView(m, ["a", "b", "c"]), 40_000, "the 3-side runs");
    await m.until(
      () =>
        ["d", "e"].every((n) =>
          m.events.get(n)!.some((e) => e.type === "self-downed")
        ),
      20_000,
      "the 2-side downs itself",
    );
  } finally {
    await lease.close();
  }
});
