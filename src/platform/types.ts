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
 * A TCP connection (plain or TLS) as a pair of web streams, with an optional direct path for
 * code where every microsecond counts.
 *
 * Each direction is used either through its stream or through its direct methods, not both:
 * whichever is used first owns that direction. {@linkcode TcpConn.startReading} throws
 * `TypeError` once {@linkcode TcpConn.readable} has been accessed, and `readable` is a locked
 * stream after `startReading()`; likewise {@linkcode TcpConn.write} and
 * {@linkcode TcpConn.closeWrite} reject with `TypeError` once {@linkcode TcpConn.writable} has
 * been accessed, and `writable` is a locked stream after either of them.
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
   * Reads without a stream: `onData` gets each chunk as it arrives, synchronously and in order,
   * and the next read waits until it returns (so a busy consumer slows the socket down). Each
   * chunk belongs to the caller: nothing ever overwrites it, but it may be a view of a larger
   * buffer (`byteOffset`, `byteLength`), which it keeps alive.
   *
   * `onEnd` is called once, from a later microtask, when reading stops: without an argument at
   * the end of the stream (the peer's FIN) or after {@linkcode TcpConn.close}, with the error
   * when the socket failed or `onData` threw (which also closes the connection). Neither
   * callback is called after `onEnd`.
   *
   * Optional: a `TcpConn` without it offers the streams only. Both platforms implement it.
   *
   * @param onData Receives each chunk.
   * @param onEnd Told once that reading stopped, and why.
   * @throws {TypeError} When reading already started (by this or through `readable`), or a
   * callback is not a function.
   */
  startReading?(
    onData: (chunk: Uint8Array) => void,
    onEnd: (error?: unknown) => void,
  ): void;
  /**
   * Writes without a stream. Writes go out in the order they are called; each resolves once the
   * socket has taken the whole chunk (so the caller may reuse it then), which is the
   * backpressure: await it before writing more. Optional, like
   * {@linkcode TcpConn.startReading}.
   *
   * @param chunk The bytes.
   * @returns A promise that resolves once the socket took the chunk.
   * @throws {TypeError} (as a rejection) When `writable` has been accessed before, or `chunk` is
   * not a `Uint8Array`.
   * @throws {Error} (as a rejection) When the connection is closed, its write side was closed, or
   * the socket failed.
   */
  write?(chunk: Uint8Array): Promise<void>;
  /**
   * Sends a FIN once the writes before it are done (a half-close: reading goes on). The socket is
   * released once both directions are done. Optional, like {@linkcode TcpConn.write}.
   *
   * @returns A promise that resolves once the FIN was sent.
   * @throws {TypeError} (as a rejection) When `writable` has been accessed before.
   * @throws {Error} (as a rejection) When the connection is closed or the socket failed.
   */
  closeWrite?(): Promise<void>;
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

/** Options for {@linkcode Platform.httpsGet}. */
export interface HttpsGetOptions {
  /** Request headers (for example `authorization`). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Extra trust anchors in PEM format, added to the runtime's default roots: for a server whose
   * certificate is signed by a private CA, such as a Kubernetes API server.
   */
  readonly caCertificates?: readonly string[];
  /** Aborts the request (connection, handshake, or reading the body); it rejects with the reason. */
  readonly signal?: AbortSignal;
  /** The largest body accepted, in bytes (default 64 MiB); a larger one rejects the request. */
  readonly maxBodyBytes?: number;
}

/** The answer to {@linkcode Platform.httpsGet}. */
export interface HttpsResponse {
  /** The HTTP status code. */
  readonly status: number;
  /** The response headers, with lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
  /** The whole body. */
  readonly body: Uint8Array;
}

/**
 * The runtime's web-standard `Request`. It is named through `globalThis`, so the core's type
 * declarations compile for consumers that have neither the DOM nor Node's types (there it is
 * `never`, and `serve` cannot be called, which only the `./http` subpath does).
 */
export type WebRequest = typeof globalThis extends
  { Request: { prototype: infer R } } ? R : never;

/** The runtime's web-standard `Response` (see {@linkcode WebRequest}). */
export type WebResponse = typeof globalThis extends
  { Response: { prototype: infer R } } ? R : never;

/** Answers one HTTP request: what {@linkcode Platform.serve} calls for each request. */
export type HttpHandler = (
  request: WebRequest,
) => WebResponse | Promise<WebResponse>;

/** Options for {@linkcode Platform.serve}. */
export interface ServeOptions {
  /** The interface to bind. Defaults to `"127.0.0.1"`. */
  readonly hostname?: string;
  /** The port to bind; `0` (the default) lets the system pick a free one. */
  readonly port?: number;
}

/** A listening HTTP/1.1 server started by {@linkcode Platform.serve}. */
export interface HttpServer extends AsyncDisposable {
  /** The bound address (with the real port when `0` was asked for). */
  readonly addr: NetAddr;
  /**
   * Stops listening and closes the connections. On Deno it waits for the responses in flight
   * (a graceful shutdown), on Node it closes the connections at once: end long-lived streaming
   * responses (server-sent events) before closing. Idempotent.
   *
   * @returns Once the server stopped.
   */
  close(): Promise<void>;
}

/** Everything Troupe needs from the JavaScript runtime it runs on. */
export interface Platform {
  /** Which runtime this is (Bun runs the Node implementation, and says `"bun"` here). */
  readonly runtime: "deno" | "node" | "bun";
  /** Binds a TCP listener (a TLS one with `options.tls`). */
  listen(options?: ListenOptions): Promise<TcpListener>;
  /** Opens a TCP connection (a TLS one with `options.tls`). */
  connect(options: ConnectOptions): Promise<TcpConn>;
  /** Monotonic milliseconds (fractional), for measuring durations. */
  now(): number;
  /** Runs `callback` once after `delayMs` milliseconds. */
  setTimer(callback: () => void, delayMs: number): TimerHandle;
  /**
   * Runs `callback` in a macrotask of its own, after the timers and I/O callbacks that are due,
   * without the clamp that nested 0 ms timers get (2-4 ms each on Deno). Cancel it with
   * {@linkcode Platform.clearTimer}.
   */
  setImmediate(callback: () => void): TimerHandle;
  /** Cancels a timer; a no-op for one that already ran or was cancelled. */
  clearTimer(handle: TimerHandle): void;
  /**
   * How many timers set through {@linkcode Platform.setTimer} and
   * {@linkcode Platform.setImmediate} in this process are live: neither run nor cancelled yet.
   * Every timer of Troupe goes through the platform, so a count that keeps growing under a
   * steady load is a leak; timers a dependency sets on its own are not counted.
   */
  liveTimers(): number;
  /** Reads an environment variable; `undefined` when unset or when access is not permitted. */
  env(name: string): string | undefined;
  /**
   * Sends an HTTPS GET request and reads the whole answer (redirects are not followed). Rejects
   * with a `TypeError` for a URL that is not `https:`, with the signal's reason when aborted,
   * and with the runtime's error when the connection or the certificate check fails.
   */
  httpsGet(url: string, options?: HttpsGetOptions): Promise<HttpsResponse>;
  /** Reads a UTF-8 text file (for example a mounted secret); rejects when it cannot be read. */
  readTextFile(path: string): Promise<string>;
  /**
   * Serves HTTP/1.1 on a TCP port with a web-standard handler (`Deno.serve` on Deno, `node:http`
   * on Node). Each request's `signal` aborts when its client goes away; a handler that throws
   * gets a bare 500 answer and the server goes on.
   */
  serve(handler: HttpHandler, options?: ServeOptions): Promise<HttpServer>;
}
