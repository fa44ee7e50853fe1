/**
 * The Node.js implementation of {@linkcode Platform}, over `node:net` and `node:tls`.
 *
 * The web streams of a connection are adapted from the `net.Socket` by hand, with backpressure
 * both ways: the socket is paused while the readable's queue is full and resumed when the reader
 * pulls, and a write resolves only once the socket has flushed that chunk (so the caller may reuse
 * its buffer, as on Deno). Closing the writable sends a FIN only, reading EOF ends the readable
 * only, and the socket is released once both are done or {@linkcode TcpConn.close} is called.
 * A `tls.TLSSocket` is a `net.Socket`, so TLS connections use the same adapter.
 *
 * The direct path ({@linkcode TcpConn.startReading}, {@linkcode TcpConn.write}) is the socket's
 * `'data'` events and `write()` callbacks, without the streams; those are made only when first
 * asked for, and until somebody reads the socket stays paused.
 *
 * @module
 */
import * as net from "node:net";
import process from "node:process";
import * as tls from "node:tls";
import {
  clearTimeout as clearNodeTimeout,
  setTimeout as setNodeTimeout,
} from "node:timers";
import type {
  ConnectOptions,
  ListenOptions,
  NetAddr,
  Platform,
  TcpConn,
  TcpListener,
  TimerHandle,
} from "./types.ts";

/** Bytes the readable queues before the socket is paused. */
const READ_HIGH_WATER_MARK = 64 * 1024;

/** How long a TLS server waits for a client's handshake before dropping it (as on Deno). */
const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

/** An error named like Deno's `BadResource`, so callers can test `error.name` on both runtimes. */
function badResource(message: string): Error {
  const error = new Error(message);
  error.name = "BadResource";
  return error;
}

function connectionClosedError(): Error {
  return badResource("Cannot use connection: it is closed");
}

function writeClosedError(): Error {
  return badResource("Cannot write to connection: its write side is closed");
}

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

class NodeTcpConn implements TcpConn {
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  #socket: net.Socket;
  /** close() was called or the socket is gone. */
  #closed = false;
  /** The reading side is done: ended, errored or cancelled. */
  #readDone = false;
  #readError: unknown = undefined;
  /** The writing side is done: closed, closing, errored or aborted. */
  #writeDone = false;
  #writeError: unknown = undefined;
  // The streams are made on first use, so that the direct methods can own a direction instead.
  // Until someone reads, no 'data' listener is attached and the socket stays paused.
  #readMode: Mode = UNUSED;
  #writeMode: Mode = UNUSED;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;
  #readController: ReadableStreamDefaultController<Uint8Array> | null = null;
  #writeController: WritableStreamDefaultController | null = null;
  #onEnd: ((error?: unknown) => void) | null = null;
  #closeWrite: Promise<void> | null = null;

  constructor(socket: net.Socket) {
    this.#socket = socket;
    this.localAddr = {
      hostname: socket.localAddress ?? "",
      port: socket.localPort ?? 0,
    };
    this.remoteAddr = {
      hostname: socket.remoteAddress ?? "",
      port: socket.remotePort ?? 0,
    };
    socket.on("end", () => this.#endReadable());
    socket.on("error", (error: Error) => this.#fail(error));
    socket.on("close", () => this.#onClose());
  }

  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable !== null) return this.#readable;
    if (this.#readMode === DIRECT) return this.#readable = lockedReadable();
    this.#readMode = STREAM;
    this.#readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
        if (this.#readDone) {
          if (this.#readError === undefined) controller.close();
          else controller.error(this.#readError);
        }
      },
      pull: () => {
        if (!this.#readDone) this.#socket.resume();
      },
      cancel: () => {
        this.#readDone = true;
        this.close();
      },
    }, {
      highWaterMark: READ_HIGH_WATER_MARK,
      size: (chunk) => chunk.byteLength,
    });
    this.#socket.on("data", (chunk: Uint8Array) => this.#onStreamData(chunk));
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    if (this.#writable !== null) return this.#writable;
    if (this.#writeMode === DIRECT) return this.#writable = lockedWritable();
    this.#writeMode = STREAM;
    return this.#writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
        if (this.#writeDone) {
          controller.error(this.#writeError ?? connectionClosedError());
        }
      },
      write: (chunk) => this.#write(chunk),
      close: () => this.#end(),
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
    this.#socket.on("data", (chunk: Uint8Array) => {
      if (this.#readDone) return;
      try {
        // A plain view, not the Buffer (Node allocates a new one per read, never reused).
        onData(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        );
      } catch (error) {
        this.#fail(error);
        this.#closed = true;
        this.#socket.destroy();
      }
    });
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
      return Promise.reject(this.#writeError ?? writeClosedError());
    }
    return this.#write(chunk);
  }

  closeWrite(): Promise<void> {
    const refusal = this.#claimWrite("closeWrite");
    if (refusal !== undefined) return refusal;
    if (this.#closeWrite !== null) return this.#closeWrite;
    if (this.#writeDone) {
      return Promise.reject(this.#writeError ?? writeClosedError());
    }
    // The socket queues the FIN behind the writes before it.
    return this.#closeWrite = this.#end();
  }

  setNoDelay(noDelay: boolean): void {
    if (!this.#closed) this.#socket.setNoDelay(noDelay);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endReadable();
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#writeError = connectionClosedError();
      this.#writeController?.error(this.#writeError);
    }
    this.#socket.destroy();
  }

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

  #onStreamData(chunk: Uint8Array): void {
    const controller = this.#readController;
    if (this.#readDone || controller === null) return;
    // A plain view, not the Buffer: Buffer#slice() shares memory where Uint8Array#slice() copies.
    controller.enqueue(
      new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    if ((controller.desiredSize ?? 0) <= 0) this.#socket.pause();
  }

  #write(chunk: Uint8Array): Promise<void> {
    if (this.#closed) {
      return Promise.reject(this.#writeError ?? connectionClosedError());
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(chunk, (error) => {
        if (error === null || error === undefined) resolve();
        else {
          reject(
            this.#closed ? this.#writeError ?? connectionClosedError() : error,
          );
        }
      });
    });
  }

  #end(): Promise<void> {
    this.#writeDone = true;
    if (this.#closed) return Promise.reject(connectionClosedError());
    return new Promise((resolve, reject) => {
      this.#socket.end((error?: Error | null) => {
        if (error === null || error === undefined) resolve();
        else reject(this.#closed ? connectionClosedError() : error);
      });
    });
  }

  #endReadable(): void {
    if (this.#readDone) return;
    this.#readDone = true;
    this.#readController?.close();
    this.#notifyEnd(undefined);
  }

  /** An I/O error ends both directions with that error. */
  #fail(error: unknown): void {
    if (!this.#readDone) {
      this.#readDone = true;
      this.#readError = error;
      this.#readController?.error(error);
      this.#notifyEnd(error);
    }
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#writeError = error;
      this.#writeController?.error(error);
    }
  }

  #notifyEnd(error: unknown): void {
    const onEnd = this.#onEnd;
    if (onEnd === null) return;
    this.#onEnd = null;
    queueMicrotask(() => error === undefined ? onEnd() : onEnd(error));
  }

  #onClose(): void {
    // Node destroys the socket itself once both directions finished, or after an error.
    this.#closed = true;
    this.#endReadable();
    if (!this.#writeDone) {
      this.#writeDone = true;
      this.#writeError = connectionClosedError();
      this.#writeController?.error(this.#writeError);
    }
  }
}

interface AcceptWaiter {
  resolve(conn: TcpConn): void;
  reject(error: unknown): void;
}

class NodeTcpListener implements TcpListener {
  readonly addr: NetAddr;
  #server: net.Server;
  #closed = false;
  /** Connections that arrived before anyone called accept(). */
  #pending: NodeTcpConn[] = [];
  #waiters: AcceptWaiter[] = [];
  #error: unknown = undefined;

  constructor(server: net.Server, addr: NetAddr) {
    this.#server = server;
    this.addr = addr;
    // A TLS server reports each raw socket as "connection" too; only handshaken ones count.
    const event = server instanceof tls.Server
      ? "secureConnection"
      : "connection";
    server.on(event, (socket: net.Socket) => {
      // Wrapped at once so the socket has an 'error' listener even while it waits in the queue.
      const conn = new NodeTcpConn(socket);
      if (this.#closed) {
        conn.close();
        return;
      }
      const waiter = this.#waiters.shift();
      if (waiter === undefined) this.#pending.push(conn);
      else waiter.resolve(conn);
    });
    server.on("error", (error: Error) => {
      this.#error = error;
      for (const waiter of this.#waiters.splice(0)) waiter.reject(error);
    });
  }

  accept(): Promise<TcpConn> {
    const conn = this.#pending.shift();
    if (conn !== undefined) return Promise.resolve(conn);
    if (this.#closed) {
      return Promise.reject(badResource("Listener has been closed"));
    }
    if (this.#error !== undefined) return Promise.reject(this.#error);
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#server.close();
    // Like Deno, connections never accepted are dropped with the listener.
    for (const conn of this.#pending.splice(0)) conn.close();
    for (const waiter of this.#waiters.splice(0)) {
      waiter.reject(badResource("Listener has been closed"));
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
}

/** The SNI name for a server name, or `undefined` for an IP address, which SNI cannot carry. */
function sniName(serverName: string): string | undefined {
  return net.isIP(serverName) === 0 ? serverName : undefined;
}

class NodeTimerHandle implements TimerHandle {
  readonly timeout: ReturnType<typeof setNodeTimeout>;

  constructor(timeout: ReturnType<typeof setNodeTimeout>) {
    this.timeout = timeout;
  }

  unref(): void {
    this.timeout.unref();
  }
}

/**
 * The {@linkcode Platform} of Node.js (20 or later): TCP through `node:net`, TLS through
 * `node:tls`, time through `performance.now()` and `node:timers`, and `process.env`.
 *
 * @example Echo one message over loopback
 * ```ts
 * import { nodePlatform } from "./node.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await nodePlatform.listen({ hostname: "127.0.0.1", port: 0 });
 * const client = await nodePlatform.connect({ port: listener.addr.port });
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
export const nodePlatform: Platform = {
  runtime: "node",

  listen(options: ListenOptions = {}): Promise<TcpListener> {
    return new Promise((resolve, reject) => {
      const server = options.tls === undefined
        ? net.createServer({ allowHalfOpen: true })
        : tls.createServer({
          allowHalfOpen: true,
          cert: options.tls.certificate,
          key: options.tls.privateKey,
          handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS,
        });
      const onError = (error: Error): void => reject(error);
      server.once("error", onError);
      server.listen({
        host: options.hostname ?? "127.0.0.1",
        port: options.port ?? 0,
      }, () => {
        server.off("error", onError);
        const address = server.address();
        if (address === null || typeof address === "string") {
          server.close();
          reject(new TypeError("Cannot listen: the server has no TCP address"));
          return;
        }
        resolve(
          new NodeTcpListener(server, {
            hostname: address.address,
            port: address.port,
          }),
        );
      });
    });
  },

  connect(options: ConnectOptions): Promise<TcpConn> {
    const { signal } = options;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      const host = options.hostname ?? "127.0.0.1";
      const socket = options.tls === undefined
        ? net.connect({ host, port: options.port, allowHalfOpen: true })
        : tls.connect({
          host,
          port: options.port,
          // Honoured by tls.connect (it passes it on to the TLSSocket) but missing from its type.
          ...{ allowHalfOpen: true },
          // Deno adds caCerts to its default roots; Node's `ca` replaces them, so add them here.
          ca: options.tls.caCertificates === undefined
            ? undefined
            : [...tls.rootCertificates, ...options.tls.caCertificates],
          // SNI carries host names only (RFC 6066); the identity check below takes IPs too.
          servername: sniName(options.tls.serverName ?? host),
          checkServerIdentity: (_host, cert) =>
            tls.checkServerIdentity(options.tls?.serverName ?? host, cert),
        });
      const connectEvent = options.tls === undefined
        ? "connect"
        : "secureConnect";
      const settle = (): void => {
        socket.off(connectEvent, onConnect);
        socket.off("error", onError);
        signal?.removeEventListener("abort", onAbort);
      };
      const onConnect = (): void => {
        settle();
        resolve(new NodeTcpConn(socket));
      };
      const onError = (error: Error): void => {
        settle();
        socket.destroy();
        reject(error);
      };
      const onAbort = (): void => {
        settle();
        // Keep a listener: destroying may still report the connection attempt's error.
        socket.on("error", () => {});
        socket.destroy();
        reject(signal?.reason);
      };
      socket.once(connectEvent, onConnect);
      socket.once("error", onError);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  },

  now(): number {
    return performance.now();
  },

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    return new NodeTimerHandle(setNodeTimeout(callback, delayMs));
  },

  clearTimer(handle: TimerHandle): void {
    if (handle instanceof NodeTimerHandle) clearNodeTimeout(handle.timeout);
  },

  env(name: string): string | undefined {
    return process.env[name];
  },
};
