// The PostgreSQL provider through persistent actors (as bench/persistence_bench.ts does for
// memory and Redis), against the raw postgres.js client doing the same inserts with the same
// batching in the same run:
//
//   deno bench -A bench/persistence_postgres_bench.ts     (DATABASE_URL, default
//                                                          postgres://postgres@127.0.0.1:5432/test)
//
// - persist_100_actors_postgres: 100 actors x 20 persists at once. Baseline: 100 writers x 20
//   awaited inserts of the same record bytes into a table of the same shape, grouped the way
//   the provider groups appends (whatever waits goes in one INSERT ... SELECT FROM unnest, at
//   most 4 statements in flight), without the per-stream sequence check. Target: ≥ 70%.
// - recovery_postgres: recover an actor from 100k events (target < 1 s), and from a snapshot
//   and the 1k events after it. Baseline: the raw SELECT of the 100k records.
// - persist_latency_postgres: one actor, an ask that persists 1 event, against one raw insert.
//
// Everything lives in the schema troupe_bench, dropped at the start of every run (and, best
// effort, at its end). Skips with a message when the server does not answer.
import postgres from "postgres";
import {
  ActorSystem,
  definePersistentActor,
  jsonCodec,
  type PersistenceProvider,
  usePersistence,
} from "../mod.ts";
import { PostgresPersistence } from "../src/persistence/postgres/mod.ts";
import { encodeRecord } from "../src/persistence/record_format.ts";

const URL = Deno.env.get("DATABASE_URL") ||
  "postgres://postgres@127.0.0.1:5432/test";
const SCHEMA = "troupe_bench";
const ACTORS = 100;
const PER_ACTOR = 20;
const RECOVERY_EVENTS = 100_000;
/** As the provider's batcher: statements in flight, appends per statement. */
const MAX_IN_FLIGHT = 4;
const MAX_BATCH = 256;

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
const record = (sequenceNr: number) =>
  encodeRecord({
    sequenceNr,
    type: "added",
    version: 1,
    data: payload,
    timestamp: Date.now(),
  });

let provider: PostgresPersistence | undefined;
try {
  provider = await PostgresPersistence.connect({
    url: URL,
    schema: SCHEMA,
    connectTimeoutMs: 2000,
  });
} catch (error) {
  console.warn(
    `persistence_postgres_bench: skipped, PostgreSQL at ${URL} does not answer (${
      (error as Error).message
    })`,
  );
}

/** Inserts of single records, grouped like the provider's appends, with no sequence check. */
class RawBatcher {
  readonly #sql: postgres.Sql;
  #queue: {
    id: string;
    seq: number;
    record: Uint8Array;
    done: (error?: unknown) => void;
  }[] = [];
  #inFlight = 0;
  #scheduled = false;

  constructor(sql: postgres.Sql) {
    this.#sql = sql;
  }

  insert(id: string, seq: number, bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({
        id,
        seq,
        record: bytes,
        done: (error) => error === undefined ? resolve() : reject(error),
      });
      if (!this.#scheduled && this.#inFlight < MAX_IN_FLIGHT) {
        this.#scheduled = true;
        queueMicrotask(() => {
          this.#scheduled = false;
          this.#flush();
        });
      }
    });
  }

  #flush(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_BATCH);
      let total = 0;
      const offsets: number[] = [];
      const lengths: number[] = [];
      for (const item of batch) {
        offsets.push(total);
        lengths.push(item.record.length);
        total += item.record.length;
      }
      const blob = new Uint8Array(total);
      batch.forEach((item, i) => blob.set(item.record, offsets[i]));
      this.#inFlight++;
      this.#sql.unsafe(
        `INSERT INTO ${SCHEMA}.raw_events (persistence_id, sequence_nr, record)
         SELECT e.id, e.seq, substring($4::bytea FROM e.off + 1 FOR e.len)
         FROM unnest($1::text[], $2::int8[], $3::int4[], $5::int4[]) AS e(id, seq, off, len)`,
        [
          `{${batch.map((item) => `"${item.id}"`).join(",")}}`,
          `{${batch.map((item) => item.seq).join(",")}}`,
          `{${offsets.join(",")}}`,
          blob,
          `{${lengths.join(",")}}`,
        ],
        { prepare: true },
      ).then(
        () => {
          for (const item of batch) item.done();
        },
        (error) => {
          for (const item of batch) item.done(error);
        },
      ).finally(() => {
        this.#inFlight--;
        this.#flush();
      });
    }
  }
}

if (provider !== undefined) {
  const sql = postgres(URL, {
    max: 4,
    fetch_types: false,
    onnotice: () => {},
  });
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await provider.migrate();
  await sql.unsafe(
    `CREATE TABLE ${SCHEMA}.raw_events (LIKE ${SCHEMA}.troupe_events INCLUDING ALL)`,
  );
  const raw = new RawBatcher(sql);

  let run = 0;
  const systemWith = (p: PersistenceProvider): ActorSystem => {
    const system = new ActorSystem({
      node: `bench-${++run}`,
      askTimeoutMs: 60_000,
    });
    usePersistence(system, p);
    return system;
  };
  const system = systemWith(provider);

  // ---- one actor, latency ------------------------------------------------------------------
  const single = await system.spawn(counter, undefined, { id: "single" });
  let rawSingle = 0;
  Deno.bench({
    name: "baseline: raw postgres.js insert of 1 record",
    group: "persist_latency_postgres",
    baseline: true,
    n: 200,
    warmup: 20,
    async fn() {
      rawSingle++;
      await raw.insert("raw-single", rawSingle, record(rawSingle));
    },
  });
  Deno.bench({
    name: "persistent actor: ask that persists 1 event (PostgreSQL)",
    group: "persist_latency_postgres",
    n: 200,
    warmup: 20,
    async fn() {
      await single.ask("add", 1);
    },
  });

  // ---- 100 actors at once ------------------------------------------------------------------
  const actors = await Promise.all(
    Array.from(
      { length: ACTORS },
      (_, i) => system.spawn(counter, undefined, { id: `a${i}` }),
    ),
  );
  const rawSeqs = new Array<number>(ACTORS).fill(0);
  Deno.bench({
    name:
      `baseline: raw postgres.js, ${ACTORS} writers × ${PER_ACTOR} inserts (same batching)`,
    group: "persist_100_actors_postgres",
    baseline: true,
    n: 15,
    warmup: 3,
    async fn() {
      await Promise.all(rawSeqs.map(async (_, w) => {
        for (let k = 0; k < PER_ACTOR; k++) {
          const seq = ++rawSeqs[w];
          await raw.insert(`raw-${w}`, seq, record(seq));
        }
      }));
    },
  });
  Deno.bench({
    name: `${ACTORS} persistent actors × ${PER_ACTOR} persists (PostgreSQL)`,
    group: "persist_100_actors_postgres",
    n: 15,
    warmup: 3,
    async fn() {
      await Promise.all(actors.map(async (ref) => {
        for (let k = 0; k < PER_ACTOR; k++) await ref.ask("add", 1);
      }));
    },
  });
  const journal = provider.journal;
  const appendSeqs = new Array<number>(ACTORS).fill(0);
  const one = [{ type: "added", version: 1, data: payload, timestamp: 0 }];
  Deno.bench({
    name:
      `PostgresPersistence.journal.append, ${ACTORS} ids × ${PER_ACTOR} (no actors)`,
    group: "persist_100_actors_postgres",
    n: 15,
    warmup: 3,
    async fn() {
      await Promise.all(appendSeqs.map(async (_, w) => {
        for (let k = 0; k < PER_ACTOR; k++) {
          await journal.append(`append-${w}`, appendSeqs[w]++, one);
        }
      }));
    },
  });

  // ---- recovery ----------------------------------------------------------------------------
  const big = "recover-100k";
  for (let b = 0; b < RECOVERY_EVENTS / 1000; b++) {
    await journal.append(
      big,
      b * 1000,
      Array.from(
        { length: 1000 },
        () => ({ type: "added", version: 1, data: payload, timestamp: 0 }),
      ),
    );
  }
  for (let b = 0; b < 51; b++) {
    await journal.append(
      "recover-snap",
      b * 1000,
      Array.from(
        { length: 1000 },
        () => ({ type: "added", version: 1, data: payload, timestamp: 0 }),
      ),
    );
  }
  await provider.snapshots.save({
    persistenceId: "recover-snap",
    sequenceNr: 50_000,
    type: "$snapshot",
    version: 1,
    data: jsonCodec.encode("$snapshot", { n: 50_000 }),
    timestamp: 0,
  });
  await journal.deleteTo("recover-snap", 50_000);
  const recovering = definePersistentActor({
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
    name: `baseline: raw postgres.js SELECT of the ${
      RECOVERY_EVENTS / 1000
    }k records`,
    group: "recovery_postgres",
    baseline: true,
    n: 5,
    warmup: 1,
    async fn() {
      const rows = await sql.unsafe(
        `SELECT sequence_nr, record FROM ${SCHEMA}.troupe_events
         WHERE persistence_id = $1 ORDER BY sequence_nr`,
        [big],
        { prepare: true },
      );
      if (rows.length !== RECOVERY_EVENTS) throw new Error("wrong count");
    },
  });
  Deno.bench({
    name: `recover a persistent actor from ${
      RECOVERY_EVENTS / 1000
    }k events (PostgreSQL)`,
    group: "recovery_postgres",
    n: 5,
    warmup: 1,
    async fn() {
      const ref = await system.spawn(recovering, big);
      if (await ref.ask("get") !== RECOVERY_EVENTS) {
        throw new Error("wrong state");
      }
      await ref.stop();
    },
  });
  Deno.bench({
    name: "recover from a snapshot + 1k events (PostgreSQL)",
    group: "recovery_postgres",
    n: 5,
    warmup: 1,
    async fn() {
      const ref = await system.spawn(recovering, "recover-snap");
      if (await ref.ask("get") !== 51_000) throw new Error("wrong state");
      await ref.stop();
    },
  });

  globalThis.addEventListener("unload", () => {
    // Best effort: the next run drops the schema anyway.
    void sql.unsafe(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  });
}
