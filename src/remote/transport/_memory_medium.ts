// The in-memory network's machinery: its shared state (Medium), listeners and connection ends.
// MemoryNetwork (memory_transport.ts) is its public face.
import type {
  ConnectOptions,
  ListenOptions,
  NetAddr,
  TcpConn,
  TcpListener,
  TimerHandle,
} from "../../platform/mod.ts";
import { type Clock, systemClock } from "../../timer/mod.ts";
import { ConnectionClosedError } from "./errors.ts";
import type { MemoryNetworkOptions } from "./memory_transport.ts";

/** The end of a byte flow: a FIN (`error` undefined) or a reset. */
interface End {
  readonly end: true;
  readonly error?: unknown;
}

type Segment = Uint8Array | End;

function isEnd(segment: Segment): segment is End {
  return !(segment instanceof Uint8Array);
}

/** Seeded pseudo-random numbers in [0, 1) (mulberry32). */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function check(
  name: string,
  value: number,
  min: number,
  max: number,
): number {
  if (typeof value !== "number" || !(value >= min && value <= max)) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: must be between ${min} and ${max}`,
    );
  }
  return value;
}

export interface Host {
  readonly name: string;
  frozen: boolean;
  nextPort: number;
  readonly conns: Set<MemoryConn>;
  readonly listeners: Map<number, MemoryListener>;
}

/** The network's state, shared by its hosts, listeners and connections. */
export class Medium {
  readonly clock: Clock;
  latencyMs: number;
  lossRate: number;
  readonly random: () => number;
  readonly windowBytes: number;
  readonly hosts = new Map<string, Host>();
  /** Blocked directions, as `from\u0000to`. */
  readonly blocked = new Set<string>();
  /** Waiting for a heal or a thaw. */
  #waiting: (() => void)[] = [];
  /** Connections opened so far, per direction of the dial, as `from\u0000to`. */
  readonly #opened = new Map<string, number>();

  constructor(options: MemoryNetworkOptions) {
    this.clock = options.clock ?? systemClock;
    this.latencyMs = check("latencyMs", options.latencyMs ?? 0, 0, 3.6e6);
    this.lossRate = check("lossRate", options.lossRate ?? 0, 0, 1);
    this.random = random(options.seed ?? 1);
    this.windowBytes = check(
      "windowBytes",
      options.windowBytes ?? 1024 * 1024,
      1,
      2 ** 40,
    );
  }

  /** Whether this write is lost. */
  lose(): boolean {
    return this.lossRate > 0 && this.random() < this.lossRate;
  }

  /** Whether bytes from `from` may reach `to` now. */
  passes(from: Host, to: Host): boolean {
    return !to.frozen && !this.blocked.has(`${from.name}\u0000${to.name}`);
  }

  /** Whether either direction between the hosts is cut. */
  cut(a: Host, b: Host): boolean {
    return this.blocked.has(`${a.name}\u0000${b.name}`) ||
      this.blocked.has(`${b.name}\u0000${a.name}`);
  }

  /** How many connections `from` opened to `to` so far. */
  opened(from: string, to: string): number {
    return this.#opened.get(`${from}\u0000${to}`) ?? 0;
  }

  /** Resets every connection between the hosts, both ways. */
  reset(a: string, b: string, error: unknown): void {
    for (const [near, far] of [[a, b], [b, a]]) {
      const host = this.hosts.get(near);
      if (host === undefined) continue;
      for (const conn of [...host.conns]) {
        if (conn.remoteAddr.hostname === far) conn.reset(error);
      }
    }
  }

  /** Calls `retry` once the network changes (a heal or a thaw). */
  onChange(retry: () => void): void {
    this.#waiting.push(retry);
  }

  wake(): void {
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const retry of waiting) retry();
  }

  host(name: string): Host {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError(`Invalid host name ${JSON.stringify(name)}`);
    }
    let host = this.hosts.get(name);
    if (host === undefined) {
      host = {
        name,
        frozen: false,
        nextPort: 49152,
        conns: new Set(),
        listeners: new Map(),
      };
      this.hosts.set(name, host);
    }
    return host;
  }

  listen(host: Host, options: ListenOptions): Promise<TcpListener> {
    let port = options?.port ?? 0;
    if (port === 0) {
      while (host.listeners.has(host.nextPort)) host.nextPort++;
      port = host.nextPort++;
    }
    if (host.listeners.has(port)) {
      return Promise.reject(
        new Error(`Address in use: ${host.name}:${port}`),
      );
    }
    const listener = new MemoryListener(this, host, port);
    host.listeners.set(port, listener);
    return Promise.resolve(listener);
  }

  connect(from: Host, options: ConnectOptions): Promise<TcpConn> {
    const to = this.host(options.hostname ?? from.name);
    const signal = options.signal;
    return new Promise<TcpConn>((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        reject(signal!.reason);
      };
      const attempt = () => {
        if (settled) return;
        if (this.cut(from, to)) {
          // The SYN is lost until the partition heals; the dialer's timeout gives up.
          this.onChange(attempt);
          return;
        }
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        const listener = to.listeners.get(options.port);
        if (listener === undefined) {
          reject(
            new ConnectionClosedError(
              `connection refused by ${to.name}:${options.port}`,
            ),
          );
          return;
        }
        const local = { hostname: from.name, port: from.nextPort++ };
        const remote = { hostname: to.name, port: options.port };
        const dialer = new MemoryConn(this, from, local, remote);
        const accepted = new MemoryConn(this, to, remote, local);
        dialer.pair(accepted);
        accepted.pair(dialer);
        listener.enqueue(accepted);
        const key = `${from.name}\u0000${to.name}`;
        this.#opened.set(key, (this.#opened.get(key) ?? 0) + 1);
        resolve(dialer);
      };
      if (signal?.aborted) {
        reject(signal.reason);
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      queueMicrotask(attempt);
    });
  }
}

class MemoryListener implements TcpListener {
  readonly addr: NetAddr;
  readonly #network: Medium;
  readonly #host: Host;
  readonly #backlog: MemoryConn[] = [];
  #accepts: {
    resolve: (conn: TcpConn) => void;
    reject: (error: unknown) => void;
  }[] = [];
  #closed = false;

  constructor(network: Medium, host: Host, port: number) {
    this.#network = network;
    this.#host = host;
    this.addr = Object.freeze({ hostname: host.name, port });
  }

  enqueue(conn: MemoryConn): void {
    this.#backlog.push(conn);
    this.#serve();
  }

  accept(): Promise<TcpConn> {
    if (this.#closed) {
      return Promise.reject(new ConnectionClosedError("listener closed"));
    }
    return new Promise<TcpConn>((resolve, reject) => {
      this.#accepts.push({ resolve, reject });
      this.#serve();
    });
  }

  #serve(): void {
    if (this.#host.frozen) {
      this.#network.onChange(() => this.#serve());
      return;
    }
    while (this.#backlog.length > 0 && this.#accepts.length > 0) {
      this.#accepts.shift()!.resolve(this.#backlog.shift()!);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#host.listeners.get(this.addr.port) === this) {
      this.#host.listeners.delete(this.addr.port);
    }
    const error = new ConnectionClosedError("listener closed");
    for (const waiter of this.#accepts.splice(0)) waiter.reject(error);
    for (const conn of this.#backlog.splice(0)) conn.reset(error);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<TcpConn> {
    while (!this.#closed) {
      try {
        yield await this.accept();
      } catch (error) {
        if (this.#closed) return;
        throw error;
      }
    }
  }
}

/** One end of an in-memory connection. */
class MemoryConn implements TcpConn {
  readonly localAddr: NetAddr;
  readonly remoteAddr: NetAddr;
  readonly #network: Medium;
  readonly #host: Host;
  #peer: MemoryConn | null = null;
  /** Segments on their way here, with the time each arrives. */
  readonly #transit: { segment: Segment; due: number }[] = [];
  #transitTimer: TimerHandle | null = null;
  /** Segments arrived here and not read yet. */
  readonly #arrived: Segment[] = [];
  /** Bytes sent here and not read yet (the window of the peer's writes). */
  #unread = 0;
  /** The peer's writes waiting for room in the window. */
  #roomWaiters: (() => void)[] = [];
  #onData: ((chunk: Uint8Array) => void) | null = null;
  #onEnd: ((error?: unknown) => void) | null = null;
  #readingEnded = false;
  #writeClosed = false;
  #closed = false;
  #waitingForNetwork = false;
  #readable: ReadableStream<Uint8Array> | null = null;
  #writable: WritableStream<Uint8Array> | null = null;

  constructor(
    network: Medium,
    host: Host,
    localAddr: NetAddr,
    remoteAddr: NetAddr,
  ) {
    this.#network = network;
    this.#host = host;
    this.localAddr = Object.freeze({ ...localAddr });
    this.remoteAddr = Object.freeze({ ...remoteAddr });
    host.conns.add(this);
  }

  pair(peer: MemoryConn): void {
    this.#peer = peer;
  }

  get readable(): ReadableStream<Uint8Array> {
    if (this.#readable === null) {
      const started = this.#onData !== null;
      this.#readable = new ReadableStream<Uint8Array>({
        start: (controller) => {
          if (started) return;
          this.#startReading(
            (chunk) => controller.enqueue(chunk),
            (error) =>
              error === undefined
                ? controller.close()
                : controller.error(error),
          );
        },
      });
      if (started) this.#readable.getReader(); // locked: reading went the direct way
    }
    return this.#readable;
  }

  get writable(): WritableStream<Uint8Array> {
    if (this.#writable === null) {
      this.#writable = new WritableStream<Uint8Array>({
        write: (chunk) => this.#write(chunk),
        close: () => this.#closeWrite(),
      });
    }
    return this.#writable;
  }

  startReading(
    onData: (chunk: Uint8Array) => void,
    onEnd: (error?: unknown) => void,
  ): void {
    if (this.#readable !== null || this.#onData !== null) {
      throw new TypeError("Reading already started");
    }
    if (typeof onData !== "function" || typeof onEnd !== "function") {
      throw new TypeError("onData and onEnd must be functions");
    }
    this.#startReading(onData, onEnd);
  }

  write(chunk: Uint8Array): Promise<void> {
    if (this.#writable !== null) {
      return Promise.reject(new TypeError("writable is in use"));
    }
    if (!(chunk instanceof Uint8Array)) {
      return Promise.reject(new TypeError("chunk must be a Uint8Array"));
    }
    return this.#write(chunk);
  }

  closeWrite(): Promise<void> {
    if (this.#writable !== null) {
      return Promise.reject(new TypeError("writable is in use"));
    }
    return this.#closeWrite();
  }

  setNoDelay(_noDelay: boolean): void {}

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const peer = this.#peer;
    if (!this.#writeClosed) {
      this.#writeClosed = true;
      peer?.send({ end: true });
    }
    this.#release();
    this.#abandonWrites();
    this.#endReading(undefined);
  }

  /** Resets the connection (a killed host, a closed backlog): both ends fail. */
  reset(error: unknown): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#writeClosed = true;
    this.#peer?.send({ end: true, error });
    this.#release();
    this.#abandonWrites();
    this.#endReading(error);
  }

  /**
   * This end closed: its writes still waiting for room in the peer's window fail now, not when
   * (if ever) a frozen or partitioned peer reads again.
   */
  #abandonWrites(): void {
    const peer = this.#peer;
    if (peer === null || peer.#roomWaiters.length === 0) return;
    const waiters = peer.#roomWaiters;
    peer.#roomWaiters = [];
    for (const ready of waiters) ready();
  }

  /** A segment from the peer: it arrives after the latency, in order. */
  send(segment: Segment): void {
    if (this.#closed) return;
    if (segment instanceof Uint8Array) this.#unread += segment.byteLength;
    const latency = this.#network.latencyMs;
    if (latency === 0 && this.#transit.length === 0) {
      this.#arrived.push(segment);
      queueMicrotask(this.#pump);
      return;
    }
    const clock = this.#network.clock;
    this.#transit.push({ segment, due: clock.now() + latency });
    if (this.#transitTimer === null) this.#armTransit();
  }

  /** Whether the peer may write `bytes` more now. */
  hasRoom(): boolean {
    return this.#unread < this.#network.windowBytes;
  }

  /** Calls `ready` once the window has room again (or the connection ended). */
  whenRoom(ready: () => void): void {
    this.#roomWaiters.push(ready);
  }

  #armTransit(): void {
    const clock = this.#network.clock;
    const head = this.#transit[0];
    this.#transitTimer = clock.setTimer(() => {
      this.#transitTimer = null;
      const now = clock.now();
      while (this.#transit.length > 0 && this.#transit[0].due <= now) {
        this.#arrived.push(this.#transit.shift()!.segment);
      }
      this.#pump();
      if (this.#transit.length > 0) this.#armTransit();
    }, Math.max(0, head.due - clock.now()));
    this.#transitTimer.unref();
  }

  readonly #pump = (): void => {
    if (this.#readingEnded || this.#onData === null) return;
    const peer = this.#peer;
    if (peer !== null && !this.#network.passes(peer.#host, this.#host)) {
      if (!this.#waitingForNetwork) {
        this.#waitingForNetwork = true;
        this.#network.onChange(() => {
          this.#waitingForNetwork = false;
          this.#pump();
        });
      }
      return;
    }
    while (this.#arrived.length > 0 && !this.#readingEnded) {
      const segment = this.#arrived.shift()!;
      if (isEnd(segment)) {
        this.#endReading(segment.error);
        if (segment.error !== undefined) {
          this.#closed = true;
          this.#writeClosed = true;
          this.#release();
        }
        return;
      }
      this.#unread -= segment.byteLength;
      try {
        this.#onData(segment);
      } catch (error) {
        this.reset(error);
        return;
      }
    }
    this.#wakeWriters();
  };

  #wakeWriters(): void {
    if (!this.hasRoom() && !this.#readingEnded) return;
    const waiters = this.#roomWaiters;
    this.#roomWaiters = [];
    for (const ready of waiters) ready();
  }

  #startReading(
    onData: (chunk: Uint8Array) => void,
    onEnd: (error?: unknown) => void,
  ): void {
    this.#onData = onData;
    this.#onEnd = onEnd;
    if (this.#closed && this.#arrived.length === 0) {
      this.#endReading(undefined);
      return;
    }
    queueMicrotask(this.#pump);
  }

  #endReading(error: unknown): void {
    if (this.#readingEnded) return;
    this.#readingEnded = true;
    this.#arrived.length = 0;
    this.#transit.length = 0;
    if (this.#transitTimer !== null) {
      this.#network.clock.clearTimer(this.#transitTimer);
      this.#transitTimer = null;
    }
    this.#unread = 0;
    this.#wakeWriters();
    const onEnd = this.#onEnd;
    this.#onData = null;
    this.#onEnd = null;
    if (onEnd !== null) queueMicrotask(() => onEnd(error));
  }

  #release(): void {
    this.#host.conns.delete(this);
  }

  #write(chunk: Uint8Array): Promise<void> {
    if (this.#writeClosed || this.#closed) {
      return Promise.reject(
        new ConnectionClosedError("the connection is closed for writing"),
      );
    }
    const peer = this.#peer!;
    if (peer.#closed) {
      return Promise.reject(
        new ConnectionClosedError("connection reset by peer"),
      );
    }
    // A copy: the caller may reuse the chunk once the write resolved.
    if (!this.#network.lose()) peer.send(chunk.slice());
    if (peer.hasRoom()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const ready = () => {
        if (this.#closed) {
          reject(new ConnectionClosedError("the connection is closed"));
        } else if (peer.hasRoom() || peer.#readingEnded) resolve();
        else peer.whenRoom(ready);
      };
      peer.whenRoom(ready);
    });
  }

  #closeWrite(): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new ConnectionClosedError("the connection is closed"),
      );
    }
    if (!this.#writeClosed) {
      this.#writeClosed = true;
      this.#peer?.send({ end: true });
    }
    return Promise.resolve();
  }
}
