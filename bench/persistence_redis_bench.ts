// Redis provider benchmarks against the raw node-redis client doing the least the same job
// needs (RPUSH of the same records, each encoded as it is sent; LRANGE of the same list), in
// the same run.
// Throughputs: divide the batch size in the name by the reported time per iteration.
//
//   deno bench -A bench/persistence_redis_bench.ts          (REDIS_URL, default 127.0.0.1:6379)
//
// The RPUSH baseline checks nothing. The provider must also refuse an append whose expected
// last sequence number is stale (two incarnations of an actor must not both write), so each
// append is a HINCRBY and an RPUSH in a Lua script: "raw checked" is the least a raw client
// needs for that (one EVALSHA per append), to show what the check costs. Interleaved rounds,
// Node beside Deno, CPU per append on both sides: bench/runtimes/persistence_runtimes.mjs.
//
// Targets: 100-writer append throughput ≥ the raw RPUSH baseline; reading 100k events < 1 s,
// and a recovery (latest snapshot, then the 1k events after it) in well under that.
// Skips with a message when Redis does not answer. Every iteration writes under a random
// prefix and deletes what it wrote after its timed part (keys also expire after 10 minutes,
// should a run be cut short).
import { createClient, RESP_TYPES } from "redis";
import type { NewEvent } from "../src/persistence/journal.ts";
import { encodeRecord } from "../src/persistence/record_format.ts";
import { RedisPersistence } from "../src/persistence/redis/mod.ts";

const URL = Deno.env.get("REDIS_URL") || "redis://127.0.0.1:6379";
const PREFIX = `troupe-bench:${crypto.randomUUID()}:`;
const WRITERS = 100;
const PER_WRITER = 200;
const SEQUENTIAL = 500;
const READ_EVENTS = 100_000;
const RECOVERY_EVENTS = 2_000;
const RECOVERY_SNAPSHOT_AT = 1_000;
const SNAPSHOT_STATE = new Uint8Array(10_000).fill(7);
const DATA = new Uint8Array(100).fill(42);
const TTL_SECONDS = 600;

function event(): NewEvent {
  return { type: "bench.event", version: 1, data: DATA, timestamp: Date.now() };
}
/** The record of `event` (default: a new one) at `sequenceNr`, as node-redis sends it. */
function record(sequenceNr: number, from: NewEvent = event()): Buffer {
  const bytes = encodeRecord({ sequenceNr, ...from });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
/** The keys of a persistence id (the layout documented in src/persistence/redis/mod.ts). */
function keysOf(id: string): [events: string, meta: string] {
  return [`${PREFIX}{${id}}:events`, `${PREFIX}{${id}}:meta`];
}

let provider: RedisPersistence | undefined;
try {
  provider = await RedisPersistence.connect({
    url: URL,
    keyPrefix: PREFIX,
    connectTimeoutMs: 2000,
  });
} catch (error) {
  console.warn(
    `persistence_redis_bench: skipped, Redis at ${URL} does not answer (${error})`,
  );
}

if (provider !== undefined) {
  const journal = provider.journal;
  const raw = createClient({
    url: URL,
    disableOfflineQueue: true,
    commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
  });
  raw.on("error", () => {});
  await raw.connect();

  // --- 100 concurrent writers -------------------------------------------------------------
  // The raw client is given the same events as the provider and encodes each record as it sends
  // it (a Buffer per record, which node-redis needs per argument): the least an append of these
  // events takes. "Encoded beforehand" sends records encoded before the timed part: no encoding
  // and no check, a lower bound that no append of events reaches.
  const writerRecords = Array.from(
    { length: WRITERS },
    (_, w) =>
      Array.from(
        { length: PER_WRITER },
        (_, i) => record(w * PER_WRITER + i + 1),
      ),
  );
  // The one event every writer appends, here and in the provider's bench below.
  const batch = [event()];
  let rawRound = 0;
  Deno.bench({
    name:
      `baseline: raw node-redis RPUSH, ${WRITERS} writers x ${PER_WRITER} (pipelined), each record encoded as sent`,
    group: "append_100_writers",
    baseline: true,
    n: 15,
    warmup: 5,
    async fn(b) {
      const keys = writerRecords.map((_, w) => `${PREFIX}raw:${rawRound}:${w}`);
      rawRound++;
      b.start();
      await Promise.all(keys.map(async (key, w) => {
        for (let i = 0; i < PER_WRITER; i++) {
          await raw.sendCommand([
            "RPUSH",
            key,
            record(w * PER_WRITER + i + 1, batch[0]),
          ]);
        }
      }));
      b.end();
      await raw.del(keys);
    },
  });
  let preRound = 0;
  Deno.bench({
    name:
      `raw node-redis RPUSH, ${WRITERS} writers x ${PER_WRITER} (pipelined), records encoded beforehand`,
    group: "append_100_writers",
    n: 15,
    warmup: 5,
    async fn(b) {
      const keys = writerRecords.map((_, w) => `${PREFIX}pre:${preRound}:${w}`);
      preRound++;
      b.start();
      await Promise.all(writerRecords.map(async (records, w) => {
        for (const payload of records) {
          await raw.sendCommand(["RPUSH", keys[w], payload]);
        }
      }));
      b.end();
      await raw.del(keys);
    },
  });

  // The same check as the provider's (HINCRBY of `last`, taken back on a conflict), one
  // EVALSHA per append: what a raw client needs for the same guarantee.
  const checkedSha = await raw.scriptLoad(`
local last = redis.call('HINCRBY', KEYS[2], 'last', 1)
if last - 1 ~= tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], 'last', -1)
  return last - 1
end
if redis.call('RPUSH', KEYS[1], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[2], 'first', ARGV[1] + 1)
end
return 0`);
  let checkedRound = 0;
  Deno.bench({
    name:
      `raw checked: node-redis EVALSHA (HINCRBY + RPUSH), ${WRITERS} writers x ${PER_WRITER}, each record encoded as sent`,
    group: "append_100_writers",
    n: 15,
    warmup: 5,
    async fn(b) {
      const ids = writerRecords.map((_, w) => `checked-${checkedRound}-${w}`);
      checkedRound++;
      b.start();
      await Promise.all(ids.map(async (id, w) => {
        const [events, meta] = keysOf(id);
        for (let i = 0; i < PER_WRITER; i++) {
          const reply = await raw.sendCommand<unknown>([
            "EVALSHA",
            checkedSha,
            "2",
            events,
            meta,
            String(i),
            record(w * PER_WRITER + i + 1, batch[0]),
          ]);
          if (reply !== 0) throw new Error(`conflict at ${reply}`);
        }
      }));
      b.end();
      await raw.del(ids.flatMap(keysOf));
    },
  });

  let providerRound = 0;
  Deno.bench({
    name: `RedisPersistence append, ${WRITERS} persistence ids x ${PER_WRITER}`,
    group: "append_100_writers",
    n: 15,
    warmup: 5,
    async fn(b) {
      const ids = writerRecords.map((_, w) => `writers-${providerRound}-${w}`);
      providerRound++;
      b.start();
      await Promise.all(ids.map(async (id) => {
        for (let i = 0; i < PER_WRITER; i++) await journal.append(id, i, batch);
      }));
      b.end();
      await raw.del(ids.flatMap(keysOf));
    },
  });

  // --- one writer, sequential --------------------------------------------------------------
  Deno.bench({
    name:
      `baseline: raw node-redis RPUSH, ${SEQUENTIAL} sequential, each record encoded as sent`,
    group: "append_sequential",
    baseline: true,
    n: 10,
    warmup: 2,
    async fn(b) {
      const key = `${PREFIX}raw-sequential`;
      b.start();
      for (let i = 0; i < SEQUENTIAL; i++) {
        await raw.sendCommand(["RPUSH", key, record(i + 1, batch[0])]);
      }
      b.end();
      await raw.del(key);
    },
  });
  let sequentialRound = 0;
  Deno.bench({
    name: `RedisPersistence append, ${SEQUENTIAL} sequential on one id`,
    group: "append_sequential",
    n: 10,
    warmup: 2,
    async fn(b) {
      const id = `sequential-${sequentialRound++}`;
      b.start();
      for (let i = 0; i < SEQUENTIAL; i++) await journal.append(id, i, batch);
      b.end();
      await raw.del(keysOf(id));
    },
  });

  // --- recovery read of 100k events --------------------------------------------------------
  // The journal is written raw (pre-encoded records, as the provider lays them out) before
  // each iteration, and deleted after it.
  const readRecords = Array.from(
    { length: READ_EVENTS },
    (_, i) => record(i + 1),
  );
  const [readKey, readMeta] = keysOf("recovery");
  const populate = async (): Promise<void> => {
    for (let i = 0; i < READ_EVENTS; i += 10_000) {
      await raw.sendCommand([
        "RPUSH",
        readKey,
        ...readRecords.slice(i, i + 10_000),
      ]);
    }
    await raw.sendCommand([
      "HSET",
      readMeta,
      "first",
      "1",
      "last",
      String(READ_EVENTS),
    ]);
    await raw.expire(readKey, TTL_SECONDS);
    await raw.expire(readMeta, TTL_SECONDS);
  };
  Deno.bench({
    name: `baseline: raw node-redis LRANGE of ${READ_EVENTS / 1000}k records`,
    group: "read_100k",
    baseline: true,
    n: 10,
    warmup: 2,
    async fn(b) {
      await populate();
      b.start();
      const records = await raw.sendCommand<Buffer[]>([
        "LRANGE",
        readKey,
        "0",
        "-1",
      ]);
      b.end();
      await raw.del([readKey, readMeta]);
      if (records.length !== READ_EVENTS) {
        throw new Error(`read ${records.length}`);
      }
    },
  });
  Deno.bench({
    name: `RedisPersistence read of ${READ_EVENTS / 1000}k events (decoded)`,
    group: "read_100k",
    n: 10,
    warmup: 2,
    async fn(b) {
      await populate();
      b.start();
      const events = await journal.read("recovery", 1);
      b.end();
      await raw.del([readKey, readMeta]);
      if (events.length !== READ_EVENTS) {
        throw new Error(`read ${events.length}`);
      }
    },
  });

  // --- recovery: the latest snapshot, then the 1k events after it ---------------------------
  // Written raw before each iteration (2k events, a snapshot at 1k) and deleted after it.
  const recoveryRecords = readRecords.slice(0, RECOVERY_EVENTS);
  const [recoveryKey, recoveryMeta] = keysOf("recovering");
  const recoverySnapshots = `${PREFIX}{recovering}:snapshots`;
  const snapshotRecord = encodeRecord({
    sequenceNr: RECOVERY_SNAPSHOT_AT,
    type: "bench.state",
    version: 1,
    data: SNAPSHOT_STATE,
    timestamp: Date.now(),
  });
  const populateRecovery = async (): Promise<void> => {
    await raw.sendCommand(["RPUSH", recoveryKey, ...recoveryRecords]);
    await raw.sendCommand([
      "HSET",
      recoveryMeta,
      "first",
      "1",
      "last",
      String(RECOVERY_EVENTS),
    ]);
    await raw.sendCommand([
      "ZADD",
      recoverySnapshots,
      String(RECOVERY_SNAPSHOT_AT),
      Buffer.from(
        snapshotRecord.buffer,
        snapshotRecord.byteOffset,
        snapshotRecord.byteLength,
      ),
    ]);
    for (const key of [recoveryKey, recoveryMeta, recoverySnapshots]) {
      await raw.expire(key, TTL_SECONDS);
    }
  };
  const recoveryKeys = [recoveryKey, recoveryMeta, recoverySnapshots];
  const recovered = RECOVERY_EVENTS - RECOVERY_SNAPSHOT_AT;
  Deno.bench({
    name: `baseline: raw node-redis ZRANGE + LRANGE of a snapshot and ${
      recovered / 1000
    }k records`,
    group: "recover_snapshot_1k",
    baseline: true,
    n: 50,
    warmup: 5,
    async fn(b) {
      await populateRecovery();
      b.start();
      const [snapshot] = await raw.sendCommand<Buffer[]>([
        "ZRANGE",
        recoverySnapshots,
        "+inf",
        "-inf",
        "BYSCORE",
        "REV",
        "LIMIT",
        "0",
        "1",
      ]);
      const records = await raw.sendCommand<Buffer[]>([
        "LRANGE",
        recoveryKey,
        String(RECOVERY_SNAPSHOT_AT),
        "-1",
      ]);
      b.end();
      await raw.del(recoveryKeys);
      if (snapshot === undefined || records.length !== recovered) {
        throw new Error(`read ${records.length}`);
      }
    },
  });
  Deno.bench({
    name: `RedisPersistence recovery: latest snapshot, then ${
      recovered / 1000
    }k events (decoded)`,
    group: "recover_snapshot_1k",
    n: 50,
    warmup: 5,
    async fn(b) {
      await populateRecovery();
      b.start();
      const snapshot = await provider!.snapshots.loadLatest("recovering");
      const events = await journal.read(
        "recovering",
        snapshot!.sequenceNr + 1,
      );
      b.end();
      await raw.del(recoveryKeys);
      if (
        snapshot?.sequenceNr !== RECOVERY_SNAPSHOT_AT ||
        events.length !== recovered
      ) {
        throw new Error(`read ${events.length}`);
      }
    },
  });
}
