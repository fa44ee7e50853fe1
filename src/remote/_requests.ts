// Requests waiting for an answer from one peer (asks, spawns, lookups, stops), by id. Timeouts
// use TickDeadlines, like local asks: a request costs no timer and no clock read.
//
// A request is one object (a subclass of Pending says how to read its answer and which errors
// to reject with), not a set of closures, and it lets go of its promise once settled: the FIFO
// keeps settled requests until the next sweep, and anything they hold would outlive a young
// generation collection.
import { type Clock, TickDeadlines } from "../timer/mod.ts";

/** One request; the table fills in the id, the deadline and the promise's functions. */
export abstract class Pending {
  id = 0;
  deadline = 0;
  timeoutMs = 0;
  settled = false;
  resolve: ((value: unknown) => void) | null = null;
  reject: ((error: unknown) => void) | null = null;
  /** The path of the actor an answer shows to be running, if any. */
  target: string | undefined = undefined;

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
  #nextId = 0;
  readonly #deadlines: TickDeadlines<Pending>;

  constructor(clock: Clock) {
    this.#deadlines = new TickDeadlines<Pending>(
      clock,
      (pending) => {
        this.#byId.delete(pending.id);
        reject(pending, pending.timeout());
      },
      () => this.#byId.size > 0,
    );
  }

  get size(): number {
    return this.#byId.size;
  }

  /** Opens a request: gives it an id (in `pending.id`) and returns its promise. */
  open(pending: Pending, timeoutMs: number): Promise<unknown> {
    const id = this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    pending.id = id;
    pending.timeoutMs = timeoutMs;
    pending.deadline = this.#deadlines.deadlineFor(timeoutMs);
    const promise = new Promise<unknown>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    this.#byId.set(id, pending);
    this.#deadlines.add(pending, timeoutMs);
    return promise;
  }

  /** The request waiting with `id`, if any (it stays waiting). */
  peek(id: number): Pending | undefined {
    return this.#byId.get(id);
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
    this.#deadlines.clear();
    for (const pending of all) reject(pending, pending.failure(error));
  }

  /** Stops the tick (the node is closing; call failAll first). */
  close(): void {
    this.#deadlines.close();
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
