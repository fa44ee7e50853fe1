// Length-prefixed frames over one TcpConn, with user-space write batching, bounded buffering and
// stall detection. Runtime-neutral: only the platform's TcpConn and the Clock are used.
import type { NetAddr, TcpConn, TimerHandle } from "../../platform/mod.ts";
import type { Clock } from "../../timer/mod.ts";
import { ProtocolError } from "../protocol/mod.ts";
import { ConnectionClosedError, FrameTooLargeError } from "./errors.ts";
import {
  FRAME_HEADER_BYTES,
  FrameParser,
  type FrameSink,
  MAX_FRAME_LENGTH,
  writeHeader,
} from "./_frame_parser.ts";
import { resolveOptions } from "./_options.ts";
/** The first batch buffer of a connection; it doubles up to `maxWriteBytes` as traffic needs. */
const INITIAL_BATCH_BYTES = 16 * 1024;

const EMPTY = new Uint8Array(0);

/** Options of a {@linkcode FrameConnection}. Sizes are in bytes. */
export interface FrameConnectionOptions {
  /**
   * The largest payload accepted in either direction (default 8 MiB). A larger outbound one is
   * refused by {@linkcode FrameConnection.send}; a larger inbound one closes the connection as
   * soon as its header arrives, before any of its payload is read or allocated. It can be
   * changed later through {@linkcode FrameConnection.maxFrameBytes}, e.g. kept small until the
   * peer has authenticated.
   */
  readonly maxFrameBytes?: number;
  /** Above this many buffered bytes, {@linkcode FrameConnection.needsDrain} turns on (default 4 MiB). */
  readonly highWaterBytes?: number;
  /** At or below this many, it turns off again and {@linkcode FrameConnection.whenWritable} resolves (default 1 MiB). */
  readonly lowWaterBytes?: number;
  /**
   * The most bytes ever buffered (default 64 MiB). A {@linkcode FrameConnection.send} that would
   * go over it closes the connection instead: the peer has stopped reading.
   */
  readonly maxBufferedBytes?: number;
  /**
   * How long data may wait with no write completing before the connection is closed as stalled,
   * in milliseconds (default 30 000).
   */
  readonly stallTimeoutMs?: number;
  /** The most bytes handed to the socket in one write (default 1 MiB). */
  readonly maxWriteBytes?: number;
  /** The clock of the stall timer (default `systemClock`). */
  readonly clock?: Clock;
}

/** The callbacks of a started {@linkcode FrameConnection}. */
export interface FrameHandlers {
  /**
   * Receives each inbound payload, synchronously and in order. The payload stays valid after the
   * call (see {@linkcode FrameConnection.start}). An exception thrown here closes the connection
   * and is passed to `onClose`.
   */
  onFrame(payload: Uint8Array): void;
  /**
   * Called exactly once when the connection closes: with the reason given to
   * {@linkcode FrameConnection.close} (`undefined` when none), a `ConnectionClosedError` (end of
   * stream, I/O failure, stall, buffer limit), a `FrameTooLargeError` (inbound frame over the
   * limit) or the exception `onFrame` threw. It must not throw; an exception from it is ignored.
   */
  onClose(error?: unknown): void;
}

/** Options of {@linkcode FrameConnection.whenWritable}. */
export interface WhenWritableOptions {
  /** Stops waiting: the promise rejects with the signal's reason. */
  readonly signal?: AbortSignal;
}

interface DrainWaiter {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * Frames over a {@linkcode TcpConn}: each frame is a 4-byte big-endian length and that many
 * bytes of payload.
 *
 * **Sending** never blocks: {@linkcode FrameConnection.send} copies the frame into a batch buffer
 * (the caller may reuse its payload at once) and the frames queued in the same tick go out
 * together in one write, from a microtask. While a write is in flight the next frames
 * accumulate and go out in the following write; no write exceeds `maxWriteBytes`. This is what
 * makes small frames cheap: one socket write costs microseconds, a copy of 64 bytes nanoseconds.
 *
 * **Backpressure** is advisory: watch {@linkcode FrameConnection.bufferedBytes} or
 * {@linkcode FrameConnection.needsDrain} and wait for
 * {@linkcode FrameConnection.whenWritable}. Buffering is bounded all the same: when it would
 * pass `maxBufferedBytes`, or data has waited `stallTimeoutMs` without any write completing, the
 * connection is closed with a `ConnectionClosedError` ("peer stopped reading").
 *
 * **Receiving** starts with {@linkcode FrameConnection.start}; the parser works across any chunk
 * boundaries and refuses an announced length over `maxFrameBytes` without reading it.
 *
 * Closing, by either side or by a failure, releases the socket and calls `onClose` exactly once;
 * frames still buffered are dropped.
 *
 * @example Echo a frame over loopback
 * ```ts
 * import { platform } from "../../platform/mod.ts";
 * import { FrameConnection } from "./frame_connection.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await platform.listen({ port: 0 });
 * const [clientConn, serverConn] = await Promise.all([
 *   platform.connect({ port: listener.addr.port }),
 *   listener.accept(),
 * ]);
 * listener.close();
 * const server = new FrameConnection(serverConn);
 * server.start({ onFrame: (payload) => server.send(payload), onClose: () => {} });
 * const client = new FrameConnection(clientConn);
 * const echoed = await new Promise<Uint8Array>((resolve) => {
 *   client.start({ onFrame: resolve, onClose: () => {} });
 *   client.send(new TextEncoder().encode("hello"));
 * });
 * assert.equal(new TextDecoder().decode(echoed), "hello");
 * client.close();
 * server.close();
 * ```
 */
export class FrameConnection {
  readonly #conn: TcpConn;
  readonly #clock: Clock;
  #maxFrameBytes: number;
  readonly #highWaterBytes: number;
  readonly #lowWaterBytes: number;
  readonly #maxBufferedBytes: number;
  readonly #stallTimeoutMs: number;
  readonly #maxWriteBytes: number;

  #handlers: FrameHandlers | null = null;
  #closed = false;
  #closeReason: unknown = undefined;
  #closeNotified = false;
  #readEnded = false;
  #endedWaiters: Array<() => void> = [];

  // Outbound: frames are copied into #current; full batches wait in #sealed; #spare is a written
  // batch buffer kept for reuse. Writes go through the connection's direct write() when it has
  // one (no stream machinery per write), else through a writer of its writable.
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
  #writes = 0;
  #needsDrain = false;
  #drainWaiters: DrainWaiter[] = [];
  #flushWaiters: Array<() => void> = [];
  #lastProgress = 0;
  #stallTimer: TimerHandle | null = null;

  // Inbound.
  readonly #parser: FrameParser;
  #reader: ReadableStreamDefaultReader<Uint8Array> | null = null;

  /**
   * Wraps a connection. Nothing is read until {@linkcode FrameConnection.start}; frames may be
   * sent at once. The connection now belongs to this object: do not read, write or close it
   * elsewhere.
   *
   * @param conn The connection, plain or TLS; `setNoDelay(true)` is up to the caller.
   * @param options Limits, water marks and the clock.
   * @throws {RangeError} When a size or timeout is out of range, or `lowWaterBytes` is above
   * `highWaterBytes`.
   */
  constructor(conn: TcpConn, options: FrameConnectionOptions = {}) {
    const settings = resolveOptions(options);
    this.#maxFrameBytes = settings.maxFrameBytes;
    this.#highWaterBytes = settings.highWaterBytes;
    this.#lowWaterBytes = settings.lowWaterBytes;
    this.#maxBufferedBytes = settings.maxBufferedBytes;
    this.#stallTimeoutMs = settings.stallTimeoutMs;
    this.#maxWriteBytes = settings.maxWriteBytes;
    this.#clock = settings.clock;
    this.#batchCapacity = Math.min(INITIAL_BATCH_BYTES, this.#maxWriteBytes);
    this.#conn = conn;
    this.#parser = new FrameParser(this.#maxFrameBytes);
    this.#directWrite = typeof conn.write === "function";
    if (!this.#directWrite) this.#writer = conn.writable.getWriter();
  }

  /** The local end of the connection. */
  get localAddr(): NetAddr {
    return this.#conn.localAddr;
  }

  /** The remote end of the connection. */
  get remoteAddr(): NetAddr {
    return this.#conn.remoteAddr;
  }

  /**
   * The largest payload accepted in either direction, in bytes. Changing it applies to the next
   * frame sent and to the next frame header received: a connection can start with a small limit
   * (before authentication, say) and raise it later.
   *
   * @throws {RangeError} (when set) When not an integer from 0 to 2^32 - 1.
   */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  set maxFrameBytes(value: number) {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_FRAME_LENGTH) {
      throw new RangeError(
        `Invalid maxFrameBytes ${value}: must be an integer from 0 to ${MAX_FRAME_LENGTH}`,
      );
    }
    this.#maxFrameBytes = value;
    this.#parser.maxFrameBytes = value;
  }

  /** Whether the connection is closed (for whatever reason). */
  get closed(): boolean {
    return this.#closed;
  }

  /** Bytes queued (headers included) that the socket has not taken yet, the write in flight included. */
  get bufferedBytes(): number {
    return this.#bufferedBytes;
  }

  /**
   * Whether a producer should pause: on once buffered bytes passed `highWaterBytes`, off once
   * they fell to `lowWaterBytes`.
   */
  get needsDrain(): boolean {
    return this.#needsDrain;
  }

  /** How many writes were handed to the socket so far (a diagnostic: frames / writes is the batching factor). */
  get writes(): number {
    return this.#writes;
  }

  /**
   * Starts reading and delivering frames.
   *
   * Payloads are delivered synchronously, in order. A payload that arrived within one read of the
   * socket is a view of that read's buffer; one that spanned reads is a buffer of its own. Either
   * way nothing ever overwrites it, so it stays valid after `onFrame` returns; keeping a small view
   * keeps its whole read buffer (up to 256 KiB) alive, so copy (`payload.slice()`) what is kept
   * for long.
   *
   * If the connection is already closed, `onClose` is called at once with the reason.
   *
   * @param handlers Receive the frames and the close.
   * @throws {TypeError} When called a second time, or a handler is not a function.
   */
  start(handlers: FrameHandlers): void {
    if (this.#handlers !== null) {
      throw new TypeError(
        "Cannot start FrameConnection: it is already started",
      );
    }
    if (
      typeof handlers?.onFrame !== "function" ||
      typeof handlers?.onClose !== "function"
    ) {
      throw new TypeError(
        "Cannot start FrameConnection: handlers.onFrame and handlers.onClose must be functions",
      );
    }
    this.#handlers = handlers;
    if (this.#closed) {
      this.#notifyClose();
      return;
    }
    if (typeof this.#conn.startReading === "function") {
      // Chunks are pushed to us as they arrive: no stream read, promise or result object each.
      this.#conn.startReading(this.#onData, this.#onEnd);
    } else {
      this.#reader = this.#conn.readable.getReader();
      void this.#readLoop(this.#reader);
    }
  }

  /**
   * Queues one frame. The payload is copied, so the caller may reuse it at once. The frame goes
   * out with the others queued in the same tick, in one write.
   *
   * @param payload The frame's payload (may be empty).
   * @throws {FrameTooLargeError} When the payload is over `maxFrameBytes`; nothing is queued and
   * the connection stays open.
   * @throws {ConnectionClosedError} When the connection is closed, or this frame would take the
   * buffered bytes over `maxBufferedBytes`: then the connection is closed first (and `onClose`
   * called) with this same error.
   * @throws {TypeError} When `payload` is not a `Uint8Array`.
   */
  send(payload: Uint8Array): void {
    if (this.#closed) {
      throw new ConnectionClosedError(
        "cannot send a frame on a closed connection",
        this.#closeReason,
      );
    }
    if (!(payload instanceof Uint8Array)) {
      throw new TypeError("Cannot send frame: payload must be a Uint8Array");
    }
    const length = payload.byteLength;
    if (length > this.#maxFrameBytes) {
      throw new FrameTooLargeError(length, this.#maxFrameBytes);
    }
    const size = FRAME_HEADER_BYTES + length;
    const buffered = this.#bufferedBytes;
    if (buffered + size > this.#maxBufferedBytes) {
      const error = new ConnectionClosedError(
        `peer stopped reading: ${buffered} bytes are buffered and ${size} more would pass ` +
          `the limit of ${this.#maxBufferedBytes}`,
      );
      this.#shutdown(error);
      throw error;
    }
    let at = this.#currentLength;
    let target = this.#current;
    if (at + size > target.byteLength) {
      target = this.#reserve(size);
      at = this.#currentLength;
    }
    writeHeader(target, at, length);
    if (length > 0) target.set(payload, at + FRAME_HEADER_BYTES);
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

  /**
   * Waits until the producer may go on: resolves at once unless
   * {@linkcode FrameConnection.needsDrain}, else once the buffered bytes fell to `lowWaterBytes`.
   * The wait is bounded by the stall timeout, after which the connection closes.
   *
   * @param options An `AbortSignal` to stop waiting.
   * @returns A promise that resolves when sending may go on.
   * @throws {ConnectionClosedError} (as a rejection) When the connection is or becomes closed.
   */
  whenWritable(options: WhenWritableOptions = {}): Promise<void> {
    const { signal } = options;
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

  /**
   * Waits until every frame sent so far has been handed to the socket, or the connection has
   * closed. Use it before {@linkcode FrameConnection.close} to make sure a last frame (a
   * refusal, a goodbye) goes out.
   *
   * @returns A promise that resolves when nothing is buffered any more.
   */
  flushed(): Promise<void> {
    if (this.#closed || this.#bufferedBytes === 0) return Promise.resolve();
    return new Promise((resolve) => this.#flushWaiters.push(resolve));
  }

  /**
   * Waits until the connection is closed and its socket released: reading has stopped and no
   * write is in flight. Use it after {@linkcode FrameConnection.close} to know that nothing of
   * the connection is left running (no pending read or write).
   *
   * @returns A promise that resolves once the connection is fully closed; it never rejects.
   */
  ended(): Promise<void> {
    if (this.#isEnded()) return Promise.resolve();
    return new Promise((resolve) => this.#endedWaiters.push(resolve));
  }

  #isEnded(): boolean {
    return this.#closed && (this.#readEnded || this.#handlers === null) &&
      !this.#writing;
  }

  #checkEnded(): void {
    if (this.#endedWaiters.length > 0 && this.#isEnded()) {
      for (const wake of this.#endedWaiters.splice(0)) wake();
    }
  }

  /**
   * Closes the connection at once: frames still buffered are dropped, the socket is released,
   * and `onClose` is called (synchronously, once, if started) with `reason`. Idempotent.
   *
   * @param reason Passed to `onClose`; `undefined` for an ordinary close.
   */
  close(reason?: unknown): void {
    this.#shutdown(reason);
  }

  /** Closes the connection (for `using`). */
  [Symbol.dispose](): void {
    this.#shutdown(undefined);
  }

  // ---- sending ------------------------------------------------------------------------------

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
    void this.#flush();
  };

  async #flush(): Promise<void> {
    if (this.#writing || this.#closed) return;
    this.#writing = true;
    try {
      while (!this.#closed) {
        let batch: Uint8Array;
        const sealed = this.#sealed.shift();
        if (sealed !== undefined) {
          batch = sealed;
        } else if (this.#currentLength > 0) {
          batch = this.#current.subarray(0, this.#currentLength);
          // Frames sent while this batch is written go to another buffer.
          this.#current = this.#spare ?? EMPTY;
          this.#spare = null;
          this.#currentLength = 0;
        } else {
          return;
        }
        const total = batch.byteLength;
        for (let offset = 0; offset < total;) {
          const piece = total - offset <= this.#maxWriteBytes
            ? (offset === 0 ? batch : batch.subarray(offset))
            : batch.subarray(offset, offset + this.#maxWriteBytes);
          // Resolves once the socket took the bytes (TcpConn's contract), so the buffer may be reused.
          await (this.#directWrite
            ? this.#conn.write!(piece)
            : this.#writer!.write(piece));
          if (this.#closed) return;
          offset += piece.byteLength;
          this.#writes++;
          this.#bufferedBytes -= piece.byteLength;
          // The stall clock matters only while data waits (a send after idle restarts it).
          if (this.#bufferedBytes > 0) this.#lastProgress = this.#clock.now();
          if (this.#needsDrain && this.#bufferedBytes <= this.#lowWaterBytes) {
            this.#drained();
          }
          if (this.#bufferedBytes === 0 && this.#flushWaiters.length > 0) {
            for (const wake of this.#flushWaiters.splice(0)) wake();
          }
        }
        this.#recycle(batch);
      }
    } catch (error) {
      if (!this.#closed) {
        this.#shutdown(
          new ConnectionClosedError(`write failed: ${errorText(error)}`, error),
        );
      }
    } finally {
      this.#writing = false;
      this.#checkEnded();
    }
  }

  #recycle(batch: Uint8Array): void {
    const buffer = batch.buffer;
    if (
      buffer.byteLength > this.#maxWriteBytes ||
      buffer.byteLength < this.#batchCapacity ||
      this.#current.buffer === buffer
    ) {
      return;
    }
    if (this.#current === EMPTY) {
      this.#current = new Uint8Array(buffer);
    } else if (this.#spare === null) {
      this.#spare = new Uint8Array(buffer);
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
    this.#shutdown(
      new ConnectionClosedError(
        `peer stopped reading: ${this.#bufferedBytes} bytes waited ${
          Math.round(idle)
        } ms without a write completing (stall timeout ${this.#stallTimeoutMs} ms)`,
      ),
    );
  };

  // ---- receiving ----------------------------------------------------------------------------

  readonly #sink: FrameSink = (payload) => {
    this.#handlers!.onFrame(payload);
    return !this.#closed;
  };

  /** Parses one chunk of the stream; false once the connection is closed. */
  readonly #onData = (chunk: Uint8Array): boolean => {
    if (this.#closed) return false;
    let tooLarge: FrameTooLargeError | undefined;
    try {
      tooLarge = this.#parser.push(chunk, this.#sink);
    } catch (error) {
      // onFrame threw: that is the reason to close.
      this.#shutdown(error);
      return false;
    }
    if (tooLarge !== undefined) {
      this.#shutdown(tooLarge);
      return false;
    }
    return !this.#closed;
  };

  /** The stream ended (`error` undefined) or failed. */
  readonly #onEnd = (error?: unknown): void => {
    this.#readEnded = true;
    if (this.#closed) {
      this.#checkEnded();
      return;
    }
    if (error !== undefined) {
      this.#shutdown(
        new ConnectionClosedError(`read failed: ${errorText(error)}`, error),
      );
      return;
    }
    const parser = this.#parser;
    this.#shutdown(
      parser.partialBytes === 0
        ? new ConnectionClosedError("peer closed the connection")
        : new ConnectionClosedError(
          `peer closed the connection in the middle of a frame (${parser.describePartial()})`,
          new ProtocolError(
            `Truncated frame: the stream ended after ${parser.describePartial()}`,
          ),
        ),
    );
  };

  /** Reads a connection that offers only streams. */
  async #readLoop(
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ): Promise<void> {
    while (true) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        this.#onEnd(error ?? new Error("read failed"));
        return;
      }
      if (result.done) {
        this.#onEnd();
        return;
      }
      if (!this.#onData(result.value)) {
        // Closed while delivering: the reader was cancelled, nothing more will be read.
        this.#readEnded = true;
        this.#checkEnded();
        return;
      }
    }
  }

  // ---- closing ------------------------------------------------------------------------------

  #shutdown(reason: unknown): void {
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
    this.#conn.close();
    this.#reader?.cancel().catch(() => {});
    this.#notifyClose();
    this.#checkEnded();
  }

  #notifyClose(): void {
    const handlers = this.#handlers;
    if (handlers === null || this.#closeNotified) return;
    this.#closeNotified = true;
    try {
      handlers.onClose(this.#closeReason);
    } catch {
      // Documented: onClose must not throw, and nothing here could handle it if it did.
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
