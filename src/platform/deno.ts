/**
 * The Deno implementation of {@linkcode Platform}.
 *
 * The connection streams are our own, over `conn.read()`/`conn.write()`, rather than Deno's
 * `conn.readable`/`conn.writable`: those close the whole socket when either side finishes, so a
 * peer's FIN would also stop our writes. Here, as in the Node twin, closing the writable sends a
 * FIN only, reading EOF ends the readable only, and the socket is released once both are done or
 * {@linkcode TcpConn.close} is called. TLS connections (`Deno.listenTls`, and `Deno.connect`
 * upgraded with `Deno.startTls`) use the same adapter.
 *
 * The direct path ({@linkcode TcpConn.startReading}, {@linkcode TcpConn.write}) is a plain loop of
 * `conn.read()` into a large buffer, handed out as views without copying, and `conn.write()`: no
 * stream machinery, which costs about as much as the socket itself per small message. The
 * streams are made only when first asked for.
 *
 * @module
 */
import type {
  ConnectOptions,
  HttpHandler,
  HttpServer,
  HttpsGetOptions,
  HttpsResponse,
  ListenOptions,
  NetAddr,
  Platform,
  ServeOptions,
  TcpConn,
  TcpListener,
  TimerHandle,
} from "./types.ts";
import { acceptUntilClosed, TcpConnBase } from "./_tcp_conn.ts";
import { BodyCollector } from "./_body_collector.ts";
import { LiveTimer, liveTimerCount } from "./_live_timers.ts";

/** Bytes asked of the socket per read when the reader brings no buffer. */
const READ_CHUNK_SIZE = 64 * 1024;

/**
 * The direct reads of {@linkcode TcpConn.startReading} fill one arena after the other, each read
 * into the part after the previous one, so chunks are handed out without a copy and never
 * overwritten. A new arena is taken once less than {@linkcode ARENA_MIN_READ} is left.
 */
const ARENA_BYTES = 256 * 1024;
const ARENA_MIN_READ = 32 * 1024;
/**
 * The first read of a connection goes into a small buffer: a connection that sends a few bytes
 * and then waits (a handshake, or an unauthenticated peer holding a slot) costs that much, not
 * a whole arena. The next read takes a full arena.
 */
const FIRST_READ_BYTES = 16 * 1024;

/**
 * Microtask turns the read loop lets pass after handing out a chunk before it asks the socket
 * for more. Issuing a read costs about 2.5 µs of synchronous op dispatch; the answer to what
 * was just read (an ask's reply: the actor's turn, the answer, the frame writer's flush) goes
 * out within three or four microtask turns, so a read issued after them is off the round trip.
 * Sequential remote asks ÷ the raw ping-pong (`deno run -A bench/remote_bench.ts --only
 * sequential --json`, alternating runs with this constant edited to 0 and at 4): warm (20,000
 * warm-up round trips) 1.21 (1.19-1.34) -> 1.17 (1.12-1.24), medians of 8 runs, lower in 7 of
 * 8 pairs; with the earlier 500-round-trip warm-up 1.36 -> 1.29, 15 runs (bench/README.md).
 * Data that comes meanwhile waits in the socket, and a chunk's work that takes longer only
 * moves the read behind it by these few turns.
 */
const READ_AFTER_TURNS = 4;

/** How long a TLS server waits for a client's handshake before dropping it (as on Node). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** A plain TCP or a TLS connection of Deno; only plain ones expose `setNoDelay`. */
type DenoConn = Deno.TcpConn | Deno.TlsConn;

function toNetAddr(addr: Deno.Addr): NetAddr {
  // Deno.startTls gives addresses without `transport`; they are TCP ones all the same.
  const transport: string | undefined = addr.transport;
  if (transport !== undefined && transport !== "tcp" && transport !== "udp") {
    throw new TypeError(
      `Cannot use address of transport "${transport}": expected "tcp"`,
    );
  }
  const { hostname, port } = addr as Deno.NetAddr;
  return { hostname, port };
}

interface QueuedWrite {
  readonly chunk: Uint8Array | null; // null: the FIN of closeWrite()
  resolve(): void;
  reject(error: unknown): void;
}

/** The socket I/O of a Deno connection; the modes and close/fail state are in the base. */
class DenoTcpConn extends TcpConnBase<ReadableByteStreamController> {
  #conn: DenoConn;
  // Direct writes, one at a time: conn.write() may take only part of a chunk.
  #writing = false;
  #writeQueue: QueuedWrite[] = [];

  constructor(conn: DenoConn) {
    super(toNetAddr(conn.localAddr), toNetAddr(conn.remoteAddr));
    this.#conn = conn;
  }

  protected badResource(message: string): Error {
    return new Deno.errors.BadResource(message);
  }

  protected createReadable(
    start: (controller: ReadableByteStreamController) => void,
    cancel: () => void,
  ): ReadableStream<Uint8Array> {
    return new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: READ_CHUNK_SIZE,
      start,
      pull: (controller) => this.#pull(controller),
      cancel,
    });
  }

  protected readDirect(onData: (chunk: Uint8Array) => void): void {
    void this.#readLoop(onData);
  }

  protected override writeDirect(chunk: Uint8Array): Promise<void> {
    if (this.#writing) {
      return new Promise((resolve, reject) => {
        this.#writeQueue.push({ chunk, resolve, reject });
      });
    }
    return this.#directWrite(chunk);
  }

  protected override closeWriteDirect(): Promise<void> {
    return this.#writing
      ? new Promise((resolve, reject) => {
        this.#writeQueue.push({ chunk: null, resolve, reject });
      })
      : this.sendFin();
  }

  protected async writeChunk(chunk: Uint8Array): Promise<void> {
    try {
      let written = 0;
      while (written < chunk.byteLength) {
        written += await this.#conn.write(chunk.subarray(written));
      }
    } catch (error) {
      this.#writeFailed(error);
    }
  }

  protected async halfClose(): Promise<void> {
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      if (this.closed) throw this.connectionClosedError();
      this.fail(error);
      throw error;
    }
    this.releaseIfDone();
  }

  protected closeSocket(): void {
    try {
      this.#conn.close();
    } catch {
      // Deno released it already (for example after an error).
    }
  }

  protected setSocketNoDelay(noDelay: boolean): void {
    // Deno.TlsConn has no setNoDelay: the option is not reachable through the TLS stream.
    if ("setNoDelay" in this.#conn) this.#conn.setNoDelay(noDelay);
  }

  protected override writeEnded(): void {
    this.#rejectQueuedWrites();
  }

  async #readLoop(onData: (chunk: Uint8Array) => void): Promise<void> {
    let arena = new Uint8Array(FIRST_READ_BYTES);
    let used = 0;
    while (!this.readDone) {
      if (used > 0 && arena.byteLength - used < ARENA_MIN_READ) {
        arena = new Uint8Array(ARENA_BYTES);
        used = 0;
      }
      let read: number | null;
      try {
        read = await this.#conn.read(arena.subarray(used));
      } catch (error) {
        // A read cut short by our own close() is the end of the stream, not a failure.
        if (this.closed) this.endReadable();
        else this.fail(error);
        return;
      }
      if (this.readDone) return;
      if (read === null) {
        this.endReadable();
        this.releaseIfDone();
        return;
      }
      const chunk = arena.subarray(used, used + read);
      used += read;
      try {
        onData(chunk);
      } catch (error) {
        this.fail(error);
        return;
      }
      for (let turn = 0; turn < READ_AFTER_TURNS; turn++) await undefined;
    }
  }

  #directWrite(chunk: Uint8Array): Promise<void> {
    this.#writing = true;
    let done: Promise<void>;
    try {
      // Usually the socket takes it all at once: one promise, no loop.
      done = this.#conn.write(chunk).then(
        (written) =>
          written < chunk.byteLength
            ? this.writeChunk(chunk.subarray(written))
            : undefined,
        (error) => this.#writeFailed(error),
      );
    } catch (error) {
      done = Promise.resolve().then(() => this.#writeFailed(error));
    }
    done.then(this.#nextWrite, this.#nextWrite);
    return done;
  }

  readonly #nextWrite = (): void => {
    this.#writing = false;
    const next = this.#writeQueue.shift();
    if (next === undefined) return;
    if (this.writeDone && next.chunk !== null) {
      next.reject(this.writeError ?? this.writeClosedError());
      this.#rejectQueuedWrites();
      return;
    }
    if (next.chunk === null) {
      this.sendFin().then(next.resolve, next.reject);
      return;
    }
    this.#directWrite(next.chunk).then(next.resolve, next.reject);
  };

  #rejectQueuedWrites(): void {
    const queued = this.#writeQueue;
    if (queued.length === 0) return;
    this.#writeQueue = [];
    const error = this.writeError ?? this.writeClosedError();
    for (const write of queued) write.reject(error);
  }

  async #pull(controller: ReadableByteStreamController): Promise<void> {
    const request = controller.byobRequest;
    const view = request?.view;
    if (request === null || view === null || view === undefined) return;
    let read: number | null;
    try {
      read = await this.#conn.read(
        new Uint8Array(view.buffer, view.byteOffset, view.byteLength),
      );
    } catch (error) {
      // A read cut short by our own close() is the end of the stream, not a failure.
      if (this.closed) this.endReadable();
      else this.fail(error);
      return;
    }
    if (read === null) {
      this.endReadable();
      this.releaseIfDone();
    } else {
      request.respond(read);
    }
  }

  #writeFailed(error: unknown): never {
    if (this.closed) throw this.writeError ?? this.connectionClosedError();
    this.fail(error);
    throw error;
  }
}

class DenoTcpListener implements TcpListener {
  readonly addr: NetAddr;
  #listener: Deno.TcpListener;
  #closed = false;

  constructor(listener: Deno.TcpListener) {
    this.#listener = listener;
    this.addr = toNetAddr(listener.addr);
  }

  async accept(): Promise<TcpConn> {
    if (this.#closed) {
      throw new Deno.errors.BadResource("Listener has been closed");
    }
    const conn = await this.#listener.accept();
    return new DenoTcpConn(conn);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
  }

  [Symbol.asyncIterator](): AsyncGenerator<TcpConn, void, undefined> {
    return acceptUntilClosed(() => this.accept(), () => this.#closed);
  }
}

interface AcceptWaiter {
  resolve(conn: TcpConn): void;
  reject(error: unknown): void;
}

/**
 * A TLS listener that hands out only connections whose handshake completed, like Node's
 * `secureConnection`. Deno accepts TLS connections before their handshake, so this accepts as
 * many as there are callers waiting and runs the handshakes side by side: a slow or failing
 * client delays nobody, and is dropped after {@linkcode TLS_HANDSHAKE_TIMEOUT_MS}.
 */
class DenoTlsListener implements TcpListener {
  readonly addr: NetAddr;
  #listener: Deno.TlsListener;
  #closed = false;
  /** Handshaken connections nobody has asked for yet. */
  #ready: DenoTcpConn[] = [];
  #waiters: AcceptWaiter[] = [];
  /** Connections in their handshake, with the timer that drops them. */
  #handshaking = new Map<Deno.TlsConn, ReturnType<typeof setTimeout>>();
  #accepting = false;

  constructor(listener: Deno.TlsListener) {
    this.#listener = listener;
    this.addr = toNetAddr(listener.addr);
  }

  accept(): Promise<TcpConn> {
    const conn = this.#ready.shift();
    if (conn !== undefined) return Promise.resolve(conn);
    if (this.#closed) {
      return Promise.reject(
        new Deno.errors.BadResource("Listener has been closed"),
      );
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#pump();
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const [conn, timer] of this.#handshaking) {
      clearTimeout(timer);
      closeQuietly(conn);
    }
    this.#handshaking.clear();
    // Like the plain listener, connections never accepted are dropped with the listener.
    for (const conn of this.#ready.splice(0)) conn.close();
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(new Deno.errors.BadResource("Listener has been closed"));
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<TcpConn, void, undefined> {
    return acceptUntilClosed(() => this.accept(), () => this.#closed);
  }

  /** Accepts while more callers wait than handshakes run; one accept in flight at a time. */
  async #pump(): Promise<void> {
    if (this.#accepting) return;
    this.#accepting = true;
    try {
      while (!this.#closed && this.#waiters.length > this.#handshaking.size) {
        let conn: Deno.TlsConn;
        try {
          conn = await this.#listener.accept();
        } catch (error) {
          if (!this.#closed) this.#waiters.shift()?.reject(error);
          continue;
        }
        if (this.#closed) {
          closeQuietly(conn);
          return;
        }
        this.#handshake(conn);
      }
    } finally {
      this.#accepting = false;
    }
  }

  #handshake(conn: Deno.TlsConn): void {
    const timer = setTimeout(
      () => closeQuietly(conn),
      TLS_HANDSHAKE_TIMEOUT_MS,
    );
    this.#handshaking.set(conn, timer);
    conn.handshake().then(
      () => {
        if (!this.#handshaking.delete(conn)) return; // dropped by close()
        clearTimeout(timer);
        const ready = new DenoTcpConn(conn);
        const waiter = this.#waiters.shift();
        if (waiter === undefined) this.#ready.push(ready);
        else waiter.resolve(ready);
      },
      () => {
        if (!this.#handshaking.delete(conn)) return;
        clearTimeout(timer);
        closeQuietly(conn);
        // The caller this connection was meant for still waits.
        this.#pump();
      },
    );
  }
}

function closeQuietly(conn: DenoConn): void {
  try {
    conn.close();
  } catch {
    // Already released.
  }
}

/** Settles with `promise`, or rejects with the signal's reason (after `onAbort`) if it aborts. */
function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  onAbort: () => void,
): Promise<T> {
  if (signal === undefined) return promise;
  return new Promise<T>((resolve, reject) => {
    const abort = (): void => {
      onAbort();
      reject(signal.reason);
    };
    if (signal.aborted) {
      abort();
      return;
    }
    signal.addEventListener("abort", abort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", abort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", abort);
        reject(error);
      },
    );
  });
}

/** Upgrades a fresh TCP connection to TLS and completes the client handshake. */
async function startClientTls(
  tcp: Deno.TcpConn,
  hostname: string,
  tls: NonNullable<ConnectOptions["tls"]>,
  signal: AbortSignal | undefined,
): Promise<Deno.TlsConn> {
  let conn: Deno.TlsConn;
  try {
    conn = await Deno.startTls(tcp, {
      hostname: tls.serverName ?? hostname,
      caCerts: tls.caCertificates === undefined
        ? undefined
        : [...tls.caCertificates],
    });
  } catch (error) {
    closeQuietly(tcp);
    throw error;
  }
  try {
    // Deno handshakes lazily; do it now, so that an untrusted server fails the connect.
    await abortable(conn.handshake(), signal, () => closeQuietly(conn));
  } catch (error) {
    closeQuietly(conn);
    throw error;
  }
  return conn;
}

class DenoImmediateHandle extends LiveTimer implements TimerHandle {
  readonly immediate: ReturnType<typeof setImmediate>;

  constructor(callback: () => void) {
    super();
    this.immediate = setImmediate(() => {
      this.settle();
      callback();
    });
  }

  unref(): void {
    this.immediate.unref();
  }
}

class DenoTimerHandle extends LiveTimer implements TimerHandle {
  readonly id: ReturnType<typeof setTimeout>;

  constructor(callback: () => void, delayMs: number) {
    super();
    this.id = setTimeout(() => {
      this.settle();
      callback();
    }, delayMs);
  }

  unref(): void {
    Deno.unrefTimer(this.id);
  }
}

function envAllowed(name: string): boolean {
  try {
    return Deno.permissions.querySync({ name: "env", variable: name }).state ===
      "granted";
  } catch {
    return false;
  }
}

/** `fetch` through a client that trusts the extra CAs (`Deno.createHttpClient`). */
async function denoHttpsGet(
  url: string,
  options: HttpsGetOptions,
): Promise<HttpsResponse> {
  options.signal?.throwIfAborted();
  if (new URL(url).protocol !== "https:") {
    throw new TypeError(`Cannot send an HTTPS request to "${url}": not https:`);
  }
  const client = Deno.createHttpClient({
    caCerts: [...(options.caCertificates ?? [])],
  });
  try {
    const response = await fetch(url, {
      headers: { ...options.headers },
      signal: options.signal,
      redirect: "manual",
      client,
    });
    const body = new BodyCollector(options.maxBodyBytes);
    if (response.body !== null) {
      for await (const chunk of response.body) body.add(chunk);
    }
    return {
      status: response.status,
      headers: Object.fromEntries(response.headers),
      body: body.bytes(),
    };
  } finally {
    client.close();
  }
}

/**
 * The {@linkcode Platform} of the Deno runtime: TCP through `Deno.listen`/`Deno.connect`, TLS
 * through `Deno.listenTls` and, for clients, `Deno.connect` upgraded by `Deno.startTls` (rather
 * than `Deno.connectTls`, so that the `AbortSignal` covers the TCP connect and the certificate can
 * be checked against a server name other than the address dialled), time through
 * `performance.now()` and `setTimeout`, `Deno.env`, HTTPS through `fetch` with a client of
 * `Deno.createHttpClient` (for extra CAs), and `Deno.readTextFile`.
 *
 * Reading an environment variable that the process may not read gives `undefined` and never
 * prompts for the permission.
 *
 * @example Echo one message over loopback
 * ```ts
 * import { denoPlatform } from "./deno.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await denoPlatform.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await denoPlatform.connect({ port: listener.addr.port });
 * const server = await listener.accept();
 * const writer = client.writable.getWriter();
 * await writer.write(new TextEncoder().encode("hi"));
 * const { value } = await server.readable.getReader().read();
 * assert.equal(new TextDecoder().decode(value), "hi");
 * client.close();
 * server.close();
 * listener.close();
 * ```
 */
export const denoPlatform: Platform = {
  runtime: "deno",

  listen(options: ListenOptions = {}): Promise<TcpListener> {
    try {
      const hostname = options.hostname ?? "127.0.0.1";
      const port = options.port ?? 0;
      if (options.tls !== undefined) {
        const listener = Deno.listenTls({
          hostname,
          port,
          transport: "tcp",
          cert: options.tls.certificate,
          key: options.tls.privateKey,
        });
        return Promise.resolve(new DenoTlsListener(listener));
      }
      const listener = Deno.listen({ hostname, port, transport: "tcp" });
      return Promise.resolve(new DenoTcpListener(listener));
    } catch (error) {
      return Promise.reject(error);
    }
  },

  async connect(options: ConnectOptions): Promise<TcpConn> {
    options.signal?.throwIfAborted();
    const hostname = options.hostname ?? "127.0.0.1";
    const conn = await Deno.connect({
      hostname,
      port: options.port,
      transport: "tcp",
      signal: options.signal,
    });
    if (options.tls === undefined) return new DenoTcpConn(conn);
    return new DenoTcpConn(
      await startClientTls(conn, hostname, options.tls, options.signal),
    );
  },

  now(): number {
    return performance.now();
  },

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    return new DenoTimerHandle(callback, delayMs);
  },

  setImmediate(callback: () => void): TimerHandle {
    return new DenoImmediateHandle(callback);
  },

  clearTimer(handle: TimerHandle): void {
    if (handle instanceof DenoTimerHandle) {
      if (handle.settle()) clearTimeout(handle.id);
    } else if (handle instanceof DenoImmediateHandle) {
      if (handle.settle()) clearImmediate(handle.immediate);
    }
  },

  liveTimers(): number {
    return liveTimerCount();
  },

  httpsGet(url: string, options: HttpsGetOptions = {}): Promise<HttpsResponse> {
    return denoHttpsGet(url, options);
  },

  readTextFile(path: string): Promise<string> {
    return Deno.readTextFile(path);
  },

  env(name: string): string | undefined {
    if (!envAllowed(name)) return undefined;
    try {
      return Deno.env.get(name);
    } catch (error) {
      if (
        error instanceof Deno.errors.NotCapable ||
        error instanceof Deno.errors.PermissionDenied
      ) {
        return undefined;
      }
      throw error;
    }
  },

  serve(handler: HttpHandler, options: ServeOptions = {}): Promise<HttpServer> {
    return new Promise((resolve, reject) => {
      const controller = new AbortController();
      try {
        const server = Deno.serve({
          hostname: options.hostname ?? "127.0.0.1",
          port: options.port ?? 0,
          signal: controller.signal,
          onListen: () => {},
          onError: () => new Response("Internal Server Error", { status: 500 }),
        }, handler);
        let closed: Promise<void> | undefined;
        const close = (): Promise<void> =>
          closed ??= (async () => {
            controller.abort();
            await server.finished;
          })();
        resolve({
          addr: { hostname: server.addr.hostname, port: server.addr.port },
          close,
          [Symbol.asyncDispose]: close,
        });
      } catch (error) {
        reject(error);
      }
    });
  },
};
