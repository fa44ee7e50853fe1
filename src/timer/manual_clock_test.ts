import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { ManualClock } from "./mod.ts";

test("ManualClock.now() starts at the given reading and moves only on advance()", async () => {
  const clock = new ManualClock(1000);
  assert.equal(clock.now(), 1000);
  await clock.advance(250);
  assert.equal(clock.now(), 1250);
  await clock.advance(0);
  assert.equal(clock.now(), 1250);
});

test("new ManualClock() throws RangeError for a start that is not finite", () => {
  assert.throws(() => new ManualClock(NaN), RangeError);
  assert.throws(() => new ManualClock(Infinity), RangeError);
});

test("ManualClock.advance() fires a timer only once its deadline is reached", async () => {
  const clock = new ManualClock();
  let fired = 0;
  clock.setTimer(() => fired++, 100);
  await clock.advance(99);
  assert.equal(fired, 0);
  await clock.advance(1);
  assert.equal(fired, 1);
  await clock.advance(1000);
  assert.equal(fired, 1);
});

test("ManualClock.advance() fires timers by deadline, not by registration", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.setTimer(() => order.push("c"), 30);
  clock.setTimer(() => order.push("a"), 10);
  clock.setTimer(() => order.push("b"), 20);
  await clock.advance(30);
  assert.deepEqual(order, ["a", "b", "c"]);
});

test("ManualClock.advance() fires timers with the same deadline in registration order", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.setTimer(() => order.push("first"), 10);
  await clock.advance(5);
  // Registered later with a shorter delay, so due at the same instant (10) as "first".
  clock.setTimer(() => order.push("second"), 5);
  clock.setTimer(() => order.push("third"), 5);
  clock.setTimer(() => order.push("early"), 1);
  await clock.advance(5);
  assert.deepEqual(order, ["early", "first", "second", "third"]);
});

test("ManualClock.advance() runs each timer at its own deadline", async () => {
  const clock = new ManualClock();
  const seen: number[] = [];
  clock.setTimer(() => seen.push(clock.now()), 10);
  clock.setTimer(() => seen.push(clock.now()), 25);
  await clock.advance(100);
  assert.deepEqual(seen, [10, 25]);
  assert.equal(clock.now(), 100);
});

test("ManualClock.advance() fires timers registered by a firing timer when they fall due", async () => {
  const clock = new ManualClock();
  const seen: Array<[string, number]> = [];
  clock.setTimer(() => {
    seen.push(["outer", clock.now()]);
    clock.setTimer(() => seen.push(["inner", clock.now()]), 5);
    clock.setTimer(() => seen.push(["now", clock.now()]), 0);
  }, 10);
  clock.setTimer(() => seen.push(["later", clock.now()]), 20);
  clock.setTimer(() => seen.push(["beyond", clock.now()]), 50);
  await clock.advance(30);
  assert.deepEqual(seen, [
    ["outer", 10],
    ["now", 10],
    ["inner", 15],
    ["later", 20],
  ]);
  assert.equal(clock.pendingTimers, 1);
});

test("ManualClock.advance() lets the microtasks a timer causes settle before the next fires", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.setTimer(() => {
    order.push("t1");
    // A chain of microtasks, as an actor handling the message a timer sent would make.
    void Promise.resolve()
      .then(() => order.push("t1 micro 1"))
      .then(() => Promise.resolve())
      .then(() => order.push("t1 micro 2"));
  }, 10);
  clock.setTimer(() => order.push("t2"), 10);
  await clock.advance(10);
  assert.deepEqual(order, ["t1", "t1 micro 1", "t1 micro 2", "t2"]);
});

test("ManualClock.advance() settles pending microtasks before firing the first timer", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.setTimer(() => order.push("timer"), 0);
  void Promise.resolve().then(() => Promise.resolve()).then(() =>
    order.push("micro")
  );
  await clock.advance(0);
  assert.deepEqual(order, ["micro", "timer"]);
});

test("ManualClock.clearTimer() stops a timer from firing", async () => {
  const clock = new ManualClock();
  let fired = 0;
  const handle = clock.setTimer(() => fired++, 10);
  clock.setTimer(() => fired += 10, 10);
  clock.clearTimer(handle);
  assert.equal(clock.pendingTimers, 1);
  await clock.advance(10);
  assert.equal(fired, 10);
});

test("ManualClock.clearTimer() called by an earlier timer cancels a timer due in the same advance()", async () => {
  const clock = new ManualClock();
  let fired = 0;
  const later = clock.setTimer(() => fired++, 20);
  clock.setTimer(() => clock.clearTimer(later), 10);
  await clock.advance(30);
  assert.equal(fired, 0);
  assert.equal(clock.pendingTimers, 0);
});

test("ManualClock.clearTimer() is a no-op for a timer that fired or was cleared", async () => {
  const clock = new ManualClock();
  let fired = 0;
  const handle = clock.setTimer(() => fired++, 10);
  const other = clock.setTimer(() => fired++, 20);
  await clock.advance(10);
  clock.clearTimer(handle);
  assert.equal(clock.pendingTimers, 1);
  clock.clearTimer(other);
  clock.clearTimer(other);
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(100);
  assert.equal(fired, 1);
});

test("ManualClock.pendingTimers counts timers waiting to fire", async () => {
  const clock = new ManualClock();
  assert.equal(clock.pendingTimers, 0);
  clock.setTimer(() => {}, 10);
  clock.setTimer(() => {}, 20);
  const third = clock.setTimer(() => {}, 30);
  assert.equal(clock.pendingTimers, 3);
  await clock.advance(10);
  assert.equal(clock.pendingTimers, 2);
  clock.clearTimer(third);
  assert.equal(clock.pendingTimers, 1);
  await clock.advance(10);
  assert.equal(clock.pendingTimers, 0);
});

test("ManualClock.setTimer() treats a negative or non-finite delay as 0", async () => {
  const clock = new ManualClock(50);
  const seen: number[] = [];
  clock.setTimer(() => seen.push(clock.now()), -10);
  clock.setTimer(() => seen.push(clock.now()), NaN);
  await clock.advance(0);
  assert.deepEqual(seen, [50, 50]);
});

test("ManualClock.advanceToNext() moves time to the earliest deadline and fires that timer", async () => {
  const clock = new ManualClock();
  const order: string[] = [];
  clock.setTimer(() => order.push("b"), 70);
  clock.setTimer(() => order.push("a"), 40);
  assert.equal(await clock.advanceToNext(), true);
  assert.equal(clock.now(), 40);
  assert.deepEqual(order, ["a"]);
  assert.equal(await clock.advanceToNext(), true);
  assert.equal(clock.now(), 70);
  assert.deepEqual(order, ["a", "b"]);
});

test("ManualClock.advanceToNext() returns false and leaves time alone when no timer waits", async () => {
  const clock = new ManualClock(5);
  assert.equal(await clock.advanceToNext(), false);
  assert.equal(clock.now(), 5);
});

test("ManualClock.advance() rejects with RangeError for a negative, NaN or infinite step", async () => {
  const clock = new ManualClock();
  let fired = 0;
  clock.setTimer(() => fired++, 0);
  await assert.rejects(clock.advance(-1), RangeError);
  await assert.rejects(clock.advance(NaN), RangeError);
  await assert.rejects(clock.advance(Infinity), RangeError);
  assert.equal(clock.now(), 0);
  assert.equal(fired, 0);
  assert.equal(clock.pendingTimers, 1);
});
