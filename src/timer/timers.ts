import type { TimerHandle } from "../platform/mod.ts";
import type { Clock } from "./clock.ts";

/** How a periodic timer keeps time. */
export type TimerMode = "fixed-rate" | "fixed-delay";

/** Options for a periodic timer. */
export interface PeriodicTimerOptions {
  /** Delay before the first tick; defaults to the interval. */
  readonly initialDelayMs?: number;
}

/**
 * Called on each tick. For `fixed-delay` timers, `done` must be called when the tick's work
 * is finished: the next delay starts then. Other timers may ignore it.
 */
export type TimerFire = (done: () => void) => void;

interface Entry {
  readonly key: string;
  readonly mode: "single" | TimerMode;
  readonly intervalMs: number;
  readonly fire: TimerFire;
  handle: TimerHandle | null;
  next: number;
  active: boolean;
}

function checkDelay(name: string, value: number, allowZero: boolean): void {
  if (
    typeof value !== "number" || !Number.isFinite(value) || value < 0 ||
    (!allowZero && value === 0)
  ) {
    throw new RangeError(
      `Cannot start timer: ${name} must be a finite number ${
        allowZero ? "≥ 0" : "> 0"
      }, got ${String(value)}`,
    );
  }
}

/**
 * Keyed timers on a {@linkcode Clock}: one-shot, fixed-rate and fixed-delay. Starting a timer
 * under a key that is in use replaces the old one; once cancelled (or replaced), a timer never
 * fires again.
 *
 * - fixed-rate ticks keep the schedule start + n × interval; ticks that fall due while the
 *   process was busy fire as soon as it can, one after another, to catch up.
 * - fixed-delay ticks wait the interval after the previous tick's work calls `done`.
 *
 * @example Usage
 * ```ts
 * import { TimerScheduler } from "@troupe/troupe";
 * import { ManualClock } from "@troupe/troupe/testing";
 * const clock = new ManualClock();
 * const timers = new TimerScheduler(clock);
 * let ticks = 0;
 * timers.startPeriodic("heartbeat", 100, "fixed-rate", () => ticks++);
 * await clock.advance(350);
 * timers.cancelAll();
 * console.log(ticks); // 3
 * ```
 */
export class TimerScheduler {
  #clock: Clock;
  #entries = new Map<string, Entry>();

  /**
   * Creates a scheduler.
   *
   * @param clock Where time comes from.
   */
  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** How many timers are active. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * Fires `fire` once after `delayMs`.
   *
   * @param key Names the timer; replaces an active timer of the same key.
   * @param delayMs Delay in milliseconds (≥ 0).
   * @param fire What to do.
   * @throws {RangeError} When `delayMs` is negative or not finite.
   */
  startSingle(key: string, delayMs: number, fire: TimerFire): void {
    checkDelay("delayMs", delayMs, true);
    this.#start({ key, mode: "single", intervalMs: 0, fire }, delayMs);
  }

  /**
   * Fires `fire` every `intervalMs`.
   *
   * @param key Names the timer; replaces an active timer of the same key.
   * @param intervalMs Interval in milliseconds (> 0).
   * @param mode `"fixed-rate"` or `"fixed-delay"`.
   * @param fire What to do.
   * @param options Initial delay.
   * @throws {RangeError} When an interval or delay is out of range.
   */
  startPeriodic(
    key: string,
    intervalMs: number,
    mode: TimerMode,
    fire: TimerFire,
    options?: PeriodicTimerOptions,
  ): void {
    checkDelay("intervalMs", intervalMs, false);
    if (mode !== "fixed-rate" && mode !== "fixed-delay") {
      throw new TypeError(`Cannot start timer: unknown mode ${String(mode)}`);
    }
    const initial = options?.initialDelayMs ?? intervalMs;
    checkDelay("initialDelayMs", initial, true);
    this.#start({ key, mode, intervalMs, fire }, initial);
  }

  /** Whether a timer with this key is active. */
  isActive(key: string): boolean {
    return this.#entries.has(key);
  }

  /**
   * Cancels the timer with this key.
   *
   * @returns `true` if one was active.
   */
  cancel(key: string): boolean {
    const entry = this.#entries.get(key);
    if (entry === undefined) return false;
    this.#stop(entry);
    return true;
  }

  /** Cancels every timer. */
  cancelAll(): void {
    for (const entry of this.#entries.values()) this.#stop(entry);
  }

  #start(
    spec: Pick<Entry, "key" | "mode" | "intervalMs" | "fire">,
    delayMs: number,
  ): void {
    this.cancel(spec.key);
    const entry: Entry = {
      ...spec,
      handle: null,
      next: this.#clock.now() + delayMs,
      active: true,
    };
    this.#entries.set(entry.key, entry);
    this.#arm(entry, delayMs);
  }

  #stop(entry: Entry): void {
    entry.active = false;
    if (entry.handle !== null) this.#clock.clearTimer(entry.handle);
    entry.handle = null;
    if (this.#entries.get(entry.key) === entry) this.#entries.delete(entry.key);
  }

  #arm(entry: Entry, delayMs: number): void {
    entry.handle = this.#clock.setTimer(
      () => this.#tick(entry),
      Math.max(0, delayMs),
    );
  }

  #tick(entry: Entry): void {
    entry.handle = null;
    if (!entry.active) return;
    switch (entry.mode) {
      case "single":
        this.#stop(entry);
        entry.fire(() => {});
        return;
      case "fixed-rate": {
        entry.next += entry.intervalMs;
        this.#arm(entry, entry.next - this.#clock.now());
        entry.fire(() => {});
        return;
      }
      case "fixed-delay": {
        let called = false;
        entry.fire(() => {
          if (called || !entry.active) return;
          called = true;
          this.#arm(entry, entry.intervalMs);
        });
        return;
      }
    }
  }
}
