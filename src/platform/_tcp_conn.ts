/**
 * The bookkeeping that the Deno and Node connections share, written only against web streams so
 * that both platform files can extend it: the lazily made streams, which of the direct methods
 * and the streams owns each direction, end notification, half-close and close/fail state. The
 * subclasses supply the socket I/O.
 *
 * @module
 */
import type { NetAddr, TcpConn } from "./types.ts";

/** The controller of either kind of readable a subclass may make. */
type ReadController =
  | ReadableStreamDefaultController<Uint8Array>
  | ReadableByteStreamController;

/** A stream already locked, for a direction that the direct methods own. */
function lockedReadable(): ReadableStream<Uint8Array> {
  const stream = new ReadableStream<Uint8Array>();
  stream.getReader();
  return stream;
}

function lockedWritable(): WritableStream<Uint8Array> {
  const stream = new WritableStream<Uint8Array>();
  stream.getWriter();
  return stream;
}

/** Who reads or writes a direction: nobody yet, its stream, or the direct methods. */
const UNUSED = 0;
const STREAM = 1;
const DIRECT = 2;
type Mode = typeof UNUSED | typeof STREAM | typeof DIRECT;

/**
 * A {@linkcode TcpConn} whose half-close, error and close semantics, and whose exclusivity of the
 * direct methods and the streams, are the same on every runtime. A subclass supplies the socket:
 * how to read (into a stream or directly), write, send a FIN, release the socket and set no-delay.
 * `Controller` is the controller of the kind of readable it makes.
 */
export abstract class TcpConnBase<Controller extends ReadController>
  implements TcpConn {
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  /** The socket was released, by close(), after an error, or (Node) by the runtime itself. */
  #closed = false;
  /** The reading side is done: ended, errored or cancelled. */
  #readDone = false;
  #readError: unknown = undefined;
  /** The writing side is done: closed, closing, errored or aborted. */
  #writeDone = false;
  #writeError: unknown = undefined;
  // The streams are made on first use, so that the direct methods can own a direction instead.
  #readMode: Mode = UNUSED;
  #writeMode: Mode = UNUSED;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #readController: Controller | null = null;
  #writeController: WritableStreamDefaultController | null = null;
  #onEnd: ((error?: unknown) => void) | null = null;
  #closeWrite: Promise<void> | null = null;

  constructor(localAddr: NetAddr, remoteAddr: NetAddr) {
    this.localAddr = localAddr;
    this.remoteAddr = remoteAddr;
  }

  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable !== null) return this.#readable;
    if (this.#readMode === DIRECT) return this.#readable = lockedReadable();
    this.#readMode = STREAM;
    return this.#readable = this.createReadable(
      (controller) => {
        this.#readController = controller;
        if (this.#readDone) {
          if (this.#readError === undefined) controller.close();
          else controller.error(this.#readError);
        }
      },
      () => {
        this.#readDone = true;
        this.close();
      },
    );
  }

  get writable(): WritableStream<Uint8Array> {
    if (this.#writable !== null) return this.#writable;
    if (this.#writeMode === DIRECT) return this.#writable = lockedWritable();
    this.#writeMode = STREAM;
    return this.#writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
        if (this.#writeDone) {
          controller.error(this.#writeError ?? this.connectionClosedError());
        }
      },
      write: (chunk) => this.writeChunk(chunk),
      close: () => this.sendFin(),
      abort: () => {
        this.#writeDone = true;
        this.close();
      },
    });
  }

  startReading(
    onData: (chunk: Uint8Array) => void,
    onEnd: (error?: unknown) => void,
  ): void {
    if (typeof onData !== "function" || typeof onEnd !== "function") {
      throw new TypeError(
        "Cannot start reading: onData and onEnd must be functions",
      );
    }
    if (this.#readMode !== UNUSED) {
      throw new TypeError(
        "Cannot start reading: the connection is read already (startReading() or readable)",
      );
    }
    this.#readMode = DIRECT;
    this.#onEnd = onEnd;
    if (this.#readDone) {
      this.#notifyEnd(this.#readError);
      return;
    }
    this.readDirect(onData);
  }

  write(chunk: Uint8Array): Promise<void> {
    const refusal = this.#claimWrite("write");
    if (refusal !== undefined) return refusal;
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(
        new TypeError("Cannot write: chunk must be a Uint8Array"),
      );
    }
    if (this.#writeDone || this.#closeWrite !== null) {
      return Promise.reject(this.#writeError ?? this.writeClosedError());
    }
    return this.writeDirect(chunk);
  }

  closeWrite(): Promise<void> {
    const refusal = this.#claimWrite("closeWrite");
    if (refusal !== undefined) return refusal;
    if (this.#closeWrite !== null) return this.#closeWrite;
    if (this.#writeDone) {
      return Promise.reject(this.#writeError ?? this.writeClosedError());
    }
    return this.#closeWrite = this.closeWriteDirect();
  }

  setNoDelay(noDelay: boolean): void {
    if (!this.#closed) this.setSocketNoDelay(noDelay);
  }

  close(): void {
    if (this.#closed) return;
    this.release();
    this.#endBoth();
  }

  /** The socket was released, by close() or after an error or both directions finished. */
  protected get closed(): boolean {
    return this.#closed;
  }

  /** The reading side is done: ended, errored or cancelled. */
  protected get readDone(): boolean {
    return this.#readDone;
  }

  /** The writing side is done: closed, closing, errored or aborted. */
  protected get writeDone(): boolean {
    return this.#writeDone;
  }

  /** What ended the writing side, if an error or close() did. */
  protected get writeError(): unknown {
    return this.#writeError;
  }

  /** The controller of the readable, once it is made. */
  protected get readController(): Controller | null {
    return this.#readController;
  }

  protected connectionClosedError(): Error {
    return this.badResource("Cannot use connection: it is closed");
  }

  protected writeClosedError(): Error {
    return this.badResource(
      "Cannot write to connection: its write side is closed",
    );
  }

  /** Ends the writing side with a FIN, through {@linkcode halfClose}. */
  protected sendFin(): Promise<void> {
    this.#writeDone = true;
    if (this.#closed) return Promise.reject(this.connectionClosedError());
    return this.halfClose();
  }

  /** The reading side reached EOF, or the socket went away under it. */
  protected endReadable(): void {
    if (this.#readDone) return;
    this.#readDone = true;
    const controller = this.#readController;
    if (controller !== null) {
      try {
        controller.close();
        // A BYOB read waiting on the socket is settled as done.
        if ("byobRequest" in controller) controller.byobRequest?.respond(0);
      } catch {
        // Already closed by the stream itself (cancelled or errored): nothing to end.
      }
    }
    this.#notifyEnd(undefined);
  }

  /** An I/O error ends both directions with that error and releases the socket. */
  protected fail(error: unknown): void {
    if (!this.#readDone) {
      this.#readDone = true;
      this.#readError = error;
      this.#readController?.error(error);
      this.#notifyEnd(error);
    }
    this.#endWritable(error);
    this.release();
  }

  /** The runtime released the socket by itself: both directions end as by close(). */
  protected socketClosed(): void {
    this.#closed = true;
    this.#endBoth();
  }

  protected releaseIfDone(): void {
    if (this.#readDone && this.#writeDone) this.release();
  }

  protected release(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.closeSocket();
  }

  /** The error of the runtime for a closed resource, with `message`. */
  protected abstract badResource(message: string): Error;
  /** Makes the readable over the socket, with the given `start` and `cancel` of its source. */
  protected abstract createReadable(
    start: (controller: Controller) => void,
    cancel: () => void,
  ): ReadableStream<Uint8Array>;
  /** Starts handing the socket's bytes to `onData` until EOF or an error. */
  protected abstract readDirect(onData: (chunk: Uint8Array) => void): void;
  /** Writes all of `chunk`, for the writable; settles once the socket took it. */
  protected abstract writeChunk(chunk: Uint8Array): Promise<void>;
  /** Sends a FIN once the writes before it are through. */
  protected abstract halfClose(): Promise<void>;
  /** Releases the socket; called once. */
  protected abstract closeSocket(): void;
  protected abstract setSocketNoDelay(noDelay: boolean): void;

  /** Writes `chunk` for {@linkcode write}, which checked the state already. */
  protected writeDirect(chunk: Uint8Array): Promise<void> {
    return this.writeChunk(chunk);
  }

  /** Sends the FIN for {@linkcode closeWrite}, which checked the state already. */
  protected closeWriteDirect(): Promise<void> {
    return this.sendFin();
  }

  /** The writing side ended by close() or an error; writes still waiting must fail. */
  protected writeEnded(): void {}

  /** Makes the direct methods own the write side; a rejection when the stream owns it. */
  #claimWrite(method: string): Promise<never> | undefined {
    if (this.#writeMode === DIRECT) return undefined;
    if (this.#writeMode === STREAM) {
      return Promise.reject(
        new TypeError(
          `Cannot ${method}: the connection is written through writable`,
        ),
      );
    }
    this.#writeMode = DIRECT;
    return undefined;
  }

  #endBoth(): void {
    this.endReadable();
    if (!this.#writeDone) this.#endWritable(this.connectionClosedError());
  }

  #endWritable(error: unknown): void {
    if (this.#writeDone) return;
    this.#writeDone = true;
    this.#writeError = error;
    this.#writeController?.error(error);
    this.writeEnded();
  }

  #notifyEnd(error: unknown): void {
    const onEnd = this.#onEnd;
    if (onEnd === null) return;
    this.#onEnd = null;
    queueMicrotask(() => error === undefined ? onEnd() : onEnd(error));
  }
}

/**
 * Yields accepted connections until the listener is closed (an accept that fails after the
 * close ends the iteration; before it, the error is thrown). Both runtimes' listeners use it.
 */
export async function* acceptUntilClosed(
  accept: () => Promise<TcpConn>,
  closed: () => boolean,
): AsyncGenerator<TcpConn, void, undefined> {
  while (true) {
    let conn: TcpConn;
    try {
      conn = await accept();
    } catch (error) {
      if (closed()) return;
      throw error;
    }
    yield conn;
  }
}
