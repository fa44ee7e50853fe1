import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { ManualClock, TICK_MS, TickDeadlines } from "./mod.ts";

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

test("TickDeadlines expires a wait no earlier than its timeout and at most two ticks later", async () => {
  for (const timeoutMs of [1, 10, 25, 100]) {
    const { clock, deadlines, wait } = setup();
    const w = wait(timeoutMs);
    await clock.advance(timeoutMs - 1);
    assert.equal(w.settled, false, `not before ${timeoutMs} ms`);
    await clock.advance(1 + 2 * TICK_MS);
    assert.equal(w.settled, true, `by ${timeoutMs} ms + two ticks`);
    assert.ok(w.expiredAt! >= timeoutMs);
    deadlines.close();
  }
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
