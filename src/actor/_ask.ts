// Pending asks and their timeouts, on TickDeadlines (src/timer/deadlines.ts): no timer and no
// clock read per ask; a timeout fires no earlier than asked and at most one tick (10 ms) plus
// the event loop's lag later.
import { type Clock, TickDeadlines } from "../timer/mod.ts";
import { AskTimeoutError } from "./errors.ts";

export class PendingAsk {
  settled = false;
  resolve!: (value: unknown) => void;
  reject!: (error: unknown) => void;
  deadline: number;
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

export class AskRegistry {
  readonly clock: Clock;
  live = 0;
  /** The ask most recently opened, for the caller to enqueue (saves a tuple per ask). */
  last: PendingAsk | null = null;
  readonly #deadlines: TickDeadlines<PendingAsk>;

  constructor(clock: Clock) {
    this.clock = clock;
    this.#deadlines = new TickDeadlines<PendingAsk>(
      clock,
      (ask) => ask.fail(new AskTimeoutError(ask.path, ask.type, ask.timeoutMs)),
      () => this.live > 0,
    );
  }

  /** Opens a pending ask (left in `last`) and returns its promise. */
  open(path: string, type: string, timeoutMs: number): Promise<unknown> {
    const ask = new PendingAsk(
      this,
      path,
      type,
      timeoutMs,
      this.#deadlines.deadlineFor(timeoutMs),
    );
    const promise = new Promise<unknown>((resolve, reject) => {
      ask.resolve = resolve;
      ask.reject = reject;
    });
    this.live++;
    this.#deadlines.add(ask, timeoutMs);
    this.last = ask;
    return promise;
  }

  /** Stops the ticking; asks still pending are rejected by their actors as those stop. */
  close(): void {
    this.#deadlines.close();
  }
}
