import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { ActorSystem } from "../../actor/mod.ts";
import { usePersistence } from "../../persistence/mod.ts";
import {
  incarnations,
  logEntity,
  type LogProtocol,
  ShardingKit,
} from "./_sharding_kit_test.ts";

test("EntityType.ref() starts the entity on first message where its shard lives, and keeps per-sender order", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"]);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const sent: Promise<number>[] = [];
  for (let i = 0; i < 20; i++) {
    for (const from of ["n1", "n2", "n3"]) {
      const ref = kit.log(from, `e${i % 5}`);
      if (i % 2 === 0) ref.tell("add", `${from}:${i}`);
      else sent.push(ref.ask("add", `${from}:${i}`));
    }
  }
  await kit.settle(Promise.all(sent));
  for (let e = 0; e < 5; e++) {
    const records = await kit.settle(kit.log("n2", `e${e}`).ask("records"));
    for (const from of ["n1", "n2", "n3"]) {
      const mine = records.filter((r) => r.startsWith(`${from}:`)).map((r) =>
        Number(r.split(":")[1])
      );
      assert.deepEqual(
        mine,
        [...mine].sort((a, b) => a - b),
        `order of ${from} at e${e}`,
      );
      assert.deepEqual(mine.length, 4);
    }
  }
  const shards = [...kit.shardCounts().values()];
  assert(shards.reduce((a, b) => a + b, 0) > 0);
  assert.equal(incarnations.maxSeen, 1);
  // A ref travels as its string form and works on another node.
  const text = JSON.stringify({ ref: kit.log("n1", "e 1/ü") });
  const revived = kit.member("n3").sharding.ref<LogProtocol>(
    (JSON.parse(text) as { ref: string }).ref,
  );
  assert.equal(revived.id, "e 1/ü");
  assert.equal(await kit.settle(revived.ask("add", "x")), 1);
  assert.deepEqual(
    await kit.settle(kit.log("n2", "e 1/ü").ask("records")),
    ["x"],
  );
  assert.throws(
    () => kit.member("n3").sharding.ref("troupe://n1/x"),
    TypeError,
  );
});

test("Sharding: after the oldest node (coordinator and shards) is killed, its shards are reallocated and persistent entities recover every acknowledged event", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"]);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ids = Array.from({ length: 12 }, (_, i) => `acct-${i}`);
  for (const id of ids) {
    for (let k = 0; k < 3; k++) {
      await kit.settle(kit.log("n3", id).ask("add", `${id}/${k}`));
    }
  }
  const before = kit.shardCounts();
  assert((before.get("n1") ?? 0) > 0, "n1 held shards");
  await kit.kill("n1");
  for (const id of ids) {
    const n = await kit.addUntilAnswered("n3", id, `${id}/after`);
    const records = await kit.settle(kit.log("n2", id).ask("records"));
    assert.deepEqual(records.slice(0, 3), [0, 1, 2].map((k) => `${id}/${k}`));
    assert(n >= 4, `${id} recovered its three events`);
  }
  const counts = [...kit.shardCounts().values()];
  assert.equal(counts.length, 2);
  assert.equal(incarnations.maxSeen, 1);
});

test("Sharding: a joining node gets shards by rebalancing and messages sent meanwhile arrive in order", async () => {
  await using kit = await ShardingKit.start(["n1", "n2"], {
    maxSimultaneousMoves: 2,
  });
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ids = Array.from({ length: 24 }, (_, i) => `u${i}`);
  await kit.settle(
    Promise.all(ids.map((id) => kit.log("n1", id).ask("add", "0"))),
  );
  await kit.add("n3");
  let seq = 1;
  const acks: Promise<number>[] = [];
  await kit.until(
    () => {
      for (const id of ids) {
        acks.push(kit.log("n2", id).ask("add", String(seq)));
      }
      seq++;
      const counts = [...kit.shardCounts().values()];
      const total = counts.reduce((a, b) => a + b, 0);
      return counts.length === 3 &&
        Math.max(...counts) - Math.min(...counts) <= 1 &&
        total === 12;
    },
    60_000,
    "balance",
  );
  await kit.settle(Promise.all(acks));
  assert((kit.shardCounts().get("n3") ?? 0) >= 3);
  for (const id of ids) {
    const records = await kit.settle(kit.log("n3", id).ask("records"));
    assert.deepEqual(records, Array.from({ length: seq }, (_, i) => String(i)));
  }
  assert.equal(incarnations.maxSeen, 1);
});

test("Sharding: a member cut off by a partition is downed and stops its entities; the majority takes its shards and every entity answers there", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"]);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ids = Array.from({ length: 12 }, (_, i) => `p${i}`);
  for (const id of ids) {
    await kit.settle(kit.log("n1", id).ask("add", "before"));
  }
  let homes: Record<string, { shards: number }> = {};
  await kit.until(
    () => {
      void kit.member("n1").logs.clusterStats().then((s) => homes = s);
      return (homes.n3?.shards ?? 0) >= 3;
    },
    20_000,
    "n3 to get shards",
  );
  for (const id of ids) await kit.settle(kit.log("n1", id).ask("add", "again"));
  assert(kit.member("n3").logs.localStats().entities > 0, "n3 runs entities");
  kit.tc.partition("n3", "n1");
  kit.tc.partition("n3", "n2");
  await kit.until(
    () => kit.member("n3").logs.localStats().entities === 0,
    60_000,
    "n3 to stop its entities",
  );
  // n3 is unreachable by now: messages for its shards wait for their new home.
  const counts = await kit.settle(
    Promise.all(
      ids.map((id) =>
        kit.log("n1", id).ask("add", "after", { timeoutMs: 30_000 })
      ),
    ),
  );
  assert.deepEqual(counts, ids.map(() => 3), "every entity kept its events");
  assert.equal(incarnations.maxSeen, 1);
  kit.tc.heal();
});

test("Sharding: a second live incarnation's journal write makes the entity's next write fail its expected-sequence check, counted in troupe_sharding_journal_conflicts_total", async () => {
  await using kit = await ShardingKit.start(["n1"]);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ref = kit.log("n1", "z1");
  assert.equal(await kit.settle(ref.ask("add", "a")), 1);
  // A zombie: the same persistence id, written from another system (as a partitioned node would).
  const zombieSystem = new ActorSystem({
    node: "zombie",
    clock: kit.tc.clock,
    logger: { error() {} },
  });
  try {
    usePersistence(zombieSystem, kit.persistence);
    const zombie = await kit.settle(
      zombieSystem.spawn(logEntity, "z1", { id: "log:z1" }),
    );
    assert.equal(await kit.settle(zombie.ask("add", "z")), 2);
    await zombie.stop();
  } finally {
    await zombieSystem.shutdown();
  }
  await assert.rejects(kit.settle(ref.ask("add", "b")));
  const text = kit.tc.system("n1").prometheusText();
  assert.match(
    text,
    /troupe_sharding_journal_conflicts_total\{node="n1",type="log"\} 1\b/,
  );
  // The entity recovers from the journal and goes on after the zombie's event.
  const n = await kit.addUntilAnswered("n1", "z1", "c");
  const records = await kit.settle(ref.ask("records"));
  assert.deepEqual(records.slice(0, 2), ["a", "z"]);
  assert.equal(records.at(-1), "c");
  assert.equal(n, records.length);
});

test("Sharding with rememberEntities: after a crash the shards' new owners start the remembered entities without a message; a passivated entity stays stopped", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"], {
    rememberEntities: true,
  });
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
  for (const id of ids) await kit.settle(kit.log("n1", id).ask("add", "x"));
  await kit.log("n1", "r0").stop();
  await kit.tc.advance(500);
  const live = (id: string) => incarnations.live.get(`log:${id}`) ?? 0;
  assert.equal(live("r0"), 0);
  const onN2 = ids.filter((id) =>
    kit.member("n2").logs.localStats().shards.includes(
      kit.member("n2").logs.shardOf(id),
    ) && id !== "r0"
  );
  assert(onN2.length > 0, "n2 runs some of them");
  await kit.kill("n2");
  await kit.until(
    () => ids.slice(1).every((id) => live(id) === 1),
    60_000,
    "every remembered entity to run again",
  );
  assert.equal(live("r0"), 0, "the passivated entity was forgotten");
  assert.equal(incarnations.maxSeen, 1);
});

test("Sharding.close() hands the node's shards off first: other nodes own them at once (no wait for the member's removal) and nothing acknowledged is lost", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"]);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ids = Array.from({ length: 12 }, (_, i) => `c${i}`);
  for (const id of ids) await kit.settle(kit.log("n1", id).ask("add", "1"));
  assert(kit.member("n2").logs.localStats().shards.length > 0);
  const closed = kit.member("n2").sharding.close();
  const start = kit.tc.clock.now();
  await kit.settle(closed);
  assert(
    kit.tc.clock.now() - start < 5000,
    "closed within the hand-off timeout",
  );
  let homes: Record<string, { shards: number }> = {};
  await kit.until(
    () => {
      void kit.member("n1").logs.clusterStats({ timeoutMs: 500 }).then((s) =>
        homes = s
      );
      return homes.n1 !== undefined && (homes.n2?.shards ?? 0) === 0;
    },
    5000,
    "n2 to hold no shard",
  );
  // n2 is still an up member: its shards answer elsewhere at once.
  for (const id of ids) {
    assert.equal(
      await kit.settle(kit.log("n3", id).ask("add", "2"), 3000),
      2,
      id,
    );
  }
  assert.equal(incarnations.maxSeen, 1);
});

test("Sharding: a node restarted under its old name (a new incarnation) hosts shards again and its entities answer from every node", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"]);
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ids = Array.from({ length: 12 }, (_, i) => `r${i}`);
  for (const id of ids) await kit.settle(kit.log("n1", id).ask("add", "0"));
  // What n1 sees of n3's incarnations, in order.
  const seen: string[] = [];
  const listening = new AbortController();
  const following = (async () => {
    for await (
      const event of kit.member("n1").cluster.events(listening.signal)
    ) {
      if ("member" in event && event.member.node === "n3") {
        seen.push(`${event.type} ${event.member.incarnation}`);
      }
    }
  })();
  const old = kit.member("n1").cluster.members().find((m) => m.node === "n3")!
    .incarnation;
  await kit.kill("n3");
  await kit.add("n3");
  const fresh = kit.member("n3").cluster.self.incarnation;
  await kit.until(
    () =>
      seen.includes(`removed ${old}`) && seen.includes(`up ${fresh}`) &&
      kit.converged(),
    30_000,
    "the old n3 removed and the new one up",
  );
  listening.abort();
  await following;
  for (const from of ["n1", "n2"]) {
    for (const id of ids) {
      await kit.settle(
        kit.log(from, id).ask("add", from, { timeoutMs: 5000 }),
        10_000,
      );
    }
  }
  for (const id of ids) {
    const records = await kit.settle(kit.log("n3", id).ask("records"));
    assert.deepEqual(records, ["0", "n1", "n2"]);
  }
  // The new n3 gets shards again (those of its name, or by rebalancing) and runs entities.
  let round = 0;
  await kit.until(
    () => {
      round++;
      if (round % 5 === 0) {
        for (const id of ids) kit.log("n1", id).tell("add", `tick${round}`);
      }
      return kit.member("n3").logs.localStats().entities > 0;
    },
    60_000,
    "n3 to run entities again",
  );
});

test("Sharding with rememberEntities: after a node is restarted under its old name, every remembered entity runs again without a message", async () => {
  await using kit = await ShardingKit.start(["n1", "n2", "n3"], {
    rememberEntities: true,
  });
  await kit.until(() => kit.converged(), 30_000, "convergence");
  const ids = Array.from({ length: 12 }, (_, i) => `q${i}`);
  for (const id of ids) await kit.settle(kit.log("n1", id).ask("add", "x"));
  const live = (id: string) => incarnations.live.get(`log:${id}`) ?? 0;
  await kit.kill("n3");
  await kit.add("n3");
  await kit.until(
    () => ids.every((id) => live(id) === 1),
    60_000,
    "every remembered entity to run again",
  );
  assert.equal(incarnations.maxSeen, 1);
});
