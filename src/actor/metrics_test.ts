import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { ActorSystem, defineActor } from "../../mod.ts";
import { ManualClock } from "../testing/mod.ts";

const quiet = { error() {} };

const counter = defineActor({
  name: "counter",
  init: (start: number) => ({ count: start }),
  handlers: {
    add: (state, by: number) => {
      state.count += by;
    },
    get: (state) => state.count,
    boom: () => {
      throw new Error("boom");
    },
  },
});

/** The sample lines of the exposition, by series (name and labels). */
function samples(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const space = line.lastIndexOf(" ");
    found.set(line.slice(0, space), line.slice(space + 1));
  }
  return found;
}

/** Spawns two counters and drives them through tells, asks, a failure and a stop. */
async function exercise(system: ActorSystem, clock: ManualClock) {
  const a = await system.spawn(counter, 0, { id: "a" });
  const b = await system.spawn(counter, 10, { id: "b" });
  a.tell("add", 1);
  a.tell("add", 2);
  b.tell("add", 3);
  assert.equal(await a.ask("get"), 3);
  a.tell("boom"); // default supervision: restart
  await clock.advance(0);
  assert.equal(await a.ask("get"), 0);
  await b.stop();
}

test("ActorSystem.prometheusText() reports actor lifecycle and message counts exactly", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, logger: quiet, node: "n1" });
  await exercise(system, clock);
  const got = samples(system.prometheusText());
  const type = 'node="n1",actor_type="counter"';
  const expected: Array<[string, string]> = [
    [`troupe_actor_created_total{${type}}`, "2"],
    [`troupe_actor_stopped_total{${type}}`, "1"],
    [`troupe_actor_restarts_total{${type}}`, "1"],
    [`troupe_actor_failures_total{${type}}`, "1"],
    [`troupe_actors_active{${type}}`, "1"],
    [`troupe_actor_messages_sent_total{${type},message_type="add"}`, "3"],
    [`troupe_actor_messages_sent_total{${type},message_type="get"}`, "2"],
    [`troupe_actor_messages_sent_total{${type},message_type="boom"}`, "1"],
    [`troupe_actor_messages_processed_total{${type},message_type="add"}`, "3"],
    [`troupe_actor_messages_processed_total{${type},message_type="get"}`, "2"],
    [
      `troupe_actor_messages_processed_total{${type},message_type="boom"}`,
      "1",
    ],
  ];
  for (const [series, value] of expected) {
    assert.equal(got.get(series), value, series);
  }
});

test("ActorSystem.prometheusText() has troupe_actors_active fall to 0 after shutdown", async () => {
  const clock = new ManualClock();
  const system = new ActorSystem({ clock, logger: quiet, node: "n1" });
  try {
    await exercise(system, clock);
  } finally {
    await system.shutdown();
  }
  const got = samples(system.prometheusText());
  const type = 'node="n1",actor_type="counter"';
  assert.equal(got.get(`troupe_actors_active{${type}}`), "0");
  assert.equal(got.get(`troupe_actor_stopped_total{${type}}`), "2");
});

test("ActorSystem.prometheusText() samples mailbox wait with metricsSampleEvery: 1", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    node: "n1",
    metricsSampleEvery: 1,
  });
  await exercise(system, clock);
  const got = samples(system.prometheusText());
  const count = Number(
    got.get(
      'troupe_actor_mailbox_wait_seconds_count{node="n1",actor_type="counter"}',
    ),
  );
  assert.ok(count > 0, `mailbox wait count ${count}`);
  // Samples are taken from handled messages only (7 here).
  assert.ok(count <= 7, `mailbox wait count ${count}`);
});

test("ActorSystem.prometheusText() times the 256th message to an actor by default, and none before", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock, logger: quiet, node: "n1" });
  const key =
    'troupe_actor_mailbox_wait_seconds_count{node="n1",actor_type="counter"}';
  await exercise(system, clock);
  assert.equal(samples(system.prometheusText()).get(key), "0");
  const fresh = await system.spawn(counter, 0);
  for (let i = 0; i < 254; i++) fresh.tell("add", 1);
  assert.equal(await fresh.ask("get"), 254);
  assert.equal(samples(system.prometheusText()).get(key), "0", "255 messages");
  assert.equal(await fresh.ask("get"), 254);
  assert.equal(samples(system.prometheusText()).get(key), "1", "256 messages");
});

test("new ActorSystem() throws RangeError when metricsSampleEvery is not a power of two", () => {
  for (const every of [0, 3, 6, 100, -2, 1.5, NaN]) {
    assert.throws(
      () => new ActorSystem({ metricsSampleEvery: every }),
      RangeError,
      String(every),
    );
  }
});

test("new ActorSystem() accepts metricsSampleEvery values that are powers of two and samples at that rate", async () => {
  const key =
    'troupe_actor_mailbox_wait_seconds_count{node="n1",actor_type="counter"}';
  for (const every of [1, 2, 64, 1024]) {
    await using system = new ActorSystem({
      clock: new ManualClock(),
      node: "n1",
      metricsSampleEvery: every,
    });
    const a = await system.spawn(counter, 0);
    // The ask is message number 3 × every: three samples, the last being the ask itself.
    for (let i = 1; i < 3 * every; i++) a.tell("add", 1);
    assert.equal(await a.ask("get"), 3 * every - 1);
    assert.equal(
      samples(system.prometheusText()).get(key),
      "3",
      `metricsSampleEvery: ${every}`,
    );
  }
});

test("ActorSystemOptions.metricsSampleEvery: 1 times every message, queued behind others or not", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    node: "n1",
    metricsSampleEvery: 1,
  });
  const a = await system.spawn(counter, 0);
  const key =
    'troupe_actor_mailbox_wait_seconds_count{node="n1",actor_type="counter"}';
  // A burst of four: each is timed, whatever waits before it.
  a.tell("add", 1);
  a.tell("add", 2);
  a.tell("add", 3);
  assert.equal(await a.ask("get"), 6);
  assert.equal(samples(system.prometheusText()).get(key), "4");
  // One at a time: each is timed.
  for (let i = 0; i < 3; i++) await a.ask("get");
  assert.equal(samples(system.prometheusText()).get(key), "7");
});

test("ActorSystem samples every N-th enqueued message, so a backlog is timed", async () => {
  // The clock moves 1 ms with every reading, so a message that waits behind others shows it.
  const inner = new ManualClock();
  let readings = 0;
  const clock = {
    now: () => inner.now() + readings++,
    setTimer: (callback: () => void, delayMs: number) =>
      inner.setTimer(callback, delayMs),
    clearTimer: (handle: ReturnType<ManualClock["setTimer"]>) =>
      inner.clearTimer(handle),
  };
  await using system = new ActorSystem({
    clock,
    node: "n1",
    metricsSampleEvery: 32,
  });
  const a = await system.spawn(counter, 0);
  const series = '{node="n1",actor_type="counter"}';
  for (let i = 0; i < 3200; i++) a.tell("add", 1);
  assert.equal(await a.ask("get"), 3200);
  const got = samples(system.prometheusText());
  assert.equal(
    got.get(`troupe_actor_mailbox_wait_seconds_count${series}`),
    "100",
  );
  assert.equal(
    got.get(`troupe_actor_processing_seconds_count${series}`),
    "100",
  );
  // The 100 enqueue readings come before the first handling reading, so each sample's wait
  // is at least 100 readings (0.1 s) of this clock.
  const sum = Number(got.get(`troupe_actor_mailbox_wait_seconds_sum${series}`));
  assert.ok(sum >= 100 * 0.1, `mailbox wait sum ${sum} s`);
});

test("ActorSystem times exactly the handled messages whose enqueue number is a multiple of metricsSampleEvery, also when a drop-oldest mailbox drops some", async () => {
  // Sampled messages are found by their place in dequeue order, which the cell derives from
  // its counters: drops of the oldest must keep that right.
  const recorder = defineActor({
    name: "recorder",
    init: () => ({ handled: [] as number[] }),
    handlers: {
      add: (state, k: number) => {
        state.handled.push(k);
      },
      get: (state, k: number) => {
        state.handled.push(k);
        return state.handled.slice();
      },
    },
  });
  const series = '{node="n1",actor_type="recorder"}';
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(1, 2, 4, 8),
      fc.integer({ min: 1, max: 6 }),
      fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 8 }),
      async (every, capacity, bursts) => {
        await using system = new ActorSystem({
          clock: new ManualClock(),
          node: "n1",
          metricsSampleEvery: every,
        });
        const ref = await system.spawn(recorder, undefined, {
          mailbox: { capacity, overflow: "drop-oldest" },
        });
        let k = 0;
        let handled: number[] = [];
        for (const size of bursts) {
          for (let i = 0; i < size; i++) ref.tell("add", ++k);
          handled = await ref.ask("get", ++k);
        }
        const got = samples(system.prometheusText());
        const expected = handled.filter((n) => n % every === 0).length;
        assert.equal(
          got.get(`troupe_actor_mailbox_wait_seconds_count${series}`) ?? "0",
          String(expected),
        );
        assert.equal(
          got.get(`troupe_actor_processing_seconds_count${series}`) ?? "0",
          String(expected),
        );
      },
    ),
  );
});
