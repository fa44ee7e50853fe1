import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  ActorSystem,
  type DeadLetter,
  defineActor,
  formatAddress,
  isActorStartError,
  isActorStoppedError,
  isAskTimeoutError,
  isDuplicateActorIdError,
  isMessageNotHandledError,
  parseAddress,
} from "../../mod.ts";
import { ManualClock } from "../testing/mod.ts";

const quiet = { error() {} };

function deferred<T = void>(): {
  promise: Promise<T>;
  resolve: (value: T) => void;
} {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => resolve = r);
  return { promise, resolve };
}

const counter = defineActor({
  name: "counter",
  init: (start: number) => ({ count: start }),
  handlers: {
    add: (state, by: number) => {
      state.count += by;
    },
    get: (state) => state.count,
    fail: (_state, message: string): number => {
      throw new Error(message);
    },
  },
});

test("ActorRef.tell() and ask(): messages are handled in order and ask returns the result", async () => {
  await using system = new ActorSystem();
  const ref = await system.spawn(counter, 10);
  for (let i = 1; i <= 100; i++) ref.tell("add", i);
  assert.equal(await ref.ask("get"), 10 + 5050);
});

test("ActorRef.tell(): messages from one sender are handled in the order sent (FIFO)", async () => {
  const log = defineActor({
    name: "log",
    init: () => ({ seen: [] as number[] }),
    handlers: {
      push: (state, n: number) => void state.seen.push(n),
      read: (state) => state.seen,
    },
  });
  await using system = new ActorSystem();
  const ref = await system.spawn(log, undefined);
  const sent: number[] = [];
  for (let i = 0; i < 5000; i++) {
    ref.tell("push", i);
    sent.push(i);
    if (i % 1000 === 0) await Promise.resolve();
  }
  assert.deepEqual(await ref.ask("read"), sent);
});

test("Actor handlers run one at a time, even when async", async () => {
  let running = 0;
  let maxRunning = 0;
  const slow = defineActor({
    name: "slow",
    init: () => ({}),
    handlers: {
      work: async () => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 1));
        running--;
      },
    },
  });
  await using system = new ActorSystem();
  const ref = await system.spawn(slow, undefined);
  await Promise.all(Array.from({ length: 10 }, () => ref.ask("work")));
  assert.equal(maxRunning, 1);
});

test("ActorSystem.spawn() with an id makes the actor findable by lookup()", async () => {
  await using system = new ActorSystem({ node: "n1" });
  const ref = await system.spawn(counter, 1, { id: "orders" });
  assert.equal(ref.id, "orders");
  assert.equal(ref.path, "orders");
  assert.deepEqual(ref.address, { node: "n1", path: "orders" });
  assert.equal(system.lookup("orders"), ref);
  const typed = system.lookup("orders", counter);
  assert.equal(await typed?.ask("get"), 1);
  const other = defineActor({ name: "other", init: () => ({}), handlers: {} });
  assert.equal(
    system.lookup("orders", other),
    undefined,
    "typed lookup checks the type",
  );
  assert.equal(system.lookup("missing"), undefined);
});

test("ActorSystem.spawn() rejects a duplicate id with DuplicateActorIdError and keeps the first", async () => {
  await using system = new ActorSystem();
  const first = await system.spawn(counter, 1, { id: "unique" });
  const second = system.spawn(counter, 2, { id: "unique" });
  await assert.rejects(second, (e: unknown) => {
    assert.ok(isDuplicateActorIdError(e));
    assert.equal(e.path, "unique");
    return true;
  });
  assert.equal(await first.ask("get"), 1);
  assert.equal(system.lookup("unique"), first);
});

test("ActorSystem.spawn() of two actors with the same id at once: exactly one wins", async () => {
  await using system = new ActorSystem();
  const results = await Promise.allSettled([
    system.spawn(counter, 1, { id: "race" }),
    system.spawn(counter, 2, { id: "race" }),
  ]);
  assert.deepEqual(results.map((r) => r.status).sort(), [
    "fulfilled",
    "rejected",
  ]);
});

test("ActorSystem.spawn() without an id generates unique ids", async () => {
  await using system = new ActorSystem();
  const refs = await Promise.all(
    Array.from({ length: 50 }, () => system.spawn(counter, 0)),
  );
  assert.equal(new Set(refs.map((r) => r.id)).size, 50);
  for (const ref of refs) assert.match(ref.id, /^\$[0-9a-z]+$/);
});

test("ActorSystem.spawn() rejects invalid ids and definitions with TypeError", async () => {
  await using system = new ActorSystem();
  for (const id of ["", "a/b", "$x", "has space", "x".repeat(201)]) {
    assert.throws(() => system.spawn(counter, 0, { id }), TypeError, id);
  }
  assert.throws(
    () => system.spawn({ name: "fake" } as unknown as typeof counter, 0),
    TypeError,
  );
});

test("defineActor() rejects malformed definitions with TypeError", () => {
  const bad = [
    null,
    { name: "", init: () => ({}), handlers: {} },
    { name: "x", init: 1, handlers: {} },
    { name: "x", init: () => ({}), handlers: { a: 1 } },
    { name: "x", init: () => ({}), handlers: {}, started: "no" },
  ];
  for (const definition of bad) {
    assert.throws(() => defineActor(definition as never), TypeError);
  }
});

test("ActorRef.toJSON() and formatAddress()/parseAddress() round-trip the address", async () => {
  await using system = new ActorSystem({ node: "n2" });
  const ref = await system.spawn(counter, 0, { id: "a" });
  assert.equal(JSON.stringify({ ref }), `{"ref":"troupe://n2/a"}`);
  assert.equal(formatAddress(ref.address), "troupe://n2/a");
  assert.deepEqual(parseAddress(formatAddress(ref.address)), ref.address);
  assert.throws(() => parseAddress("http://x"), TypeError);
});

test("ActorRef.ask() rejects with the handler's error, and the actor restarts", async () => {
  await using system = new ActorSystem({ logger: quiet });
  const ref = await system.spawn(counter, 5);
  ref.tell("add", 1);
  await assert.rejects(ref.ask("fail", "kaput"), /kaput/);
  assert.equal(
    await ref.ask("get"),
    5,
    "a restart builds fresh state from the start args",
  );
});

test("ActorRef.ask() rejects with AskTimeoutError after the timeout (virtual time)", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, askTimeoutMs: 100 });
  const gate = deferred();
  const waiter = defineActor({
    name: "waiter",
    init: () => ({}),
    handlers: { wait: () => gate.promise },
  });
  const ref = await system.spawn(waiter, undefined);
  let outcome: unknown = "pending";
  const asked = ref.ask("wait").then(() => "resolved", (e) => e);
  void asked.then((value) => outcome = value);
  await clock.advance(90);
  assert.equal(outcome, "pending", "not before the timeout");
  await clock.advance(40);
  const error = await asked;
  assert.ok(isAskTimeoutError(error));
  assert.equal(error.timeoutMs, 100);
  assert.equal(error.messageType, "wait");
  const custom = ref.ask("wait", undefined, { timeoutMs: 30 }).catch((e) => e);
  await clock.advance(60);
  assert.ok(isAskTimeoutError(await custom));
  gate.resolve();
});

test("ActorRef.ask() rejects an invalid timeout with RangeError", async () => {
  await using system = new ActorSystem();
  const ref = await system.spawn(counter, 0);
  await assert.rejects(ref.ask("get", undefined, { timeoutMs: 0 }), RangeError);
  await assert.rejects(
    ref.ask("get", undefined, { timeoutMs: Infinity }),
    RangeError,
  );
  assert.throws(() => new ActorSystem({ askTimeoutMs: -1 }), RangeError);
});

test("ActorRef.ask() of an unhandled type rejects with MessageNotHandledError and dead-letters", async () => {
  await using system = new ActorSystem();
  const letters: DeadLetter[] = [];
  system.deadLetters.subscribe((l) => letters.push(l));
  const ref = await system.spawn(counter, 0, { id: "c" });
  const untyped = ref as unknown as {
    ask(t: string): Promise<unknown>;
    tell(t: string): void;
  };
  await assert.rejects(untyped.ask("nope"), (e: unknown) => {
    assert.ok(isMessageNotHandledError(e));
    assert.equal(e.actorType, "counter");
    assert.match(e.message, /Cannot deliver message "nope" to actor "c"/);
    return true;
  });
  untyped.tell("nope");
  assert.deepEqual(letters.map((l) => [l.recipient, l.messageType, l.reason]), [
    ["c", "nope", "not-handled"],
    ["c", "nope", "not-handled"],
  ]);
});

test("defineActor({ unhandled }) receives messages without a handler", async () => {
  const catchAll = defineActor({
    name: "catch-all",
    init: () => ({ seen: [] as string[] }),
    handlers: { seen: (state) => state.seen },
    unhandled: (state, type) => {
      state.seen.push(type);
      return `got ${type}`;
    },
  });
  await using system = new ActorSystem();
  const ref = await system.spawn(catchAll, undefined);
  const untyped = ref as unknown as { ask(t: string): Promise<unknown> };
  assert.equal(await untyped.ask("x"), "got x");
  assert.deepEqual(await ref.ask("seen"), ["x"]);
});

test("ActorSystem.spawn() rejects with ActorStartError when init or started throws", async () => {
  const badInit = defineActor({
    name: "bad-init",
    init: (): { x: number } => {
      throw new Error("no config");
    },
    handlers: {},
  });
  const badStart = defineActor({
    name: "bad-start",
    init: () => ({}),
    handlers: {},
    started: async () => {
      await Promise.resolve();
      throw new Error("cannot bind");
    },
  });
  await using system = new ActorSystem();
  for (
    const [definition, message] of [[badInit, "no config"], [
      badStart,
      "cannot bind",
    ]] as const
  ) {
    await assert.rejects(
      system.spawn(definition as typeof badStart, undefined, { id: "x" }),
      (e: unknown) => {
        assert.ok(isActorStartError(e));
        assert.equal((e.cause as Error).message, message);
        return true;
      },
    );
    assert.equal(system.lookup("x"), undefined, "a failed start frees the id");
  }
  assert.equal(system.size, 0);
});

test("ActorRef.stop(): stopped hook runs, queued asks reject, tells dead-letter, registry forgets", async () => {
  const events: string[] = [];
  const gate = deferred();
  const inHand = deferred();
  const worker = defineActor({
    name: "worker",
    init: () => ({}),
    handlers: {
      block: () => {
        inHand.resolve();
        return gate.promise;
      },
      get: () => 1,
      note: () => {},
    },
    stopped: () => void events.push("stopped"),
  });
  await using system = new ActorSystem();
  const letters: DeadLetter[] = [];
  system.deadLetters.subscribe((l) => letters.push(l));
  const ref = await system.spawn(worker, undefined, { id: "w" });
  const blocked = ref.ask("block");
  await inHand.promise;
  const queued = ref.ask("get").catch((e: unknown) => e);
  ref.tell("note");
  const stopping = ref.stop();
  assert.equal(
    system.lookup("w"),
    undefined,
    "a stopping actor is no longer found",
  );
  gate.resolve();
  await stopping;
  await blocked; // the message in hand finishes
  assert.ok(isActorStoppedError(await queued));
  assert.deepEqual(events, ["stopped"]);
  assert.equal(ref.stopped, true);
  assert.deepEqual(letters.map((l) => [l.messageType, l.reason]), [
    ["get", "actor-stopped"],
    ["note", "actor-stopped"],
  ]);
  await assert.rejects(ref.ask("get"), isActorStoppedError);
  ref.tell("note");
  assert.equal(letters.length, 4);
  const again = await system.spawn(worker, undefined, { id: "w" });
  assert.equal(again.stopped, false, "the id is free again");
});

test("ActorRef.stop() is idempotent", async () => {
  await using system = new ActorSystem();
  const ref = await system.spawn(counter, 0);
  const a = ref.stop();
  const b = ref.stop();
  assert.equal(a, b);
  await a;
  await ref.stop();
});

test("ActorContext.stop() stops the actor after the current message", async () => {
  const selfStopping = defineActor({
    name: "self-stopping",
    init: () => ({ handled: 0 }),
    handlers: {
      quit: (state, _: undefined, ctx) => {
        state.handled++;
        ctx.stop();
        return state.handled;
      },
    },
  });
  await using system = new ActorSystem();
  const ref = await system.spawn(selfStopping, undefined);
  const first = ref.ask("quit");
  const second = ref.ask("quit");
  assert.equal(await first, 1);
  await assert.rejects(second, isActorStoppedError);
  await system.whenStopped(ref);
});

test("Children stop before their parent; the parent's stopped hook runs last", async () => {
  const order: string[] = [];
  const leaf = defineActor({
    name: "leaf",
    init: (name: string) => ({ name }),
    handlers: {},
    stopped: (state) => void order.push(state.name),
  });
  const parent = defineActor({
    name: "parent",
    init: () => ({}),
    handlers: {},
    started: async (_state, ctx) => {
      await ctx.spawn(leaf, "a", { id: "a" });
      await ctx.spawn(leaf, "b", { id: "b" });
    },
    stopped: () => void order.push("parent"),
  });
  const root = defineActor({
    name: "root",
    init: () => ({}),
    handlers: {},
    started: async (_state, ctx) =>
      void await ctx.spawn(parent, undefined, { id: "p" }),
    stopped: () => void order.push("root"),
  });
  const system = new ActorSystem();
  const ref = await system.spawn(root, undefined, { id: "r" });
  assert.ok(system.lookup("r/p/a"), "children are found by path");
  assert.equal(system.size, 4);
  await ref.stop();
  assert.deepEqual(order.slice(0, 2).sort(), ["a", "b"]);
  assert.deepEqual(order.slice(2), ["parent", "root"]);
  assert.equal(system.size, 0);
  await system.shutdown();
});

test("ActorSystem.shutdown() stops every actor, is idempotent, and later spawns reject", async () => {
  const stopped: string[] = [];
  const tracked = defineActor({
    name: "tracked",
    init: (id: string) => ({ id }),
    handlers: {},
    stopped: (state) => void stopped.push(state.id),
  });
  const system = new ActorSystem();
  for (const id of ["a", "b", "c"]) await system.spawn(tracked, id, { id });
  await Promise.all([system.shutdown(), system.shutdown()]);
  assert.deepEqual(stopped.sort(), ["a", "b", "c"]);
  await assert.rejects(system.spawn(tracked, "d"), isActorStoppedError);
});

test("ActorSystem: stop during a slow start rejects the spawn and cleans up", async () => {
  const gate = deferred();
  const slowStart = defineActor({
    name: "slow-start",
    init: () => ({}),
    handlers: {},
    started: () => gate.promise,
  });
  const system = new ActorSystem();
  const spawning = system.spawn(slowStart, undefined, { id: "s" });
  const shutdown = system.shutdown();
  gate.resolve();
  await assert.rejects(spawning, isActorStoppedError);
  await shutdown;
  assert.equal(system.size, 0);
});

test("ActorRef: messages sent during start are handled after started", async () => {
  const gate = deferred();
  const order: string[] = [];
  const starter = defineActor({
    name: "starter",
    init: () => ({}),
    handlers: { hello: () => void order.push("hello") },
    started: async (_state, ctx) => {
      ctx.self.tell("hello");
      await gate.promise;
      order.push("started");
    },
  });
  await using system = new ActorSystem();
  const spawning = system.spawn(starter, undefined);
  gate.resolve();
  const ref = await spawning;
  await ref.ask("hello");
  assert.deepEqual(order, ["started", "hello", "hello"]);
});

test("ActorRef.stop(): a handler that never settles is abandoned after stopTimeoutMs", async () => {
  const clock = new ManualClock();
  const errors: string[] = [];
  await using system = new ActorSystem({
    clock,
    stopTimeoutMs: 1000,
    logger: { error: (m) => void errors.push(m) },
  });
  const stuck = defineActor({
    name: "stuck",
    init: () => ({}),
    handlers: { hang: () => new Promise<void>(() => {}) },
    stopped: () => void errors.push("stopped hook ran"),
  });
  const ref = await system.spawn(stuck, undefined, { id: "stuck" });
  const hanging = ref.ask("hang", undefined, { timeoutMs: 60_000 }).catch((
    e: unknown,
  ) => e);
  await clock.advance(0);
  let stopped = false;
  const stopping = ref.stop().then(() => stopped = true);
  await clock.advance(999);
  assert.equal(stopped, false, "waits for the message in hand");
  await clock.advance(1);
  await stopping;
  assert.ok(
    errors.some((m) => /did not finish its message within 1000 ms/.test(m)),
    errors.join(),
  );
  assert.ok(errors.includes("stopped hook ran"));
  assert.ok(isActorStoppedError(await hanging), "the abandoned ask rejects");
  assert.throws(() => new ActorSystem({ stopTimeoutMs: -1 }), RangeError);
});

test("ActorRef.ask() times out on the clock while the event loop runs 25 ms blocks of work", async () => {
  const waiting = defineActor({
    name: "waiting",
    init: (answer: Promise<void>) => ({ answer }),
    handlers: { wait: (state) => state.answer },
  });
  const answer = deferred();
  await using system = new ActorSystem({ logger: quiet });
  const ref = await system.spawn(waiting, answer.promise);
  // Every macrotask blocks for 25 ms, so the ask's tick timer runs far less often than asked.
  let busy = true;
  let blocks = 0;
  const idle = deferred();
  const block = () => {
    const end = performance.now() + 25;
    while (performance.now() < end) { /* synchronous work */ }
    blocks++;
    if (busy) setTimeout(block, 0);
    else idle.resolve();
  };
  setTimeout(block, 0);
  const timeoutMs = 1000;
  const start = performance.now();
  try {
    await assert.rejects(
      ref.ask("wait", undefined, { timeoutMs }),
      isAskTimeoutError,
    );
  } finally {
    busy = false;
    answer.resolve();
  }
  const elapsed = performance.now() - start;
  assert.ok(blocks > 10, "the event loop was kept busy");
  assert.ok(elapsed >= timeoutMs - 1, `early: ${elapsed} ms`);
  assert.ok(elapsed < timeoutMs + 300, `late: ${elapsed} ms`);
  await idle.promise;
});

test("ActorContext.signal is aborted when a stop or restart begins, and a restart gets a fresh one", async () => {
  await using system = new ActorSystem({ logger: quiet });
  const signals: AbortSignal[] = [];
  const actor = defineActor({
    name: "signalled",
    init: () => ({ n: 0 }),
    handlers: {
      signal: (_state, _: undefined, ctx) => {
        signals.push(ctx.signal);
        return ctx.signal.aborted;
      },
      fail: (_state, message: string): void => {
        throw new Error(message);
      },
    },
  });
  const ref = await system.spawn(actor, undefined);
  assert.equal(await ref.ask("signal"), false);
  ref.tell("fail", "restart me");
  assert.equal(await ref.ask("signal"), false, "the new incarnation's signal");
  assert.equal(signals.length, 2);
  assert.equal(signals[0].aborted, true, "the restart aborted the first");
  assert.ok(isActorStoppedError(signals[0].reason));
  assert.notEqual(signals[0], signals[1]);
  assert.equal(signals[1].aborted, false);
  await ref.stop();
  assert.equal(signals[1].aborted, true, "the stop aborted the second");
});

test("ActorSystem.spawn() rejects with ActorStoppedError when a stop ends a started hook waiting on ctx.signal", async () => {
  await using system = new ActorSystem({ logger: quiet });
  const entered = deferred();
  const actor = defineActor({
    name: "slow-start",
    init: () => ({}),
    started: async (_state, ctx) => {
      entered.resolve();
      await new Promise<void>((_resolve, reject) => {
        ctx.signal.addEventListener(
          "abort",
          () => reject(ctx.signal.reason),
          { once: true },
        );
      });
    },
    handlers: {},
  });
  const spawning = system.spawn(actor, undefined, { id: "slow" }).catch((
    e: unknown,
  ) => e);
  await entered.promise;
  await system.shutdown();
  const outcome = await spawning;
  assert.ok(isActorStoppedError(outcome), String(outcome));
  assert.equal(system.size, 0);
});

test("ActorContext.signal read once the stop has begun is already aborted", async () => {
  await using system = new ActorSystem({ logger: quiet });
  let seen: AbortSignal | undefined;
  const actor = defineActor({
    name: "late-reader",
    init: () => ({ n: 0 }),
    stopped: (_state, ctx) => {
      seen = ctx.signal;
    },
    handlers: {},
  });
  const ref = await system.spawn(actor, undefined);
  await ref.stop();
  assert.equal(seen?.aborted, true);
  assert.ok(isActorStoppedError(seen?.reason));
});
