import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorStoppedError,
  ActorSystem,
  Counter,
  type DeadLetter,
  defineActor,
  isActorStoppedError,
  isMailboxFullError,
  isMessageNotHandledError,
  MailboxFullError,
  type MailboxOptions,
} from "../../mod.ts";
import { ManualClock } from "../testing/mod.ts";

/** Where async handlers wait until the test lets them go; disposing opens it for good. */
class Gate implements Disposable {
  #waiting: Array<() => void> = [];
  #open = false;

  get waiting(): number {
    return this.#waiting.length;
  }

  wait(): Promise<void> {
    if (this.#open) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  open(): void {
    this.#open = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  [Symbol.dispose](): void {
    this.open();
  }
}

const worker = defineActor({
  name: "worker",
  init: (gate: Gate) => ({ gate, seen: [] as string[] }),
  handlers: {
    block: async (state) => {
      await state.gate.wait();
    },
    note: (state, text: string) => {
      state.seen.push(text);
      return text;
    },
    seen: (state) => [...state.seen],
  },
});

function collect(system: ActorSystem): DeadLetter[] {
  const letters: DeadLetter[] = [];
  system.deadLetters.subscribe((letter) => letters.push(letter));
  return letters;
}

function deadLetterCount(system: ActorSystem, reason: string): number {
  const metric = system.metrics.get("troupe_dead_letters_total");
  assert.ok(metric instanceof Counter);
  return metric.value(reason);
}

/** Spawns a worker and keeps it busy with `block`, so what is sent next stays queued. */
async function busyWorker(
  system: ActorSystem,
  clock: ManualClock,
  gate: Gate,
  mailbox?: MailboxOptions,
) {
  const ref = await system.spawn(worker, gate, { id: "w", mailbox });
  ref.tell("block");
  await clock.advance(0);
  assert.equal(gate.waiting, 1);
  return ref;
}

function isFullFor(capacity: number) {
  return (error: unknown): boolean => {
    assert.ok(error instanceof MailboxFullError, String(error));
    assert.ok(isMailboxFullError(error));
    assert.equal(error.path, "w");
    assert.equal(error.capacity, capacity);
    return true;
  };
}

test("ActorRef.tell() to a full drop-newest mailbox makes the new message a mailbox-full dead letter", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await busyWorker(system, clock, gate, {
    capacity: 2,
    overflow: "drop-newest",
  });
  ref.tell("note", "a");
  ref.tell("note", "b");
  assert.deepEqual(letters, []);
  ref.tell("note", "c");
  assert.deepEqual(letters, [
    {
      recipient: "w",
      messageType: "note",
      payload: "c",
      reason: "mailbox-full",
    },
  ]);
  gate.open();
  await clock.advance(0);
  assert.deepEqual(await ref.ask("seen"), ["a", "b"]);
});

test("ActorRef.ask() to a full drop-newest mailbox rejects with MailboxFullError", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await busyWorker(system, clock, gate, {
    capacity: 1,
    overflow: "drop-newest",
  });
  const queued = ref.ask("note", "a");
  await assert.rejects(ref.ask("note", "b"), isFullFor(1));
  assert.deepEqual(letters, [
    {
      recipient: "w",
      messageType: "note",
      payload: "b",
      reason: "mailbox-full",
    },
  ]);
  gate.open();
  assert.equal(await queued, "a");
  assert.deepEqual(await ref.ask("seen"), ["a"]);
});

test("MailboxOptions.overflow defaults to drop-newest for a bounded mailbox", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await busyWorker(system, clock, gate, { capacity: 1 });
  ref.tell("note", "a");
  ref.tell("note", "b");
  assert.deepEqual(letters.map((l) => [l.payload, l.reason]), [[
    "b",
    "mailbox-full",
  ]]);
  gate.open();
  await clock.advance(0);
  assert.deepEqual(await ref.ask("seen"), ["a"]);
});

test("ActorRef.tell() to a full drop-oldest mailbox drops the oldest queued message as dropped-oldest", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await busyWorker(system, clock, gate, {
    capacity: 2,
    overflow: "drop-oldest",
  });
  ref.tell("note", "a");
  ref.tell("note", "b");
  ref.tell("note", "c");
  ref.tell("note", "d");
  assert.deepEqual(letters, [
    {
      recipient: "w",
      messageType: "note",
      payload: "a",
      reason: "dropped-oldest",
    },
    {
      recipient: "w",
      messageType: "note",
      payload: "b",
      reason: "dropped-oldest",
    },
  ]);
  gate.open();
  await clock.advance(0);
  assert.deepEqual(await ref.ask("seen"), ["c", "d"]);
});

test("ActorRef.ask() dropped from a drop-oldest mailbox rejects with MailboxFullError", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await busyWorker(system, clock, gate, {
    capacity: 1,
    overflow: "drop-oldest",
  });
  const oldest = ref.ask("note", "a");
  ref.tell("note", "b");
  await assert.rejects(oldest, isFullFor(1));
  assert.deepEqual(letters.map((l) => [l.payload, l.reason]), [[
    "a",
    "dropped-oldest",
  ]]);
  gate.open();
  await clock.advance(0);
  assert.deepEqual(await ref.ask("seen"), ["b"]);
});

test("ActorRef.tell() to a full reject mailbox throws MailboxFullError at once", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const ref = await busyWorker(system, clock, gate, {
    capacity: 1,
    overflow: "reject",
  });
  ref.tell("note", "a");
  const letters: string[] = [];
  system.deadLetters.subscribe((l) => letters.push(`${l.payload}:${l.reason}`));
  assert.throws(() => ref.tell("note", "b"), isFullFor(1));
  assert.deepEqual(
    letters,
    ["b:mailbox-full"],
    "a refused tell is still a dead letter",
  );
  gate.open();
  await clock.advance(0);
  assert.deepEqual(await ref.ask("seen"), ["a"]);
});

test("ActorRef.ask() to a full reject mailbox rejects with MailboxFullError", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await busyWorker(system, clock, gate, {
    capacity: 1,
    overflow: "reject",
  });
  ref.tell("note", "a");
  await assert.rejects(ref.ask("note", "b"), isFullFor(1));
  assert.deepEqual(letters.map((l) => [l.payload, l.reason]), [[
    "b",
    "mailbox-full",
  ]]);
  gate.open();
  await clock.advance(0);
  assert.deepEqual(await ref.ask("seen"), ["a"]);
});

test("SpawnOptions.mailbox overrides the definition's mailbox", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const strict = defineActor({
    name: "strict",
    init: (g: Gate) => ({ g, seen: [] as string[] }),
    handlers: {
      block: async (state) => {
        await state.g.wait();
      },
      note: (state, text: string) => {
        state.seen.push(text);
      },
    },
    mailbox: { capacity: 1, overflow: "reject" },
  });
  const byDefinition = await system.spawn(strict, gate);
  const overridden = await system.spawn(strict, gate, {
    mailbox: { capacity: 3, overflow: "reject" },
  });
  byDefinition.tell("block");
  overridden.tell("block");
  await clock.advance(0);
  byDefinition.tell("note", "a");
  assert.throws(() => byDefinition.tell("note", "b"), MailboxFullError);
  overridden.tell("note", "a");
  overridden.tell("note", "b");
  overridden.tell("note", "c");
  assert.throws(() => overridden.tell("note", "d"), MailboxFullError);
});

test("DeadLetters.subscribe() delivers recipient, messageType, payload and reason until unsubscribed", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const ref = await system.spawn(worker, gate, { id: "gone" });
  await ref.stop();
  const got: DeadLetter[] = [];
  const all = collect(system);
  const unsubscribe = system.deadLetters.subscribe((letter) =>
    got.push(letter)
  );
  ref.tell("note", "x");
  unsubscribe();
  ref.tell("note", "y");
  const x = {
    recipient: "gone",
    messageType: "note",
    payload: "x",
    reason: "actor-stopped",
  };
  assert.deepEqual(got, [x]);
  assert.deepEqual(all, [x, { ...x, payload: "y" }]);
  unsubscribe(); // a second call is harmless
});

test("DeadLetters.count counts every dead letter, with or without subscribers", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const ref = await system.spawn(worker, gate);
  assert.equal(system.deadLetters.count, 0);
  await ref.stop();
  ref.tell("note", "1");
  assert.equal(system.deadLetters.count, 1);
  ref.tell("note", "2");
  ref.tell("seen");
  assert.equal(system.deadLetters.count, 3);
});

test("DeadLetters.subscribe() throws TypeError for a listener that is not a function", async () => {
  await using system = new ActorSystem({ clock: new ManualClock() });
  assert.throws(
    () => system.deadLetters.subscribe("nope" as never),
    TypeError,
  );
});

test("DeadLetters: a listener that throws is logged and the others still get the letter", async () => {
  const clock = new ManualClock();
  const logged: string[] = [];
  await using system = new ActorSystem({
    clock,
    logger: { error: (message) => logged.push(message) },
  });
  using gate = new Gate();
  const ref = await system.spawn(worker, gate);
  await ref.stop();
  system.deadLetters.subscribe(() => {
    throw new Error("listener failed");
  });
  const letters = collect(system);
  ref.tell("note", "x");
  assert.equal(letters.length, 1);
  assert.equal(logged.length, 1);
});

test("ActorRef.tell() to a stopped actor is an actor-stopped dead letter; ask() rejects with ActorStoppedError", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await system.spawn(worker, gate, { id: "w" });
  await ref.stop();
  ref.tell("note", "told");
  await assert.rejects(ref.ask("note", "asked"), (error) => {
    assert.ok(error instanceof ActorStoppedError, String(error));
    assert.ok(isActorStoppedError(error));
    return true;
  });
  assert.deepEqual(letters, [
    {
      recipient: "w",
      messageType: "note",
      payload: "told",
      reason: "actor-stopped",
    },
    {
      recipient: "w",
      messageType: "note",
      payload: "asked",
      reason: "actor-stopped",
    },
  ]);
});

test("ActorRef.stop() turns the queued messages into actor-stopped dead letters and rejects queued asks", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await busyWorker(system, clock, gate);
  ref.tell("note", "a");
  const asked = assert.rejects(ref.ask("note", "b"), ActorStoppedError);
  const stopping = ref.stop();
  gate.open();
  await stopping;
  await asked;
  assert.deepEqual(letters.map((l) => [l.payload, l.reason]), [
    ["a", "actor-stopped"],
    ["b", "actor-stopped"],
  ]);
});

test("ActorRef.tell() of a type the actor does not handle is a not-handled dead letter", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  using gate = new Gate();
  const letters = collect(system);
  const ref = await system.spawn(worker, gate, { id: "w" });
  ref.tell("shout" as never, "hey" as never);
  assert.deepEqual(letters, [
    {
      recipient: "w",
      messageType: "shout",
      payload: "hey",
      reason: "not-handled",
    },
  ]);
  await assert.rejects(
    ref.ask("shout" as never, "hey?" as never),
    isMessageNotHandledError,
  );
  assert.equal(letters.length, 2);
  assert.equal(letters[1].reason, "not-handled");
  assert.deepEqual(await ref.ask("seen"), []);
});

test("troupe_dead_letters_total counts dead letters by reason", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, node: "n1" });
  using gate = new Gate();
  const full = await system.spawn(worker, gate, {
    mailbox: { capacity: 1, overflow: "drop-newest" },
  });
  const oldest = await system.spawn(worker, gate, {
    mailbox: { capacity: 1, overflow: "drop-oldest" },
  });
  const gone = await system.spawn(worker, gate);
  full.tell("block");
  oldest.tell("block");
  await clock.advance(0);
  full.tell("note", "kept");
  full.tell("note", "dropped 1");
  full.tell("note", "dropped 2");
  oldest.tell("note", "evicted");
  oldest.tell("note", "kept");
  gone.tell("nonsense" as never);
  await gone.stop();
  gone.tell("note", "late");
  gone.tell("note", "later");
  gone.tell("note", "latest");
  assert.equal(deadLetterCount(system, "mailbox-full"), 2);
  assert.equal(deadLetterCount(system, "dropped-oldest"), 1);
  assert.equal(deadLetterCount(system, "not-handled"), 1);
  assert.equal(deadLetterCount(system, "actor-stopped"), 3);
  assert.equal(system.deadLetters.count, 7);
  const text = system.prometheusText();
  assert.ok(
    text.includes(
      'troupe_dead_letters_total{node="n1",reason="actor-stopped"} 3\n',
    ),
    text,
  );
});

test("ActorSystem.spawn() throws RangeError for a mailbox capacity that is not an integer ≥ 1", async () => {
  await using system = new ActorSystem({ clock: new ManualClock() });
  using gate = new Gate();
  for (
    const capacity of [0, -1, 1.5, NaN, Infinity, "3" as unknown as number]
  ) {
    assert.throws(
      () => system.spawn(worker, gate, { mailbox: { capacity } }),
      RangeError,
      String(capacity),
    );
  }
  assert.equal(system.size, 0);
});

test("ActorSystem.spawn() throws TypeError for an unknown overflow policy", async () => {
  await using system = new ActorSystem({ clock: new ManualClock() });
  using gate = new Gate();
  assert.throws(
    () =>
      system.spawn(worker, gate, {
        mailbox: { capacity: 1, overflow: "drop-random" as never },
      }),
    TypeError,
  );
  assert.equal(system.size, 0);
});

test("defineActor() throws RangeError or TypeError for invalid mailbox options", () => {
  const base = {
    name: "bad-mailbox",
    init: () => ({}),
    handlers: { noop: () => {} },
  };
  assert.throws(
    () => defineActor({ ...base, mailbox: { capacity: 0 } }),
    RangeError,
  );
  assert.throws(
    () => defineActor({ ...base, mailbox: { capacity: 2.5 } }),
    RangeError,
  );
  assert.throws(
    () => defineActor({ ...base, mailbox: { overflow: "drop-all" as never } }),
    TypeError,
  );
});

test({
  name:
    "ActorRef.tell() to a full drop-oldest mailbox never drops a queued terminated notice",
  fn: async () => {
    const clock = new ManualClock();
    await using system = new ActorSystem({ clock });
    using gate = new Gate();
    const noticed: string[] = [];
    const watcher = defineActor({
      name: "watcher",
      init: (g: Gate) => ({ g }),
      handlers: {
        watch: (_state, target: ActorRef<object>, ctx) => ctx.watch(target),
        block: async (state) => {
          await state.g.wait();
        },
        note: (_state, _text: string) => {},
      },
      terminated: (_state, notice) => {
        noticed.push(notice.ref.path);
      },
      mailbox: { capacity: 1, overflow: "drop-oldest" },
    });
    const target = await system.spawn(worker, gate, { id: "target" });
    const ref = await system.spawn(watcher, gate);
    ref.tell("watch", target);
    await clock.advance(0);
    ref.tell("block");
    await clock.advance(0);
    await target.stop(); // queues the terminated notice behind the busy handler
    ref.tell("note", "x");
    gate.open();
    await clock.advance(0);
    assert.deepEqual(noticed, ["target"]);
  },
});
