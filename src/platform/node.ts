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
import { readFile } from "node:fs/promises";
import * as https from "node:https";
import * as net from "node:net";
import process from "node:process";
import * as tls from "node:tls";
import {
  clearImmediate as clearNodeImmediate,
  clearTimeout as clearNodeTimeout,
  setImmediate as setNodeImmediate,
  setTimeout as setNodeTimeout,
} from "node:timers";
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
import { nodeServe } from "./_http_server_node.ts";

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

/** The socket I/O of a Node connection; the modes and close/fail state are in the base. */
class NodeTcpConn
  extends TcpConnBase<ReadableStreamDefaultController<Uint8Array>> {
  #socket: net.Socket;

  constructor(socket: net.Socket) {
    super(
      { hostname: socket.localAddress ?? "", port: socket.localPort ?? 0 },
      { hostname: socket.remoteAddress ?? "", port: socket.remotePort ?? 0 },
    );
    this.#socket = socket;
    // Until someone reads, no 'data' listener is attached and the socket stays paused.
    socket.on("end", () => this.endReadable());
    socket.on("error", (error: Error) => this.fail(error));
    // Node destroys the socket itself once both directions finished, or after an error.
    socket.on("close", () => this.socketClosed());
  }

  protected badResource(message: string): Error {
    return badResource(message);
  }

  protected createReadable(
    start: (controller: ReadableStreamDefaultController<Uint8Array>) => void,
    cancel: () => void,
  ): ReadableStream<Uint8Array> {
    const readable = new ReadableStream<Uint8Array>({
      start,
      pull: () => {
        if (!this.readDone) this.#socket.resume();
      },
      cancel,
    }, {
      highWaterMark: READ_HIGH_WATER_MARK,
      size: (chunk) => chunk.byteLength,
    });
    this.#socket.on("data", (chunk: Uint8Array) => this.#onStreamData(chunk));
    return readable;
  }

  protected readDirect(onData: (chunk: Uint8Array) => void): void {
    this.#socket.on("data", (chunk: Uint8Array) => {
      if (this.readDone) return;
      try {
        // A plain view, not the Buffer (Node allocates a new one per read, never reused).
        onData(
          new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
        );
      } catch (error) {
        this.fail(error);
      }
    });
  }

  protected writeChunk(chunk: Uint8Array): Promise<void> {
    if (this.closed) {
      return Promise.reject(this.writeError ?? this.connectionClosedError());
    }
    return new Promise((resolve, reject) => {
      this.#socket.write(chunk, (error) => {
        if (error === null || error === undefined) resolve();
        else {
          reject(
            this.closed
              ? this.writeError ?? this.connectionClosedError()
              : error,
          );
        }
      });
    });
  }

  protected halfClose(): Promise<void> {
    // The socket queues the FIN behind the writes before it.
    return new Promise((resolve, reject) => {
      this.#socket.end((error?: Error | null) => {
        if (error === null || error === undefined) resolve();
        else reject(this.closed ? this.connectionClosedError() : error);
      });
    });
  }

  protected closeSocket(): void {
    this.#socket.destroy();
  }

  protected setSocketNoDelay(noDelay: boolean): void {
    this.#socket.setNoDelay(noDelay);
  }

  #onStreamData(chunk: Uint8Array): void {
    const controller = this.readController;
    if (this.readDone || controller === null) return;
    // A plain view, not the Buffer: Buffer#slice() shares memory where Uint8Array#slice() copies.
    controller.enqueue(
      new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength),
    );
    if ((controller.desiredSize ?? 0) <= 0) this.#socket.pause();
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

  [Symbol.asyncIterator](): AsyncGenerator<TcpConn, void, undefined> {
    return acceptUntilClosed(() => this.accept(), () => this.#closed);
  }
}

/** The SNI name for a server name, or `undefined` for an IP address, which SNI cannot carry. */
function sniName(serverName: string): string | undefined {
  return net.isIP(serverName) === 0 ? serverName : undefined;
}

class NodeImmediateHandle extends LiveTimer implements TimerHandle {
  readonly immediate: ReturnType<typeof setNodeImmediate>;

  constructor(callback: () => void) {
    super();
    this.immediate = setNodeImmediate(() => {
      this.settle();
      callback();
    });
  }

  unref(): void {
    this.immediate.unref();
  }
}

class NodeTimerHandle extends LiveTimer implements TimerHandle {
  readonly timeout: ReturnType<typeof setNodeTimeout>;

  constructor(callback: () => void, delayMs: number) {
    super();
    this.timeout = setNodeTimeout(() => {
      this.settle();
      callback();
    }, delayMs);
  }

  unref(): void {
    this.timeout.unref();
  }
}

/** `https.get` with the extra CAs beside Node's roots, and no keep-alive agent. */
function nodeHttpsGet(
  url: string,
  options: HttpsGetOptions,
): Promise<HttpsResponse> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const target = new URL(url);
    if (target.protocol !== "https:") {
      reject(
        new TypeError(`Cannot send an HTTPS request to "${url}": not https:`),
      );
      return;
    }
    let settled = false;
    const finish = (error: unknown, response?: HttpsResponse): void => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (error === undefined) resolve(response!);
      else {
        request.destroy();
        reject(error);
      }
    };
    const onAbort = (): void => finish(signal?.reason);
    const request = https.get(target, {
      headers: { ...options.headers },
      // Deno adds caCerts to its default roots; Node's `ca` replaces them, so add them here.
      ca: options.caCertificates === undefined
        ? undefined
        : [...tls.rootCertificates, ...options.caCertificates],
      agent: false,
    }, (response) => {
      const body = new BodyCollector(options.maxBodyBytes);
      response.on("data", (chunk: Uint8Array) => {
        try {
          body.add(chunk);
        } catch (error) {
          finish(error);
        }
      });
      response.on("error", (error) => finish(error));
      response.on("end", () => {
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(response.headers)) {
          if (value !== undefined) {
            headers[name] = Array.isArray(value) ? value.join(", ") : value;
          }
        }
        finish(undefined, {
          status: response.statusCode ?? 0,
          headers,
          body: body.bytes(),
        });
      });
    });
    request.on("error", (error) => finish(error));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * The {@linkcode Platform} of Node.js (20 or later), and of Bun (1.4 or later): TCP through `node:net`, TLS through
 * `node:tls`, HTTPS through `node:https`, time through `performance.now()` and `node:timers`,
 * `process.env`, and files through `node:fs/promises`.
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
  // Bun implements the node: modules this uses, and is told apart by its global.
  runtime: "Bun" in globalThis ? "bun" : "node",

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
    return new NodeTimerHandle(callback, delayMs);
  },

  setImmediate(callback: () => void): TimerHandle {
    return new NodeImmediateHandle(callback);
  },

  clearTimer(handle: TimerHandle): void {
    if (handle instanceof NodeTimerHandle) {
      if (handle.settle()) clearNodeTimeout(handle.timeout);
    } else if (handle instanceof NodeImmediateHandle) {
      if (handle.settle()) clearNodeImmediate(handle.immediate);
    }
  },

  liveTimers(): number {
    return liveTimerCount();
  },

  env(name: string): string | undefined {
    return process.env[name];
  },

  httpsGet(url: string, options: HttpsGetOptions = {}): Promise<HttpsResponse> {
    return nodeHttpsGet(url, options);
  },

  readTextFile(path: string): Promise<string> {
    return readFile(path, "utf8");
  },

  serve(handler: HttpHandler, options?: ServeOptions): Promise<HttpServer> {
    return nodeServe(handler, options);
  },
};
