// A mailbox is a FIFO ring buffer of (handler entry, payload, reply) triples stored flat, so
// enqueueing a message allocates nothing but the occasional growth of the buffer.

/** What a bounded mailbox does with a message that does not fit. */
export type OverflowPolicy = "drop-newest" | "drop-oldest" | "reject";

/** Options of an actor's mailbox. */
export interface MailboxOptions {
  /** Most messages it holds; unbounded when omitted. */
  readonly capacity?: number;
  /**
   * What happens when it is full (default `"drop-newest"`):
   * - `"drop-newest"`: the new message goes to dead letters (an ask rejects with `MailboxFullError`);
   * - `"drop-oldest"`: the oldest queued message goes to dead letters to make room;
   * - `"reject"`: `tell()` throws `MailboxFullError` and `ask()` rejects with it.
   */
  readonly overflow?: OverflowPolicy;
}

export function checkMailboxOptions(options: MailboxOptions | undefined): void {
  if (options === undefined) return;
  const { capacity, overflow } = options;
  if (capacity !== undefined && (!Number.isInteger(capacity) || capacity < 1)) {
    throw new RangeError(
      `Invalid mailbox capacity ${String(capacity)}: must be an integer ≥ 1`,
    );
  }
  if (
    overflow !== undefined && overflow !== "drop-newest" &&
    overflow !== "drop-oldest" &&
    overflow !== "reject"
  ) {
    throw new TypeError(`Invalid mailbox overflow policy ${String(overflow)}`);
  }
}

export class Mailbox<A, B, C> {
  // Allocated on the first message: an idle actor's mailbox costs one small object.
  #buf: unknown[] | null = null;
  #mask = -1;
  #head = 0;
  size = 0;

  push(a: A, b: B, c: C): void {
    if (this.size > this.#mask) this.#grow();
    const i = ((this.#head + this.size) & this.#mask) * 3;
    const buf = this.#buf!;
    buf[i] = a;
    buf[i + 1] = b;
    buf[i + 2] = c;
    this.size++;
  }

  // Puts a message back in front (the next to be shifted).
  unshift(a: A, b: B, c: C): void {
    if (this.size > this.#mask) this.#grow();
    this.#head = (this.#head - 1) & this.#mask;
    const i = this.#head * 3;
    const buf = this.#buf!;
    buf[i] = a;
    buf[i + 1] = b;
    buf[i + 2] = c;
    this.size++;
  }

  // The oldest message, part by part (the caller checks size first); removeFirst() then takes
  // it out. Reading the parts where they are costs less in the actor's loop than copying them
  // into a tuple and out again.
  firstA(): A {
    return this.#buf![this.#head * 3] as A;
  }

  firstB(): B {
    return this.#buf![this.#head * 3 + 1] as B;
  }

  firstC(): C {
    return this.#buf![this.#head * 3 + 2] as C;
  }

  // Removes the oldest message. The caller checks size first.
  removeFirst(): void {
    const i = this.#head * 3;
    const buf = this.#buf!;
    buf[i] = buf[i + 1] = buf[i + 2] = undefined;
    this.#head = (this.#head + 1) & this.#mask;
    this.size--;
  }

  #grow(): void {
    const old = this.#buf;
    const capacity = old === null ? 1 : (this.#mask + 1) * 2;
    const buf = new Array(capacity * 3);
    for (let n = 0; n < this.size; n++) {
      const from = ((this.#head + n) & this.#mask) * 3;
      buf[n * 3] = old![from];
      buf[n * 3 + 1] = old![from + 1];
      buf[n * 3 + 2] = old![from + 2];
    }
    this.#buf = buf;
    this.#mask = capacity - 1;
    this.#head = 0;
  }
}
