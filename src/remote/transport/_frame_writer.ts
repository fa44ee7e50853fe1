// The write side of a FrameConnection: frames are copied into batch buffers and go out together,
// one write per tick (or per completed write), with advisory backpressure (water marks), a hard
// bound on buffered bytes and a stall timer. Runtime-neutral: only the TcpConn and the Clock.
import type { TcpConn, TimerHandle } from "../../platform/mod.ts";
import type { Clock } from "../../timer/mod.ts";
import { ConnectionClosedError } from "./errors.ts";
import { FRAME_HEADER_BYTES, writeHeader } from "./_frame_parser.ts";
import type { FrameConnectionSettings } from "./_options.ts";

/** The first batch buffer of a connection; it doubles up to `maxWriteBytes` as traffic needs. */
const INITIAL_BATCH_BYTES = 16 * 1024;

const EMPTY = new Uint8Array(0);

interface DrainWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/** What the writer tells its connection. */
export interface FrameWriterEvents {
  /** The connection must close with `error` (write failure, stall, buffer limit). */
  fail(error: ConnectionClosedError): void;
  /** No write is in flight any more (after the connection closed, it may now be ended). */
  idle(): void;
}

/** The outbound half of a FrameConnection; it never closes the socket itself. */
export class FrameWriter {
  readonly #conn: TcpConn;
  readonly #events: FrameWriterEvents;
  readonly #clock: Clock;
  readonly #highWaterBytes: number;
  readonly #lowWaterBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #stallTimeoutMs: number;
  readonly #maxWriteBytes: number;

  #closed = false;
  #closeReason: unknown = undefined;

  // Frames are copied into #current; full batches wait in #sealed; #spare is a written batch
  // buffer kept for reuse. Writes go through the connection's direct write() when it has one (no
  // stream machinery per write), else through a writer of its writable.
  readonly #directWrite: boolean;
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  #current: Uint8Array = EMPTY;
  #currentLength = 0;
  #batchCapacity = INITIAL_BATCH_BYTES;
  #spare: Uint8Array | null = null;
  #sealed: Uint8Array[] = [];
  #bufferedBytes = 0;
  #writing = false;
  #flushScheduled = false;
  /** The batch being written, how much of it the socket took, and the size of the piece out. */
  #batch: Uint8Array = EMPTY;
  #batchOffset = 0;
  #pieceBytes = 0;
  /** A view of the whole buffer of #batch when it came from #current (null for a sealed one). */
  #batchWhole: Uint8Array | null = null;
  #writes = 0;
  #needsDrain = false;
  #drainWaiters: DrainWaiter[] = [];
  #flushWaiters: Array<() => void> = [];
  #lastProgress = 0;
  #stallTimer: TimerHandle | null = null;

  constructor(
    conn: TcpConn,
    settings: FrameConnectionSettings,
    events: FrameWriterEvents,
  ) {
    this.#conn = conn;
    this.#events = events;
    this.#clock = settings.clock;
    this.#highWaterBytes = settings.highWaterBytes;
    this.#lowWaterBytes = settings.lowWaterBytes;
    this.#maxBufferedBytes = settings.maxBufferedBytes;
    this.#stallTimeoutMs = settings.stallTimeoutMs;
    this.#maxWriteBytes = settings.maxWriteBytes;
    this.#batchCapacity = Math.min(INITIAL_BATCH_BYTES, this.#maxWriteBytes);
    this.#directWrite = typeof conn.write === "function";
    if (!this.#directWrite) this.#writer = conn.writable.getWriter();
  }

  /** Bytes queued (headers included) that the socket has not taken yet. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /** Whether a producer should pause (between the water marks). */
  get needsDrain(): boolean {
    return this.#needsDrain;
  }

  /** How many writes were handed to the socket so far. */
  get writes(): number {
    return this.#writes;
  }

  /** Whether a write is in flight. */
  get writing(): boolean {
    return this.#writing;
  }

  /**
   * Queues one frame, bytes `start..end` of `payload` (the caller checked the connection is
   * open and the payload's type, range and size). Over `maxBufferedBytes`, the connection fails with the error, which is thrown too.
   */
  push(payload: Uint8Array, start: number, end: number): void {
    const length = end - start;
    const size = FRAME_HEADER_BYTES + length;
    const buffered = this.#bufferedBytes;
    if (buffered + size > this.#maxBufferedBytes) {
      const error = new ConnectionClosedError(
        `peer stopped reading: ${buffered} bytes are buffered and ${size} more would pass ` +
          `the limit of ${this.#maxBufferedBytes}`,
      );
      this.#events.fail(error);
      throw error;
    }
    let at = this.#currentLength;
    let target = this.#current;
    if (at + size > target.byteLength) {
      target = this.#reserve(size);
      at = this.#currentLength;
    }
    writeHeader(target, at, length);
    if (length > 64) {
      target.set(payload.subarray(start, end), at + FRAME_HEADER_BYTES);
    } else {
      // A short payload: a loop costs less than a view and a native copy.
      const to = at + FRAME_HEADER_BYTES - start;
      for (let i = start; i < end; i++) target[to + i] = payload[i];
    }
    this.#currentLength = at + size;
    this.#bufferedBytes = buffered + size;
    if (buffered === 0) {
      // Pending data from now on: the stall clock starts here.
      this.#lastProgress = this.#clock.now();
      if (this.#stallTimer === null) this.#armStallTimer(this.#stallTimeoutMs);
    }
    if (!this.#needsDrain && this.#bufferedBytes > this.#highWaterBytes) {
      this.#needsDrain = true;
    }
    if (!this.#writing && !this.#flushScheduled) {
      this.#flushScheduled = true;
      queueMicrotask(this.#flushTask);
    }
  }

  /** See FrameConnection.whenWritable(). */
  whenWritable(signal: AbortSignal | undefined): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new ConnectionClosedError(
          "cannot wait for a closed connection to drain",
          this.#closeReason,
        ),
      );
    }
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (!this.#needsDrain) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.#drainWaiters.indexOf(waiter);
        if (i !== -1) this.#drainWaiters.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter: DrainWaiter = {
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener("abort", onAbort);
          reject(error);
        },
      };
      this.#drainWaiters.push(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** See FrameConnection.flushed(). */
  flushed(): Promise<void> {
    if (this.#closed || this.#bufferedBytes === 0) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /**
   * Drops everything buffered, stops the stall timer, rejects the drain waiters and wakes the
   * flush waiters. The write in flight, if any, finishes on its own (then `idle` is called).
   */
  close(reason: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#closeReason = reason;
    if (this.#stallTimer !== null) {
      this.#clock.clearTimer(this.#stallTimer);
      this.#stallTimer = null;
    }
    this.#sealed = [];
    this.#current = EMPTY;
    this.#currentLength = 0;
    this.#spare = null;
    this.#bufferedBytes = 0;
    this.#needsDrain = false;
    const waiters = this.#drainWaiters.splice(0);
    if (waiters.length > 0) {
      const error = new ConnectionClosedError(
        "closed while waiting for the buffer to drain",
        reason,
      );
      for (const waiter of waiters) waiter.reject(error);
    }
    for (const wake of this.#flushWaiters.splice(0)) wake();
  }

  /** Makes room for `size` more bytes in #current, which it returns. */
  #reserve(size: number): Uint8Array {
    const used = this.#currentLength;
    const limit = this.#maxWriteBytes;
    if (used + size <= limit) {
      let capacity = Math.max(this.#batchCapacity, INITIAL_BATCH_BYTES);
      while (capacity < used + size) capacity *= 2;
      capacity = Math.min(capacity, limit);
      this.#batchCapacity = capacity;
      const grown = this.#takeBuffer(capacity);
      if (used > 0) grown.set(this.#current.subarray(0, used));
      this.#current = grown;
      return grown;
    }
    // Over one write's worth: seal the batch, start the next (a frame larger than a whole batch
    // gets a buffer of its own, written in pieces).
    if (used > 0) this.#sealed.push(this.#current.subarray(0, used));
    this.#batchCapacity = limit;
    this.#current = size > limit
      ? new Uint8Array(size)
      : this.#takeBuffer(limit);
    this.#currentLength = 0;
    return this.#current;
  }

  #takeBuffer(capacity: number): Uint8Array {
    const spare = this.#spare;
    if (spare !== null && spare.byteLength >= capacity) {
      this.#spare = null;
      return spare;
    }
    return new Uint8Array(capacity);
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    this.#writeNext();
  };

  // The write loop, as callbacks rather than an async function: a write costs one `then` on the
  // socket's promise (two bound handlers made once), not an async frame, its promise and an
  // await each time. #writing is true from the first batch until #idle().

  /** Starts writing the next batch, or goes idle when there is none. */
  #writeNext(): void {
    let batch: Uint8Array;
    const sealed = this.#sealed.length > 0 ? this.#sealed.shift()! : undefined;
    if (sealed !== undefined) {
      batch = sealed;
      this.#batchWhole = null;
    } else if (this.#currentLength > 0) {
      batch = this.#current.subarray(0, this.#currentLength);
      // Kept to reuse once written (#current is always a view of its whole buffer).
      this.#batchWhole = this.#current;
      // Frames sent while this batch is written go to another buffer.
      this.#current = this.#spare ?? EMPTY;
      this.#spare = null;
      this.#currentLength = 0;
    } else {
      this.#idle();
      return;
    }
    this.#batch = batch;
    this.#batchOffset = 0;
    this.#writePiece();
  }

  /** Hands the socket the next piece of #batch (all of it unless over maxWriteBytes). */
  #writePiece(): void {
    const batch = this.#batch;
    const offset = this.#batchOffset;
    const total = batch.byteLength;
    const piece = total - offset <= this.#maxWriteBytes
      ? (offset === 0 ? batch : batch.subarray(offset))
      : batch.subarray(offset, offset + this.#maxWriteBytes);
    this.#pieceBytes = piece.byteLength;
    let written: Promise<void>;
    try {
      // Resolves once the socket took the bytes (TcpConn's contract), so the buffer may be reused.
      written = this.#directWrite
        ? this.#conn.write!(piece)
        : this.#writer!.write(piece);
    } catch (error) {
      this.#onWriteFailed(error);
      return;
    }
    written.then(this.#onWritten, this.#onWriteFailed);
  }

  readonly #onWritten = (): void => {
    if (this.#closed) {
      this.#idle();
      return;
    }
    const bytes = this.#pieceBytes;
    this.#batchOffset += bytes;
    this.#writes++;
    this.#bufferedBytes -= bytes;
    // The stall clock matters only while data waits (a send after idle restarts it).
    if (this.#bufferedBytes > 0) this.#lastProgress = this.#clock.now();
    if (this.#needsDrain && this.#bufferedBytes <= this.#lowWaterBytes) {
      this.#drained();
    }
    if (this.#bufferedBytes === 0 && this.#flushWaiters.length > 0) {
      for (const wake of this.#flushWaiters.splice(0)) wake();
    }
    if (this.#batchOffset < this.#batch.byteLength) {
      this.#writePiece();
      return;
    }
    this.#recycle(this.#batch, this.#batchWhole);
    this.#writeNext();
  };

  readonly #onWriteFailed = (error: unknown): void => {
    if (!this.#closed) {
      this.#events.fail(
        new ConnectionClosedError(`write failed: ${errorText(error)}`, error),
      );
    }
    this.#idle();
  };

  /** No write in flight any more. */
  #idle(): void {
    this.#batch = EMPTY;
    this.#batchWhole = null;
    this.#writing = false;
    this.#events.idle();
  }

  /** Keeps a written batch's buffer for reuse; `whole` is a view of all of it, when known. */
  #recycle(batch: Uint8Array, whole: Uint8Array | null): void {
    const buffer = batch.buffer;
    if (
      buffer.byteLength > this.#maxWriteBytes ||
      buffer.byteLength < this.#batchCapacity ||
      this.#current.buffer === buffer
    ) {
      return;
    }
    if (this.#current === EMPTY) {
      this.#current = whole ?? new Uint8Array(buffer);
    } else if (this.#spare === null) {
      this.#spare = whole ?? new Uint8Array(buffer);
    }
  }

  #drained(): void {
    this.#needsDrain = false;
    for (const waiter of this.#drainWaiters.splice(0)) waiter.resolve();
  }

  #armStallTimer(delayMs: number): void {
    this.#stallTimer = this.#clock.setTimer(this.#onStallTimer, delayMs);
    this.#stallTimer.unref();
  }

  readonly #onStallTimer = (): void => {
    this.#stallTimer = null;
    if (this.#closed || this.#bufferedBytes === 0) return;
    const idle = this.#clock.now() - this.#lastProgress;
    if (idle < this.#stallTimeoutMs) {
      this.#armStallTimer(this.#stallTimeoutMs - idle);
      return;
    }
    this.#events.fail(
      new ConnectionClosedError(
        `peer stopped reading: ${this.#bufferedBytes} bytes waited ${
          Math.round(idle)
        } ms without a write completing (stall timeout ${this.#stallTimeoutMs} ms)`,
      ),
    );
  };
}

/** The message of an error, or the thing itself as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
