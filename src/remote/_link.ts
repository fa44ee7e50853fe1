// One authenticated-or-authenticating connection: frames in and out as protocol messages, a
// handshake step reader, liveness tracking, and one close path.
import type { TimerHandle } from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";
import {
  ConnectionClosedError,
  HandshakeRefusedError,
  NodeUnreachableError,
} from "./errors.ts";
import {
  decodeMessage,
  decodeTellsFrame,
  encodeMessage,
  readAskFrame,
  readReplyFrame,
  type RemoteMessage,
  RequestFields,
  TellColumns,
} from "./protocol/mod.ts";
import type { FrameConnection } from "./transport/mod.ts";

/** Where a node reports connection problems. */
export interface RemoteLogger {
  /** Reports an error. */
  error(message: string, error: unknown): void;
}

export class Link {
  readonly frames: FrameConnection;
  readonly description: string;
  /** Set by the owner once the handshake is done. */
  onMessage: ((message: RemoteMessage) => void) | null = null;
  /**
   * Set by a side that takes tells once the handshake is done: receives each batch sent the
   * usual way (a frame of tells only), without a message object per tell. The columns are
   * reused for the next batch: read them during the call only.
   */
  onTells: ((tells: TellColumns) => void) | null = null;
  /** Likewise for an Ask written the usual way (the fields are reused: read them at once). */
  onAsk: ((ask: RequestFields) => void) | null = null;
  /** Likewise for a Reply written the usual way. */
  onReply: ((reply: RequestFields) => void) | null = null;
  readonly #tells = new TellColumns();
  readonly #fields = new RequestFields();
  /** Called once when the link closes, with the reason. */
  onClose: ((error: unknown) => void) | null = null;
  closed = false;
  closeError: unknown = undefined;
  receivedSinceTick = false;
  sentSinceTick = false;
  /** Heartbeat ticks in a row with nothing received (see tick). */
  #silentTicks = 0;
  #queue: RemoteMessage[] = [];
  #waiter:
    | { resolve: (m: RemoteMessage) => void; reject: (e: unknown) => void }
    | null = null;
  #logger: RemoteLogger;

  /**
   * One heartbeat tick, on either side of a connection: closes the link when nothing came from
   * `peerNode` for `timeoutMs`.
   *
   * @returns Whether the link is still open.
   */
  tick(intervalMs: number, timeoutMs: number, peerNode: string): boolean {
    if (this.receivedSinceTick) this.#silentTicks = 0;
    else this.#silentTicks++;
    this.receivedSinceTick = false;
    if (this.#silentTicks * intervalMs >= timeoutMs) {
      this.close(
        `no frame from node "${peerNode}" for ${timeoutMs} ms`,
        new NodeUnreachableError(peerNode, "heartbeat timeout"),
      );
      return false;
    }
    return true;
  }

  /**
   * One heartbeat tick of a connection in use (see tick); on the dialing side (`ping`), a Ping
   * goes out when nothing else did since the last tick, or when nothing came back: a dialer
   * that only sends tells would otherwise never make the other side answer, and would close a
   * healthy connection for silence.
   */
  beat(
    settings: { heartbeatIntervalMs: number; heartbeatTimeoutMs: number },
    peerNode: string,
    ping: boolean,
  ): void {
    const { heartbeatIntervalMs, heartbeatTimeoutMs } = settings;
    const heard = this.receivedSinceTick;
    if (
      !this.tick(heartbeatIntervalMs, heartbeatTimeoutMs, peerNode) || !ping
    ) {
      return;
    }
    if (!this.sentSinceTick || !heard) {
      try {
        this.send({ kind: "ping", id: 0 });
      } catch {
        // The connection closed under us: its close handler took care of it.
      }
    }
    this.sentSinceTick = false;
  }

  constructor(
    frames: FrameConnection,
    description: string,
    logger: RemoteLogger,
  ) {
    this.frames = frames;
    this.description = description;
    this.#logger = logger;
    frames.start({
      onFrame: (bytes) => this.#onFrame(bytes, 0, bytes.length),
      onFrameRange: (buf, start, end) => this.#onFrame(buf, start, end),
      onClose: (error) =>
        this.#closed(error ?? new ConnectionClosedError("closed by peer")),
    });
  }

  /** A frame, bytes `start..end` of `buf`. */
  #onFrame(buf: Uint8Array, start: number, end: number): void {
    if (this.closed) return;
    this.receivedSinceTick = true;
    // The usual messages are read in place (no message object, no views); the rest, and
    // anything not written the usual way, through decodeMessage.
    const onReply = this.onReply;
    if (onReply !== null && readReplyFrame(buf, start, end, this.#fields)) {
      this.#deliverFields(onReply);
      return;
    }
    const onAsk = this.onAsk;
    if (onAsk !== null && readAskFrame(buf, start, end, this.#fields)) {
      this.#deliverFields(onAsk);
      return;
    }
    const onTells = this.onTells;
    if (onTells !== null) {
      const tells = this.#tells;
      let decoded: boolean;
      try {
        decoded = decodeTellsFrame(buf, start, end, tells);
      } catch (error) {
        this.close(`malformed frame from ${this.description}`, error);
        return;
      }
      if (decoded) {
        try {
          onTells(tells);
        } finally {
          tells.release();
        }
        return;
      }
    }
    this.#onMessageBytes(buf.subarray(start, end));
  }

  #deliverFields(handler: (fields: RequestFields) => void): void {
    try {
      handler(this.#fields);
    } finally {
      this.#fields.release();
    }
  }

  #onMessageBytes(bytes: Uint8Array): void {
    let message: RemoteMessage;
    try {
      message = decodeMessage(bytes);
    } catch (error) {
      this.close(`malformed frame from ${this.description}`, error);
      return;
    }
    if (this.onMessage !== null) {
      this.onMessage(message);
      return;
    }
    // Still in the handshake.
    if (this.#waiter !== null) {
      const waiter = this.#waiter;
      this.#waiter = null;
      waiter.resolve(message);
    } else if (this.#queue.length < 8) {
      this.#queue.push(message);
    } else {
      this.close(
        `${this.description} sent too much before the handshake completed`,
      );
    }
  }

  /** The next message during the handshake (rejects on close or after `timeoutMs`). */
  next(clock: Clock, timeoutMs: number): Promise<RemoteMessage> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift()!);
    if (this.closed) return Promise.reject(this.closeError);
    return new Promise((resolve, reject) => {
      let timer: TimerHandle | null = null;
      this.#waiter = {
        resolve: (m) => {
          if (timer !== null) clock.clearTimer(timer);
          resolve(m);
        },
        reject: (e) => {
          if (timer !== null) clock.clearTimer(timer);
          reject(e);
        },
      };
      timer = clock.setTimer(() => {
        timer = null;
        const refusal = new HandshakeRefusedError(
          "timeout",
          `no handshake answer from ${this.description} in time`,
        );
        // Tell the peer why before closing, then fail the waiting handshake with the refusal.
        const waiter = this.#waiter;
        this.#waiter = null;
        this.sendAndClose(
          {
            kind: "refused",
            code: "timeout",
            reason: "the handshake did not complete in time",
          },
          refusal.message,
          clock,
        );
        waiter?.reject(refusal);
      }, timeoutMs);
    });
  }

  /** The most bytes this side lets wait for the socket (see RemoteNodeOptions.maxSendBufferBytes). */
  sendLimit = Infinity;

  /** Whether a frame of `bytes` fits in the send buffer now. */
  fits(bytes: number): boolean {
    return this.frames.bufferedBytes + 4 + bytes <= this.sendLimit;
  }

  send(message: RemoteMessage): void {
    if (this.closed) throw this.closeError;
    this.sentSinceTick = true;
    this.frames.send(encodeMessage(message));
  }

  /** Sends a message encoded already (the frame copies it, so a reused buffer is fine). */
  sendEncoded(bytes: Uint8Array): void {
    if (this.closed) throw this.closeError;
    this.sentSinceTick = true;
    this.frames.send(bytes);
  }

  /** Sends a message encoded already as bytes `start..end` of `buf` (copied at once). */
  sendRange(buf: Uint8Array, start: number, end: number): void {
    if (this.closed) throw this.closeError;
    this.sentSinceTick = true;
    this.frames.sendRange(buf, start, end);
  }

  /**
   * Sends a last message, then closes once it has reached the socket (or after `timeoutMs`).
   * Until then the link counts as closed for everything else.
   */
  sendAndClose(
    message: RemoteMessage,
    reason: string,
    clock: Clock,
    timeoutMs = 1000,
  ): void {
    if (this.closed) return;
    try {
      this.send(message);
    } catch {
      this.close(reason);
      return;
    }
    const error = new ConnectionClosedError(reason);
    this.#closed(error);
    let timer: TimerHandle | null = clock.setTimer(() => {
      timer = null;
      this.frames.close();
    }, timeoutMs);
    this.frames.flushed().then(() => {
      if (timer !== null) clock.clearTimer(timer);
      this.frames.close();
    });
  }

  /** Closes the link; `reason` is logged when it is an abnormal close. */
  close(reason: string, cause?: unknown): void {
    if (this.closed) return;
    const error = cause instanceof Error
      ? cause
      : new ConnectionClosedError(reason, cause);
    if (cause !== undefined) {
      this.#logger.error(
        `Closing connection with ${this.description}: ${reason}`,
        cause,
      );
    }
    this.#closed(error);
    this.frames.close();
  }

  #closed(error: unknown): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    const waiter = this.#waiter;
    this.#waiter = null;
    waiter?.reject(error);
    const onClose = this.onClose;
    this.onClose = null;
    onClose?.(error);
  }
}
