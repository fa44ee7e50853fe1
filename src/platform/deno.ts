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
 * @module
 */
import type {
  ConnectOptions,
  ListenOptions,
  NetAddr,
  Platform,
  TcpConn,
  TcpListener,
  TimerHandle,
} from "./types.ts";

/** Bytes asked of the socket per read when the reader brings no buffer. */
const READ_CHUNK_SIZE = 64 * 1024;

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

function connectionClosedError(): Error {
  return new Deno.errors.BadResource("Cannot use connection: it is closed");
}

class DenoTcpConn implements TcpConn {
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #conn: DenoConn;
  /** The socket was released, by close() or after both directions finished. */
  #closed = false;
  /** The readable is closed, errored or cancelled. */
  #readDone = false;
  /** The writable is closed, closing, errored or aborted. */
  #writeDone = false;
  #readController!: ReadableByteStreamController;
  #writeController!: WritableStreamDefaultController;

  constructor(conn: DenoConn) {
    this.#conn = conn;
    this.localAddr = toNetAddr(conn.localAddr);
    this.remoteAddr = toNetAddr(conn.remoteAddr);
    this.readable = new ReadableStream({
      type: "bytes",
      autoAllocateChunkSize: READ_CHUNK_SIZE,
      start: (controller) => {
        this.#readController = controller;
      },
      pull: (controller) => this.#pull(controller),
      cancel: () => {
        this.#readDone = true;
        this.close();
      },
    });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#closeWrite(),
      abort: () => {
        this.#writeDone = true;
        this.close();
      },
    });
  }

  setNoDelay(noDelay: boolean): void {
    // Deno.TlsConn has no setNoDelay: the option is not reachable through the TLS stream.
    if (!this.#closed && "setNoDelay" in this.#conn) {
      this.#conn.setNoDelay(noDelay);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#release();
    this.#endReadable();
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#writeController.error(connectionClosedError());
    }
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
      if (this.#closed) this.#endReadable();
      else this.#fail(error);
      return;
    }
    if (read === null) {
      this.#endReadable();
      this.#releaseIfDone();
    } else {
      request.respond(read);
    }
  }

  async #write(chunk: Uint8Array): Promise<void> {
    try {
      let written = 0;
      while (written < chunk.byteLength) {
        written += await this.#conn.write(chunk.subarray(written));
      }
    } catch (error) {
      if (this.#closed) throw connectionClosedError();
      this.#fail(error);
      throw error;
    }
  }

  async #closeWrite(): Promise<void> {
    this.#writeDone = true;
    if (this.#closed) throw connectionClosedError();
    try {
      await this.#conn.closeWrite();
    } catch (error) {
      if (this.#closed) throw connectionClosedError();
      this.#fail(error);
      throw error;
    }
    this.#releaseIfDone();
  }

  #endReadable(): void {
    if (this.#readDone) return;
    this.#readDone = true;
    try {
      this.#readController.close();
      this.#readController.byobRequest?.respond(0);
    } catch {
      // Already closed by the stream itself (cancelled or errored): nothing to end.
    }
  }

  /** An I/O error ends both directions with that error. */
  #fail(error: unknown): void {
    if (!this.#readDone) {
      this.#readDone = true;
      this.#readController.error(error);
    }
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#writeController.error(error);
    }
    this.#release();
  }

  #releaseIfDone(): void {
    if (this.#readDone && this.#writeDone) this.#release();
  }

  #release(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Deno released it already (for example after an error).
    }
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

  async *[Symbol.asyncIterator](): AsyncGenerator<TcpConn, void, undefined> {
    while (true) {
      let conn: TcpConn;
      try {
        conn = await this.accept();
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
      yield conn;
    }
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

  async *[Symbol.asyncIterator](): AsyncGenerator<TcpConn, void, undefined> {
    while (true) {
      let conn: TcpConn;
      try {
        conn = await this.accept();
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
      yield conn;
    }
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

class DenoTimerHandle implements TimerHandle {
  readonly id: ReturnType<typeof setTimeout>;

  constructor(id: ReturnType<typeof setTimeout>) {
    this.id = id;
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

/**
 * The {@linkcode Platform} of the Deno runtime: TCP through `Deno.listen`/`Deno.connect`, TLS
 * through `Deno.listenTls` and, for clients, `Deno.connect` upgraded by `Deno.startTls` (rather
 * than `Deno.connectTls`, so that the `AbortSignal` covers the TCP connect and the certificate can
 * be checked against a server name other than the address dialled), time through
 * `performance.now()` and `setTimeout`, and `Deno.env`.
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
    return new DenoTimerHandle(setTimeout(callback, delayMs));
  },

  clearTimer(handle: TimerHandle): void {
    if (handle instanceof DenoTimerHandle) clearTimeout(handle.id);
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
};
