/**
 * The Deno implementation of {@linkcode Platform}.
 *
 * The connection streams are our own, over `conn.read()`/`conn.write()`, rather than Deno's
 * `conn.readable`/`conn.writable`: those close the whole socket when either side finishes, so a
 * peer's FIN would also stop our writes. Here, as in the Node twin, closing the writable sends a
 * FIN only, reading EOF ends the readable only, and the socket is released once both are done or
 * {@linkcode TcpConn.close} is called.
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

function toNetAddr(addr: Deno.Addr): NetAddr {
  if (addr.transport !== "tcp" && addr.transport !== "udp") {
    throw new TypeError(
      `Cannot use address of transport "${addr.transport}": expected "tcp"`,
    );
  }
  return { hostname: addr.hostname, port: addr.port };
}

function connectionClosedError(): Error {
  return new Deno.errors.BadResource("Cannot use connection: it is closed");
}

class DenoTcpConn implements TcpConn {
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  #conn: Deno.TcpConn;
  /** The socket was released, by close() or after both directions finished. */
  #closed = false;
  /** The readable is closed, errored or cancelled. */
  #readDone = false;
  /** The writable is closed, closing, errored or aborted. */
  #writeDone = false;
  #readController!: ReadableByteStreamController;
  #writeController!: WritableStreamDefaultController;

  constructor(conn: Deno.TcpConn) {
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
    if (!this.#closed) this.#conn.setNoDelay(noDelay);
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
 * The {@linkcode Platform} of the Deno runtime: TCP through `Deno.listen`/`Deno.connect`, time
 * through `performance.now()` and `setTimeout`, and `Deno.env`.
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
      const listener = Deno.listen({
        hostname: options.hostname ?? "127.0.0.1",
        port: options.port ?? 0,
        transport: "tcp",
      });
      return Promise.resolve(new DenoTcpListener(listener));
    } catch (error) {
      return Promise.reject(error);
    }
  },

  async connect(options: ConnectOptions): Promise<TcpConn> {
    options.signal?.throwIfAborted();
    const conn = await Deno.connect({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port,
      transport: "tcp",
      signal: options.signal,
    });
    return new DenoTcpConn(conn);
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
