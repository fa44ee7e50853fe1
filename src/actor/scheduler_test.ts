import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { ActorSystem, defineActor } from "../../mod.ts";

// Two actors pass a counter back and forth until it reaches zero; `shared` counts the
// messages handled and resolves `done` at the end of the storm.
interface Shared {
  processed: number;
  players: Array<{ tell(type: "ball", n: number): void }>;
  finish: () => void;
}

const syncPlayer = defineActor({
  name: "sync-player",
  init: (args: { shared: Shared; side: number }) => args,
  handlers: {
    ball: (state, n: number) => {
      const shared = state.shared;
      shared.processed++;
      if (n > 0) shared.players[1 - state.side].tell("ball", n - 1);
      else shared.finish();
    },
  },
});

const asyncPlayer = defineActor({
  name: "async-player",
  init: (args: { shared: Shared; side: number }) => args,
  handlers: {
    ball: async (state, n: number) => {
      await undefined;
      const shared = state.shared;
      shared.processed++;
      if (n > 0) shared.players[1 - state.side].tell("ball", n - 1);
      else shared.finish();
    },
  },
});

// Starts a storm of `total` messages and a 0 ms timer at the same moment; returns how many
// messages had been handled when the timer ran.
async function stormWithTimer(
  definition: typeof syncPlayer | typeof asyncPlayer,
  total: number,
): Promise<number> {
  await using system = new ActorSystem();
  let finish!: () => void;
  const done = new Promise<void>((resolve) => finish = resolve);
  const shared: Shared = { processed: 0, players: [], finish };
  for (const side of [0, 1]) {
    const ref = await system.spawn(
      definition as typeof syncPlayer,
      { shared, side },
    );
    shared.players.push(ref);
  }
  let handledWhenFired = -1;
  const fired = new Promise<void>((resolve) =>
    setTimeout(() => {
      handledWhenFired = shared.processed;
      resolve();
    }, 0)
  );
  shared.players[0].tell("ball", total - 1);
  await Promise.all([done, fired]);
  assert.equal(shared.processed, total);
  return handledWhenFired;
}

test("ActorSystem scheduler yields to a 0 ms timer during a ping-pong storm of synchronous handlers", async () => {
  // Long enough to outlast the 20 ms slice several times over on a fast machine.
  const total = 2_000_000;
  const handled = await stormWithTimer(syncPlayer, total);
  // With the time slice the timer runs about SLICE_MS (20 ms) into the storm; without it,
  // only after the last message.
  assert.ok(
    handled < total / 2,
    `the timer ran after ${handled} of ${total} messages`,
  );
});

test("ActorSystem scheduler yields to a 0 ms timer during a ping-pong storm of async handlers", async () => {
  // Each message re-enters the scheduler from a settled promise, between flushes.
  const total = 200_000;
  const handled = await stormWithTimer(asyncPlayer, total);
  assert.ok(
    handled < total / 2,
    `the timer ran after ${handled} of ${total} messages`,
  );
});

test("ActorSystem scheduler does not stall its actors while something else keeps the event loop from its timers", async () => {
  // A producer outside the actors (as Deno's socket reads can be) that never lets a timer run:
  // the scheduler's yield cannot help the event loop then, and must not stop the actors until
  // the producer is done.
  await using system = new ActorSystem();
  const seen = { n: 0 };
  const counter = defineActor({
    name: "counter",
    init: (shared: { n: number }) => shared,
    handlers: {
      add: (state) => {
        state.n++;
      },
    },
  });
  const ref = await system.spawn(counter, seen);
  const total = 3_000_000;
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    ref.tell("add");
    // Stay on the microtask queue: let the actors run, never the timers.
    if ((i & 1023) === 1023) await null;
  }
  const handled = seen.n;
  const seconds = (performance.now() - started) / 1000;
  assert.ok(
    handled > total / 2,
    `the counter had handled ${handled} of ${total} when the producer ended (${
      seconds.toFixed(2)
    } s)`,
  );
});

test("ActorSystem scheduler does not count the idle time before a burst as part of it", async () => {
  // A burst long enough for two clock checks (one per 1024 messages) leaves its start behind
  // when the scheduler goes idle without a sentinel timer. The next burst, after the event loop
  // has run, must get half a slice before it yields like any other, not yield at its second
  // check because that old start looks like a long burst.
  await using system = new ActorSystem();
  const seen = { n: 0 };
  const counter = defineActor({
    name: "counter",
    init: (shared: { n: number }) => shared,
    handlers: {
      add: (state, stallMs: number) => {
        state.n++;
        // Synchronous work between the two checks, so that a 0 ms timer is due at the second.
        const until = performance.now() + stallMs;
        while (performance.now() < until) { /* busy */ }
      },
    },
  });
  const ref = await system.spawn(counter, seen);
  const total = 3000;
  // Runs a burst of `total` messages; returns whether a 0 ms timer set just before it ran
  // before the burst's end.
  const burst = async (): Promise<boolean> => {
    const start = seen.n;
    let handledWhenFired = -1;
    const fired = new Promise<void>((resolve) =>
      setTimeout(() => {
        handledWhenFired = seen.n - start;
        resolve();
      }, 0)
    );
    for (let i = 0; i < total; i++) ref.tell("add", i === total / 2 ? 2 : 0);
    await fired;
    while (seen.n - start < total) await new Promise((r) => setTimeout(r, 1));
    return handledWhenFired < total;
  };
  await burst(); // leaves the start of its burst behind
  // Before the fix every such burst yielded at its second check; a stall of more than half a
  // slice (8 ms) on a loaded machine can make one yield, so three tries.
  let yieldedEveryTime = true;
  for (let attempt = 0; attempt < 3 && yieldedEveryTime; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 30));
    yieldedEveryTime = await burst();
  }
  assert.ok(
    !yieldedEveryTime,
    `each burst of ${total} messages after 30 ms idle yielded to a 0 ms timer`,
  );
});
