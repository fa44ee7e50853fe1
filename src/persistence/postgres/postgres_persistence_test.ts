// Tests of what is particular to the PostgreSQL provider; the contract itself is checked by the
// conformance suite (postgres_conformance_test.ts).
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { platform } from "../../platform/mod.ts";
import { test } from "../../platform/test_harness.ts";
import {
  isCorruptRecordError,
  isJournalConflictError,
  isJournalUnavailableError,
} from "../errors.ts";
import type { NewEvent, StoredEvent } from "../journal.ts";
import postgres from "postgres";
import { encodeRecord } from "../record_format.ts";
import { loadPostgresFactory } from "./_client.ts";
import {
  DATABASE_URL,
  dropSchema,
  freePort,
  postgresTest,
  randomSchema,
  rawQuery,
  sleep,
} from "./_helpers_test.ts";
import { isPostgresClientMissingError } from "./errors.ts";
import {
  PostgresPersistence,
  type PostgresPersistenceOptions,
} from "./postgres_persistence.ts";
import { postgresSchemaSql, storedId } from "./schema.ts";

const encoder = new TextEncoder();

function event(n: number): NewEvent {
  return {
    type: "test.event",
    version: 1,
    data: encoder.encode(String(n)),
    timestamp: 1_700_000_000_000 + n,
  };
}

function payloads(events: readonly StoredEvent[]): number[] {
  return events.map((e) => Number(new TextDecoder().decode(e.data)));
}

/** Runs `body` with a migrated provider in a fresh schema, then closes it and drops the schema. */
async function withProvider(
  body: (provider: PostgresPersistence, schema: string) => Promise<void>,
  options: PostgresPersistenceOptions = {},
): Promise<void> {
  const schema = randomSchema("provider");
  const provider = await PostgresPersistence.connect({
    url: DATABASE_URL,
    schema,
    ...options,
  });
  try {
    await provider.migrate();
    await body(provider, schema);
  } finally {
    await provider.close();
    await dropSchema(schema);
  }
}

test("PostgresPersistence.connect() rejects with JournalUnavailableError at once when nothing listens", async () => {
  const port = await freePort();
  const started = platform.now();
  await assert.rejects(
    PostgresPersistence.connect({
      url: `postgres://postgres@127.0.0.1:${port}/test`,
      connectTimeoutMs: 5000,
    }),
    (error: unknown) => {
      assert.ok(isJournalUnavailableError(error), String(error));
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
      assert.ok(error.cause !== undefined, "the cause is attached");
      return true;
    },
  );
  assert.ok(
    platform.now() - started < 2000,
    "fails fast, not after the connect timeout",
  );
});

test("PostgresPersistence rejects every call with JournalUnavailableError at once while the server is unreachable", async () => {
  const port = await freePort();
  const provider = new PostgresPersistence({
    url: `postgres://postgres@127.0.0.1:${port}/test`,
    reconnectMinDelayMs: 20,
  });
  try {
    const started = platform.now();
    // The first call finds out; every later one is refused without trying.
    await assert.rejects(
      provider.journal.append("a", 0, [event(1)]),
      isJournalUnavailableError,
    );
    await assert.rejects(
      provider.journal.read("a", 1),
      isJournalUnavailableError,
    );
    await assert.rejects(
      provider.journal.lastSequenceNr("a"),
      isJournalUnavailableError,
    );
    await assert.rejects(
      provider.snapshots.loadLatest("a"),
      (error: unknown) => {
        assert.ok(isJournalUnavailableError(error), String(error));
        assert.match(error.message, /reconnecting/);
        return true;
      },
    );
    // Refused without being sent: the actor may report a definite failure.
    await assert.rejects(
      provider.journal.append("a", 0, [event(1)]),
      (error: unknown) => isJournalUnavailableError(error) && error.notApplied,
    );
    assert.ok(
      platform.now() - started < 2000,
      "no call waits for a reconnection",
    );
  } finally {
    await provider.close();
  }
});

test("PostgresPersistence() checks its options", () => {
  assert.throws(
    () => new PostgresPersistence({ url: "mysql://localhost" }),
    TypeError,
  );
  assert.throws(
    () => new PostgresPersistence({ schema: "Bad-Name" }),
    TypeError,
  );
  assert.throws(() => new PostgresPersistence({ schema: "pg_x" }), TypeError);
  assert.throws(
    () => new PostgresPersistence({ tablePrefix: 'x"; DROP TABLE y; --' }),
    TypeError,
  );
  assert.throws(() => new PostgresPersistence({ tablePrefix: "" }), TypeError);
  assert.throws(
    () => new PostgresPersistence({ connectTimeoutMs: 0 }),
    RangeError,
  );
  assert.throws(
    () => new PostgresPersistence({ maxConnections: 0 }),
    RangeError,
  );
  assert.throws(
    () =>
      new PostgresPersistence({
        reconnectMinDelayMs: 500,
        reconnectMaxDelayMs: 100,
      }),
    RangeError,
  );
  assert.throws(
    () => new PostgresPersistence({ readPageSize: 1.5 }),
    RangeError,
  );
});

test("postgresSchemaSql() with the default names is exactly schema.sql", async () => {
  const file = await readFile(new URL("./schema.sql", import.meta.url), "utf8");
  assert.equal(postgresSchemaSql(), file);
  const custom = postgresSchemaSql({ schema: "shop", tablePrefix: "t_" });
  assert.match(custom, /CREATE SCHEMA IF NOT EXISTS shop;/);
  for (const table of ["streams", "events", "snapshots"]) {
    assert.match(
      custom,
      new RegExp(`CREATE TABLE IF NOT EXISTS shop\\.t_${table} `),
    );
  }
});

test("loadPostgresFactory() turns a missing package into PostgresClientMissingError naming the install command", async () => {
  const notFound = Object.assign(new Error("Cannot find package 'postgres'"), {
    code: "ERR_MODULE_NOT_FOUND",
  });
  await assert.rejects(
    loadPostgresFactory(() => Promise.reject(notFound)),
    (error: unknown) => {
      assert.ok(isPostgresClientMissingError(error), String(error));
      assert.match(error.message, /npm install postgres@\^3/);
      assert.equal(error.cause, notFound);
      return true;
    },
  );
  await assert.rejects(
    loadPostgresFactory(() => Promise.resolve({ default: 42 })),
    isPostgresClientMissingError,
  );
  assert.equal(typeof await loadPostgresFactory(), "function");
});

test("storedId() keeps ordinary ids and escapes those text cannot hold apart", () => {
  assert.equal(storedId("orders/42 ü🎭"), "orders/42 ü🎭");
  assert.equal(storedId("a\u0000"), "~00610000");
  assert.equal(storedId("a\ud800"), "~0061d800");
  assert.equal(storedId("\udc00"), "~dc00");
  assert.equal(storedId("~x"), "~007e0078");
  const ids = ["a\u0000", "a\ud800", "a\ufffd", "~00610000", "a"];
  assert.equal(new Set(ids.map(storedId)).size, ids.length);
});

postgresTest(
  "PostgresPersistence.migrate() creates the tables under the schema and prefix, and runs again or at once from several processes",
  async () => {
    const schema = randomSchema("migrate");
    const providers = await Promise.all(
      [0, 1, 2].map(() =>
        PostgresPersistence.connect({
          url: DATABASE_URL,
          schema,
          tablePrefix: "app_",
        })
      ),
    );
    try {
      await Promise.all(providers.map((p) => p.migrate()));
      await providers[0].migrate();
      const rows = await rawQuery(
        "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
        [schema],
      );
      assert.deepEqual(rows.map((r) => r.tablename), [
        "app_events",
        "app_snapshots",
        "app_streams",
      ]);
      await providers[1].journal.append("m", 0, [event(1)]);
      assert.deepEqual(payloads(await providers[2].journal.read("m", 1)), [1]);
    } finally {
      await Promise.all(providers.map((p) => p.close()));
      await dropSchema(schema);
    }
  },
);

postgresTest(
  "PostgresPersistence without its tables rejects with JournalUnavailableError that says to migrate",
  async () => {
    const schema = randomSchema("nomigrate");
    const provider = await PostgresPersistence.connect({
      url: DATABASE_URL,
      schema,
    });
    try {
      for (
        const call of [
          () => provider.journal.append("x", 0, [event(1)]),
          () => provider.journal.read("x", 1),
        ]
      ) {
        await assert.rejects(call(), (error: unknown) => {
          assert.ok(isJournalUnavailableError(error), String(error));
          assert.match(error.message, /does not exist/);
          assert.match(error.message, /migrate\(\)/);
          return true;
        });
      }
    } finally {
      await provider.close();
    }
  },
);

postgresTest(
  "PostgresPersistence.journal.append() fails only the conflicting appends of a batch",
  async () => {
    await withProvider(async ({ journal }) => {
      const existing = Array.from({ length: 10 }, (_, i) => `old-${i}`);
      await Promise.all(
        existing.map((id) => journal.append(id, 0, [event(1)])),
      );
      // Issued in one tick: they share statements, good and bad ones mixed.
      const good = Array.from({ length: 40 }, (_, i) => `new-${i}`);
      const outcomes = await Promise.allSettled([
        ...good.map((id) => journal.append(id, 0, [event(1), event(2)])),
        ...existing.map((id, i) =>
          journal.append(id, i % 2 === 0 ? 0 : 5, [event(9)])
        ),
      ]);
      const goodOutcomes = outcomes.slice(0, good.length);
      const badOutcomes = outcomes.slice(good.length);
      assert.ok(goodOutcomes.every((o) => o.status === "fulfilled"));
      for (const [i, outcome] of badOutcomes.entries()) {
        assert.equal(outcome.status, "rejected");
        const reason = (outcome as PromiseRejectedResult).reason;
        assert.ok(isJournalConflictError(reason), String(reason));
        assert.equal(reason.actual, 1);
        assert.equal(reason.expected, i % 2 === 0 ? 0 : 5);
      }
      for (const id of good) {
        assert.deepEqual(payloads(await journal.read(id, 1)), [1, 2]);
      }
      for (const id of existing) {
        assert.deepEqual(payloads(await journal.read(id, 1)), [1]);
      }
    });
  },
);

postgresTest(
  "PostgresPersistence.journal.append() applies appends of one id made without waiting in order",
  async () => {
    await withProvider(async ({ journal }) => {
      const appends = Array.from(
        { length: 20 },
        (_, k) => journal.append("pipelined", k, [event(k)]),
      );
      await Promise.all(appends);
      assert.deepEqual(
        payloads(await journal.read("pipelined", 1)),
        Array.from({ length: 20 }, (_, k) => k),
      );
    });
  },
);

postgresTest(
  "PostgresPersistence.journal.append() fails only the append that loses a race on the unique key, not the others of its statement",
  async () => {
    await withProvider(async ({ journal }, schema) => {
      await journal.append("raced", 0, [event(1)]);
      const sql = postgres(DATABASE_URL, {
        max: 1,
        fetch_types: false,
        onnotice: () => {},
      });
      // One connection (max: 1): its statements form one transaction of another writer.
      const other = sql;
      try {
        // Another process appends event 2 and has not committed yet.
        await other.unsafe("BEGIN");
        await other.unsafe(
          `INSERT INTO ${schema}.troupe_events VALUES ('raced', 2, $1)`,
          [encodeRecord({ sequenceNr: 2, ...event(2) })],
        );
        const bystanders = Array.from(
          { length: 20 },
          (_, i) => `bystander-${i}`,
        );
        const outcomes = Promise.allSettled([
          ...bystanders.map((id) => journal.append(id, 0, [event(7)])),
          journal.append("raced", 1, [event(-2)]),
        ]);
        // The statement carrying all of them waits for the other writer's row, then loses.
        const deadline = platform.now() + 10_000;
        while (true) {
          const [{ n }] = await rawQuery(
            `SELECT count(*)::int4 AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND query LIKE $1`,
            [`%${schema}.troupe_events%`],
          );
          if (n === 1) break;
          assert.ok(platform.now() < deadline, "the append never waited");
          await sleep(10);
        }
        await other.unsafe("COMMIT");
        const settled = await outcomes;
        const raced = settled.pop()!;
        assert.ok(settled.every((o) => o.status === "fulfilled"));
        assert.equal(raced.status, "rejected");
        const reason = (raced as PromiseRejectedResult).reason;
        assert.ok(isJournalConflictError(reason), String(reason));
        assert.equal(reason.expected, 1);
        assert.equal(reason.actual, 2);
        for (const id of bystanders) {
          assert.deepEqual(payloads(await journal.read(id, 1)), [7]);
        }
        assert.deepEqual(payloads(await journal.read("raced", 1)), [1, 2]);
      } finally {
        await other.unsafe("ROLLBACK").catch(() => {});
        await sql.end();
      }
    });
  },
);

postgresTest(
  "PostgresPersistence refuses a writer that is behind another process's appends and deletions",
  async () => {
    await withProvider(async ({ journal }, schema) => {
      const other = await PostgresPersistence.connect({
        url: DATABASE_URL,
        schema,
      });
      try {
        // This provider knows the ids end at 2; the other process moves them on.
        for (const id of ["appended", "deleted"]) {
          await journal.append(id, 0, [event(1), event(2)]);
          await other.journal.append(id, 2, [event(3)]);
        }
        await other.journal.deleteTo("deleted", Infinity);
        for (const id of ["appended", "deleted"]) {
          await assert.rejects(
            journal.append(id, 2, [event(-3)]),
            (error: unknown) => {
              assert.ok(isJournalConflictError(error), `${id}: ${error}`);
              assert.equal(error.actual, 3, id);
              return true;
            },
          );
          // Told the actual number, it goes on from there.
          await journal.append(id, 3, [event(4)]);
        }
        assert.deepEqual(payloads(await other.journal.read("appended", 1)), [
          1,
          2,
          3,
          4,
        ]);
        assert.deepEqual(payloads(await other.journal.read("deleted", 1)), [4]);
      } finally {
        await other.close();
      }
    });
  },
);

postgresTest(
  "PostgresPersistence.journal.deleteTo() keeps the last sequence number when every event is gone",
  async () => {
    await withProvider(async ({ journal }) => {
      await journal.append("gone", 0, [event(1), event(2), event(3)]);
      await journal.deleteTo("gone", 2);
      await journal.deleteTo("gone", 1); // below what is left: nothing changes
      assert.equal(await journal.lastSequenceNr("gone"), 3);
      await journal.deleteTo("gone", Infinity);
      assert.equal(await journal.lastSequenceNr("gone"), 3);
      await assert.rejects(
        journal.append("gone", 0, [event(1)]),
        (error: unknown) => isJournalConflictError(error) && error.actual === 3,
      );
      await journal.append("gone", 3, [event(4)]);
      await journal.deleteTo("nothing-here", 10);
      assert.equal(await journal.lastSequenceNr("nothing-here"), 0);
      await journal.append("nothing-here", 0, [event(1)]);
    });
  },
);

postgresTest(
  "PostgresPersistence.journal.read() ends pages at their byte budget and reads large events completely",
  async () => {
    await withProvider(async ({ journal }) => {
      const big = (n: number): NewEvent => ({
        ...event(n),
        data: new Uint8Array(3 * 1024 * 1024).fill(n),
      });
      await journal.append("large", 0, [
        big(1),
        big(2),
        big(3),
        big(4),
        big(5),
      ]);
      const read = await journal.read("large", 1);
      assert.deepEqual(read.map((e) => e.sequenceNr), [1, 2, 3, 4, 5]);
      for (const e of read) {
        assert.equal(e.data.length, 3 * 1024 * 1024);
        assert.ok(e.data.every((b) => b === e.sequenceNr));
      }
      assert.deepEqual(
        (await journal.read("large", 2, { max: 3 })).map((e) => e.sequenceNr),
        [2, 3, 4],
      );
    });
  },
);

postgresTest(
  "PostgresPersistence.journal.read() pages through the journal in order and honours max",
  async () => {
    await withProvider(async ({ journal }) => {
      await journal.append(
        "paged",
        0,
        Array.from({ length: 10 }, (_, i) => event(i + 1)),
      );
      assert.deepEqual(
        payloads(await journal.read("paged", 1)),
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
      );
      assert.deepEqual(payloads(await journal.read("paged", 2, { max: 7 })), [
        2,
        3,
        4,
        5,
        6,
        7,
        8,
      ]);
      assert.deepEqual(
        payloads(await journal.read("paged", 4, { toSequenceNr: 9 })),
        [4, 5, 6, 7, 8, 9],
      );
    }, { readPageSize: 3 });
  },
);

postgresTest(
  "PostgresPersistence.journal.read() rejects with CorruptRecordError naming a damaged or missing event",
  async () => {
    await withProvider(async ({ journal, snapshots }, schema) => {
      await journal.append("bad", 0, [event(1), event(2), event(3)]);
      await rawQuery(
        `UPDATE ${schema}.troupe_events SET record = set_byte(record, 30, get_byte(record, 30) # 1)
       WHERE persistence_id = 'bad' AND sequence_nr = 2`,
      );
      await assert.rejects(journal.read("bad", 1), (error: unknown) => {
        assert.ok(isCorruptRecordError(error), String(error));
        assert.equal(error.persistenceId, "bad");
        assert.equal(error.sequenceNr, 2);
        return true;
      });
      assert.deepEqual(payloads(await journal.read("bad", 3)), [3]);
      await rawQuery(
        `DELETE FROM ${schema}.troupe_events WHERE persistence_id = 'bad' AND sequence_nr = 2`,
      );
      await assert.rejects(journal.read("bad", 1), (error: unknown) => {
        assert.ok(isCorruptRecordError(error), String(error));
        assert.equal(error.sequenceNr, 2);
        assert.match(error.message, /missing/);
        return true;
      });
      await snapshots.save({
        persistenceId: "bad",
        sequenceNr: 3,
        type: "s",
        version: 1,
        data: new Uint8Array([1]),
        timestamp: 0,
      });
      await rawQuery(
        `UPDATE ${schema}.troupe_snapshots SET record = '\\x0102'::bytea`,
      );
      await assert.rejects(snapshots.loadLatest("bad"), isCorruptRecordError);
    });
  },
);

postgresTest(
  "PostgresPersistence keeps ids with U+0000, lone surrogates and a leading ~ apart",
  async () => {
    await withProvider(async ({ journal }) => {
      const ids = ["a\u0000", "a\ud800", "a\ufffd", "~00610000", "a"];
      for (const [i, id] of ids.entries()) {
        await journal.append(id, 0, [event(i)]);
      }
      for (const [i, id] of ids.entries()) {
        const [stored] = await journal.read(id, 1);
        assert.equal(stored.persistenceId, id);
        assert.deepEqual(payloads([stored]), [i]);
        assert.equal(await journal.lastSequenceNr(id), 1);
      }
    });
  },
);

postgresTest(
  "PostgresPersistence refuses what the record form cannot hold with a RangeError",
  async () => {
    await withProvider(async ({ journal, snapshots }) => {
      await assert.rejects(
        journal.append("r", 0, [{ ...event(1), timestamp: NaN }]),
        RangeError,
      );
      await assert.rejects(
        journal.append("r", 0, [{ ...event(1), version: 2 ** 32 }]),
        RangeError,
      );
      await assert.rejects(
        snapshots.save({
          persistenceId: "r",
          sequenceNr: 0,
          type: "s",
          version: 1,
          data: new Uint8Array(),
          timestamp: 0,
        }),
        RangeError,
      );
      assert.equal(await journal.lastSequenceNr("r"), 0);
    });
  },
);
