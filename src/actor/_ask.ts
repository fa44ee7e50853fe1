// Pending asks and their timeouts. Reading a clock costs 70-170 ns here, more than the rest
// of an ask, and a timer per ask costs more still. So time is counted in ticks of TICK_MS by
// one clock timer that runs only while asks are outstanding, and asks with the same timeout
// share a FIFO (their deadlines are in order). A timeout fires no earlier than asked and at
// most two ticks later. Settled asks are skipped and swept as the FIFOs grow.
import type { TimerHandle } from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";
import { AskTimeoutError } from "./errors.ts";

/** The granularity of ask timeouts, in milliseconds. */
export const TICK_MS = 10;

export class PendingAsk {
  settled = false;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  readonly deadline: number;
  readonly path: string;
  readonly type: string;
  readonly timeoutMs: number;
  readonly registry: AskRegistry;

  constructor(
    registry: AskRegistry,
    path: string,
    type: string,
    timeoutMs: number,
    deadline: number,
  ) {
    this.registry = registry;
    this.path = path;
    this.type = type;
    this.timeoutMs = timeoutMs;
    this.deadline = deadline;
  }

  ok(value: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.registry.live--;
    this.resolve(value);
  }

  fail(error: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.registry.live--;
    this.reject(error);
  }
}

interface Fifo {
  items: PendingAsk[];
  head: number;
  compactAt: number;
}

const COMPACT_MIN = 1024;

export class AskRegistry {
  readonly clock: Clock;
  live = 0;
  /** The ask most recently opened, for the caller to enqueue (saves a tuple per ask). */
  last: PendingAsk | null = null;
  #fifos = new Map<number, Fifo>();
  #tick = 0;
  #timer: TimerHandle | null = null;
  #closed = false;
  #onTick = (): void => this.#sweep();

  constructor(clock: Clock) {
    this.clock = clock;
  }

  /** Opens a pending ask (left in `last`) and returns its promise. */
  open(path: string, type: string, timeoutMs: number): Promise<unknown> {
    const deadline = this.#tick + Math.ceil(timeoutMs / TICK_MS) + 1;
    const ask = new PendingAsk(this, path, type, timeoutMs, deadline);
    const promise = new Promise<unknown>((resolve, reject) => {
      ask.resolve = resolve;
      ask.reject = reject;
    });
    this.live++;
    let fifo = this.#fifos.get(timeoutMs);
    if (fifo === undefined) {
      fifo = { items: [], head: 0, compactAt: COMPACT_MIN };
      this.#fifos.set(timeoutMs, fifo);
    }
    fifo.items.push(ask);
    if (fifo.items.length - fifo.head >= fifo.compactAt) compact(fifo);
    if (this.#timer === null && !this.#closed) {
      this.#timer = this.clock.setTimer(this.#onTick, TICK_MS);
    }
    this.last = ask;
    return promise;
  }

  /** Stops the ticking; asks still pending are rejected by their actors as those stop. */
  close(): void {
    this.#closed = true;
    if (this.#timer !== null) this.clock.clearTimer(this.#timer);
    this.#timer = null;
  }

  #sweep(): void {
    this.#timer = null;
    const tick = ++this.#tick;
    for (const [timeoutMs, fifo] of this.#fifos) {
      const items = fifo.items;
      while (fifo.head < items.length) {
        const ask = items[fifo.head];
        if (!ask.settled) {
          if (ask.deadline > tick) break;
          ask.fail(new AskTimeoutError(ask.path, ask.type, ask.timeoutMs));
        }
        items[fifo.head++] = undefined as unknown as PendingAsk;
      }
      if (fifo.head === items.length) {
        this.#fifos.delete(timeoutMs);
      } else if (fifo.head > COMPACT_MIN && fifo.head * 2 > items.length) {
        fifo.items = items.slice(fifo.head);
        fifo.head = 0;
      }
    }
    if ((this.#fifos.size > 0 || this.live > 0) && !this.#closed) {
      this.#timer = this.clock.setTimer(this.#onTick, TICK_MS);
    }
  }
}

function compact(fifo: Fifo): void {
  const live: PendingAsk[] = [];
  for (let i = fifo.head; i < fifo.items.length; i++) {
    if (!fifo.items[i].settled) live.push(fifo.items[i]);
  }
  fifo.items = live;
  fifo.head = 0;
  fifo.compactAt = Math.max(COMPACT_MIN, live.length * 2);
}
