import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import {
  type ActorDefinition,
  type ActorRef,
  ActorSystem,
  defineActor,
  type Handlers,
} from "../../actor/mod.ts";
import { ManualClock } from "../../timer/mod.ts";
import {
  type CoordinatorProtocol,
  type RegionSettings,
  ShardRegion,
} from "./region.ts";
import { entityActorId, entityIdOf, forSharding } from "./_entity.ts";
import { controlRegion } from "./_control.ts";
import { defaultShardOf } from "./shard_hash.ts";
import { isShardBufferFullError } from "./errors.ts";
import { ShardEvents } from "./_shard_events.ts";

const starts: string[] = [];
/** What each entity had handled when it last handled a message. */
const stopsSeen = new Map<string, number[]>();
const echo = defineActor({
  name: "echo",
  init: (id: string) => {
    starts.push(id);
    return { id, seen: [] as number[] };
  },
  handlers: {
    put: (state, n: number) => {
      state.seen.push(n);
      return state.seen.length;
    },
    slowPut: (state, n: number, ctx) =>
      new Promise<number>((resolve) =>
        ctx.system.clock.setTimer(() => {
          state.seen.push(n);
          stopsSeen.set(state.id, [...state.seen]);
          resolve(state.seen.length);
        }, 100)
      ),
    seen: (state) => [...state.seen],
    quit: (_state, _: undefined, ctx) => ctx.stop(),
  },
});

/** A region on one system whose coordinator answers `home` with `homeOf()`. */
async function withRegion(
  options: Partial<RegionSettings> & { home?: () => string | null | undefined },
  body: (
    region: ShardRegion,
    clock: ManualClock,
    system: ActorSystem,
  ) => Promise<void>,
): Promise<void> {
  starts.length = 0;
  const clock = new ManualClock();
  const system = new ActorSystem({ node: "n1", clock, logger: { error() {} } });
  const coordinator = {
    tell: () => {},
    ask: (type: string) => {
      if (type !== "home") return Promise.resolve(true);
      const home = (options.home ?? (() => "n1"))();
      return home === undefined ? new Promise(() => {}) : Promise.resolve(home);
    },
  } as unknown as ActorRef<CoordinatorProtocol>;
  const region = new ShardRegion({
    entityType: "echo",
    definition: forSharding(
      echo as unknown as ActorDefinition<unknown, unknown, Handlers<unknown>>,
      () => {},
    ),
    args: (id) => id,
    numberOfShards: 10,
    shardOf: defaultShardOf,
    bufferSize: 100,
    idleMs: undefined,
    maxActive: undefined,
    retryMs: 100,
    handOffTimeoutMs: 1000,
    registerIntervalMs: 1000,
    remembered: undefined,
    ...options,
  }, {
    self: "n1",
    system,
    reachable: () => true,
    coordinator: () => coordinator,
    send: () => {
      throw new Error("no other node");
    },
    ask: () => Promise.reject(new Error("no other node")),
    control: () => Promise.reject(new Error("no other node")),
    logError: () => {},
    events: new ShardEvents(undefined, "echo", "n1", () => false),
  });
  try {
    await body(region, clock, system);
  } finally {
    await region.close();
    await system.shutdown();
  }
}

async function turns(clock: ManualClock, ms = 0): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await clock.advance(ms / 5);
    await new Promise((r) => setTimeout(r, 0));
  }
}

test("ShardRegion.ask() buffered while the shard has no home rejects with AskTimeoutError at its timeout, not later", async () => {
  await withRegion(
    { home: () => null, bufferSize: 2 },
    async (region, clock) => {
      const started = clock.now();
      let failedAt = -1;
      const a = assert.rejects(
        region.ask("a", "put", 1, 300).catch((e) => {
          failedAt = clock.now();
          throw e;
        }),
        (e: Error) => e.name === "AskTimeoutError",
      );
      const b = assert.rejects(
        region.ask("a", "put", 2, 5000),
        (e: Error) => e.name === "AskTimeoutError",
      );
      await assert.rejects(
        region.ask("a", "put", 3, 5000),
        (e) => isShardBufferFullError(e),
      );
      region.tell("a", "put", 4); // dropped, counted
      await turns(clock, 500);
      await a;
      assert.equal(failedAt - started, 300);
      await turns(clock, 5000);
      await b;
      assert.deepEqual(starts, []);
    },
  );
});

test("ShardRegion delivers messages buffered while the home was resolved in order, skipping expired asks", async () => {
  let home: string | null = null;
  await withRegion({ home: () => home }, async (region, clock) => {
    region.tell("a", "put", 1);
    const late = assert.rejects(
      region.ask("a", "put", 2, 50),
      (e: Error) => e.name === "AskTimeoutError",
    );
    region.tell("a", "put", 3);
    await turns(clock, 100);
    await late;
    home = "n1";
    await turns(clock, 200);
    assert.deepEqual(await region.ask("a", "seen", undefined, 1000), [1, 3]);
    assert.deepEqual(region.stats().entities, 1);
  });
});

test("ShardRegion passivates an entity idle for idleMs and starts it again on the next message", async () => {
  await withRegion({ idleMs: 1000 }, async (region, clock) => {
    assert.equal(await region.ask("a", "put", 1, 1000), 1);
    await turns(clock, 500);
    assert.equal(region.stats().entities, 1);
    await turns(clock, 1500);
    assert.equal(region.stats().entities, 0);
    assert.equal(await region.ask("a", "put", 2, 1000), 1);
    assert.deepEqual(starts, ["a", "a"]);
  });
});

test("ShardRegion keeps at most maxActive entities, passivating the least recently used, without losing messages sent to it meanwhile", async () => {
  await withRegion({ maxActive: 2 }, async (region, clock) => {
    await region.ask("a", "put", 1, 1000);
    await region.ask("b", "put", 1, 1000);
    await region.ask("a", "put", 2, 1000);
    await region.ask("c", "put", 1, 1000); // b is the least recently used
    await turns(clock);
    assert.equal(region.stats().entities, 2);
    assert.deepEqual(await region.ask("a", "seen", undefined, 1000), [1, 2]);
    region.tell("c", "put", 2);
    assert.deepEqual(await region.ask("c", "seen", undefined, 1000), [1, 2]);
    assert.deepEqual(starts, ["a", "b", "c"]);
  });
});

test("ShardRegion forgets an entity that stopped itself (it does not stay active) and starts it again on the next message", async () => {
  await withRegion({}, async (region, clock) => {
    await region.ask("a", "put", 1, 1000);
    region.tell("a", "quit", undefined);
    await turns(clock);
    assert.equal(region.stats().entities, 0);
    region.tell("a", "put", 5);
    assert.deepEqual(await region.ask("a", "seen", undefined, 1000), [5]);
    assert.deepEqual(starts, ["a", "a"]);
  });
});

test("entityActorId() keeps id characters and encodes others reversibly into valid actor ids", () => {
  assert.equal(entityActorId("t", "order-42"), "t:order-42");
  assert.equal(entityActorId("t", "a b/ü"), "t:=YSBiL8O8");
  assert.notEqual(entityActorId("t", "=x"), "t:=x");
  assert.throws(() => entityActorId("t", "ü".repeat(200)), RangeError);
  for (const id of ["order-42", "a b/ü", "=x", "😀", "x".repeat(150)]) {
    assert.equal(entityIdOf("t", entityActorId("t", id)), id);
  }
  for (const path of ["u:a", "t:", "t:a/b", "t:=!!", "t:=YQ", "ta"]) {
    // ("t:=YQ" decodes to "a", whose actor id is "t:a": not an entity's actor id.)
    assert.equal(entityIdOf("t", path), undefined);
  }
});

test("ShardRegion hand-off: the owner stops the shard's entities only after they handled what they were sent, and later messages wait for the new home in order", async () => {
  let home: string | null = "n1";
  await withRegion({ home: () => home }, async (region, clock) => {
    const shard = region.shardOf("a");
    await region.ask("a", "put", 0, 1000);
    for (let n = 1; n <= 3; n++) region.tell("a", "slowPut", n);
    assert.equal(
      await controlRegion(region, { k: "begin", t: "echo", s: shard }),
      true,
    );
    let handedOff = false;
    const done =
      (controlRegion(region, { k: "handoff", t: "echo", s: shard }) as Promise<
        unknown
      >)
        .then(() => handedOff = true);
    region.tell("a", "put", 4); // after the hand-off began: waits for the new home
    await turns(clock, 150);
    assert.equal(handedOff, false, "waits for the queued messages");
    await turns(clock, 400);
    await done;
    assert.deepEqual(stopsSeen.get("a"), [0, 1, 2, 3]);
    assert.equal(region.stats().entities, 0);
    assert.deepEqual(region.stats().shards, []);
    home = null;
    controlRegion(region, { k: "released", t: "echo", s: shard });
    await turns(clock, 200);
    assert.equal(region.stats().entities, 0, "buffered while no home is known");
    home = "n1";
    await turns(clock, 200);
    assert.deepEqual(await region.ask("a", "seen", undefined, 1000), [4]);
  });
});

test("ShardRegion delivers what an entity that stopped itself had queued, and what came while it stopped, to its next incarnation, in order", async () => {
  await withRegion({}, async (region, clock) => {
    // Asks while the entity starts (from its pending queue), then the fast path.
    const first = region.ask("a", "put", 1, 1000);
    region.tell("a", "quit", undefined);
    const queuedAsk = region.ask("a", "put", 2, 1000);
    region.tell("a", "put", 3);
    assert.equal(await first, 1);
    assert.equal(await queuedAsk, 1, "answered by the next incarnation");
    assert.deepEqual(await region.ask("a", "seen", undefined, 1000), [2, 3]);
    region.tell("a", "quit", undefined);
    const fastAsk = region.ask("a", "put", 4, 1000);
    region.tell("a", "put", 5);
    await turns(clock); // it stops meanwhile
    region.tell("a", "put", 6);
    assert.equal(await fastAsk, 1);
    assert.deepEqual(await region.ask("a", "seen", undefined, 1000), [4, 5, 6]);
    assert.deepEqual(starts, ["a", "a", "a"]);
    assert.equal(region.stats().entities, 1);
  });
});

test("ShardRegion: an entity that stopped itself with nothing queued stays stopped until its next message", async () => {
  await withRegion({}, async (region, clock) => {
    assert.equal(await region.ask("a", "put", 1, 1000), 1);
    region.tell("a", "quit", undefined);
    await turns(clock);
    assert.equal(region.stats().entities, 0);
    assert.deepEqual(starts, ["a"]);
  });
});
