import type { TimerHandle } from "../platform/mod.ts";
import type { Clock } from "./clock.ts";

/** The longest gap between two sweeps of {@linkcode TickDeadlines}, in milliseconds. */
export const TICK_MS = 10;

/** Something waiting with a deadline (see {@linkcode TickDeadlines}). */
export interface TickDeadline {
  /**
   * When it expires, in the clock's milliseconds. {@linkcode TickDeadlines} sets it at the
   * first tick after {@linkcode TickDeadlines.add}; until then it holds the placeholder from
   * {@linkcode TickDeadlines.deadlineFor} (never due).
   */
  deadline: number;
  /** Whether it no longer waits (answered, failed or expired). */
  readonly settled: boolean;
}

interface Fifo<T> {
  items: T[];
  head: number;
  // Items before this index have their deadline; the rest were added since the last tick.
  stamped: number;
  compactAt: number;
}

const COMPACT_MIN = 1024;

/**
 * Deadlines for many short waits (asks, requests) without a timer or a clock read for each:
 * reading a clock costs 70-170 ns on the machines measured and a timer costs more, more than the
 * rest of an ask. One clock timer runs while something waits, and each tick reads the clock
 * once. An item added since the previous tick started no later than this tick's reading, so it
 * gets that reading plus its timeout as its deadline: it never expires early. Ticks come at
 * most {@linkcode TICK_MS} apart, and the next one is set for the earliest deadline when that
 * is sooner, so an item expires at most one tick plus the event loop's lag late, however late
 * the timer callbacks run (deadlines are times on the clock, not counts of ticks). Items with
 * the same timeout share a FIFO, so their deadlines are in order and a sweep stops at the first
 * one not due. Settled items are skipped, and swept as the FIFOs grow.
 *
 * @example Usage
 * ```ts
 * import { TickDeadlines } from "@troupe/troupe";
 * import { ManualClock } from "@troupe/troupe/testing";
 * const clock = new ManualClock();
 * const wait = { deadline: 0, settled: false };
 * const deadlines = new TickDeadlines<typeof wait>(clock, (w) => w.settled = true, () => false);
 * wait.deadline = deadlines.deadlineFor(50);
 * deadlines.add(wait, 50);
 * await clock.advance(100);
 * console.log(wait.settled); // true
 * ```
 */
export class TickDeadlines<T extends TickDeadline> {
  #clock: Clock;
  #expire: (item: T) => void;
  #waiting: () => boolean;
  #fifos = new Map<number, Fifo<T>>();
  #timer: TimerHandle | null = null;
  #closed = false;
  #onTick = (): void => this.#sweep();

  /**
   * Creates the deadlines.
   *
   * @param clock Where the time and the ticks come from.
   * @param expire Called for an item whose deadline passed; it must settle the item.
   * @param waiting Whether anything still waits (the tick keeps running while it does).
   */
  constructor(clock: Clock, expire: (item: T) => void, waiting: () => boolean) {
    this.#clock = clock;
    this.#expire = expire;
    this.#waiting = waiting;
  }

  /**
   * The deadline to give an item before {@linkcode TickDeadlines.add}: a placeholder
   * (`Infinity`, never due) that the next tick replaces with the clock reading plus
   * `timeoutMs`, so that adding costs no clock read.
   *
   * @param _timeoutMs The timeout in milliseconds (the real deadline comes with the tick).
   * @returns The placeholder deadline.
   */
  deadlineFor(_timeoutMs: number): number {
    return Infinity;
  }

  /**
   * Starts watching an item for `timeoutMs` milliseconds from now.
   *
   * @param item The item (its `deadline` is set at the next tick).
   * @param timeoutMs Its timeout (items are grouped by it).
   */
  add(item: T, timeoutMs: number): void {
    let fifo = this.#fifos.get(timeoutMs);
    if (fifo === undefined) {
      fifo = { items: [], head: 0, stamped: 0, compactAt: COMPACT_MIN };
      this.#fifos.set(timeoutMs, fifo);
    }
    fifo.items.push(item);
    if (fifo.items.length - fifo.head >= fifo.compactAt) compact(fifo);
    if (this.#timer === null && !this.#closed) {
      this.#timer = this.#clock.setTimer(this.#onTick, TICK_MS);
    }
  }

  /** Forgets every item and stops ticking until the next {@linkcode TickDeadlines.add}. */
  clear(): void {
    this.#fifos.clear();
    this.#stop();
  }

  /** Stops for good: no tick runs any more. */
  close(): void {
    this.#closed = true;
    this.#stop();
  }

  #stop(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
  }

  #sweep(): void {
    this.#timer = null;
    const now = this.#clock.now();
    let next = Infinity;
    for (const [timeoutMs, fifo] of this.#fifos) {
      const items = fifo.items;
      if (fifo.stamped < items.length) {
        const deadline = now + timeoutMs;
        for (let i = Math.max(fifo.stamped, fifo.head); i < items.length; i++) {
          items[i].deadline = deadline;
        }
        fifo.stamped = items.length;
      }
      while (fifo.head < items.length) {
        const item = items[fifo.head];
        if (!item.settled) {
          if (item.deadline > now) {
            if (item.deadline < next) next = item.deadline;
            break;
          }
          this.#expire(item);
        }
        items[fifo.head++] = undefined as unknown as T;
      }
      if (fifo.head === items.length) {
        this.#fifos.delete(timeoutMs);
      } else if (fifo.head > COMPACT_MIN && fifo.head * 2 > items.length) {
        fifo.items = items.slice(fifo.head);
        fifo.stamped = Math.max(0, fifo.stamped - fifo.head);
        fifo.head = 0;
      }
    }
    if ((this.#fifos.size > 0 || this.#waiting()) && !this.#closed) {
      this.#timer = this.#clock.setTimer(
        this.#onTick,
        Math.min(TICK_MS, next - now),
      );
    }
  }
}

function compact<T extends TickDeadline>(fifo: Fifo<T>): void {
  const live: T[] = [];
  let stamped = 0;
  for (let i = fifo.head; i < fifo.items.length; i++) {
    if (!fifo.items[i].settled) {
      live.push(fifo.items[i]);
      if (i < fifo.stamped) stamped++;
    }
  }
  fifo.items = live;
  fifo.head = 0;
  fifo.stamped = stamped;
  fifo.compactAt = Math.max(COMPACT_MIN, live.length * 2);
}
