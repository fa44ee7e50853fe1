// Requests waiting for an answer from one peer (asks, spawns, lookups, stops), by id. Timeouts
// use the same scheme as local asks: a 10 ms tick that runs only while requests wait, and a FIFO
// per timeout value, so a request costs no timer and no clock read.
//
// A request is one object (a subclass of Pending says how to read its answer and which errors
// to reject with), not a set of closures, and it lets go of its promise once settled: the FIFO
// keeps settled requests until the next sweep, and anything they hold would outlive a young
// generation collection.
import type { TimerHandle } from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";

const TICK_MS = 10;

/** One request; the table fills in the id, the deadline and the promise's functions. */
export abstract class Pending {
  id = 0;
  deadline = 0;
  timeoutMs = 0;
  settled = false;
  resolve: ((value: unknown) => void) | null = null;
  reject: ((error: unknown) => void) | null = null;

  /** The promised value from the answer (a Reply payload); may throw. */
  abstract decode(answer: Uint8Array): unknown;

  /** The error to reject with when the request failed with `error`. */
  failure(error: unknown): unknown {
    return error;
  }

  /** The error to reject with when no answer came in time. */
  abstract timeout(): unknown;
}

export class RequestTable {
  #byId = new Map<number, Pending>();
  #fifos = new Map<number, Pending[]>();
  #heads = new Map<number, number>();
  #nextId = 0;
  #tick = 0;
  #timer: TimerHandle | null = null;
  #clock: Clock;
  #onTick = (): void => this.#sweep();

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Opens a request: gives it an id (in `pending.id`) and returns its promise. */
  open(pending: Pending, timeoutMs: number): Promise<unknown> {
    const id = this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    pending.id = id;
    pending.timeoutMs = timeoutMs;
    pending.deadline = this.#tick + Math.ceil(timeoutMs / TICK_MS) + 1;
    const promise = new Promise<unknown>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    this.#byId.set(id, pending);
    let fifo = this.#fifos.get(timeoutMs);
    if (fifo === undefined) {
      fifo = [];
      this.#fifos.set(timeoutMs, fifo);
      this.#heads.set(timeoutMs, 0);
    }
    fifo.push(pending);
    if (this.#timer === null) {
      this.#timer = this.#clock.setTimer(this.#onTick, TICK_MS);
    }
    return promise;
  }

  /** Settles request `id` with an answer; false when it is unknown (timed out already). */
  answer(id: number, answer: Uint8Array): boolean {
    const pending = this.#byId.get(id);
    if (pending === undefined) return false;
    this.#byId.delete(id);
    const resolve = pending.resolve!;
    const reject = pending.reject!;
    release(pending);
    let value: unknown;
    try {
      value = pending.decode(answer);
    } catch (error) {
      reject(pending.failure(error));
      return true;
    }
    resolve(value);
    return true;
  }

  /** Fails request `id`; false when it is unknown. */
  fail(id: number, error: unknown): boolean {
    const pending = this.#byId.get(id);
    if (pending === undefined) return false;
    this.#byId.delete(id);
    reject(pending, pending.failure(error));
    return true;
  }

  /** Fails every request (the connection is gone). */
  failAll(error: unknown): void {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    this.#fifos.clear();
    this.#heads.clear();
    for (const pending of all) reject(pending, pending.failure(error));
    this.#stopTicking();
  }

  /** Stops the tick (the node is closing; call failAll first). */
  close(): void {
    this.#stopTicking();
  }

  #stopTicking(): void {
    if (this.#timer !== null) this.#clock.clearTimer(this.#timer);
    this.#timer = null;
  }

  #sweep(): void {
    this.#timer = null;
    const tick = ++this.#tick;
    for (const [timeoutMs, fifo] of this.#fifos) {
      let head = this.#heads.get(timeoutMs)!;
      while (head < fifo.length) {
        const pending = fifo[head];
        if (!pending.settled) {
          if (pending.deadline > tick) break;
          this.#byId.delete(pending.id);
          reject(pending, pending.timeout());
        }
        fifo[head++] = undefined as unknown as Pending;
      }
      if (head === fifo.length) {
        this.#fifos.delete(timeoutMs);
        this.#heads.delete(timeoutMs);
      } else if (head > 1024 && head * 2 > fifo.length) {
        this.#fifos.set(timeoutMs, fifo.slice(head));
        this.#heads.set(timeoutMs, 0);
      } else {
        this.#heads.set(timeoutMs, head);
      }
    }
    if (this.#byId.size > 0) {
      this.#timer = this.#clock.setTimer(this.#onTick, TICK_MS);
    }
  }
}

function release(pending: Pending): void {
  pending.settled = true;
  pending.resolve = null;
  pending.reject = null;
}

function reject(pending: Pending, error: unknown): void {
  const settle = pending.reject!;
  release(pending);
  settle(error);
}
