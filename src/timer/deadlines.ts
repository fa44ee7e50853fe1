import type { TimerHandle } from "../platform/mod.ts";
import type { Clock } from "./clock.ts";

/** The granularity of {@linkcode TickDeadlines}, in milliseconds. */
export const TICK_MS = 10;

/** Something waiting with a deadline counted in ticks (see {@linkcode TickDeadlines}). */
export interface TickDeadline {
  /** The tick at or after which it expires. */
  readonly deadline: number;
  /** Whether it no longer waits (answered, failed or expired). */
  readonly settled: boolean;
}

interface Fifo<T> {
  items: T[];
  head: number;
  compactAt: number;
}

const COMPACT_MIN = 1024;

/**
 * Deadlines for many short waits (asks, requests) without a timer or a clock read for each:
 * reading a clock costs 70-170 ns on the machines measured and a timer costs more, more than the
 * rest of an ask. Time is counted in ticks of {@linkcode TICK_MS} by one clock timer that runs
 * only while something waits; items with the same timeout share a FIFO, so their deadlines are
 * in order and a sweep stops at the first one not due. A deadline fires no earlier than asked
 * and at most two ticks later. Settled items are skipped, and swept as the FIFOs grow.
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
  #tick = 0;
  #timer: TimerHandle | null = null;
  #closed = false;
  #onTick = (): void => this.#sweep();

  /**
   * Creates the deadlines.
   *
   * @param clock Where the ticks come from.
   * @param expire Called for an item whose deadline passed; it must settle the item.
   * @param waiting Whether anything still waits (the tick keeps running while it does).
   */
  constructor(clock: Clock, expire: (item: T) => void, waiting: () => boolean) {
    this.#clock = clock;
    this.#expire = expire;
    this.#waiting = waiting;
  }

  /**
   * The deadline for a wait of `timeoutMs` starting now.
   *
   * @param timeoutMs The timeout in milliseconds.
   * @returns The tick to give the item.
   */
  deadlineFor(timeoutMs: number): number {
    return this.#tick + Math.ceil(timeoutMs / TICK_MS) + 1;
  }

  /**
   * Starts watching an item whose deadline came from {@linkcode TickDeadlines.deadlineFor} with
   * the same `timeoutMs`.
   *
   * @param item The item.
   * @param timeoutMs Its timeout (items are grouped by it).
   */
  add(item: T, timeoutMs: number): void {
    let fifo = this.#fifos.get(timeoutMs);
    if (fifo === undefined) {
      fifo = { items: [], head: 0, compactAt: COMPACT_MIN };
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
    const tick = ++this.#tick;
    for (const [timeoutMs, fifo] of this.#fifos) {
      const items = fifo.items;
      while (fifo.head < items.length) {
        const item = items[fifo.head];
        if (!item.settled) {
          if (item.deadline > tick) break;
          this.#expire(item);
        }
        items[fifo.head++] = undefined as unknown as T;
      }
      if (fifo.head === items.length) {
        this.#fifos.delete(timeoutMs);
      } else if (fifo.head > COMPACT_MIN && fifo.head * 2 > items.length) {
        fifo.items = items.slice(fifo.head);
        fifo.head = 0;
      }
    }
    if ((this.#fifos.size > 0 || this.#waiting()) && !this.#closed) {
      this.#timer = this.#clock.setTimer(this.#onTick, TICK_MS);
    }
  }
}

function compact<T extends TickDeadline>(fifo: Fifo<T>): void {
  const live: T[] = [];
  for (let i = fifo.head; i < fifo.items.length; i++) {
    if (!fifo.items[i].settled) live.push(fifo.items[i]);
  }
  fifo.items = live;
  fifo.head = 0;
  fifo.compactAt = Math.max(COMPACT_MIN, live.length * 2);
}
