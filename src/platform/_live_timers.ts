// The count of live timers (set through the platform, neither run nor cancelled yet), shared by
// the Deno and the Node implementations. Every timer of Troupe (ask timeouts, actor timers, the
// scheduler's immediates, membership and remoting ticks, the Redis client's watchdogs) goes
// through Platform.setTimer or Platform.setImmediate, so this is the figure a leak check reads.

let live = 0;

/**
 * The pending part of a platform timer handle: counted live from its creation until it runs or
 * is cancelled, whichever comes first (only the first of the two counts). The implementations
 * settle a timer before they call its callback, so one that throws is not left counted.
 */
export class LiveTimer {
  #pending = true;

  constructor() {
    live++;
  }

  /**
   * Marks the timer as no longer live: it ran, or it was cancelled.
   *
   * @returns `true` the first time, `false` after that.
   */
  settle(): boolean {
    if (!this.#pending) return false;
    this.#pending = false;
    live--;
    return true;
  }
}

/**
 * How many platform timers are live in this process.
 *
 * @returns The count.
 */
export function liveTimerCount(): number {
  return live;
}
