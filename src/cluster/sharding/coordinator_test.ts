import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { ActorSystem, jsonCodec } from "../../actor/mod.ts";
import {
  isRecoveryError,
  MemoryPersistence,
  usePersistence,
} from "../../persistence/mod.ts";
import { leastShardsStrategy } from "./allocation.ts";
import {
  COORDINATOR_SNAPSHOT_EVERY,
  type CoordinatorArgs,
  coordinatorPersistenceId,
  shardCoordinator,
} from "./coordinator.ts";
import { ShardEvents } from "./_shard_events.ts";

const PID = coordinatorPersistenceId("t");

/** A coordinator's arguments with a fixed membership (`live` nodes, `hostable` among them). */
function argsFor(live: string[], hostable = live): CoordinatorArgs {
  return {
    entityType: "t",
    strategy: leastShardsStrategy(),
    members: () => ({
      live: new Set(live),
      hostable,
      leaving: new Set(),
    }),
    regions: {
      beginHandOff: () => Promise.resolve(),
      handOff: () => Promise.resolve(),
      released: () => {},
      host: () => {},
    },
    rebalanceIntervalMs: 3_600_000,
    maxSimultaneous: 3,
    rememberEntities: false,
    events: new ShardEvents(undefined, "t", "n1", () => false),
  };
}

async function start(
  persistence: MemoryPersistence,
  args: CoordinatorArgs,
) {
  const system = new ActorSystem({ node: "n1", logger: { error() {} } });
  usePersistence(system, persistence);
  const ref = await system.spawn(shardCoordinator(args), args, {
    id: "coordinator",
  });
  for (const node of args.members().hostable) {
    await ref.ask("register", { node, incarnation: `${node}-1` });
  }
  return { system, ref };
}

test("shardCoordinator snapshots its homes every COORDINATOR_SNAPSHOT_EVERY events, and a new coordinator recovers from the snapshot without the events before it", async () => {
  await using persistence = new MemoryPersistence();
  const shards = 2 * COORDINATOR_SNAPSHOT_EVERY + 50;
  const first = await start(persistence, argsFor(["n1", "n2", "n3"]));
  let homes: Record<string, number[]>;
  try {
    for (let shard = 0; shard < shards; shard++) {
      assert.notEqual(await first.ref.ask("home", shard), null);
    }
    homes = await first.ref.ask("homes");
  } finally {
    await first.system.shutdown();
  }
  const snapshot = await persistence.snapshots.loadLatest(PID);
  assert.equal(snapshot?.sequenceNr, 2 * COORDINATOR_SNAPSHOT_EVERY);
  // The journal keeps the events after the older of the two kept snapshots, no more.
  const kept = await persistence.journal.read(PID, 1);
  assert.equal(kept[0].sequenceNr, COORDINATOR_SNAPSHOT_EVERY + 1);
  assert.equal(kept.length, shards - COORDINATOR_SNAPSHOT_EVERY);
  assert.equal(await persistence.journal.lastSequenceNr(PID), shards);
  // Recovery must not need the events the snapshot covers: drop them.
  await persistence.journal.deleteTo(PID, snapshot!.sequenceNr);
  const second = await start(persistence, argsFor(["n1", "n2", "n3"]));
  try {
    const recovered = await second.ref.ask("homes");
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(recovered).map(([n, s]) => [n, s.sort((a, b) => a - b)]),
      ),
      Object.fromEntries(
        Object.entries(homes).map(([n, s]) => [n, s.sort((a, b) => a - b)]),
      ),
    );
    assert.equal(
      Object.values(recovered).reduce((sum, s) => sum + s.length, 0),
      shards,
    );
    // It keeps working after recovery: a shard's home stays where it was.
    assert.equal(
      await second.ref.ask("home", 7),
      recovered.n1.includes(7) ? "n1" : recovered.n2.includes(7) ? "n2" : "n3",
    );
  } finally {
    await second.system.shutdown();
  }
});

test("shardCoordinator refuses to recover from a malformed snapshot", async () => {
  await using persistence = new MemoryPersistence();
  await persistence.snapshots.save({
    persistenceId: PID,
    sequenceNr: 1,
    type: "$snapshot",
    version: 1,
    data: jsonCodec.encode("$snapshot", { homes: { n1: [0, -1] } }),
    timestamp: 0,
  });
  const system = new ActorSystem({ node: "n1", logger: { error() {} } });
  usePersistence(system, persistence);
  try {
    const args = argsFor(["n1"]);
    await assert.rejects(
      system.spawn(shardCoordinator(args), args, { id: "coordinator" }),
      (error: unknown) =>
        isRecoveryError(error) ||
        isRecoveryError((error as { cause?: unknown })?.cause),
    );
  } finally {
    await system.shutdown();
  }
});

test("shardCoordinator moves every shard of a lost node in one write on the first question about one of them", async () => {
  await using persistence = new MemoryPersistence();
  const before = await start(persistence, argsFor(["n1", "n2"]));
  let lost: number[];
  try {
    for (let shard = 0; shard < 10; shard++) {
      await before.ref.ask("home", shard);
    }
    lost = (await before.ref.ask("homes")).n2;
    assert.equal(lost.length, 5);
  } finally {
    await before.system.shutdown();
  }
  const seq = await persistence.journal.lastSequenceNr(PID);
  // n2 is gone; only n1 may host.
  const after = await start(persistence, argsFor(["n1"]));
  try {
    assert.equal(await after.ref.ask("home", lost[0]), "n1");
    const events = await persistence.journal.read(PID, seq + 1);
    assert.deepEqual(
      events.map((e) => jsonCodec.decode(e.type, e.data)),
      lost.map((shard) => ({ shard, node: "n1" })),
    );
    assert.deepEqual((await after.ref.ask("homes")).n2, undefined);
    for (const shard of lost.slice(1)) {
      assert.equal(await after.ref.ask("home", shard), "n1");
    }
    assert.equal(
      await persistence.journal.lastSequenceNr(PID),
      seq + lost.length,
    );
  } finally {
    await after.system.shutdown();
  }
});
