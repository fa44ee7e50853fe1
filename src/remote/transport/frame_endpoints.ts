// Dialling and listening for FrameConnections on top of the platform's TCP (or TLS).
import {
  type ConnectOptions,
  type ListenOptions,
  type NetAddr,
  platform,
  type TcpConn,
  type TimerHandle,
} from "../../platform/mod.ts";
import { systemClock } from "../../timer/mod.ts";
import {
  FrameConnection,
  type FrameConnectionOptions,
} from "./frame_connection.ts";
import { resolveOptions } from "./_options.ts";

/** How long the accept loop of {@linkcode listenFrames} pauses after the listener failed. */
const ACCEPT_RETRY_MS = 100;

/** Options of {@linkcode connectFrames}: where to connect, TLS, and the connection's limits. */
export interface ConnectFramesOptions
  extends ConnectOptions, FrameConnectionOptions {
  /** Turn Nagle's algorithm off (default `true`: frames are batched here already). */
  readonly noDelay?: boolean;
}

/** Options of {@linkcode listenFrames}: where to listen, TLS, and each connection's limits. */
export interface ListenFramesOptions
  extends ListenOptions, FrameConnectionOptions {
  /** Turn Nagle's algorithm off on accepted connections (default `true`). */
  readonly noDelay?: boolean;
  /**
   * Told about a failure of the listener (the accept loop pauses 100 ms and goes on) and about an
   * exception thrown by `onConnection` (that connection is closed with it). Default: ignored.
   */
  readonly onError?: (error: unknown) => void;
}

/** A listener of {@linkcode listenFrames}. */
export interface FrameListener {
  /** The bound address (with the real port when `0` was asked for). */
  readonly addr: NetAddr;
  /**
   * Stops accepting. Connections already handed out stay open. Resolves once the accept loop has
   * ended; idempotent.
   */
  close(): Promise<void>;
  /** Same as {@linkcode FrameListener.close}, for `await using`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/**
 * Connects to a frame endpoint (plain TCP, or TLS with `options.tls`) and wraps the connection.
 * The returned connection is not started yet: call {@linkcode FrameConnection.start}.
 *
 * @example Connect to a listener and exchange a frame
 * ```ts
 * import { connectFrames, listenFrames } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await listenFrames({ port: 0 }, (conn) => {
 *   conn.start({ onFrame: (payload) => conn.send(payload), onClose: () => {} });
 * });
 * const client = await connectFrames({ port: listener.addr.port });
 * const echoed = await new Promise<Uint8Array>((resolve) => {
 *   client.start({ onFrame: resolve, onClose: () => {} });
 *   client.send(new Uint8Array([1, 2, 3]));
 * });
 * assert.deepEqual([...echoed], [1, 2, 3]);
 * client.close();
 * await listener.close();
 * ```
 *
 * @param options The address, TLS settings, `signal` and the connection's options.
 * @returns The connected, unstarted frame connection.
 * @throws {RangeError} When a connection option is out of range (before connecting).
 * @throws {Error} (as a rejection) When the connection or the TLS handshake fails or is aborted.
 */
export async function connectFrames(
  options: ConnectFramesOptions,
): Promise<FrameConnection> {
  // Checked before dialling, so a bad option never leaves a socket behind.
  resolveOptions(options);
  const conn = await platform.connect(options);
  try {
    conn.setNoDelay(options.noDelay ?? true);
    return new FrameConnection(conn, options);
  } catch (error) {
    conn.close();
    throw error;
  }
}

/**
 * Listens for frame connections (plain TCP, or TLS with `options.tls`) and hands each accepted
 * one, not yet started, to `onConnection`.
 *
 * @example Serve an echo until closed
 * ```ts
 * import { listenFrames } from "./mod.ts";
 *
 * const listener = await listenFrames({ hostname: "127.0.0.1", port: 0 }, (conn) => {
 *   conn.start({ onFrame: (payload) => conn.send(payload), onClose: () => {} });
 * });
 * console.log(`listening on port ${listener.addr.port}`);
 * await listener.close();
 * ```
 *
 * @param options The address, TLS certificate and each connection's options.
 * @param onConnection Receives each accepted connection; it should start or close it.
 * @returns The listener, already accepting.
 * @throws {RangeError} When a connection option is out of range.
 * @throws {Error} (as a rejection) When the address cannot be bound.
 */
export async function listenFrames(
  options: ListenFramesOptions,
  onConnection: (connection: FrameConnection) => void,
): Promise<FrameListener> {
  if (typeof onConnection !== "function") {
    throw new TypeError(
      "Cannot listen for frames: onConnection must be a function",
    );
  }
  resolveOptions(options);
  const listener = await platform.listen(options);
  const clock = options.clock ?? systemClock;
  let closed = false;
  let retryTimer: TimerHandle | null = null;
  let wakeRetry: (() => void) | null = null;

  const pause = (): Promise<void> =>
    new Promise<void>((resolve) => {
      wakeRetry = resolve;
      retryTimer = clock.setTimer(() => {
        retryTimer = null;
        wakeRetry = null;
        resolve();
      }, ACCEPT_RETRY_MS);
    });

  const accepting = (async (): Promise<void> => {
    while (!closed) {
      let conn: TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed) return;
        options.onError?.(error);
        await pause();
        continue;
      }
      if (closed) {
        conn.close();
        return;
      }
      let connection: FrameConnection | undefined;
      try {
        conn.setNoDelay(options.noDelay ?? true);
        connection = new FrameConnection(conn, options);
        onConnection(connection);
      } catch (error) {
        if (connection === undefined) conn.close();
        else connection.close(error);
        options.onError?.(error);
      }
    }
  })();

  let closing: Promise<void> | null = null;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      closed = true;
      listener.close();
      if (retryTimer !== null) clock.clearTimer(retryTimer);
      retryTimer = null;
      const wake: (() => void) | null = wakeRetry;
      wakeRetry = null;
      wake?.();
      await accepting;
    })();
    return closing;
  };
  return {
    addr: listener.addr,
    close,
    [Symbol.asyncDispose]: close,
  };
}
