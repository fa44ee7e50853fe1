import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import {
  ActorSystem,
  isActorStartError,
  isActorStoppedError,
  jsonCodec,
  oneForOne,
} from "../../mod.ts";
import { ManualClock } from "../testing/mod.ts";
import {
  CorruptRecordError,
  definePersistentActor,
  isJournalConflictError,
  isJournalUnavailableError,
  isPersistFailedError,
  isPersistOutcomeUnknownError,
  isRecoveryError,
  type JournalRetryPolicy,
  JournalUnavailableError,
  MemoryPersistence,
  type NewEvent,
  type PersistenceProvider,
  type PersistFailurePolicy,
  usePersistence,
} from "./mod.ts";

const quiet = { error() {} };

/** Wraps a provider so tests can make appends and reads fail or wait. */
class ControlledProvider implements PersistenceProvider {
  readonly inner = new MemoryPersistence();
  failAppends = 0;
  /** Appends that store the events and then report a failure (the reply was "lost"). */
  loseReplies = 0;
  appendCalls = 0;
  readGate: Promise<void> | null = null;
  /** While set, every call fails as if the storage were unreachable. */
  down = false;
  /** Whether the failures while down say that nothing was sent. */
  downNotApplied = false;
  /** Set `down` when a reply is lost (the storage went away right after storing). */
  downAfterLostReply = false;
  /** Makes reads reject with this error. */
  readError: Error | null = null;
  /** Called on every journal read, while down too. */
  onRead: () => void = () => {};
  readonly journal: PersistenceProvider["journal"];
  readonly snapshots: PersistenceProvider["snapshots"];

  constructor() {
    const inner = this.inner.journal;
    const check = () => {
      if (this.down) {
        throw new JournalUnavailableError("injected: storage down", undefined, {
          notApplied: this.downNotApplied,
        });
      }
    };
    this.journal = {
      append: async (id, expected, events) => {
        this.appendCalls++;
        check();
        if (this.failAppends > 0) {
          this.failAppends--;
          throw new JournalUnavailableError("injected: storage down");
        }
        await inner.append(id, expected, events);
        if (this.loseReplies > 0) {
          this.loseReplies--;
          if (this.downAfterLostReply) this.down = true;
          throw new JournalUnavailableError("injected: reply lost");
        }
      },
      read: async (id, from, options) => {
        this.onRead();
        check();
        if (this.readError !== null) throw this.readError;
        if (this.readGate !== null) await this.readGate;
        return inner.read(id, from, options);
      },
      lastSequenceNr: async (id) => {
        check();
        return await inner.lastSequenceNr(id);
      },
      deleteTo: (id, to) => inner.deleteTo(id, to),
    };
    const snapshots = this.inner.snapshots;
    this.snapshots = {
      save: (snapshot) => snapshots.save(snapshot),
      loadLatest: async (id, max) => {
        check();
        return await snapshots.loadLatest(id, max);
      },
      keepLatest: (id, count) => snapshots.keepLatest(id, count),
    };
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

function makeAccount(
  options: {
    policy?: PersistFailurePolicy;
    snapshotEvery?: number;
    keepSnapshots?: number;
    deleteEventsOnSnapshot?: boolean;
    journalRetry?: JournalRetryPolicy;
  } = {},
) {
  return definePersistentActor({
    name: "account",
    init: () => ({ balance: 0 }),
    events: {
      deposited: (state, e: { amount: number }) => {
        state.balance += e.amount;
      },
      withdrawn: (state, e: { amount: number }) => {
        state.balance -= e.amount;
      },
    },
    persistFailure: options.policy ??
      { maxRetries: 2, backoff: { minMs: 100, maxMs: 100 } },
    snapshotEvery: options.snapshotEvery,
    keepSnapshots: options.keepSnapshots,
    deleteEventsOnSnapshot: options.deleteEventsOnSnapshot,
    journalRetry: options.journalRetry,
  }).handlers({
    deposit: async (state, amount: number, ctx) => {
      await ctx.persist("deposited", { amount });
      return state.balance;
    },
    depositSafely: async (state, amount: number, ctx) => {
      try {
        await ctx.persist("deposited", { amount });
        return `ok ${state.balance}`;
      } catch (error) {
        return `failed ${isPersistFailedError(error)} ${state.balance}`;
      }
    },
    transfer: (_state, amounts: number[], ctx) =>
      ctx.persistAll(
        amounts.map((amount) => ({
          type: "deposited" as const,
          event: { amount },
        })),
      ),
    tryDeposit: async (state, amount: number, ctx) => {
      try {
        await ctx.persist("deposited", { amount });
        return `ok ${state.balance}`;
      } catch (error) {
        return `${(error as Error).name} ${state.balance}`;
      }
    },
    fireAndForget: (_state, amount: number, ctx) => {
      void ctx.persist("deposited", { amount });
    },
    balance: (state) => state.balance,
    snapshot: (_state, _: undefined, ctx) => ctx.snapshot(),
    seq: (_state, _: undefined, ctx) => ctx.lastSequenceNr,
  });
}

function storedTypes(provider: PersistenceProvider, id: string) {
  return provider.journal.read(id, 1).then((events) =>
    events.map((e) => [e.sequenceNr, e.type, jsonCodec.decode(e.type, e.data)])
  );
}

test("definePersistentActor(): persist resolves after the append, and a restart recovers the state", async () => {
  await using system = new ActorSystem();
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  const account = makeAccount();
  const ref = await system.spawn(account, undefined, { id: "acct" });
  assert.equal(await ref.ask("deposit", 100), 100);
  await ref.ask("transfer", [5, 6]);
  assert.deepEqual(await storedTypes(provider, "acct"), [
    [1, "deposited", { amount: 100 }],
    [2, "deposited", { amount: 5 }],
    [3, "deposited", { amount: 6 }],
  ]);
  await ref.stop();
  const again = await system.spawn(account, undefined, { id: "acct" });
  assert.equal(await again.ask("balance"), 111);
  assert.equal(await again.ask("seq"), 3);
  assert.equal(await again.ask("deposit", 1), 112);
  assert.deepEqual((await storedTypes(provider, "acct")).map(([seq]) => seq), [
    1,
    2,
    3,
    4,
  ]);
});

test("definePersistentActor(): messages sent during recovery wait and see the recovered state", async () => {
  await using system = new ActorSystem();
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const account = makeAccount();
  const first = await system.spawn(account, undefined, { id: "a" });
  await first.ask("deposit", 50);
  await first.stop();
  let open!: () => void;
  provider.readGate = new Promise((resolve) => open = resolve);
  const spawning = system.spawn(account, undefined, { id: "a" });
  await new Promise((r) => setTimeout(r, 5));
  // The actor is registered while it recovers: messages sent now wait in its mailbox.
  const early = system.lookup("a", account);
  assert.ok(early !== undefined);
  early.tell("deposit", 1);
  const answer = early.ask("balance");
  open();
  const ref = await spawning;
  assert.equal(ref, early);
  assert.equal(await answer, 51, "handled after recovery, in order");
});

test("definePersistentActor(): a storage outage is retried with backoff, then succeeds (virtual time)", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, askTimeoutMs: 60_000 });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(makeAccount(), undefined, { id: "r" });
  provider.failAppends = 2;
  const asked = ref.ask("deposit", 10);
  await clock.advance(99);
  assert.equal(provider.appendCalls, 1, "waits the backoff before retrying");
  await clock.advance(1);
  await clock.advance(100);
  assert.equal(await asked, 10);
  assert.equal(provider.appendCalls, 3);
  assert.equal(
    (await provider.inner.journal.read("r", 1)).length,
    1,
    "stored exactly once",
  );
});

test("definePersistentActor(): after the last retry persist rejects, the state is unchanged, and escalate restarts", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 60_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(makeAccount(), undefined, { id: "e" });
  await ref.ask("deposit", 5);
  provider.failAppends = 3; // the first attempt and both retries
  const asked = ref.ask("depositSafely", 10).catch((e: unknown) => e);
  await clock.advance(500);
  // The handler caught the error, saw the unchanged state, and still failed (escalate).
  assert.ok(isPersistFailedError(await asked));
  assert.equal(provider.appendCalls, 4);
  assert.equal(
    await ref.ask("balance"),
    5,
    "restarted and recovered from the journal",
  );
});

test("definePersistentActor(): policy 'reject' lets the handler decide; 'stop' stops the actor", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 60_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const rejecting = await system.spawn(
    makeAccount({ policy: { maxRetries: 0, then: "reject" } }),
    undefined,
    { id: "rej" },
  );
  provider.failAppends = 1;
  assert.equal(await rejecting.ask("depositSafely", 10), "failed true 0");
  assert.equal(await rejecting.ask("deposit", 3), 3, "the actor goes on");

  const stopping = await system.spawn(
    makeAccount({ policy: { maxRetries: 0, then: "stop" } }),
    undefined,
    { id: "stop" },
  );
  provider.failAppends = 1;
  const outcome = stopping.ask("depositSafely", 10);
  assert.equal(await outcome, "failed true 0");
  await system.whenStopped(stopping);
  await assert.rejects(stopping.ask("balance"), isActorStoppedError);
});

test("definePersistentActor(): a second writer of the same persistence id is refused, not merged", async () => {
  const provider = new MemoryPersistence();
  await using one = new ActorSystem({ logger: quiet });
  await using two = new ActorSystem({ logger: quiet });
  usePersistence(one, provider);
  usePersistence(two, provider);
  const account = makeAccount({
    policy: { maxRetries: 5, backoff: { minMs: 1, maxMs: 1 }, then: "reject" },
  });
  const a = await one.spawn(account, undefined, { id: "split" });
  const b = await two.spawn(account, undefined, { id: "split" });
  await a.ask("deposit", 1);
  const result = await b.ask("depositSafely", 2);
  assert.equal(result, "failed true 0", "b's state is unchanged");
  assert.deepEqual((await storedTypes(provider, "split")).map(([, , e]) => e), [
    { amount: 1 },
  ]);
  assert.equal(await a.ask("deposit", 10), 11, "the first writer goes on");
});

test("definePersistentActor(): the conflict cause of PersistFailedError is JournalConflictError, without retries", async () => {
  const provider = new ControlledProvider();
  await using one = new ActorSystem({ logger: quiet });
  usePersistence(one, provider);
  const failures: unknown[] = [];
  const account = definePersistentActor({
    name: "writer",
    init: () => ({}),
    events: { noted: () => {} },

    persistFailure: { maxRetries: 3, then: "reject" },
  }).handlers({
    note: async (_s, _: undefined, ctx) => {
      try {
        await ctx.persist("noted", null);
      } catch (error) {
        failures.push(error);
      }
    },
  });
  const ref = await one.spawn(account, undefined, { id: "w" });
  await provider.inner.journal.append("w", 0, [{
    type: "noted",
    version: 1,
    data: jsonCodec.encode("noted", null),
    timestamp: 0,
  }]);
  const callsBefore = provider.appendCalls;
  await ref.ask("note");
  assert.equal(
    provider.appendCalls - callsBefore,
    1,
    "a conflict is not retried",
  );
  assert.ok(isPersistFailedError(failures[0]));
  assert.ok(isJournalConflictError((failures[0] as Error).cause));
});

test("definePersistentActor(): an append whose reply was lost is not written twice", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, askTimeoutMs: 60_000 });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(makeAccount(), undefined, { id: "lost" });
  provider.loseReplies = 1;
  const asked = ref.ask("deposit", 10);
  await clock.advance(200);
  assert.equal(await asked, 10);
  assert.equal((await provider.inner.journal.read("lost", 1)).length, 1);
});

test("definePersistentActor(): a handler that does not await persist still holds the next message", async () => {
  await using system = new ActorSystem();
  const ref = await system.spawn(makeAccount(), undefined, { id: "ff" });
  ref.tell("fireAndForget", 4);
  assert.equal(
    await ref.ask("balance"),
    4,
    "the next message sees the persisted event",
  );
});

test("definePersistentActor(): persist() hands its append to the journal at once when none is in flight, and queues it behind one that is", async () => {
  await using system = new ActorSystem();
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const actor = definePersistentActor({
    name: "eager",
    init: () => ({ n: 0 }),
    events: {
      added: (state, e: { by: number }) => {
        state.n += e.by;
      },
    },
  }).handlers({
    addTwice: (_state, by: number, ctx) => {
      const before = provider.appendCalls;
      const first = ctx.persist("added", { by });
      const second = ctx.persist("added", { by: by + 1 });
      const calledAtOnce = provider.appendCalls - before;
      return Promise.all([first, second]).then(() => calledAtOnce);
    },
    n: (state) => state.n,
  });
  const ref = await system.spawn(actor, undefined, { id: "eager" });
  assert.equal(await ref.ask("addTwice", 1), 1, "only the first went out");
  assert.equal(await ref.ask("addTwice", 10), 1);
  assert.equal(await ref.ask("n"), 1 + 2 + 10 + 11);
  assert.deepEqual(
    (await provider.inner.journal.read("eager", 1)).map((e) => [
      e.sequenceNr,
      jsonCodec.decode(e.type, e.data),
    ]),
    [[1, { by: 1 }], [2, { by: 2 }], [3, { by: 10 }], [4, { by: 11 }]],
  );
});

test("definePersistentActor(): a journal whose append throws instead of rejecting is retried like a failed attempt (virtual time)", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, askTimeoutMs: 60_000 });
  const inner = new MemoryPersistence();
  let throwNext = 1;
  let calls = 0;
  usePersistence(system, {
    journal: {
      ...inner.journal,
      append: (id, expected, events) => {
        calls++;
        if (throwNext > 0) {
          throwNext--;
          throw new JournalUnavailableError("injected: thrown", undefined, {
            notApplied: true,
          });
        }
        return inner.journal.append(id, expected, events);
      },
    },
    snapshots: inner.snapshots,
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  });
  const ref = await system.spawn(makeAccount(), undefined, { id: "thrower" });
  const asked = ref.ask("deposit", 7);
  await clock.advance(100);
  assert.equal(await asked, 7);
  assert.equal(calls, 2);
  assert.equal((await inner.journal.read("thrower", 1)).length, 1);
});

test("definePersistentActor(): persisting an event type without an applier rejects with TypeError", async () => {
  await using system = new ActorSystem({ logger: quiet });
  const bad = definePersistentActor({
    name: "bad",
    init: () => ({}),
    events: { ok: () => {} },

    persistFailure: { then: "reject" },
  }).handlers({
    wrong: (_s, _: undefined, ctx) => ctx.persist("nope" as "ok", null),
  });
  const ref = await system.spawn(bad, undefined);
  await assert.rejects(ref.ask("wrong"), TypeError);
});

test("definePersistentActor(): snapshots: recovery starts from the latest and replays the rest", async () => {
  await using system = new ActorSystem();
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  const account = makeAccount({ snapshotEvery: 3, keepSnapshots: 2 });
  const ref = await system.spawn(account, undefined, { id: "s" });
  for (let i = 1; i <= 10; i++) await ref.ask("deposit", i);
  const latest = await provider.snapshots.loadLatest("s");
  assert.equal(latest?.sequenceNr, 9);
  assert.deepEqual(jsonCodec.decode("$snapshot", latest!.data), {
    balance: 45,
  });
  assert.equal(
    await provider.snapshots.loadLatest("s", 5),
    undefined,
    "kept only the newest two",
  );
  // Delete the events the snapshot covers: recovery must not need them.
  await provider.journal.deleteTo("s", 9);
  await ref.stop();
  const again = await system.spawn(account, undefined, { id: "s" });
  assert.equal(await again.ask("balance"), 55);
  assert.equal(await again.ask("seq"), 10);
});

/** An account that snapshots every `every` events, keeps `keep` and deletes what they cover. */
function deletingAccount(every: number, keep: number) {
  return makeAccount({
    snapshotEvery: every,
    keepSnapshots: keep,
    deleteEventsOnSnapshot: true,
  });
}

/** Deposits `from`, `from + 1`, ..., `to`, one ask at a time. */
async function depositRange(
  ref: { ask(type: "deposit", amount: number): Promise<unknown> },
  from: number,
  to: number,
): Promise<void> {
  for (let i = from; i <= to; i++) await ref.ask("deposit", i);
}

test("definePersistentActor(): deleteEventsOnSnapshot deletes the events up to the oldest kept snapshot, and recovery still works", async () => {
  await using system = new ActorSystem();
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  const seqs = async (id: string) =>
    (await provider.journal.read(id, 1)).map((e) => e.sequenceNr);

  // Default: every event stays.
  const keeps = await system.spawn(
    makeAccount({ snapshotEvery: 3 }),
    undefined,
    { id: "keeps" },
  );
  await depositRange(keeps, 1, 10);
  assert.deepEqual(await seqs("keeps"), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);

  // Two kept snapshots (3 is pruned, 6 and 9 kept): the events up to 6 go.
  const account = deletingAccount(3, 2);
  const ref = await system.spawn(account, undefined, { id: "d" });
  await depositRange(ref, 1, 10);
  assert.deepEqual(await seqs("d"), [7, 8, 9, 10]);
  assert.equal(await provider.journal.lastSequenceNr("d"), 10);
  // The older kept snapshot (6) still recovers with the events after it.
  const older = await provider.snapshots.loadLatest("d", 8);
  assert.equal(older?.sequenceNr, 6);
  await ref.stop();
  const again = await system.spawn(account, undefined, { id: "d" });
  assert.equal(await again.ask("balance"), 55);
  assert.equal(await again.ask("seq"), 10);
  // Sequence numbers go on after the deleted ones, and the next snapshot deletes up to 9.
  await depositRange(again, 11, 12);
  assert.deepEqual(await seqs("d"), [10, 11, 12]);

  // One kept snapshot: up to the snapshot itself.
  const single = deletingAccount(3, 1);
  const one = await system.spawn(single, undefined, { id: "one" });
  await depositRange(one, 1, 7);
  assert.deepEqual(await seqs("one"), [7]);
  await one.stop();
  const oneAgain = await system.spawn(single, undefined, { id: "one" });
  assert.equal(await oneAgain.ask("balance"), 28);

  // Three kept snapshots (6, 8, 10 of 2, 4, ..., 10): up to the oldest, 6, so that each of
  // them still recovers; a second snapshot at 10 (nothing new) keeps the window as it is.
  const three = deletingAccount(2, 3);
  const t = await system.spawn(three, undefined, { id: "three" });
  await depositRange(t, 1, 10);
  assert.deepEqual(await seqs("three"), [7, 8, 9, 10]);
  await t.ask("snapshot");
  assert.deepEqual(await seqs("three"), [7, 8, 9, 10]);
  assert.equal(
    (await provider.snapshots.loadLatest("three", 7))?.sequenceNr,
    6,
  );
  // After a recovery (from 10) the older kept snapshots are unknown: nothing is deleted until
  // two more snapshots make the window known again (10, 12, 14: up to 10).
  await t.stop();
  const tAgain = await system.spawn(three, undefined, { id: "three" });
  await depositRange(tAgain, 11, 12);
  assert.deepEqual(await seqs("three"), [7, 8, 9, 10, 11, 12]);
  await depositRange(tAgain, 13, 14);
  assert.deepEqual(await seqs("three"), [11, 12, 13, 14]);
  assert.equal(await tAgain.ask("balance"), 105);
});

test("definePersistentActor(): a failed deletion after a snapshot neither fails the persist nor loses the snapshot, and the next snapshot deletes what it missed", async () => {
  await using system = new ActorSystem();
  const inner = new MemoryPersistence();
  let deletions = 0;
  let failing = true;
  const provider = {
    journal: {
      append: inner.journal.append.bind(inner.journal),
      read: inner.journal.read.bind(inner.journal),
      lastSequenceNr: inner.journal.lastSequenceNr.bind(inner.journal),
      deleteTo: (id: string, to: number) => {
        deletions++;
        return failing
          ? Promise.reject(new Error("no deleting today"))
          : inner.journal.deleteTo(id, to);
      },
    },
    snapshots: inner.snapshots,
    close: () => inner.close(),
    [Symbol.asyncDispose]: () => inner.close(),
  };
  usePersistence(system, provider);
  const ref = await system.spawn(deletingAccount(2, 1), undefined, {
    id: "f",
  });
  for (let i = 1; i <= 4; i++) assert.equal(await ref.ask("deposit", 1), i);
  assert.equal(deletions, 2);
  assert.equal((await inner.snapshots.loadLatest("f"))?.sequenceNr, 4);
  assert.equal((await inner.journal.read("f", 1)).length, 4);
  // Deleting works again: the snapshot at 6 deletes up to 6, the events 1-4 the failed
  // deletions left included.
  failing = false;
  await depositRange(ref, 5, 6);
  assert.equal(deletions, 3);
  assert.deepEqual(
    (await inner.journal.read("f", 1)).map((e) => e.sequenceNr),
    [],
  );
  assert.equal(await ref.ask("balance"), 4 + 5 + 6);
});

test("definePersistentActor() refuses a deleteEventsOnSnapshot that is not a boolean", () => {
  assert.throws(
    () =>
      definePersistentActor({
        name: "x",
        init: () => ({}),
        events: {},
        deleteEventsOnSnapshot: "yes" as unknown as boolean,
      }),
    /deleteEventsOnSnapshot must be a boolean/,
  );
});

test("definePersistentActor(): events deleted without a snapshot fail recovery instead of losing them", async () => {
  await using system = new ActorSystem();
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  const ref = await system.spawn(makeAccount(), undefined, { id: "gap" });
  await ref.ask("deposit", 1);
  await ref.ask("deposit", 2);
  await ref.stop();
  await provider.journal.deleteTo("gap", 1);
  await assert.rejects(
    system.spawn(makeAccount(), undefined, { id: "gap" }),
    (e: unknown) => {
      assert.ok(isActorStartError(e));
      assert.ok(isRecoveryError(e.cause));
      assert.equal(e.cause.persistenceId, "gap");
      return true;
    },
  );
});

test("definePersistentActor(): undecodable stored data fails recovery with RecoveryError naming id and sequence", async () => {
  await using system = new ActorSystem();
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  const good = jsonCodec.encode("deposited", { amount: 1 });
  const events: NewEvent[] = [
    { type: "deposited", version: 1, data: good, timestamp: 0 },
    {
      type: "deposited",
      version: 1,
      data: new Uint8Array([0xff, 0x7b]),
      timestamp: 0,
    },
  ];
  await provider.journal.append("corrupt", 0, events);
  await assert.rejects(
    system.spawn(makeAccount(), undefined, { id: "corrupt" }),
    (e: unknown) => {
      assert.ok(isActorStartError(e));
      assert.ok(isRecoveryError(e.cause));
      assert.equal(e.cause.sequenceNr, 2);
      assert.match(e.cause.message, /"corrupt"/);
      return true;
    },
  );
  assert.equal(system.size, 0);
});

test("definePersistentActor() (property): random stored bytes never crash recovery: RecoveryError or success", async () => {
  await using system = new ActorSystem();
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  let n = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({
          type: fc.constantFrom("deposited", "withdrawn", "unknown", ""),
          version: fc.integer({ min: 1, max: 3 }),
          data: fc.oneof(
            fc.uint8Array({ maxLength: 40 }),
            fc.jsonValue().map((v) => jsonCodec.encode("x", v)),
          ),
        }),
        { minLength: 1, maxLength: 5 },
      ),
      async (records) => {
        const id = `fuzz-${++n}`;
        const events = records.map((r) => ({
          ...r,
          type: r.type || "deposited",
          timestamp: 0,
        }));
        await provider.journal.append(id, 0, events);
        try {
          const ref = await system.spawn(makeAccount(), undefined, { id });
          await ref.ask("balance");
          await ref.stop();
        } catch (error) {
          assert.ok(isActorStartError(error), String(error));
          assert.ok(isRecoveryError(error.cause), String(error.cause));
        }
      },
    ),
    { numRuns: 150 },
  );
});

test("definePersistentActor(): upcast migrates old event versions on read", async () => {
  await using system = new ActorSystem();
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  // Version 1 stored cents as a string.
  await provider.journal.append("v", 0, [
    {
      type: "deposited",
      version: 1,
      data: jsonCodec.encode("deposited", { cents: "250" }),
      timestamp: 0,
    },
  ]);
  const v2 = definePersistentActor({
    name: "account-v2",
    init: () => ({ balance: 0 }),
    events: {
      deposited: (state, e: { amount: number }) => {
        state.balance += e.amount;
      },
    },
    eventVersions: { deposited: 2 },
    upcast: ({ type, version, data }) => {
      assert.equal(version, 1);
      return {
        type,
        data: { amount: Number((data as { cents: string }).cents) / 100 },
      };
    },
  }).handlers({ balance: (state) => state.balance });
  const ref = await system.spawn(v2, undefined, { id: "v" });
  assert.equal(await ref.ask("balance"), 2.5);
  const custom = definePersistentActor({
    name: "custom-id",
    persistenceId: () => "v",
    init: () => ({ balance: 0 }),
    events: { deposited: () => {} },
    eventVersions: { deposited: 2 },
  }).handlers({});
  await assert.rejects(
    system.spawn(custom, undefined),
    (e: unknown) =>
      isActorStartError(e) && isRecoveryError(e.cause) &&
      /no upcast/.test(e.cause.message),
  );
});

test("definePersistentActor(): a provider in the definition overrides the system's", async () => {
  await using system = new ActorSystem();
  const own = new MemoryPersistence();
  const counter = definePersistentActor({
    name: "own",
    init: () => ({ n: 0 }),
    events: { added: (s) => void s.n++ },

    provider: own,
  }).handlers({ add: (_s, _: undefined, ctx) => ctx.persist("added", null) });
  const ref = await system.spawn(counter, undefined, { id: "o" });
  await ref.ask("add");
  assert.equal(await own.journal.lastSequenceNr("o"), 1);
});

test("definePersistentActor() validates its definition", () => {
  const base = { name: "x", init: () => ({}), events: {}, handlers: {} };
  assert.throws(
    () => definePersistentActor({ ...base, events: { a: 1 } } as never),
    TypeError,
  );
  assert.throws(
    () =>
      definePersistentActor(
        { ...base, events: { $snapshot: () => {} } } as never,
      ),
    TypeError,
  );
  assert.throws(
    () => definePersistentActor({ ...base, snapshotEvery: 0 }),
    RangeError,
  );
  assert.throws(
    () => definePersistentActor({ ...base, keepSnapshots: 0 }),
    RangeError,
  );
  assert.throws(
    () =>
      definePersistentActor({
        ...base,
        persistFailure: { then: "x" as never },
      }),
    TypeError,
  );
  assert.throws(
    () => definePersistentActor({ ...base, codec: {} as never }),
    TypeError,
  );
});

test("definePersistentActor(): types: persist takes only declared events with their shape", async () => {
  await using system = new ActorSystem({ supervision: oneForOne() });
  const typed = definePersistentActor({
    name: "typed",
    init: () => ({ n: 0 }),
    events: { added: (s, e: { by: number }) => void (s.n += e.by) },
  }).handlers({
    add: async (_s, by: number, ctx) => {
      await ctx.persist("added", { by });
      const neverCalled = () => {
        // @ts-expect-error an event type that does not exist
        void ctx.persist("removed", { by });
        // @ts-expect-error the wrong event shape
        void ctx.persist("added", { amount: by });
      };
      void neverCalled;
      return ctx.state.n;
    },
  });
  const ref = await system.spawn(typed, undefined);
  const n: number = await ref.ask("add", 2);
  assert.equal(n, 2);
  const neverCalled = () => {
    // @ts-expect-error the protocol comes from the handlers
    ref.tell("add", "2");
  };
  void neverCalled;
});

/** Advances virtual time in steps until `promise` settles (or `limitMs` passed). */
async function advanceUntil<T>(
  clock: ManualClock,
  promise: Promise<T>,
  stepMs: number,
  limitMs: number,
): Promise<T> {
  let settled = false;
  const observed = promise.then(
    (value) => {
      settled = true;
      return value;
    },
    (error) => {
      settled = true;
      throw error;
    },
  );
  observed.catch(() => {});
  for (let waited = 0; !settled && waited < limitMs; waited += stepMs) {
    await clock.advance(stepMs);
  }
  return observed;
}

test("definePersistentActor(): RecoveryError names the corrupt record, not where the read started", async () => {
  await using system = new ActorSystem({ logger: quiet });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const first = await system.spawn(makeAccount(), undefined, { id: "bad3" });
  await first.ask("transfer", [1, 2, 3, 4]);
  await first.stop();
  provider.readError = new CorruptRecordError("bad3", 3, "bad checksum");
  let reads = 0;
  provider.onRead = () => reads++;
  await assert.rejects(
    system.spawn(makeAccount(), undefined, { id: "bad3" }),
    (e: unknown) => {
      assert.ok(isActorStartError(e));
      assert.ok(isRecoveryError(e.cause), String(e.cause));
      assert.equal(e.cause.sequenceNr, 3);
      assert.match(e.cause.message, /at sequence number 3: Corrupt record 3/);
      return true;
    },
  );
  assert.equal(reads, 1, "corrupt data is not retried");
});

test("definePersistentActor(): recovery waits for an unavailable journal with capped, jittered backoff (virtual time)", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 60_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const account = makeAccount({
    journalRetry: { minDelayMs: 100, maxDelayMs: 400, budgetMs: 10_000 },
  });
  const first = await system.spawn(account, undefined, { id: "wait" });
  await first.ask("deposit", 7);
  await first.stop();
  provider.down = true;
  const attempts: number[] = [];
  provider.snapshots.loadLatest = async (id, max) => {
    attempts.push(clock.now());
    if (provider.down) throw new JournalUnavailableError("injected: down");
    return await provider.inner.snapshots.loadLatest(id, max);
  };
  const spawning = system.spawn(account, undefined, { id: "wait" });
  spawning.catch(() => {}); // observed below; a failure must not be unhandled meanwhile
  for (let i = 0; attempts.length < 7 && i < 100; i++) {
    await clock.advanceToNext();
  }
  provider.down = false;
  await clock.advanceToNext();
  const ref = await spawning;
  assert.equal(await ref.ask("balance"), 7);
  const gaps = attempts.slice(1).map((t, i) => t - attempts[i]);
  const caps = [100, 200, 400, 400, 400, 400, 400];
  gaps.forEach((gap, i) => {
    assert.ok(
      gap >= caps[i] / 2 - 1 && gap <= caps[i] + 1,
      `delay ${i} is ${gap}, not within [${caps[i] / 2}, ${caps[i]}]`,
    );
  });
});

test("definePersistentActor(): recovery gives up when the journal stays down past the budget", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, logger: quiet });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  provider.down = true;
  let attempts = 0;
  let lastAt = 0;
  provider.snapshots.loadLatest = () => {
    attempts++;
    lastAt = clock.now();
    return Promise.reject(new JournalUnavailableError("injected: down"));
  };
  const spawning = system.spawn(
    makeAccount({
      journalRetry: { minDelayMs: 100, maxDelayMs: 200, budgetMs: 1000 },
    }),
    undefined,
    { id: "gone" },
  );
  await assert.rejects(
    advanceUntil(clock, spawning, 10, 5000),
    (e: unknown) => {
      assert.ok(isActorStartError(e));
      assert.ok(isRecoveryError(e.cause), String(e.cause));
      assert.ok(isJournalUnavailableError(e.cause.cause));
      return true;
    },
  );
  assert.ok(attempts >= 6, `retried (${attempts} attempts)`);
  assert.ok(lastAt <= 1000, `within the budget (last attempt at ${lastAt})`);
  assert.equal(system.size, 0);
});

test("definePersistentActor(): a journal outage longer than the restart budget does not stop the actor under default supervision", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 600_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(
    makeAccount({
      policy: { maxRetries: 1, backoff: { minMs: 10, maxMs: 10 } },
    }),
    undefined,
    { id: "outage" },
  );
  await ref.ask("deposit", 1);
  provider.down = true;
  provider.downNotApplied = true;
  // The persist fails, escalates, and the restart's recovery finds the journal down.
  const failed = ref.ask("deposit", 2).catch((e: unknown) => e);
  await clock.advance(100);
  assert.ok(isPersistFailedError(await failed));
  await clock.advance(35_000);
  provider.down = false;
  await clock.advance(5_000);
  assert.equal(await ref.ask("balance"), 1, "recovered, not stopped");
  assert.equal(await ref.ask("deposit", 3), 4, "it goes on");
});

test("definePersistentActor(): an append whose reply is lost while the journal stays down rejects with PersistOutcomeUnknownError, and the next message sees the stored event", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 600_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(
    makeAccount({
      policy: {
        maxRetries: 2,
        backoff: { minMs: 100, maxMs: 100 },
        then: "reject",
      },
    }),
    undefined,
    { id: "unknown" },
  );
  provider.loseReplies = 1;
  provider.downAfterLostReply = true;
  const answer = ref.ask("tryDeposit", 10);
  await clock.advance(300);
  assert.equal(
    await answer,
    "PersistOutcomeUnknownError 0",
    "not a definite failure: the event may be stored",
  );
  assert.equal(
    (await provider.inner.journal.read("unknown", 1)).length,
    1,
    "it was stored",
  );
  const balance = ref.ask("balance");
  await clock.advance(5_000);
  provider.down = false;
  assert.equal(
    await advanceUntil(clock, balance, 100, 10_000),
    10,
    "settled from the journal before the next message",
  );
  assert.equal(await ref.ask("seq"), 1);
  assert.equal(await ref.ask("tryDeposit", 5), "ok 15", "no conflict after");
  assert.deepEqual(
    (await storedTypes(provider, "unknown")).map(([, , e]) => e),
    [
      { amount: 10 },
      { amount: 5 },
    ],
  );
});

test("definePersistentActor(): under 'escalate' an unknown outcome fails the handler and the restart recovers the stored event", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 600_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(makeAccount(), undefined, { id: "esc" });
  provider.loseReplies = 1;
  provider.downAfterLostReply = true;
  const asked = ref.ask("deposit", 10).catch((e: unknown) => e);
  await clock.advance(300);
  const error = await asked;
  assert.ok(isPersistOutcomeUnknownError(error), String(error));
  assert.equal(error.fromSequenceNr, 1);
  assert.equal(error.count, 1);
  assert.ok(!isPersistFailedError(error));
  const balance = ref.ask("balance");
  await clock.advance(2_000);
  provider.down = false;
  assert.equal(await advanceUntil(clock, balance, 100, 10_000), 10);
});

test("definePersistentActor(): an append that was certainly not sent is a definite PersistFailedError even while the journal is down", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 600_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(
    makeAccount({
      policy: {
        maxRetries: 1,
        backoff: { minMs: 10, maxMs: 10 },
        then: "reject",
      },
    }),
    undefined,
    { id: "definite" },
  );
  provider.down = true;
  provider.downNotApplied = true;
  const answer = ref.ask("tryDeposit", 10);
  await clock.advance(100);
  assert.equal(await answer, "PersistFailedError 0");
  provider.down = false;
  assert.equal(await ref.ask("tryDeposit", 1), "ok 1");
});

test("definePersistentActor() checks journalRetry", () => {
  const spec = (journalRetry: JournalRetryPolicy) => ({
    name: "x",
    init: () => ({}),
    events: {},
    journalRetry,
  });
  assert.throws(
    () => definePersistentActor(spec({ minDelayMs: 0 })),
    RangeError,
  );
  assert.throws(
    () => definePersistentActor(spec({ budgetMs: -1 })),
    RangeError,
  );
  assert.throws(
    () => definePersistentActor(spec({ budgetMs: Infinity })),
    RangeError,
  );
  assert.throws(
    () => definePersistentActor(spec({ minDelayMs: 500, maxDelayMs: 100 })),
    RangeError,
  );
  assert.doesNotThrow(() => definePersistentActor(spec({ budgetMs: 0 })));
});

test("definePersistentActor(): an unknown outcome that cannot be settled within the budget fails the next message, and the restart recovers", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    askTimeoutMs: 600_000,
  });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  const ref = await system.spawn(
    makeAccount({
      policy: {
        maxRetries: 1,
        backoff: { minMs: 10, maxMs: 10 },
        then: "reject",
      },
      journalRetry: { minDelayMs: 100, maxDelayMs: 100, budgetMs: 1000 },
    }),
    undefined,
    { id: "unsettled" },
  );
  provider.loseReplies = 1;
  provider.downAfterLostReply = true;
  const answer = ref.ask("tryDeposit", 10);
  await clock.advance(100);
  assert.equal(await answer, "PersistOutcomeUnknownError 0");
  const next = ref.ask("balance").catch((e: unknown) => e);
  await clock.advance(1500);
  const error = await next;
  assert.ok(isJournalUnavailableError(error), String(error));
  provider.down = false;
  await clock.advance(1000);
  assert.equal(await ref.ask("balance"), 10, "restarted and recovered");
});

test("definePersistentActor(): stopping an actor while recovery waits for the journal ends the wait at once", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, logger: quiet });
  const provider = new ControlledProvider();
  usePersistence(system, provider);
  let attempts = 0;
  provider.snapshots.loadLatest = () => {
    attempts++;
    return Promise.reject(new JournalUnavailableError("injected: down"));
  };
  const spawning = system.spawn(makeAccount(), undefined, { id: "waiting" })
    .catch((e: unknown) => e);
  // Recovery is waiting out its backoff (the default budget is 60 s).
  for (let i = 0; i < 100 && clock.pendingTimers === 0; i++) {
    await clock.advance(0);
  }
  assert.equal(attempts, 1);
  assert.equal(clock.pendingTimers > 0, true, "a backoff timer is armed");
  // No virtual time passes: the stop alone must end the wait.
  await system.shutdown();
  const outcome = await spawning;
  assert.ok(isActorStoppedError(outcome), String(outcome));
  assert.equal(attempts, 1, "no attempt after the stop");
  assert.equal(system.size, 0);
});

test("definePersistentActor(): a handler abandoned by a stop persists nothing afterwards", async () => {
  await using system = new ActorSystem({ logger: quiet, stopTimeoutMs: 20 });
  const provider = new MemoryPersistence();
  usePersistence(system, provider);
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const slow = definePersistentActor({
    name: "slow",
    init: () => ({ n: 0 }),
    events: {
      added: (state, e: { by: number }) => {
        state.n += e.by;
      },
    },
  }).handlers({
    addLater: async (_state, by: number, ctx) => {
      await gate;
      await ctx.persist("added", { by });
    },
  });
  const ref = await system.spawn(slow, undefined, { id: "slow" });
  const asked = ref.ask("addLater", 1).catch((e: unknown) => e);
  await new Promise<void>((r) => setTimeout(r, 0));
  await ref.stop(); // gives up the handler after stopTimeoutMs
  release();
  assert.ok(isActorStoppedError(await asked));
  await new Promise<void>((r) => setTimeout(r, 10));
  assert.equal(
    await provider.journal.lastSequenceNr(ref.path),
    0,
    "the abandoned handler's event was not written",
  );
});
