/**
 * Time for Troupe: the {@linkcode Clock} abstraction every wait goes through, and keyed
 * one-shot and periodic timers on top of it. Virtual time for tests is
 * `ManualClock` from `@troupe/troupe/testing`.
 *
 * @example Usage
 * ```ts
 * import { systemClock, TimerScheduler } from "@troupe/troupe";
 * const timers = new TimerScheduler(systemClock);
 * timers.startSingle("once", 10, () => console.log("fired"));
 * timers.cancelAll();
 * ```
 *
 * @module
 */
export { type Clock, systemClock } from "./clock.ts";
export { TICK_MS, type TickDeadline, TickDeadlines } from "./deadlines.ts";
export type { TimerHandle } from "../platform/mod.ts";
export { ManualClock } from "./manual_clock.ts";
export {
  type PeriodicTimerOptions,
  type TimerFire,
  type TimerMode,
  TimerScheduler,
} from "./timers.ts";
