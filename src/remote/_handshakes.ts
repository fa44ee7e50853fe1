// The handshake of every connection, both ways: dialing and accepting (caps on handshakes in
// progress, in all and per source address, and a rate limit on failed proofs per address), with
// small frames only until the peer has proved itself. The messages exchanged are in
// _handshake_exchange.ts. It also tracks every connection until its socket is released, so
// close() can wait for them.
import type { ConnectOptions, TcpConn } from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";
import { Link, type RemoteLogger } from "./_link.ts";
import type { AuthFailureSettings, Settings } from "./_settings.ts";
import { isNodeUnreachableError, NodeUnreachableError } from "./errors.ts";
import { sourceKey } from "./handshake.ts";
import { HandshakeExchange, RATE_LIMITED } from "./_handshake_exchange.ts";
import {
  FrameConnection,
  type FrameConnectionOptions,
} from "./transport/mod.ts";

/** The largest frame a connection may send before its handshake is done (a Hello is < 1 KiB). */
const HANDSHAKE_MAX_FRAME_BYTES = 4096;

function splitAddress(address: string): { hostname: string; port: number } {
  const match = typeof address === "string"
    ? /^\[?([^\]]+?)\]?:(\d{1,5})$/.exec(address)
    : null;
  const port = match === null ? NaN : Number(match[2]);
  if (match === null || !(port > 0 && port < 65536)) {
    throw new TypeError(
      `Invalid node address ${JSON.stringify(address)}: expected host:port`,
    );
  }
  return { hostname: match[1], port };
}

/** A node's handshakes. */
export interface HandshakesOptions {
  /** This node's name. */
  readonly node: string;
  /** The address this node listens at, `host:port`. */
  readonly address: string;
  /** This node proves itself with the first key, and accepts any of them. */
  readonly keys: readonly CryptoKey[];
  readonly settings: Settings;
  readonly authFailures: AuthFailureSettings;
  readonly clock: Clock;
  readonly logger: RemoteLogger;
  /** Whether the node is closing (checked at each step). */
  readonly closed: () => boolean;
  /** The extensions this node announces. */
  readonly extensions: readonly string[];
}

/** An authenticated connection and the name of the node at its other end. */
export interface Handshaken {
  readonly link: Link;
  readonly peerNode: string;
  /** The extensions the other node announced. */
  readonly extensions: ReadonlySet<string>;
}

export class Handshakes {
  readonly #node: string;
  readonly #address: string;
  readonly #settings: Settings;
  readonly #clock: Clock;
  readonly #logger: RemoteLogger;
  readonly #closed: () => boolean;
  /** Every connection until its socket is released, so close() can wait for it. */
  readonly #connections = new Set<FrameConnection>();
  /** Links whose handshake is in progress, both directions. */
  readonly #inProgress = new Set<Link>();
  #inbound = 0;
  // Handshakes in progress per source address (see sourceKey).
  readonly #bySource = new Map<string, number>();
  // Connection attempts not yet connected (close() aborts them).
  readonly #dials = new Set<AbortController>();
  readonly #exchange: HandshakeExchange;

  constructor(options: HandshakesOptions) {
    this.#node = options.node;
    this.#address = options.address;
    this.#settings = options.settings;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#closed = options.closed;
    this.#exchange = new HandshakeExchange(options);
  }

  /**
   * Connects and handshakes. With `expectedNode` (a reconnect, which knows whom it dials) a
   * listener of another name is refused before this node proves anything to it, so whoever
   * took over an old address collects no proof to test guesses of the secret against.
   */
  async dial(address: string, expectedNode?: string): Promise<Handshaken> {
    const { hostname, port } = splitAddress(address);
    let conn: TcpConn;
    // The connect (with TLS, its handshake too) gets the handshake's time, and close() aborts
    // it: a peer that never answers can neither hang this dial nor outlive the node's close.
    const attempt = new AbortController();
    this.#dials.add(attempt);
    const timer = this.#clock.setTimer(
      () => attempt.abort(new Error("no answer in time")),
      this.#settings.handshakeTimeoutMs,
    );
    try {
      const options = {
        hostname,
        port,
        signal: attempt.signal,
        ...(this.#settings.connectTls === undefined
          ? {}
          : { tls: this.#settings.connectTls }),
      } as ConnectOptions;
      conn = await this.#settings.transport.connect(options);
    } catch (error) {
      throw new NodeUnreachableError(
        address,
        this.#closed() ? "this node closed while connecting" : "cannot connect",
        attempt.signal.aborted ? attempt.signal.reason : error,
      );
    } finally {
      this.#clock.clearTimer(timer);
      this.#dials.delete(attempt);
    }
    if (this.#closed()) {
      conn.close();
      throw new NodeUnreachableError(address, "this node is closed");
    }
    conn.setNoDelay(true);
    const link = this.#link(conn, `node at ${address}`);
    this.#inProgress.add(link);
    try {
      const peer = await this.#exchange.dial(link, expectedNode);
      if (this.#closed()) {
        throw new NodeUnreachableError(address, "this node is closed");
      }
      return { link, peerNode: peer.node, extensions: peer.extensions };
    } catch (error) {
      link.close("handshake failed");
      if (this.#closed() && !isNodeUnreachableError(error)) {
        throw new NodeUnreachableError(
          address,
          "this node closed during the handshake",
          error,
        );
      }
      throw error;
    } finally {
      this.#inProgress.delete(link);
    }
  }

  /**
   * Handshakes an accepted connection as the listener.
   *
   * @returns The authenticated link, or `undefined` when the handshake was refused or failed
   * (which is logged, rate-limited) or the node is closing.
   */
  async accept(conn: TcpConn): Promise<Handshaken | undefined> {
    conn.setNoDelay(true);
    const host = conn.remoteAddr.hostname;
    const remote = `${host}:${conn.remoteAddr.port}`;
    const source = sourceKey(host);
    // Until the peer has proved itself, what it makes us log goes through a rate limit, once
    // per connection (the catch below), not through the link.
    const log = this.#exchange.log;
    let logger: RemoteLogger | null = null;
    const link = this.#link(conn, `connection from ${remote}`, {
      error: (message, error) => logger?.error(message, error),
    });
    if (this.#inbound >= this.#settings.maxPendingHandshakes) {
      this.#exchange.refuse(
        link,
        "busy",
        `too many handshakes in progress (${this.#settings.maxPendingHandshakes})`,
        log,
      );
      return undefined;
    }
    const fromSource = this.#bySource.get(source) ?? 0;
    const perSource = this.#settings.maxPendingHandshakesPerAddress;
    if (fromSource >= perSource) {
      // One address must not hold every slot and so lock the cluster's own nodes out.
      this.#exchange.refuse(
        link,
        "busy",
        `too many handshakes in progress from ${source} (${perSource})`,
        log,
      );
      return undefined;
    }
    if (!this.#exchange.allows(source)) {
      this.#exchange.refuse(link, "rate-limited", RATE_LIMITED, log);
      return undefined;
    }
    this.#inbound++;
    this.#bySource.set(source, fromSource + 1);
    this.#inProgress.add(link);
    try {
      const peer = await this.#exchange.listen(link, source);
      logger = this.#logger;
      if (this.#closed()) {
        link.close("node closing");
        return undefined;
      }
      return { link, peerNode: peer.node, extensions: peer.extensions };
    } catch (error) {
      // refuse() logs what it refuses; timeouts, the dialer's own refusals, oversized or
      // malformed frames and early closes are logged here: a failed handshake is never silent.
      if (!this.#exchange.logged(error)) {
        log.error(`Handshake with ${link.description} failed`, error);
      }
      link.close("handshake failed");
      return undefined;
    } finally {
      this.#inbound--;
      const left = (this.#bySource.get(source) ?? 1) - 1;
      if (left > 0) this.#bySource.set(source, left);
      else this.#bySource.delete(source);
      this.#inProgress.delete(link);
    }
  }

  /** The node is closing: aborts the dials not connected yet. */
  abortDials(): void {
    for (const attempt of this.#dials) {
      attempt.abort(new Error(`node "${this.#node}" is closing`));
    }
  }

  /** The node is closing: refuses the handshakes in progress (code `closing`). */
  refuseAll(): void {
    for (const link of this.#inProgress) {
      link.sendAndClose(
        {
          kind: "refused",
          code: "closing",
          reason: `node "${this.#node}" is closing`,
        },
        "node closing",
        this.#clock,
      );
    }
  }

  /** Resolves once the socket of every connection made so far is released. */
  ended(): Promise<void> {
    return Promise.all([...this.#connections].map((c) => c.ended())).then(
      () => {},
    );
  }

  /** Cuts every connection still open (their peers did not read in time). */
  cut(): void {
    for (const connection of this.#connections) connection.close();
  }

  /** Writes out the handshake log lines held back by the rate limit. */
  flushLog(): void {
    this.#exchange.log.flush();
  }

  // The transport closes a connection whose buffer passes its hard limit; the peer refuses
  // sends before that (Link.fits), so the hard limit sits a frame above the send buffer.
  #frameOptions(): FrameConnectionOptions {
    const limit = this.#settings.maxSendBufferBytes;
    const highWaterBytes = Math.min(4 * 1024 * 1024, Math.floor(limit / 4));
    return {
      ...(this.#settings.clock === undefined
        ? {}
        : { clock: this.#settings.clock }),
      maxFrameBytes: this.#settings.maxFrameBytes,
      maxBufferedBytes: limit + this.#settings.maxFrameBytes + 64,
      highWaterBytes,
      lowWaterBytes: Math.floor(highWaterBytes / 4),
    };
  }

  /**
   * Wraps a new connection for its handshake: frames are limited to what the handshake needs
   * until the peer has proved itself (#authenticated), and the socket is tracked until it is
   * released, so close() can wait for it.
   */
  #link(
    conn: TcpConn,
    description: string,
    logger: RemoteLogger = this.#logger,
  ): Link {
    const frames = new FrameConnection(conn, {
      ...this.#frameOptions(),
      maxFrameBytes: HANDSHAKE_MAX_FRAME_BYTES,
    });
    this.#connections.add(frames);
    void frames.ended().then(() => this.#connections.delete(frames));
    const link = new Link(frames, description, logger);
    link.sendLimit = this.#settings.maxSendBufferBytes;
    return link;
  }
}
