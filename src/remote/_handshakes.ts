// The handshake of every connection, both ways: dialing (the dialer proves first) and
// accepting (caps on handshakes in progress, in all and per source address, and a rate limit
// on failed proofs per address), with small frames only until the peer has proved itself.
// It also tracks every connection until its socket is released, so close() can wait for them.
import type { ConnectOptions, TcpConn } from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";
import { Link, type RemoteLogger } from "./_link.ts";
import type { AuthFailureSettings, Settings } from "./_settings.ts";
import {
  HandshakeRefusedError,
  isNodeUnreachableError,
  NodeUnreachableError,
} from "./errors.ts";
import {
  AuthFailureLimiter,
  newNonce,
  prove,
  RateLimitedLogger,
  sourceKey,
  verify,
  verifyAny,
} from "./handshake.ts";
import { PROTOCOL_VERSION, type RemoteMessage } from "./protocol/mod.ts";
import {
  FrameConnection,
  type FrameConnectionOptions,
} from "./transport/mod.ts";

/** The largest frame a connection may send before its handshake is done (a Hello is < 1 KiB). */
const HANDSHAKE_MAX_FRAME_BYTES = 4096;
/** The most source addresses whose failed proofs are remembered. */
const AUTH_FAILURE_ADDRESSES = 4096;
/** At most this many handshake log lines per interval; the rest are counted. */
const HANDSHAKE_LOG_LINES = 10;
const HANDSHAKE_LOG_INTERVAL_MS = 10_000;
const RATE_LIMITED =
  "too many failed proofs from this address; try again later";

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

/** What a handshake learnt of the other node. */
interface Greeted {
  readonly node: string;
  readonly extensions: ReadonlySet<string>;
}

export class Handshakes {
  readonly #node: string;
  readonly #address: string;
  readonly #keys: readonly CryptoKey[];
  readonly #settings: Settings;
  readonly #clock: Clock;
  readonly #logger: RemoteLogger;
  readonly #closed: () => boolean;
  /** The Hello/Welcome field announcing this node's extensions (absent when none). */
  readonly #announce: { readonly extensions?: readonly string[] };
  /** Every connection until its socket is released, so close() can wait for it. */
  readonly #connections = new Set<FrameConnection>();
  /** Links whose handshake is in progress, both directions. */
  readonly #inProgress = new Set<Link>();
  #inbound = 0;
  // Handshakes in progress per source address (see sourceKey).
  readonly #bySource = new Map<string, number>();
  // Connection attempts not yet connected (close() aborts them).
  readonly #dials = new Set<AbortController>();
  readonly #authFailures: AuthFailureLimiter;
  readonly #log: RateLimitedLogger;
  readonly #loggedRefusals = new WeakSet<object>();

  constructor(options: HandshakesOptions) {
    this.#node = options.node;
    this.#address = options.address;
    this.#keys = options.keys;
    this.#settings = options.settings;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#closed = options.closed;
    this.#announce = options.extensions.length === 0
      ? {}
      : { extensions: [...options.extensions] };
    const now = () => options.clock.now();
    this.#authFailures = new AuthFailureLimiter({
      ...options.authFailures,
      maxAddresses: AUTH_FAILURE_ADDRESSES,
      now,
    });
    this.#log = new RateLimitedLogger(options.logger, {
      maxLines: HANDSHAKE_LOG_LINES,
      intervalMs: HANDSHAKE_LOG_INTERVAL_MS,
      now,
    });
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
      const peer = await this.#dialerHandshake(link, expectedNode);
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
    const log = this.#log;
    let logger: RemoteLogger | null = null;
    const link = this.#link(conn, `connection from ${remote}`, {
      error: (message, error) => logger?.error(message, error),
    });
    if (this.#inbound >= this.#settings.maxPendingHandshakes) {
      this.#refuse(
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
      this.#refuse(
        link,
        "busy",
        `too many handshakes in progress from ${source} (${perSource})`,
        log,
      );
      return undefined;
    }
    if (!this.#authFailures.allows(source)) {
      this.#refuse(link, "rate-limited", RATE_LIMITED, log);
      return undefined;
    }
    this.#inbound++;
    this.#bySource.set(source, fromSource + 1);
    this.#inProgress.add(link);
    try {
      const peer = await this.#listenerHandshake(link, source);
      logger = this.#logger;
      if (this.#closed()) {
        link.close("node closing");
        return undefined;
      }
      return { link, peerNode: peer.node, extensions: peer.extensions };
    } catch (error) {
      // #refuse logs what it refuses; timeouts, the dialer's own refusals, oversized or
      // malformed frames and early closes are logged here: a failed handshake is never silent.
      if (!this.#loggedRefusals.has(error as object)) {
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
    this.#log.flush();
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

  /** The peer has proved itself: full-size frames from now on. */
  #authenticated(link: Link): void {
    link.frames.maxFrameBytes = this.#settings.maxFrameBytes;
  }

  /** The next handshake message, within what is left of the handshake's time. */
  #next(link: Link, deadline: number): Promise<RemoteMessage> {
    return link.next(this.#clock, Math.max(1, deadline - this.#clock.now()));
  }

  /** The checks both sides make of the other's greeting (a Hello or a Welcome). */
  #checkGreeting(
    link: Link,
    greeting: { readonly protocolVersion: number; readonly cluster: string },
    logger: RemoteLogger,
  ): void {
    if (greeting.protocolVersion !== PROTOCOL_VERSION) {
      throw this.#refuse(
        link,
        "version",
        `protocol version ${greeting.protocolVersion} is not supported: ` +
          `this node speaks version ${PROTOCOL_VERSION}`,
        logger,
      );
    }
    const cluster = this.#settings.cluster;
    if (greeting.cluster !== cluster) {
      throw this.#refuse(
        link,
        "cluster",
        `cluster "${greeting.cluster}" is not "${cluster}"`,
        logger,
      );
    }
  }

  async #dialerHandshake(
    link: Link,
    expectedNode: string | undefined,
  ): Promise<Greeted> {
    const s = this.#settings;
    const deadline = this.#clock.now() + s.handshakeTimeoutMs;
    const dialerNonce = newNonce();
    link.send({
      kind: "hello",
      protocolVersion: PROTOCOL_VERSION,
      node: this.#node,
      address: this.#address,
      cluster: s.cluster,
      nonce: dialerNonce,
      ...this.#announce,
    });
    const welcome = await this.#next(link, deadline);
    if (welcome.kind === "refused") {
      throw new HandshakeRefusedError(welcome.code, welcome.reason);
    }
    if (welcome.kind !== "welcome") {
      throw this.#refuse(
        link,
        "protocol",
        `expected welcome, got ${welcome.kind}`,
      );
    }
    this.#checkGreeting(link, welcome, this.#logger);
    if (expectedNode !== undefined && welcome.node !== expectedNode) {
      throw this.#refuse(
        link,
        "node",
        `expected node "${expectedNode}" at this address, found "${welcome.node}"`,
      );
    }
    const facts = {
      cluster: s.cluster,
      dialerNode: this.#node,
      listenerNode: welcome.node,
      dialerNonce,
      listenerNonce: welcome.nonce,
    };
    // The dialer proves first, always with its current secret.
    link.send({
      kind: "proof",
      proof: await prove(this.#keys[0], "dialer", facts),
    });
    const accepted = await this.#next(link, deadline);
    if (accepted.kind === "refused") {
      throw new HandshakeRefusedError(accepted.code, accepted.reason);
    }
    if (accepted.kind !== "accepted") {
      throw this.#refuse(
        link,
        "protocol",
        `expected accepted, got ${accepted.kind}`,
      );
    }
    if (!await verify(this.#keys[0], "listener", facts, accepted.proof)) {
      throw this.#refuse(
        link,
        "auth",
        "the listener's proof does not match the cluster secret",
      );
    }
    this.#authenticated(link);
    return { node: welcome.node, extensions: new Set(welcome.extensions) };
  }

  async #listenerHandshake(link: Link, source: string): Promise<Greeted> {
    const s = this.#settings;
    const deadline = this.#clock.now() + s.handshakeTimeoutMs;
    const log = this.#log;
    const hello = await this.#next(link, deadline);
    if (hello.kind !== "hello") {
      throw this.#refuse(
        link,
        "protocol",
        `expected hello, got ${hello.kind}`,
        log,
      );
    }
    this.#checkGreeting(link, hello, log);
    if (hello.node === this.#node) {
      throw this.#refuse(
        link,
        "protocol",
        "a node cannot connect to itself",
        log,
      );
    }
    const listenerNonce = newNonce();
    const facts = {
      cluster: s.cluster,
      dialerNode: hello.node,
      listenerNode: this.#node,
      dialerNonce: hello.nonce,
      listenerNonce,
    };
    // Nothing derived from the secret goes out before the dialer's proof has been checked.
    link.send({
      kind: "welcome",
      protocolVersion: PROTOCOL_VERSION,
      node: this.#node,
      address: this.#address,
      cluster: s.cluster,
      nonce: listenerNonce,
      ...this.#announce,
    });
    const proof = await this.#next(link, deadline);
    if (proof.kind === "refused") {
      throw new HandshakeRefusedError(proof.code, proof.reason);
    }
    if (proof.kind !== "proof") {
      throw this.#refuse(
        link,
        "protocol",
        `expected proof, got ${proof.kind}`,
        log,
      );
    }
    // The token is taken before the check, so proofs sent at once on parallel connections
    // cannot all be checked before the first failure counts; a valid proof gives it back.
    if (!this.#authFailures.take(source)) {
      throw this.#refuse(link, "rate-limited", RATE_LIMITED, log);
    }
    const key = await verifyAny(this.#keys, "dialer", facts, proof.proof);
    if (key !== undefined) this.#authFailures.refund(source);
    if (key === undefined) {
      throw this.#refuse(
        link,
        "auth",
        "the dialer's proof does not match the cluster secret",
        log,
      );
    }
    const answer = await prove(key, "listener", facts);
    if (link.closed) throw link.closeError;
    this.#authenticated(link);
    link.send({ kind: "accepted", proof: answer });
    return { node: hello.node, extensions: new Set(hello.extensions) };
  }

  /** Tells the other side why, logs it, and returns the error to throw. */
  #refuse(
    link: Link,
    code: string,
    reason: string,
    logger: RemoteLogger = this.#logger,
  ): HandshakeRefusedError {
    const error = new HandshakeRefusedError(code, reason);
    this.#loggedRefusals.add(error);
    logger.error(`Refused ${link.description}`, error);
    link.sendAndClose({ kind: "refused", code, reason }, reason, this.#clock);
    return error;
  }
}
