// Length-prefixed frames over one TcpConn: the read side and the connection's life cycle here,
// the write side (user-space batching, bounded buffering, stall detection) in _frame_writer.ts.
// Runtime-neutral: only the platform's TcpConn and the Clock are used.
import type { NetAddr, TcpConn } from "../../platform/mod.ts";
import type { Clock } from "../../timer/mod.ts";
import { ProtocolError } from "../protocol/mod.ts";
import { ConnectionClosedError, FrameTooLargeError } from "./errors.ts";
import {
  FrameParser,
  type FrameSink,
  MAX_FRAME_LENGTH,
} from "./_frame_parser.ts";
import { errorText, FrameWriter } from "./_frame_writer.ts";
import { resolveOptions } from "./_options.ts";

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
   * When given, receives each inbound payload instead of `onFrame`, as bytes `start..end` of
   * `buf` (no view is made per frame), with the same guarantees: synchronously, in order, and
   * never overwritten afterwards.
   */
  onFrameRange?(buf: Uint8Array, start: number, end: number): void;
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
  #maxFrameBytes: number;
  #handlers: FrameHandlers | null = null;
  #closed = false;
  #closeReason: unknown = undefined;
  #closeNotified = false;
  #readEnded = false;
  #endedWaiters: Array<() => void> = [];
  readonly #out: FrameWriter;
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
    this.#conn = conn;
    this.#parser = new FrameParser(this.#maxFrameBytes);
    this.#out = new FrameWriter(conn, settings, {
      fail: (error) => this.#shutdown(error),
      idle: () => this.#checkEnded(),
    });
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
    return this.#out.bufferedBytes;
  }

  /**
   * Whether a producer should pause: on once buffered bytes passed `highWaterBytes`, off once
   * they fell to `lowWaterBytes`.
   */
  get needsDrain(): boolean {
    return this.#out.needsDrain;
  }

  /** How many writes were handed to the socket so far (a diagnostic: frames / writes is the batching factor). */
  get writes(): number {
    return this.#out.writes;
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
      typeof handlers?.onClose !== "function" ||
      (handlers.onFrameRange !== undefined &&
        typeof handlers.onFrameRange !== "function")
    ) {
      throw new TypeError(
        "Cannot start FrameConnection: handlers.onFrame and handlers.onClose must be functions (and onFrameRange, when given)",
      );
    }
    this.#handlers = handlers;
    const onFrameRange = handlers.onFrameRange;
    this.#sink = onFrameRange === undefined
      ? (buf, start, end) => {
        handlers.onFrame(buf.subarray(start, end));
        return !this.#closed;
      }
      : (buf, start, end) => {
        onFrameRange.call(handlers, buf, start, end);
        return !this.#closed;
      };
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
    this.#out.push(payload, 0, length);
  }

  /**
   * Queues one frame whose payload is bytes `start..end` of `buf`, as
   * {@linkcode FrameConnection.send} does with a view of them (without the view).
   *
   * @param buf The buffer the payload is in.
   * @param start Where the payload starts.
   * @param end Where it ends.
   * @throws {FrameTooLargeError} As {@linkcode FrameConnection.send}.
   * @throws {ConnectionClosedError} As {@linkcode FrameConnection.send}.
   * @throws {TypeError} When `buf` is not a `Uint8Array`.
   * @throws {RangeError} When `start..end` is not a range of `buf`.
   */
  sendRange(buf: Uint8Array, start: number, end: number): void {
    if (this.#closed) {
      throw new ConnectionClosedError(
        "cannot send a frame on a closed connection",
        this.#closeReason,
      );
    }
    if (!(buf instanceof Uint8Array)) {
      throw new TypeError("Cannot send frame: buf must be a Uint8Array");
    }
    if (
      !(Number.isInteger(start) && Number.isInteger(end) && 0 <= start &&
        start <= end && end <= buf.byteLength)
    ) {
      throw new RangeError(
        `Cannot send frame: ${start}..${end} is not a range of ${buf.byteLength} bytes`,
      );
    }
    const length = end - start;
    if (length > this.#maxFrameBytes) {
      throw new FrameTooLargeError(length, this.#maxFrameBytes);
    }
    this.#out.push(buf, start, end);
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
    return this.#out.whenWritable(options.signal);
  }

  /**
   * Waits until every frame sent so far has been handed to the socket, or the connection has
   * closed. Use it before {@linkcode FrameConnection.close} to make sure a last frame (a
   * refusal, a goodbye) goes out.
   *
   * @returns A promise that resolves when nothing is buffered any more.
   */
  flushed(): Promise<void> {
    return this.#out.flushed();
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
      !this.#out.writing;
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

  // ---- receiving ----------------------------------------------------------------------------

  /** Hands each payload to the handlers (set by start()). */
  #sink: FrameSink = () => false;

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
    this.#out.close(reason);
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
