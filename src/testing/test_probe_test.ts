import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  oneForOne,
} from "../../mod.ts";
import {
  isProbeExpectationError,
  ManualClock,
  ProbeExpectationError,
  TestProbe,
} from "./mod.ts";

interface Pings {
  ping(n: number): void;
  pong(): void;
  other(text: string): void;
}

const quiet = { error() {} };

const fragile = defineActor({
  name: "fragile",
  init: (error: Error) => ({ error }),
  handlers: {
    noop: () => {},
    fail: (state) => {
      throw state.error;
    },
  },
});

function isExpectationError(error: unknown): boolean {
  assert.ok(error instanceof ProbeExpectationError, String(error));
  assert.ok(isProbeExpectationError(error));
  return true;
}

/** Tracks whether a promise has settled, without waiting for it. */
function track<T>(promise: Promise<T>): { readonly settled: boolean } {
  const state = { settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}

test("TestProbe.expectMessage() without a type returns the next message", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  probe.ref.tell("ping", 1);
  probe.ref.tell("pong");
  assert.deepEqual(await probe.expectMessage(), { type: "ping", payload: 1 });
  assert.deepEqual(await probe.expectMessage(), {
    type: "pong",
    payload: undefined,
  });
});

test("TestProbe.expectMessage() waits for a message sent after it was called", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  const expected = probe.expectMessage("ping");
  const progress = track(expected);
  await clock.advance(0);
  assert.equal(progress.settled, false);
  probe.ref.tell("ping", 7);
  assert.deepEqual(await expected, { type: "ping", payload: 7 });
});

test("TestProbe.expectMessage() with a type skips and drops the messages of other types before it", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  probe.ref.tell("other", "a");
  probe.ref.tell("ping", 1);
  probe.ref.tell("other", "b");
  await clock.advance(0);
  assert.deepEqual(await probe.expectMessage("ping"), {
    type: "ping",
    payload: 1,
  });
  assert.deepEqual(probe.pending, [{ type: "other", payload: "b" }]);
});

test("TestProbe.expectMessage() with a type resolves with that type when others arrive first", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  const expected = probe.expectMessage("ping");
  probe.ref.tell("other", "a");
  probe.ref.tell("ping", 2);
  assert.deepEqual(await expected, { type: "ping", payload: 2 });
});

test({
  name:
    "TestProbe.expectMessage() with a type drops the other messages that arrive while it waits",
  fn: async () => {
    const clock = new ManualClock();
    await using system = new ActorSystem({ clock });
    await using probe = await TestProbe.create<Pings>(system);
    const expected = probe.expectMessage("ping");
    probe.ref.tell("other", "a");
    probe.ref.tell("ping", 2);
    await expected;
    assert.deepEqual(probe.pending, []);
  },
});

test("TestProbe.expectMessage() rejects with ProbeExpectationError once the timeout passes on the system clock", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  const expected = probe.expectMessage("ping", { timeoutMs: 500 });
  const progress = track(expected);
  const rejected = assert.rejects(expected, isExpectationError);
  await clock.advance(499);
  assert.equal(progress.settled, false);
  await clock.advance(1);
  await rejected;
  assert.equal(clock.pendingTimers, 0);
});

test("TestProbe.expectMessage() uses the probe's default timeout", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system, { timeoutMs: 200 });
  const expected = probe.expectMessage();
  const progress = track(expected);
  const rejected = assert.rejects(expected, /within 200 ms/);
  await clock.advance(199);
  assert.equal(progress.settled, false);
  await clock.advance(1);
  await rejected;
});

test("TestProbe.expectMessage() rejects with TypeError while another expectation is waiting", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  const first = probe.expectMessage("ping");
  await assert.rejects(probe.expectMessage("pong"), TypeError);
  probe.ref.tell("ping", 1);
  assert.deepEqual(await first, { type: "ping", payload: 1 });
});

test("TestProbe.expectNoMessage() resolves when nothing arrives in the window", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  const quietly = probe.expectNoMessage(100);
  const progress = track(quietly);
  await clock.advance(99);
  assert.equal(progress.settled, false);
  await clock.advance(1);
  await quietly;
  // The probe still receives afterwards.
  probe.ref.tell("pong");
  assert.equal((await probe.expectMessage()).type, "pong");
});

test("TestProbe.expectNoMessage() rejects with ProbeExpectationError when a message arrives", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  const rejected = assert.rejects(
    probe.expectNoMessage(100),
    (error) => isExpectationError(error) && /"ping"/.test(String(error)),
  );
  await clock.advance(50);
  probe.ref.tell("ping", 1);
  await clock.advance(0);
  await rejected;
  assert.equal(clock.pendingTimers, 0);
});

test("TestProbe.expectNoMessage() rejects with ProbeExpectationError when a message is already waiting", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  probe.ref.tell("pong");
  await clock.advance(0);
  await assert.rejects(probe.expectNoMessage(100), isExpectationError);
});

test("TestProbe.expectTerminated() resolves with a clean stop notice when the actor stops", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create(system);
  const ref = await system.spawn(fragile, new Error("unused"));
  const terminated = probe.expectTerminated(ref);
  const progress = track(terminated);
  await clock.advance(0);
  assert.equal(progress.settled, false);
  await ref.stop();
  const notice = await terminated;
  assert.equal(notice.ref, ref);
  assert.equal(notice.fault, undefined);
});

test("TestProbe.expectTerminated() resolves with the fault of an actor its supervisor stopped", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    supervision: oneForOne({ decide: () => "stop" }),
  });
  await using probe = await TestProbe.create(system);
  const error = new Error("boom");
  const ref = await system.spawn(fragile, error);
  const terminated = probe.expectTerminated(ref);
  ref.tell("fail");
  const notice = await terminated;
  assert.equal(notice.ref, ref);
  assert.deepEqual(notice.fault, { kind: "thrown", error });
  assert.equal(ref.stopped, true);
});

test("TestProbe.expectTerminated() resolves for an actor that has already stopped", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create(system);
  const ref = await system.spawn(fragile, new Error("unused"));
  await ref.stop();
  const notice = await probe.expectTerminated(ref);
  assert.equal(notice.ref, ref);
  assert.equal(notice.fault, undefined);
});

test("TestProbe.expectTerminated() rejects with ProbeExpectationError when the actor keeps running", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create(system);
  const ref = await system.spawn(fragile, new Error("unused"));
  const rejected = assert.rejects(
    probe.expectTerminated(ref, { timeoutMs: 300 }),
    isExpectationError,
  );
  await clock.advance(300);
  await rejected;
  assert.equal(ref.stopped, false);
});

test("TestProbe: an ask to the probe resolves undefined and is recorded", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  await using probe = await TestProbe.create<Pings>(system);
  assert.equal(await probe.ref.ask("ping", 3), undefined);
  assert.deepEqual(await probe.expectMessage(), { type: "ping", payload: 3 });
});

test("TestProbe: await using stops the probe actor", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  let ref: ActorRef<Pings>;
  {
    await using probe = await TestProbe.create<Pings>(system, { id: "p" });
    ref = probe.ref;
    assert.equal(system.lookup("p"), probe.ref);
    assert.equal(ref.stopped, false);
  }
  assert.equal(ref.stopped, true);
  assert.equal(system.lookup("p"), undefined);
});

test("TestProbe.create() throws RangeError for a timeout that is not > 0", async () => {
  await using system = new ActorSystem({ clock: new ManualClock() });
  await assert.rejects(TestProbe.create(system, { timeoutMs: 0 }), RangeError);
  assert.equal(system.size, 0);
});
