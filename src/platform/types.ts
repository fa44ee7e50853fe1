/**
 * The contracts of Troupe's platform layer: everything the library needs from a runtime, in
 * web-standard terms. `src/platform/` is the only code that touches `Deno.*` or `node:*`; the
 * rest of Troupe sees these interfaces only.
 *
 * @module
 */

/** A host and port of a TCP endpoint. */
export interface NetAddr {
  /** The host name or IP address, for example `"127.0.0.1"`. */
  readonly hostname: string;
  /** The TCP port. */
  readonly port: number;
}

/** Options for {@linkcode Platform.listen}. */
export interface ListenOptions {
  /** The interface to bind. Defaults to `"127.0.0.1"`. */
  readonly hostname?: string;
  /** The port to bind; `0` (the default) lets the system pick a free one. */
  readonly port?: number;
  /**
   * Serve TLS with this certificate and key (PEM text). The listener then yields only
   * connections whose handshake completed; a client that fails the handshake, or does not
   * finish it within 10 seconds, is dropped without ever being accepted.
   */
  readonly tls?: {
    /** The certificate chain in PEM format, the server's own certificate first. */
    readonly certificate: string;
    /** The certificate's private key in PEM format (PKCS#8, RSA or EC). */
    readonly privateKey: string;
  };
}

/** Options for {@linkcode Platform.connect}. */
export interface ConnectOptions {
  /** The host to connect to. Defaults to `"127.0.0.1"`. */
  readonly hostname?: string;
  /** The port to connect to. */
  readonly port: number;
  /** Aborts the connection attempt (including the TLS handshake). */
  readonly signal?: AbortSignal;
  /**
   * Speak TLS. The promise resolves only after the handshake completed, and rejects when the
   * server's certificate is not trusted or not valid for the server name.
   */
  readonly tls?: {
    /**
     * Extra trusted certificates (PEM), in addition to the runtime's default root
     * certificates: what a self-signed or private-CA server needs.
     */
    readonly caCertificates?: readonly string[];
    /**
     * The name the server's certificate must be valid for (also sent as SNI when it is a host
     * name). Defaults to `hostname`.
     */
    readonly serverName?: string;
  };
}

/**
 * A TCP connection (plain or TLS) as a pair of web streams.
 *
 * Closing is idempotent. After {@linkcode TcpConn.close}, reads end and writes fail.
 */
export interface TcpConn {
  /** The local end of the connection. */
  readonly localAddr: NetAddr;
  /** The remote end of the connection. */
  readonly remoteAddr: NetAddr;
  /** The bytes received, with backpressure: the socket is not read faster than this is consumed. */
  readonly readable: ReadableStream<Uint8Array>;
  /** The bytes to send; a write resolves once the socket has taken the chunk. */
  readonly writable: WritableStream<Uint8Array>;
  /**
   * Turns Nagle's algorithm off (`true`) or on. A no-op on Deno's TLS connections, which do not
   * expose the socket option.
   */
  setNoDelay(noDelay: boolean): void;
  /** Closes both directions at once. Safe to call more than once. */
  close(): void;
}

/** A listening TCP socket. Iterating it yields accepted connections until it is closed. */
export interface TcpListener extends AsyncIterable<TcpConn> {
  /** The bound address (with the real port when `0` was asked for). */
  readonly addr: NetAddr;
  /** Waits for the next connection; rejects once the listener is closed. */
  accept(): Promise<TcpConn>;
  /** Stops listening. Connections already accepted stay open. Safe to call more than once. */
  close(): void;
}

/** An opaque handle of a timer set through {@linkcode Platform.setTimer}. */
export interface TimerHandle {
  /** Lets the process exit while this timer is pending. */
  unref(): void;
}

/** Everything Troupe needs from the JavaScript runtime it runs on. */
export interface Platform {
  /** Which runtime this is. */
  readonly runtime: "deno" | "node";
  /** Binds a TCP listener (a TLS one with `options.tls`). */
  listen(options?: ListenOptions): Promise<TcpListener>;
  /** Opens a TCP connection (a TLS one with `options.tls`). */
  connect(options: ConnectOptions): Promise<TcpConn>;
  /** Monotonic milliseconds (fractional), for measuring durations. */
  now(): number;
  /** Runs `callback` once after `delayMs` milliseconds. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  /** Cancels a timer; a no-op for one that already ran or was cancelled. */
  clearTimer(handle: TimerHandle): void;
  /** Reads an environment variable; `undefined` when unset or when access is not permitted. */
  env(name: string): string | undefined;
}
