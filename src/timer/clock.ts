import { platform, type TimerHandle } from "../platform/mod.ts";

/**
 * The source of time for everything in Troupe that waits: ask timeouts, actor timers,
 * supervision backoff. The default is the runtime's clock; tests use a
 * {@linkcode ManualClock} to run on virtual time.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale (fractional allowed). */
  now(): number;
  /**
   * Calls `callback` once, `delayMs` milliseconds from now.
   *
   * @returns A handle for {@linkcode Clock.clearTimer}.
   */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; a no-op for one that already fired or was cancelled. */
  clearTimer(handle: TimerHandle): void;
}

/**
 * The runtime's real clock (monotonic time and timers of the platform layer).
 *
 * @example Usage
 * ```ts
 * import { systemClock } from "@troupe/troupe";
 * const start = systemClock.now();
 * console.log(systemClock.now() >= start); // true
 * ```
 */
export const systemClock: Clock = Object.freeze({
  now: (): number => platform.now(),
  setTimer: (callback: () => void, delayMs: number): TimerHandle =>
    platform.setTimer(callback, delayMs),
  clearTimer: (handle: TimerHandle): void => platform.clearTimer(handle),
});
