import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type Clock,
  ManualClock,
  TICK_MS,
  TickDeadlines,
  type TimerHandle,
} from "./mod.ts";

interface Wait {
  deadline: number;
  settled: boolean;
  expiredAt?: number;
}

function setup() {
  const clock = new ManualClock();
  let live = 0;
  const deadlines = new TickDeadlines<Wait>(clock, (w) => {
    w.settled = true;
    w.expiredAt = clock.now();
    live--;
  }, () => live > 0);
  const wait = (timeoutMs: number): Wait => {
    const w: Wait = {
      deadline: deadlines.deadlineFor(timeoutMs),
      settled: false,
    };
    live++;
    deadlines.add(w, timeoutMs);
    return w;
  };
  const settle = (w: Wait) => {
    w.settled = true;
    live--;
  };
  return { clock, deadlines, wait, settle };
}

test("TickDeadlines expires a wait no earlier than its timeout and at most one tick later", async () => {
  for (const timeoutMs of [1, 10, 25, 100]) {
    const { clock, deadlines, wait } = setup();
    const w = wait(timeoutMs);
    await clock.advance(timeoutMs - 1);
    assert.equal(w.settled, false, `not before ${timeoutMs} ms`);
    await clock.advance(1 + TICK_MS);
    assert.equal(w.settled, true, `by ${timeoutMs} ms + one tick`);
    assert.ok(w.expiredAt! >= timeoutMs);
    deadlines.close();
  }
});

// A clock whose timers all run `lagMs` late, like a runtime whose event loop is kept busy.
class LaggingClock implements Clock {
  constructor(readonly inner: ManualClock, readonly lagMs: number) {}
  now(): number {
    return this.inner.now();
  }
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    return this.inner.setTimer(callback, delayMs + this.lagMs);
  }
  clearTimer(handle: TimerHandle): void {
    this.inner.clearTimer(handle);
  }
}

test("TickDeadlines measures deadlines on the clock, not in timer firings, when ticks run late", async () => {
  const inner = new ManualClock();
  const lagMs = 25;
  const clock = new LaggingClock(inner, lagMs);
  const w: Wait = { deadline: 0, settled: false };
  const deadlines = new TickDeadlines<Wait>(clock, (item) => {
    item.settled = true;
    item.expiredAt = clock.now();
  }, () => !w.settled);
  w.deadline = deadlines.deadlineFor(1000);
  deadlines.add(w, 1000);
  await inner.advance(999);
  assert.equal(w.settled, false, "never early");
  await inner.advance(1 + TICK_MS + 2 * lagMs);
  // Counting firings of a 10 ms tick that runs 25 ms late would take about 3,500 ms.
  assert.equal(w.settled, true, "late by at most one tick plus the lag");
  assert.ok(w.expiredAt! >= 1000);
  deadlines.close();
});

test("TickDeadlines gives a wait added between ticks its full timeout", async () => {
  const { clock, deadlines, wait } = setup();
  await clock.advance(1);
  const first = wait(30); // the tick starts now, at 1 ms
  await clock.advance(TICK_MS - 1);
  const second = wait(30); // added at 10 ms, just before the first tick
  await clock.advance(30 - 1);
  assert.equal(second.settled, false, "not before 30 ms after it was added");
  await clock.advance(1 + TICK_MS);
  assert.equal(first.settled && second.settled, true);
  assert.ok(second.expiredAt! >= 10 + 30);
  deadlines.close();
});

test("TickDeadlines never expires a settled wait, and stops ticking when nothing waits", async () => {
  const { clock, deadlines, wait, settle } = setup();
  const a = wait(50);
  const b = wait(50);
  settle(a);
  await clock.advance(200);
  assert.equal(a.expiredAt, undefined);
  assert.ok(b.expiredAt !== undefined);
  assert.equal(clock.pendingTimers, 0, "no timer once nothing waits");
  deadlines.close();
});

test("TickDeadlines keeps separate timeouts in order, with many waits", async () => {
  const { clock, deadlines, wait, settle } = setup();
  const short = Array.from({ length: 5000 }, () => wait(30));
  const long = Array.from({ length: 5000 }, () => wait(300));
  for (let i = 0; i < short.length; i += 2) settle(short[i]);
  await clock.advance(60);
  assert.ok(
    short.every((w, i) =>
      i % 2 === 0 ? w.expiredAt === undefined : w.expiredAt !== undefined
    ),
  );
  assert.ok(long.every((w) => !w.settled));
  await clock.advance(300);
  assert.ok(long.every((w) => w.expiredAt !== undefined));
  deadlines.close();
});

test("TickDeadlines.clear() forgets waits; close() stops for good", async () => {
  const { clock, deadlines, wait } = setup();
  const w = wait(20);
  deadlines.clear();
  await clock.advance(100);
  assert.equal(w.expiredAt, undefined);
  deadlines.close();
  wait(20);
  assert.equal(clock.pendingTimers, 0, "no tick after close()");
});
