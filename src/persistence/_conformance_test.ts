// The provider conformance suite: the contract in journal.ts, checked the same way for every
// provider (memory, Redis, ...), in the Hono way: one suite, run by each implementation's test.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  isCorruptRecordError,
  isJournalConflictError,
  isJournalUnavailableError,
} from "./errors.ts";
import type { NewEvent, PersistenceProvider, StoredEvent } from "./journal.ts";

/** Options of {@linkcode runProviderConformance}. */
export interface ConformanceOptions {
  /** Skip every test (e.g. the server is not reachable), with the reason in the name. */
  readonly skip?: string;
}

const encoder = new TextEncoder();

function event(n: number | string, extra: Partial<NewEvent> = {}): NewEvent {
  return {
    type: "test.event",
    version: 1,
    data: encoder.encode(JSON.stringify({ n })),
    timestamp: 1_700_000_000_000 + (typeof n === "number" ? n : 0),
    ...extra,
  };
}

function seqs(events: StoredEvent[]): number[] {
  return events.map((e) => e.sequenceNr);
}

function payloads(events: StoredEvent[]): unknown[] {
  return events.map((e) => JSON.parse(new TextDecoder().decode(e.data)).n);
}

let counter = 0;
function freshId(label: string): string {
  return `conf-${label}-${Date.now().toString(36)}-${++counter}-${
    Math.random().toString(36).slice(2)
  }`;
}

/**
 * Registers the provider contract tests for one provider.
 *
 * @param name The provider's name, used in test names.
 * @param create Makes a provider for one test; the suite closes it at the end of the test.
 * @param options Skip the suite.
 */
export function runProviderConformance(
  name: string,
  create: () => Promise<PersistenceProvider>,
  options: ConformanceOptions = {},
): void {
  const conformance = (
    title: string,
    body: (p: PersistenceProvider) => Promise<void>,
  ) => {
    test({
      name: `${name} conformance: ${title}${
        options.skip ? ` (skipped: ${options.skip})` : ""
      }`,
      ignore: options.skip !== undefined,
      fn: async () => {
        const provider = await create();
        try {
          await body(provider);
        } finally {
          await provider.close();
        }
      },
    });
  };

  conformance(
    "an unknown persistence id is empty",
    async ({ journal, snapshots }) => {
      const id = freshId("empty");
      assert.equal(await journal.lastSequenceNr(id), 0);
      assert.deepEqual(await journal.read(id, 1), []);
      assert.equal(await snapshots.loadLatest(id), undefined);
    },
  );

  conformance(
    "append numbers events from 1 with no gaps and read returns them intact",
    async ({ journal }) => {
      const id = freshId("append");
      await journal.append(id, 0, [event(1), event(2)]);
      await journal.append(id, 2, [event(3)]);
      const read = await journal.read(id, 1);
      assert.deepEqual(seqs(read), [1, 2, 3]);
      assert.deepEqual(payloads(read), [1, 2, 3]);
      assert.deepEqual(
        read.map((e) => [e.persistenceId, e.type, e.version, e.timestamp]),
        [
          [id, "test.event", 1, 1_700_000_000_001],
          [id, "test.event", 1, 1_700_000_000_002],
          [id, "test.event", 1, 1_700_000_000_003],
        ],
      );
      assert.equal(await journal.lastSequenceNr(id), 3);
    },
  );

  conformance(
    "append with the wrong expected sequence number is refused and writes nothing",
    async ({ journal }) => {
      const id = freshId("conflict");
      await journal.append(id, 0, [event(1)]);
      for (const expected of [0, 2, 5]) {
        await assert.rejects(
          journal.append(id, expected, [event("x"), event("y")]),
          (e: unknown) => {
            assert.ok(isJournalConflictError(e), String(e));
            assert.equal(e.expected, expected);
            assert.equal(e.actual, 1);
            assert.equal(e.persistenceId, id);
            return true;
          },
        );
      }
      assert.deepEqual(payloads(await journal.read(id, 1)), [1]);
      assert.equal(await journal.lastSequenceNr(id), 1);
    },
  );

  conformance(
    "read ranges are inclusive at both ends and honour max",
    async ({ journal }) => {
      const id = freshId("ranges");
      await journal.append(id, 0, [1, 2, 3, 4, 5, 6].map((n) => event(n)));
      assert.deepEqual(seqs(await journal.read(id, 2, { toSequenceNr: 4 })), [
        2,
        3,
        4,
      ]);
      assert.deepEqual(seqs(await journal.read(id, 4, { toSequenceNr: 4 })), [
        4,
      ]);
      assert.deepEqual(seqs(await journal.read(id, 0)), [1, 2, 3, 4, 5, 6]);
      assert.deepEqual(seqs(await journal.read(id, 3, { max: 2 })), [3, 4]);
      assert.deepEqual(seqs(await journal.read(id, 5, { toSequenceNr: 100 })), [
        5,
        6,
      ]);
      assert.deepEqual(await journal.read(id, 7), []);
      assert.deepEqual(await journal.read(id, 5, { toSequenceNr: 4 }), []);
      assert.deepEqual(await journal.read(id, 1, { max: 0 }), []);
    },
  );

  conformance(
    "deleteTo removes events up to and including n, and sequence numbers are never reused",
    async ({ journal }) => {
      const id = freshId("delete");
      await journal.append(id, 0, [1, 2, 3, 4].map((n) => event(n)));
      await journal.deleteTo(id, 2);
      assert.deepEqual(seqs(await journal.read(id, 1)), [3, 4]);
      assert.deepEqual(seqs(await journal.read(id, 3, { toSequenceNr: 3 })), [
        3,
      ]);
      assert.equal(await journal.lastSequenceNr(id), 4);
      await journal.deleteTo(id, 10);
      assert.deepEqual(await journal.read(id, 1), []);
      assert.equal(
        await journal.lastSequenceNr(id),
        4,
        "the last sequence number survives",
      );
      await assert.rejects(
        journal.append(id, 0, [event("again")]),
        isJournalConflictError,
      );
      await journal.append(id, 4, [event(5)]);
      assert.deepEqual(seqs(await journal.read(id, 1)), [5]);
      await journal.deleteTo(id, 0);
      assert.deepEqual(seqs(await journal.read(id, 1)), [5]);
    },
  );

  conformance(
    "persistence ids are independent, including ids with special characters",
    async ({ journal }) => {
      const base = freshId("ids");
      const ids = [
        base,
        `${base}:x`,
        `${base}{a}`,
        `${base}}{`,
        `${base} ü/🎭`,
        `${base}*?[]`,
      ];
      for (const [i, id] of ids.entries()) {
        await journal.append(id, 0, [event(i)]);
      }
      for (const [i, id] of ids.entries()) {
        assert.deepEqual(payloads(await journal.read(id, 1)), [i], id);
        assert.equal(await journal.lastSequenceNr(id), 1);
      }
    },
  );

  conformance(
    "event data round-trips every byte value, and empty data",
    async ({ journal }) => {
      const id = freshId("bytes");
      const all = Uint8Array.from({ length: 256 }, (_, i) => i);
      await journal.append(id, 0, [
        event(0, { data: all, type: "bin", version: 7 }),
        event(1, { data: new Uint8Array(0) }),
      ]);
      const [a, b] = await journal.read(id, 1);
      assert.deepEqual([...a.data], [...all]);
      assert.equal(a.type, "bin");
      assert.equal(a.version, 7);
      assert.equal(b.data.length, 0);
    },
  );

  conformance(
    "concurrent appends with the same expected number: exactly one wins",
    async ({ journal }) => {
      const id = freshId("race");
      const results = await Promise.allSettled(
        Array.from(
          { length: 10 },
          (_, i) => journal.append(id, 0, [event(i), event(i + 100)]),
        ),
      );
      const won = results.filter((r) => r.status === "fulfilled");
      assert.equal(won.length, 1);
      for (const r of results) {
        if (r.status === "rejected") {
          assert.ok(isJournalConflictError(r.reason), String(r.reason));
        }
      }
      assert.deepEqual(seqs(await journal.read(id, 1)), [1, 2]);
    },
  );

  conformance(
    "concurrent writers retrying on conflict build one gapless journal",
    async ({ journal }) => {
      const id = freshId("writers");
      const writers = 8;
      const each = 10;
      await Promise.all(Array.from({ length: writers }, async (_, w) => {
        for (let k = 0; k < each; k++) {
          while (true) {
            const last = await journal.lastSequenceNr(id);
            try {
              await journal.append(id, last, [event(`${w}.${k}`)]);
              break;
            } catch (error) {
              if (!isJournalConflictError(error)) throw error;
            }
          }
        }
      }));
      const read = await journal.read(id, 1);
      assert.deepEqual(
        seqs(read),
        Array.from({ length: writers * each }, (_, i) => i + 1),
      );
      assert.equal(
        new Set(payloads(read)).size,
        writers * each,
        "every event exactly once",
      );
      for (let w = 0; w < writers; w++) {
        const mine = payloads(read).filter((p) =>
          String(p).startsWith(`${w}.`)
        );
        assert.deepEqual(
          mine,
          Array.from({ length: each }, (_, k) => `${w}.${k}`),
          "per-writer order",
        );
      }
    },
  );

  conformance(
    "many ids appending at once each keep their own sequence",
    async ({ journal }) => {
      const ids = Array.from({ length: 50 }, (_, i) => freshId(`many${i}`));
      await Promise.all(ids.map(async (id) => {
        for (let k = 0; k < 5; k++) await journal.append(id, k, [event(k)]);
      }));
      for (const id of ids) {
        assert.deepEqual(
          payloads(await journal.read(id, 1)),
          [0, 1, 2, 3, 4],
        );
      }
    },
  );

  conformance(
    "a large journal is read back completely and in order",
    async ({ journal }) => {
      const id = freshId("large");
      const batch = 500;
      for (let b = 0; b < 10; b++) {
        await journal.append(
          id,
          b * batch,
          Array.from({ length: batch }, (_, i) => event(b * batch + i)),
        );
      }
      const read = await journal.read(id, 1);
      assert.equal(read.length, 5000);
      assert.ok(read.every((e, i) => e.sequenceNr === i + 1));
      assert.deepEqual(seqs(await journal.read(id, 4990, { max: 5 })), [
        4990,
        4991,
        4992,
        4993,
        4994,
      ]);
    },
  );

  conformance(
    "snapshots: latest, bounded by max (inclusive), replaced at the same number, pruned",
    async ({ snapshots }) => {
      const id = freshId("snap");
      const snap = (sequenceNr: number, label: string) => ({
        persistenceId: id,
        sequenceNr,
        type: "state",
        version: 2,
        data: encoder.encode(label),
        timestamp: 1_700_000_000_000 + sequenceNr,
      });
      const label = (s: { data: Uint8Array } | undefined) =>
        s && new TextDecoder().decode(s.data);
      await snapshots.save(snap(10, "ten"));
      await snapshots.save(snap(30, "thirty"));
      await snapshots.save(snap(20, "twenty"));
      assert.equal(label(await snapshots.loadLatest(id)), "thirty");
      assert.equal(label(await snapshots.loadLatest(id, 29)), "twenty");
      assert.equal(
        label(await snapshots.loadLatest(id, 20)),
        "twenty",
        "inclusive bound",
      );
      assert.equal(await snapshots.loadLatest(id, 9), undefined);
      await snapshots.save(snap(30, "thirty again"));
      const latest = await snapshots.loadLatest(id);
      assert.equal(label(latest), "thirty again");
      assert.deepEqual(
        [
          latest?.persistenceId,
          latest?.sequenceNr,
          latest?.type,
          latest?.version,
          latest?.timestamp,
        ],
        [id, 30, "state", 2, 1_700_000_000_030],
      );
      await snapshots.keepLatest(id, 2);
      assert.equal(
        label(await snapshots.loadLatest(id, 15)),
        undefined,
        "the oldest was pruned",
      );
      assert.equal(label(await snapshots.loadLatest(id, 25)), "twenty");
      await snapshots.keepLatest(id, 1);
      assert.equal(await snapshots.loadLatest(id, 29), undefined);
      assert.equal(label(await snapshots.loadLatest(id)), "thirty again");
    },
  );

  conformance(
    "caller mistakes are TypeError/RangeError",
    async ({ journal, snapshots }) => {
      const id = freshId("args");
      const bad: Array<() => Promise<unknown>> = [
        () => journal.append(id, 0, []),
        () => journal.append(id, -1, [event(1)]),
        () => journal.append(id, 0.5, [event(1)]),
        () => journal.append("", 0, [event(1)]),
        () => journal.append(id, 0, [{ ...event(1), type: "" }]),
        () => journal.append(id, 0, [{ ...event(1), version: 0 }]),
        () =>
          journal.append(id, 0, [{
            ...event(1),
            data: "x" as unknown as Uint8Array,
          }]),
        () => journal.read(id, -1),
        () => journal.read(id, 1, { max: -1 }),
        () => journal.deleteTo(id, -5),
        () => snapshots.keepLatest(id, 0),
      ];
      for (const call of bad) {
        await assert.rejects(
          Promise.resolve().then(call),
          (e: unknown) => e instanceof TypeError || e instanceof RangeError,
          String(call),
        );
      }
      assert.equal(await journal.lastSequenceNr(id), 0, "nothing was written");
    },
  );

  conformance(
    "after close every call rejects with JournalUnavailableError (an append says it stored nothing)",
    async (provider) => {
      await provider.close();
      await provider.close();
      await assert.rejects(
        provider.journal.append(freshId("closed"), 0, [event(1)]),
        (e: unknown) => isJournalUnavailableError(e) && e.notApplied,
      );
      await assert.rejects(
        provider.journal.read(freshId("closed"), 1),
        isJournalUnavailableError,
      );
      await assert.rejects(
        provider.snapshots.loadLatest(freshId("closed")),
        isJournalUnavailableError,
      );
    },
  );
}

/** True when an error is one the contract allows a read to fail with. */
export function isReadError(error: unknown): boolean {
  return isCorruptRecordError(error) || isJournalUnavailableError(error);
}
