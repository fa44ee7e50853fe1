import { platform, type TimerHandle } from "../platform/mod.ts";
import type { Clock } from "./clock.ts";

interface ManualTimer extends TimerHandle {
  at: number;
  seq: number;
  callback: (() => void) | null;
}

/**
 * Waits until every queued microtask (and the microtasks they queue) has run: one macrotask of
 * its own. An immediate, not a 0 ms timer: nested 0 ms timers are clamped to 1-4 ms of wall time
 * each, and a long advance fires thousands of timers.
 */
function settle(): Promise<void> {
  return new Promise((resolve) => platform.setImmediate(resolve));
}

/**
 * A clock that only moves when told to: virtual time for tests. Timers fire in deadline
 * order during {@linkcode ManualClock.advance}, and the microtasks each one causes (actors
 * handling the messages it sent) run before the next fires.
 *
 * @example Usage
 * ```ts
 * import { ManualClock } from "@troupe/troupe/testing";
 * const clock = new ManualClock();
 * let fired = 0;
 * clock.setTimer(() => fired++, 1000);
 * await clock.advance(999);
 * console.log(fired); // 0
 * await clock.advance(1);
 * console.log(fired); // 1
 * ```
 */
export class ManualClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: ManualTimer[] = [];

  /**
   * Creates a clock reading `start` milliseconds.
   *
   * @param start The initial reading (default 0).
   */
  constructor(start = 0) {
    if (!Number.isFinite(start)) {
      throw new RangeError("Cannot create ManualClock: start must be finite");
    }
    this.#now = start;
  }

  /** The current virtual time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Registers a timer that fires when virtual time reaches now + `delayMs`. */
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer: ManualTimer = {
      at: this.#now + Math.max(0, Number.isFinite(delayMs) ? delayMs : 0),
      seq: ++this.#seq,
      callback,
      unref() {},
    };
    this.#timers.push(timer);
    return timer;
  }

  /** Cancels a timer registered on this clock. */
  clearTimer(handle: TimerHandle): void {
    const timer = handle as ManualTimer;
    if (timer.callback == null) return;
    timer.callback = null;
    const i = this.#timers.indexOf(timer);
    if (i !== -1) this.#timers.splice(i, 1);
  }

  /** How many timers are waiting. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order, and letting the
   * work each one causes settle before the next.
   *
   * @param ms How far to move, in milliseconds (≥ 0).
   * @throws {RangeError} When `ms` is negative or not finite.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new RangeError(
        `Cannot advance ManualClock by ${ms}: must be a finite number ≥ 0`,
      );
    }
    const target = this.#now + ms;
    await settle();
    while (true) {
      const next = this.#nextDue(target);
      if (next === undefined) break;
      this.#timers.splice(this.#timers.indexOf(next), 1);
      this.#now = Math.max(this.#now, next.at);
      const callback = next.callback;
      next.callback = null;
      callback?.();
      await settle();
    }
    this.#now = target;
  }

  /** Moves time to the next timer's deadline and fires it; returns false when none is waiting. */
  async advanceToNext(): Promise<boolean> {
    const next = this.#nextDue(Infinity);
    if (next === undefined) return false;
    await this.advance(Math.max(0, next.at - this.#now));
    return true;
  }

  #nextDue(limit: number): ManualTimer | undefined {
    let best: ManualTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > limit) continue;
      if (
        best === undefined || t.at < best.at ||
        (t.at === best.at && t.seq < best.seq)
      ) best = t;
    }
    return best;
  }
}
