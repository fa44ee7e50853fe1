// Requests waiting for an answer from one peer (asks, spawns, lookups, stops), by id. Timeouts
// use the same scheme as local asks: a 10 ms tick that runs only while requests wait, and a FIFO
// per timeout value, so a request costs no timer and no clock read.
import type { TimerHandle } from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";

const TICK_MS = 10;

export interface Pending {
  readonly id: number;
  readonly deadline: number;
  readonly describe: string;
  readonly timeoutMs: number;
  settled: boolean;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

export class RequestTable {
  #byId = new Map<number, Pending>();
  #fifos = new Map<number, Pending[]>();
  #heads = new Map<number, number>();
  #nextId = 0;
  #tick = 0;
  #timer: TimerHandle | null = null;
  #clock: Clock;
  #onTimeout: (pending: Pending) => unknown;

  constructor(clock: Clock, onTimeout: (pending: Pending) => unknown) {
    this.#clock = clock;
    this.#onTimeout = onTimeout;
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Opens a request; `decode` turns the answer into the promised value. */
  open<T>(
    describe: string,
    timeoutMs: number,
    decode: (answer: unknown) => T,
  ): [number, Promise<T>] {
    const id = this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    let pending!: Pending;
    const promise = new Promise<T>((resolve, reject) => {
      pending = {
        id,
        deadline: this.#tick + Math.ceil(timeoutMs / TICK_MS) + 1,
        describe,
        timeoutMs,
        settled: false,
        resolve: (answer) => {
          try {
            resolve(decode(answer));
          } catch (error) {
            reject(error);
          }
        },
        reject,
      };
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
      this.#timer = this.#clock.setTimer(() => this.#sweep(), TICK_MS);
    }
    return [id, promise];
  }

  /** Settles request `id` with an answer; false when it is unknown (timed out already). */
  answer(id: number, answer: unknown): boolean {
    const pending = this.#take(id);
    if (pending === undefined) return false;
    pending.resolve(answer);
    return true;
  }

  /** Fails request `id`; false when it is unknown. */
  fail(id: number, error: unknown): boolean {
    const pending = this.#take(id);
    if (pending === undefined) return false;
    pending.reject(error);
    return true;
  }

  /** Fails every request (the connection is gone). */
  failAll(error: unknown): void {
    const all = [...this.#byId.values()];
    this.#byId.clear();
    this.#fifos.clear();
    this.#heads.clear();
    for (const pending of all) {
      pending.settled = true;
      pending.reject(error);
    }
    this.#stopTicking();
  }

  /** Stops the tick (the node is closing; call failAll first). */
  close(): void {
    this.#stopTicking();
  }

  #take(id: number): Pending | undefined {
    const pending = this.#byId.get(id);
    if (pending === undefined) return undefined;
    this.#byId.delete(id);
    pending.settled = true;
    return pending;
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
          pending.settled = true;
          pending.reject(this.#onTimeout(pending));
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
      this.#timer = this.#clock.setTimer(() => this.#sweep(), TICK_MS);
    }
  }
}
