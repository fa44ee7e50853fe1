// Tests of what is particular to the Redis provider; the contract itself is checked by the
// conformance suite (redis_conformance_test.ts).
import assert from "node:assert/strict";
import { platform } from "../../platform/mod.ts";
import { test } from "../../platform/test_harness.ts";
import {
  isCorruptRecordError,
  isJournalConflictError,
  isJournalUnavailableError,
} from "../errors.ts";
import type { NewEvent, StoredEvent } from "../journal.ts";
import { encodeRecord } from "../record_format.ts";
import { persistenceIdTag, streamKeys } from "./_keys.ts";
import {
  deleteKeys,
  freePort,
  keysUnder,
  randomPrefix,
  rawCommands,
  REDIS_URL,
  redisTest,
} from "./_helpers_test.ts";
import {
  RedisPersistence,
  type RedisPersistenceOptions,
} from "./redis_persistence.ts";

const encoder = new TextEncoder();

function event(n: number): NewEvent {
  return {
    type: "test.event",
    version: 1,
    data: encoder.encode(String(n)),
    timestamp: 1_700_000_000_000 + n,
  };
}

function seqs(events: readonly StoredEvent[]): number[] {
  return events.map((e) => e.sequenceNr);
}

function payloads(events: readonly StoredEvent[]): number[] {
  return events.map((e) => Number(new TextDecoder().decode(e.data)));
}

/** Runs `body` with a provider under a fresh prefix, then closes it and deletes its keys. */
async function withProvider(
  body: (provider: RedisPersistence, prefix: string) => Promise<void>,
  options: RedisPersistenceOptions = {},
): Promise<void> {
  const prefix = randomPrefix("provider");
  const provider = await RedisPersistence.connect({
    url: REDIS_URL,
    keyPrefix: prefix,
    durability: "ignore",
    ...options,
  });
  try {
    await body(provider, prefix);
  } finally {
    await provider.close();
    await deleteKeys(prefix);
  }
}

/** The hash tag Redis Cluster hashes for a key: between the first `{` and the next `}`. */
function clusterHashTag(key: string): string {
  const open = key.indexOf("{");
  if (open === -1) return key;
  const close = key.indexOf("}", open + 1);
  if (close === -1 || close === open + 1) return key;
  return key.slice(open + 1, close);
}

test("RedisPersistence.connect() rejects with JournalUnavailableError at once when nothing listens", async () => {
  const port = await freePort();
  const started = platform.now();
  await assert.rejects(
    RedisPersistence.connect({
      url: `redis://127.0.0.1:${port}`,
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
    platform.now() - started < 1000,
    "fails fast, not after the connect timeout",
  );
});

test("RedisPersistence rejects every call with JournalUnavailableError at once while Redis is unreachable", async () => {
  const port = await freePort();
  const provider = new RedisPersistence({
    url: `redis://127.0.0.1:${port}`,
    reconnectMinDelayMs: 20,
  });
  try {
    const started = platform.now();
    await assert.rejects(
      provider.journal.append("a", 0, [event(1)]),
      (e: unknown) => {
        assert.ok(isJournalUnavailableError(e), String(e));
        assert.equal(e.notApplied, true, "nothing was sent");
        return true;
      },
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
      isJournalUnavailableError,
    );
    assert.ok(
      platform.now() - started < 1000,
      "no call waits for a reconnection",
    );
  } finally {
    await provider.close();
  }
});

test("RedisPersistence() checks its options", () => {
  assert.throws(
    () => new RedisPersistence({ url: "http://localhost" }),
    TypeError,
  );
  assert.throws(
    () => new RedisPersistence({ connectTimeoutMs: 0 }),
    RangeError,
  );
  assert.throws(
    () =>
      new RedisPersistence({
        reconnectMinDelayMs: 500,
        reconnectMaxDelayMs: 100,
      }),
    RangeError,
  );
  assert.throws(() => new RedisPersistence({ readPageSize: 1.5 }), RangeError);
  assert.throws(
    () => new RedisPersistence({ commandTimeoutMs: 0 }),
    RangeError,
  );
  assert.throws(
    () => new RedisPersistence({ maxQueuedAppends: 1.5 }),
    RangeError,
  );
  assert.throws(
    () =>
      new RedisPersistence({
        durability: "maybe" as unknown as "warn",
      }),
    TypeError,
  );
  assert.throws(
    () => new RedisPersistence({ logger: {} as unknown as { warn(): void } }),
    TypeError,
  );
});

test("streamKeys() puts tricky persistence ids in distinct keys that share one hash slot", () => {
  const ids = [
    "a{b}",
    "a}b",
    "a{b",
    "{}",
    "}{",
    "x:events",
    "x",
    "x}:events",
    "~0061007b0062007d", // what "a{b}" is encoded as, used as a raw id
    "~",
    "\uD800", // lone surrogates: both would become U+FFFD in a raw UTF-8 key
    "\uDC00",
    "🎭",
    "ü/ß",
  ];
  const seen = new Map<string, string>();
  for (const id of ids) {
    const keys = streamKeys("troupe:", id);
    const tags = new Set(
      [keys.events, keys.meta, keys.snapshots].map(clusterHashTag),
    );
    assert.equal(tags.size, 1, `one hash slot for ${JSON.stringify(id)}`);
    assert.equal([...tags][0], persistenceIdTag(id));
    for (const key of [keys.events, keys.meta, keys.snapshots]) {
      const utf8 = new TextDecoder().decode(encoder.encode(key)); // what Redis stores
      assert.equal(
        seen.get(utf8),
        undefined,
        `${JSON.stringify(id)} collides with ${JSON.stringify(seen.get(utf8))}`,
      );
      seen.set(utf8, id);
    }
  }
  assert.equal(
    streamKeys("troupe:", "orders/42").events,
    "troupe:{orders/42}:events",
  );
  assert.equal(streamKeys("p:", "a{b}").meta, "p:{~0061007b0062007d}:meta");
});

redisTest(
  "RedisPersistence keeps tricky persistence ids apart in Redis",
  async () => {
    await withProvider(async ({ journal, snapshots }, prefix) => {
      const ids = [
        "a{b}",
        "~0061007b0062007d",
        "a}b",
        "x:events",
        "x",
        "\uD800",
        "\uDC00",
        "🎭",
      ];
      for (const [i, id] of ids.entries()) {
        await journal.append(id, 0, [event(i)]);
        await snapshots.save({
          persistenceId: id,
          sequenceNr: 1,
          type: "s",
          version: 1,
          data: encoder.encode(id),
          timestamp: i,
        });
      }
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(
          payloads(await journal.read(id, 1)),
          [i],
          JSON.stringify(id),
        );
        const snapshot = await snapshots.loadLatest(id);
        assert.equal(snapshot?.timestamp, i);
      }
      const raw = await rawCommands();
      try {
        assert.equal((await keysUnder(raw, prefix)).length, ids.length * 3);
      } finally {
        await raw.close();
      }
    });
  },
);

redisTest(
  "RedisPersistence.journal.read() rejects with CorruptRecordError naming the bad sequence number",
  async () => {
    await withProvider(async ({ journal }, prefix) => {
      const id = "orders/corrupt";
      await journal.append(id, 0, [event(1), event(2), event(3), event(4)]);
      const keys = streamKeys(prefix, id);
      const raw = await rawCommands();
      try {
        await raw.send(["LSET", keys.events, "1", "garbage"]);
        await assert.rejects(journal.read(id, 1), (error: unknown) => {
          assert.ok(isCorruptRecordError(error), String(error));
          assert.equal(error.persistenceId, id);
          assert.equal(error.sequenceNr, 2);
          return true;
        });
        assert.deepEqual(seqs(await journal.read(id, 1, { toSequenceNr: 1 })), [
          1,
        ], "events before it still read");
        assert.deepEqual(
          seqs(await journal.read(id, 3)),
          [3, 4],
          "events after it still read",
        );
        // A well-formed record in the wrong place is corrupt too.
        const misplaced = encodeRecord({ ...event(9), sequenceNr: 9 });
        await raw.send(["LSET", keys.events, "2", misplaced]);
        await assert.rejects(journal.read(id, 3), (error: unknown) => {
          assert.ok(isCorruptRecordError(error), String(error));
          assert.equal(error.sequenceNr, 3);
          return true;
        });
      } finally {
        await raw.close();
      }
    });
  },
);

redisTest(
  "RedisPersistence.journal.read() reports a corrupt record on one page while the next is on its way",
  async () => {
    await withProvider(async ({ journal }, prefix) => {
      const id = "corrupt-paged";
      await journal.append(
        id,
        0,
        Array.from({ length: 20 }, (_, i) => event(i + 1)),
      );
      const raw = await rawCommands();
      try {
        await raw.send(["LSET", streamKeys(prefix, id).events, "2", "garbage"]);
      } finally {
        await raw.close();
      }
      await assert.rejects(journal.read(id, 1), (error: unknown) => {
        assert.ok(isCorruptRecordError(error), String(error));
        assert.equal(error.sequenceNr, 3);
        return true;
      });
      assert.deepEqual(
        payloads(await journal.read(id, 4)),
        Array.from({ length: 17 }, (_, i) => i + 4),
      );
    }, { readPageSize: 5 });
  },
);

redisTest(
  "RedisPersistence.journal.append() stores the events as they were when it was called",
  async () => {
    await withProvider(async ({ journal }) => {
      const data = encoder.encode("before");
      const appended = journal.append("snap", 0, [{ ...event(1), data }]);
      data.set(encoder.encode("AFTER!"));
      await appended;
      const [stored] = await journal.read("snap", 1);
      assert.equal(new TextDecoder().decode(stored.data), "before");
    });
  },
);

redisTest(
  "RedisPersistence.journal.append() keeps many concurrent appends of every size apart",
  async () => {
    await withProvider(async ({ journal }) => {
      // Enough bytes to fill several shared buffers, with appends of one and of many events,
      // big ones that get a buffer of their own, and type names that are not ASCII.
      const types = ["a", "übung", "型", "t".repeat(300), "😀.event"];
      const expected = new Map<string, NewEvent[]>();
      const writers = Array.from({ length: 40 }, async (_, w) => {
        const id = `sized-${w}`;
        const stored: NewEvent[] = [];
        for (let k = 0; k < 8; k++) {
          const count = (w + k) % 3 === 0 ? 1 + ((w * k) % 7) : 1;
          const size = (w + k) % 11 === 0
            ? 20_000 + w * 100
            : (w * 37 + k) % 500;
          const batch = Array.from({ length: count }, (_, i) => ({
            type: types[(w + k + i) % types.length],
            version: 1 + ((w + i) % 4),
            data: new Uint8Array(size).map((_, j) =>
              (w * 31 + k * 7 + i + j) & 0xff
            ),
            timestamp: 1_700_000_000_000 + w * 1000 + k * 10 + i,
          }));
          await journal.append(id, stored.length, batch);
          stored.push(...batch);
        }
        expected.set(id, stored);
      });
      await Promise.all(writers);
      for (const [id, events] of expected) {
        const read = await journal.read(id, 1);
        assert.equal(read.length, events.length, id);
        read.forEach((e, i) => {
          assert.equal(e.sequenceNr, i + 1);
          assert.equal(e.type, events[i].type);
          assert.equal(e.version, events[i].version);
          assert.equal(e.timestamp, events[i].timestamp);
          assert.deepEqual(e.data, events[i].data, `${id} #${i + 1}`);
        });
        assert.equal(await journal.lastSequenceNr(id), events.length);
      }
    });
  },
);

redisTest(
  "RedisPersistence.journal.read() pages through long journals, inclusive at both ends",
  async () => {
    await withProvider(async ({ journal }) => {
      const id = "paged";
      await journal.append(
        id,
        0,
        Array.from({ length: 50 }, (_, i) => event(i + 1)),
      );
      const all = await journal.read(id, 1);
      assert.deepEqual(seqs(all), Array.from({ length: 50 }, (_, i) => i + 1));
      assert.deepEqual(payloads(all), seqs(all));
      assert.deepEqual(
        seqs(await journal.read(id, 6, { toSequenceNr: 20 })),
        Array.from({ length: 15 }, (_, i) => i + 6),
      );
      assert.deepEqual(
        seqs(await journal.read(id, 10, { max: 14 })),
        Array.from({ length: 14 }, (_, i) => i + 10),
      );
      assert.deepEqual(seqs(await journal.read(id, 8, { max: 7 })), [
        8,
        9,
        10,
        11,
        12,
        13,
        14,
      ]);
      await journal.deleteTo(id, 33);
      assert.deepEqual(
        seqs(await journal.read(id, 1)),
        Array.from({ length: 17 }, (_, i) => i + 34),
      );
    }, { readPageSize: 7 });
  },
);

redisTest(
  "RedisPersistence.journal.read() returns plain, independent Uint8Arrays",
  async () => {
    await withProvider(async ({ journal }) => {
      await journal.append("bytes", 0, [event(1), event(2)]);
      const [first] = await journal.read("bytes", 1);
      assert.equal(Object.getPrototypeOf(first.data), Uint8Array.prototype);
      assert.equal(
        first.data.byteLength,
        first.data.buffer.byteLength,
        "not a view into a socket buffer",
      );
      first.data[0] = 0;
      assert.deepEqual(payloads(await journal.read("bytes", 1)), [1, 2]);
    });
  },
);

redisTest(
  "RedisPersistence.journal.append() stores a 20000-event batch atomically",
  async () => {
    await withProvider(async ({ journal }) => {
      const events = Array.from({ length: 20_000 }, (_, i) => event(i + 1));
      await journal.append("big", 0, events);
      const read = await journal.read("big", 1);
      assert.equal(read.length, 20_000);
      assert.ok(
        read.every((e, i) =>
          e.sequenceNr === i + 1 && payloads([e])[0] === i + 1
        ),
      );
      assert.equal(await journal.lastSequenceNr("big"), 20_000);
    });
  },
);

redisTest(
  "RedisPersistence refuses values its record form cannot read back",
  async () => {
    await withProvider(async ({ journal, snapshots }) => {
      await assert.rejects(
        journal.append("v", 0, [{ ...event(1), timestamp: NaN }]),
        RangeError,
      );
      await assert.rejects(
        journal.append("v", 0, [{ ...event(1), version: 2 ** 32 }]),
        RangeError,
      );
      await assert.rejects(
        journal.append("v", Number.MAX_SAFE_INTEGER - 1, [event(1), event(2)]),
        RangeError,
      );
      const snapshot = {
        persistenceId: "v",
        sequenceNr: 0,
        type: "s",
        version: 1,
        data: new Uint8Array(),
        timestamp: 0,
      };
      await assert.rejects(
        snapshots.save(snapshot),
        RangeError,
        "a snapshot follows at least one event",
      );
      assert.equal(await journal.lastSequenceNr("v"), 0);
    });
  },
);

redisTest(
  "RedisPersistence serves many persistence ids concurrently over one connection",
  async () => {
    await withProvider(async ({ journal }) => {
      const ids = Array.from({ length: 200 }, (_, i) => `concurrent-${i}`);
      await Promise.all(ids.map(async (id) => {
        for (let k = 0; k < 10; k++) {
          await journal.append(id, k, [event(k + 1)]);
        }
      }));
      const reads = await Promise.all(ids.map((id) => journal.read(id, 1)));
      for (const read of reads) {
        assert.deepEqual(payloads(read), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      }
    });
  },
);

redisTest(
  "RedisPersistence.close() is idempotent and later calls reject with JournalUnavailableError",
  async () => {
    const provider = await RedisPersistence.connect({
      url: REDIS_URL,
      keyPrefix: randomPrefix("close"),
      durability: "ignore",
    });
    await Promise.all([provider.close(), provider.close()]);
    await provider.close();
    await assert.rejects(
      provider.journal.lastSequenceNr("a"),
      isJournalUnavailableError,
    );
    await assert.rejects(
      provider.snapshots.keepLatest("a", 1),
      isJournalUnavailableError,
    );
    await assert.rejects(
      provider.journal.deleteTo("a", 1),
      isJournalUnavailableError,
    );
  },
);

redisTest(
  "RedisPersistence.journal.append() calls issued together keep their own outcomes",
  async () => {
    await withProvider(async ({ journal }, prefix) => {
      const raw = await rawCommands();
      try {
        // A key of the wrong type makes Redis refuse that append only.
        await raw.send([
          "SET",
          streamKeys(prefix, "broken").meta,
          "not a hash",
        ]);
        await journal.append("taken", 0, [event(1)]);
        const outcomes = await Promise.allSettled([
          journal.append("same", 0, [event(1)]),
          journal.append("same", 1, [event(2), event(3)]), // follows the one before it
          journal.append("taken", 0, [event(9)]), // conflict
          journal.append("broken", 0, [event(1)]), // refused by Redis
          journal.append("new", 5, [event(6)]), // conflict on an unknown id
          ...Array.from(
            { length: 40 },
            (_, i) => journal.append(`many-${i}`, 0, [event(i)]),
          ),
        ]);
        assert.deepEqual(outcomes.slice(0, 2).map((o) => o.status), [
          "fulfilled",
          "fulfilled",
        ]);
        assert.ok(
          outcomes[2].status === "rejected" &&
            isJournalConflictError(outcomes[2].reason),
        );
        assert.equal((outcomes[2] as PromiseRejectedResult).reason.actual, 1);
        assert.ok(
          outcomes[3].status === "rejected" &&
            isJournalUnavailableError(outcomes[3].reason),
        );
        assert.match(
          String((outcomes[3] as PromiseRejectedResult).reason),
          /WRONGTYPE/,
        );
        assert.ok(
          outcomes[4].status === "rejected" &&
            isJournalConflictError(outcomes[4].reason),
        );
        assert.equal((outcomes[4] as PromiseRejectedResult).reason.actual, 0);
        assert.ok(outcomes.slice(5).every((o) => o.status === "fulfilled"));
        assert.deepEqual(payloads(await journal.read("same", 1)), [1, 2, 3]);
        assert.deepEqual(payloads(await journal.read("taken", 1)), [1]);
        assert.equal(await journal.lastSequenceNr("new"), 0);
        assert.deepEqual(
          await raw.send([
            "EXISTS",
            streamKeys(prefix, "new").meta,
            streamKeys(prefix, "new").events,
          ]),
          0,
          "a refused append to an unknown id leaves no key behind",
        );
        for (let i = 0; i < 40; i++) {
          assert.deepEqual(payloads(await journal.read(`many-${i}`, 1)), [i]);
        }
      } finally {
        await raw.close();
      }
    });
  },
);
