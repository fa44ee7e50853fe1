// Persistent actors end to end (deno bench -A bench/persistence_bench.ts): persist latency of one
// actor and throughput of 100 actors persisting at once, for the memory and Redis providers, and
// recovery from Redis. Baselines in the same run: for memory, the provider's append alone; for
// Redis, the raw node-redis client RPUSHing the same record bytes (pipelined for the 100-actor
// case), encoded per persist as the provider does, but with the event's JSON encoded once up
// front and no sequence check (the actor encodes its event and the provider checks the expected
// sequence number: the baseline is the stricter for it). The provider-level Redis numbers are in
// bench/persistence_redis_bench.ts; interleaved rounds on Deno and Node, with CPU per persist:
// bench/runtimes/persistence_runtimes.mjs.
import { createClient } from "redis";
import {
  ActorSystem,
  definePersistentActor,
  MemoryPersistence,
  type PersistenceProvider,
  usePersistence,
} from "../mod.ts";
import { RedisPersistence } from "../src/persistence/redis/mod.ts";
import { encodeRecord } from "../src/persistence/record_format.ts";
import { jsonCodec } from "../mod.ts";

const ACTORS = 100;
const PER_ACTOR = 20;
const REDIS_URL = Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
const PREFIX = `troupe-bench-${Date.now().toString(36)}:`;

const counter = definePersistentActor({
  name: "bench-counter",
  init: () => ({ n: 0 }),
  events: {
    added: (state, e: { by: number }) => {
      state.n += e.by;
    },
  },
}).handlers({
  add: (_s, by: number, ctx) => ctx.persist("added", { by }),
  get: (s) => s.n,
});

const payload = jsonCodec.encode("added", { by: 1 });
// A Buffer over the encoded bytes (no copy), as node-redis sends them.
const record = (seq: number) => {
  const bytes = encodeRecord({
    sequenceNr: seq,
    type: "added",
    version: 1,
    data: payload,
    timestamp: Date.now(),
  });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
};

let run = 0;
function systemWith(provider: PersistenceProvider): ActorSystem {
  const system = new ActorSystem({
    node: `bench-${++run}`,
    askTimeoutMs: 60_000,
  });
  usePersistence(system, provider);
  return system;
}

// ---- memory ----------------------------------------------------------------------------------
const memory = new MemoryPersistence();
const memorySystem = systemWith(memory);
const one = await memorySystem.spawn(counter, undefined, { id: "one" });
let memorySeq = 0;

Deno.bench({
  name: "baseline: MemoryPersistence.journal.append, 1 event",
  group: "persist_latency_memory",
  baseline: true,
  async fn() {
    await memory.journal.append("raw-memory", memorySeq, [
      { type: "added", version: 1, data: payload, timestamp: 0 },
    ]);
    memorySeq++;
  },
});
Deno.bench({
  name: "persistent actor: ask that persists 1 event (memory)",
  group: "persist_latency_memory",
  async fn() {
    await one.ask("add", 1);
  },
});

const memoryActors = await Promise.all(
  Array.from(
    { length: ACTORS },
    (_, i) => memorySystem.spawn(counter, undefined, { id: `m${i}` }),
  ),
);
Deno.bench({
  name: `baseline: ${ACTORS} ids × ${PER_ACTOR} appends on MemoryPersistence`,
  group: "persist_100_actors_memory",
  baseline: true,
  async fn() {
    const base = memorySeq;
    memorySeq += 1;
    await Promise.all(Array.from({ length: ACTORS }, async (_, i) => {
      const id = `raw-many-${base}-${i}`;
      for (let k = 0; k < PER_ACTOR; k++) {
        await memory.journal.append(id, k, [{
          type: "added",
          version: 1,
          data: payload,
          timestamp: 0,
        }]);
      }
    }));
  },
});
Deno.bench({
  name: `${ACTORS} persistent actors × ${PER_ACTOR} persists (memory)`,
  group: "persist_100_actors_memory",
  async fn() {
    await Promise.all(memoryActors.map(async (ref) => {
      for (let k = 0; k < PER_ACTOR; k++) await ref.ask("add", 1);
    }));
  },
});

// ---- Redis -----------------------------------------------------------------------------------
let redis: RedisPersistence | undefined;
try {
  redis = await RedisPersistence.connect({ url: REDIS_URL, keyPrefix: PREFIX });
} catch (error) {
  console.warn(
    `persistence_bench: no Redis at ${REDIS_URL} (${
      (error as Error).message
    }); Redis groups skipped`,
  );
}

if (redis !== undefined) {
  const raw = createClient({ url: REDIS_URL });
  await raw.connect();
  const redisSystem = systemWith(redis);
  const single = await redisSystem.spawn(counter, undefined, { id: "single" });
  const actors = await Promise.all(
    Array.from(
      { length: ACTORS },
      (_, i) => redisSystem.spawn(counter, undefined, { id: `r${i}` }),
    ),
  );
  let rawSeq = 0;

  Deno.bench({
    name: "baseline: raw node-redis RPUSH of 1 record",
    group: "persist_latency_redis",
    baseline: true,
    async fn() {
      await raw.sendCommand(["RPUSH", `${PREFIX}raw-one`, record(++rawSeq)]);
    },
  });
  Deno.bench({
    name: "persistent actor: ask that persists 1 event (Redis)",
    group: "persist_latency_redis",
    async fn() {
      await single.ask("add", 1);
    },
  });

  Deno.bench({
    name:
      `baseline: raw node-redis, ${ACTORS} keys × ${PER_ACTOR} RPUSH (pipelined)`,
    group: "persist_100_actors_redis",
    baseline: true,
    async fn() {
      await Promise.all(Array.from({ length: ACTORS }, async (_, i) => {
        for (let k = 0; k < PER_ACTOR; k++) {
          await raw.sendCommand([
            "RPUSH",
            `${PREFIX}raw-many-${i}`,
            record(k + 1),
          ]);
        }
      }));
    },
  });
  Deno.bench({
    name: `${ACTORS} persistent actors × ${PER_ACTOR} persists (Redis)`,
    group: "persist_100_actors_redis",
    async fn() {
      await Promise.all(actors.map(async (ref) => {
        for (let k = 0; k < PER_ACTOR; k++) await ref.ask("add", 1);
      }));
    },
  });

  // Recovery: 100k events; and a snapshot plus 1k events.
  const big = "recover-100k";
  const bigRedis = redis;
  for (let b = 0; b < 100; b++) {
    await bigRedis.journal.append(
      big,
      b * 1000,
      Array.from(
        { length: 1000 },
        () => ({ type: "added", version: 1, data: payload, timestamp: 0 }),
      ),
    );
  }
  await bigRedis.snapshots.save({
    persistenceId: "recover-snap",
    sequenceNr: 50_000,
    type: "$snapshot",
    version: 1,
    data: jsonCodec.encode("$snapshot", { n: 50_000 }),
    timestamp: 0,
  });
  // Events after the snapshot: append 50k "earlier" ones first so sequence numbers line up.
  for (let b = 0; b < 51; b++) {
    await bigRedis.journal.append(
      "recover-snap",
      b * 1000,
      Array.from(
        { length: 1000 },
        () => ({ type: "added", version: 1, data: payload, timestamp: 0 }),
      ),
    );
  }
  await bigRedis.journal.deleteTo("recover-snap", 50_000);
  const bigDefinition = definePersistentActor({
    name: "bench-recover",
    persistenceId: (id: string) => id,
    init: () => ({ n: 0 }),
    events: {
      added: (state, e: { by: number }) => {
        state.n += e.by;
      },
    },
  }).handlers({ get: (s) => s.n });

  Deno.bench({
    name: "baseline: raw LRANGE of the 100k records",
    group: "recovery_redis",
    baseline: true,
    n: 5,
    warmup: 1,
    async fn() {
      const prefix = `${PREFIX}{${big}}:events`;
      await raw.lRange(prefix, 0, -1);
    },
  });
  Deno.bench({
    name: "recover a persistent actor from 100k events (Redis)",
    group: "recovery_redis",
    n: 5,
    warmup: 1,
    async fn() {
      const ref = await redisSystem.spawn(bigDefinition, big);
      if (await ref.ask("get") !== 100_000) throw new Error("wrong state");
      await ref.stop();
    },
  });
  Deno.bench({
    name: "recover from a snapshot + 1k events (Redis)",
    group: "recovery_redis",
    n: 5,
    warmup: 1,
    async fn() {
      const ref = await redisSystem.spawn(bigDefinition, "recover-snap");
      if (await ref.ask("get") !== 51_000) throw new Error("wrong state");
      await ref.stop();
    },
  });

  globalThis.addEventListener("unload", () => {
    // Best effort: remove this run's keys from the shared Redis.
    void (async () => {
      for await (
        const keys of raw.scanIterator({ MATCH: `${PREFIX}*`, COUNT: 1000 })
      ) {
        if (keys.length > 0) await raw.del(keys);
      }
    })();
  });
}
