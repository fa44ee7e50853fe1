import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import type { TimerHandle } from "../platform/mod.ts";
import {
  type Clock,
  ManualClock,
  type TimerMode,
  TimerScheduler,
} from "./mod.ts";

/**
 * A clock whose timers fire late: `jumpTo` moves time in one step, as after a long stall of
 * the process, and only then runs every timer that is due (including ones armed meanwhile).
 */
class StallingClock implements Clock {
  #now = 0;
  #timers: Array<{ at: number; seq: number; fire: (() => void) | null }> = [];
  #seq = 0;

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = {
      at: this.#now + delayMs,
      seq: this.#seq++,
      fire: callback as (() => void) | null,
      unref() {},
    };
    this.#timers.push(timer);
    return timer;
  }

  clearTimer(handle: TimerHandle): void {
    (handle as unknown as { fire: (() => void) | null }).fire = null;
  }

  jumpTo(time: number): void {
    this.#now = time;
    while (true) {
      const due = this.#timers
        .filter((t) => t.fire !== null && t.at <= time)
        .sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (due === undefined) return;
      const fire = due.fire!;
      due.fire = null;
      fire();
    }
  }
}

test("TimerScheduler.startSingle() fires once after the delay", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const fired: number[] = [];
  timers.startSingle("once", 100, () => fired.push(clock.now()));
  assert.equal(timers.isActive("once"), true);
  await clock.advance(99);
  assert.deepEqual(fired, []);
  await clock.advance(1);
  assert.deepEqual(fired, [100]);
  assert.equal(timers.isActive("once"), false);
  assert.equal(timers.size, 0);
  await clock.advance(1000);
  assert.deepEqual(fired, [100]);
  assert.equal(clock.pendingTimers, 0);
});

test("TimerScheduler.startSingle() with delay 0 fires on the next advance", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  let fired = 0;
  timers.startSingle("now", 0, () => fired++);
  assert.equal(fired, 0);
  await clock.advance(0);
  assert.equal(fired, 1);
});

test("TimerScheduler.startPeriodic(fixed-rate) ticks every interval", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const ticks: number[] = [];
  timers.startPeriodic(
    "beat",
    100,
    "fixed-rate",
    () => ticks.push(clock.now()),
  );
  await clock.advance(350);
  assert.deepEqual(ticks, [100, 200, 300]);
  await clock.advance(50);
  assert.deepEqual(ticks, [100, 200, 300, 400]);
  timers.cancelAll();
  assert.equal(clock.pendingTimers, 0);
});

test("TimerScheduler.startPeriodic(fixed-rate) starts after initialDelayMs, then keeps start + n × interval", async () => {
  const clock = new ManualClock(1000);
  const timers = new TimerScheduler(clock);
  const ticks: number[] = [];
  timers.startPeriodic(
    "beat",
    100,
    "fixed-rate",
    () => ticks.push(clock.now()),
    { initialDelayMs: 30 },
  );
  await clock.advance(250);
  assert.deepEqual(ticks, [1030, 1130, 1230]);
  timers.cancelAll();
});

test("TimerScheduler.startPeriodic(fixed-rate) catches up on ticks that fell due while the clock stalled", () => {
  const clock = new StallingClock();
  const timers = new TimerScheduler(clock);
  const ticks: number[] = [];
  timers.startPeriodic(
    "beat",
    100,
    "fixed-rate",
    () => ticks.push(clock.now()),
  );
  // 3.5 intervals pass before the first timer gets to run: the ticks due at 100, 200 and 300
  // all fire now, one after another.
  clock.jumpTo(350);
  assert.deepEqual(ticks, [350, 350, 350]);
  // The schedule is kept: the next tick is at 400, not 350 + 100.
  clock.jumpTo(399);
  assert.equal(ticks.length, 3);
  clock.jumpTo(400);
  assert.deepEqual(ticks, [350, 350, 350, 400]);
  timers.cancelAll();
});

test("TimerScheduler.startPeriodic(fixed-delay) waits for done() before the next delay starts", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const ticks: number[] = [];
  let done: (() => void) | undefined;
  timers.startPeriodic("poll", 100, "fixed-delay", (d) => {
    ticks.push(clock.now());
    done = d;
  });
  await clock.advance(100);
  assert.deepEqual(ticks, [100]);
  // The tick's work is not done: no further tick, however long we wait.
  await clock.advance(1000);
  assert.deepEqual(ticks, [100]);
  assert.equal(clock.pendingTimers, 0);
  assert.equal(timers.isActive("poll"), true);
  done!();
  await clock.advance(99);
  assert.deepEqual(ticks, [100]);
  await clock.advance(1);
  assert.deepEqual(ticks, [100, 1200]);
  timers.cancelAll();
});

test("TimerScheduler.startPeriodic(fixed-delay) arms one delay however often done() is called", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const ticks: number[] = [];
  timers.startPeriodic("poll", 100, "fixed-delay", (done) => {
    ticks.push(clock.now());
    done();
    done();
    done();
  });
  await clock.advance(300);
  assert.deepEqual(ticks, [100, 200, 300]);
  assert.equal(clock.pendingTimers, 1);
  timers.cancelAll();
});

test("TimerScheduler.startPeriodic(fixed-delay) does not re-arm when done() comes after cancel()", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  let ticks = 0;
  let done: (() => void) | undefined;
  timers.startPeriodic("poll", 100, "fixed-delay", (d) => {
    ticks++;
    done = d;
  });
  await clock.advance(100);
  assert.equal(timers.cancel("poll"), true);
  done!();
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(1000);
  assert.equal(ticks, 1);
});

test("TimerScheduler.startSingle() under a key in use replaces the old timer", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const fired: string[] = [];
  timers.startSingle("k", 100, () => fired.push("old"));
  timers.startSingle("k", 200, () => fired.push("new"));
  assert.equal(timers.size, 1);
  assert.equal(clock.pendingTimers, 1);
  await clock.advance(500);
  assert.deepEqual(fired, ["new"]);
});

test("TimerScheduler.startPeriodic() under a key in use stops the old periodic timer", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  const fired: string[] = [];
  timers.startPeriodic("k", 10, "fixed-rate", () => fired.push("old"));
  await clock.advance(10);
  timers.startPeriodic("k", 100, "fixed-rate", () => fired.push("new"));
  await clock.advance(200);
  assert.deepEqual(fired, ["old", "new", "new"]);
  timers.cancelAll();
});

test("TimerScheduler.cancel() stops a timer and reports whether one was active", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  let fired = 0;
  timers.startPeriodic("beat", 10, "fixed-rate", () => fired++);
  await clock.advance(25);
  assert.equal(fired, 2);
  assert.equal(timers.cancel("beat"), true);
  assert.equal(timers.isActive("beat"), false);
  assert.equal(timers.cancel("beat"), false);
  assert.equal(timers.cancel("never"), false);
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(100);
  assert.equal(fired, 2);
});

test("TimerScheduler.cancel() inside a fixed-rate tick stops the ticks that follow", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  let fired = 0;
  timers.startPeriodic("beat", 10, "fixed-rate", () => {
    if (++fired === 2) timers.cancel("beat");
  });
  await clock.advance(100);
  assert.equal(fired, 2);
  assert.equal(clock.pendingTimers, 0);
});

test("TimerScheduler.cancelAll() stops every timer", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  let fired = 0;
  timers.startSingle("a", 10, () => fired++);
  timers.startPeriodic("b", 10, "fixed-rate", () => fired++);
  timers.startPeriodic("c", 10, "fixed-delay", () => fired++);
  assert.equal(timers.size, 3);
  assert.equal(clock.pendingTimers, 3);
  timers.cancelAll();
  assert.equal(timers.size, 0);
  assert.equal(clock.pendingTimers, 0);
  for (const key of ["a", "b", "c"]) assert.equal(timers.isActive(key), false);
  await clock.advance(100);
  assert.equal(fired, 0);
});

test("TimerScheduler.size and isActive() track the active timers", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  assert.equal(timers.size, 0);
  timers.startSingle("a", 10, () => {});
  timers.startPeriodic("b", 20, "fixed-rate", () => {});
  assert.equal(timers.size, 2);
  assert.equal(timers.isActive("a"), true);
  assert.equal(timers.isActive("b"), true);
  assert.equal(timers.isActive("c"), false);
  await clock.advance(10);
  assert.equal(timers.size, 1);
  assert.equal(timers.isActive("a"), false);
  timers.cancel("b");
  assert.equal(timers.size, 0);
});

test("TimerScheduler.startSingle() throws RangeError for a negative or non-finite delay", () => {
  const timers = new TimerScheduler(new ManualClock());
  for (const delay of [-1, NaN, Infinity, "5" as unknown as number]) {
    assert.throws(
      () => timers.startSingle("k", delay, () => {}),
      RangeError,
      String(delay),
    );
  }
  assert.equal(timers.size, 0);
});

test("TimerScheduler.startPeriodic() throws RangeError for an interval that is not > 0 or a bad initial delay", () => {
  const timers = new TimerScheduler(new ManualClock());
  for (const interval of [0, -5, NaN, Infinity]) {
    assert.throws(
      () => timers.startPeriodic("k", interval, "fixed-rate", () => {}),
      RangeError,
      String(interval),
    );
  }
  for (const initialDelayMs of [-1, NaN, Infinity]) {
    assert.throws(
      () =>
        timers.startPeriodic("k", 10, "fixed-rate", () => {}, {
          initialDelayMs,
        }),
      RangeError,
      String(initialDelayMs),
    );
  }
  assert.equal(timers.size, 0);
});

test("TimerScheduler.startPeriodic() throws TypeError for an unknown mode", () => {
  const timers = new TimerScheduler(new ManualClock());
  assert.throws(
    () => timers.startPeriodic("k", 10, "sometimes" as TimerMode, () => {}),
    TypeError,
  );
  assert.equal(timers.size, 0);
});

test("TimerScheduler.startSingle() with bad arguments leaves the timer under that key running", async () => {
  const clock = new ManualClock();
  const timers = new TimerScheduler(clock);
  let fired = 0;
  timers.startSingle("k", 100, () => fired++);
  assert.throws(() => timers.startSingle("k", -1, () => {}), RangeError);
  assert.throws(
    () => timers.startPeriodic("k", 10, "never" as TimerMode, () => {}),
    TypeError,
  );
  assert.equal(timers.isActive("k"), true);
  await clock.advance(100);
  assert.equal(fired, 1);
});
