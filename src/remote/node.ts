import {
  type ActorDefinition,
  type ActorRef,
  ActorStoppedError,
  type ActorSystem,
  type AskOptions,
  AskTimeoutError,
  type BackoffOptions,
  formatAddress,
  type Handlers,
  MailboxFullError,
  MessageNotHandledError,
  parseAddress,
  type UnknownProtocol,
  WATCH_LINE,
  watchLineOf,
} from "../actor/mod.ts";
import {
  Device,
  type DeviceMessage,
  errorFault,
  type Line,
  LinkMode,
} from "../backplane/mod.ts";
import {
  type ConnectOptions,
  type ListenOptions,
  platform,
  type TcpConn,
  type TcpListener,
  type TimerHandle,
} from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";
import { Link, type RemoteLogger as LinkLogger } from "./_link.ts";
import { Pending, RequestTable } from "./_requests.ts";
import { type CodecOptions, MessageCodecs } from "./codecs.ts";
import {
  CodecError,
  FrameTooLargeError,
  HandshakeRefusedError,
  isFrameTooLargeError,
  isNodeUnreachableError,
  NodeUnreachableError,
  RemoteFailureError,
} from "./errors.ts";
import {
  AuthFailureLimiter,
  checkSecret,
  importSecret,
  newNonce,
  prove,
  RateLimitedLogger,
  sourceKey,
  verify,
  verifyAny,
} from "./handshake.ts";
import {
  decodeMessage,
  encodeAskView,
  encodeMessage,
  encodeReplyView,
  MAX_ERROR_TEXT_BYTES,
  PROTOCOL_VERSION,
  type RemoteMessage,
  type Tell,
  TellBatchWriter,
  truncateErrorText,
  type UnwatchMessage,
  type WatchMessage,
} from "./protocol/mod.ts";
import {
  FrameConnection,
  type FrameConnectionOptions,
} from "./transport/mod.ts";

/** TLS for a node's listener (PEM strings). */
export interface RemoteTlsServerOptions {
  /** The certificate chain. */
  readonly certificate: string;
  /** The private key. */
  readonly privateKey: string;
}

/** TLS for a node's outgoing connections. */
export interface RemoteTlsClientOptions {
  /** Extra trusted CA certificates (PEM). */
  readonly caCertificates?: readonly string[];
  /** The name to verify the server certificate against. */
  readonly serverName?: string;
}

/** Options of {@linkcode RemoteNode.start}. */
export interface RemoteNodeOptions extends CodecOptions {
  /** The cluster's name: nodes of different clusters refuse each other. */
  readonly cluster: string;
  /**
   * The cluster's shared secret: at least 16 bytes (UTF-8), best made by
   * `generateClusterSecret()`. It never crosses the wire. This node proves itself with it when
   * dialing, and accepts it (and `acceptSecrets`) from nodes that dial in.
   */
  readonly secret: string;
  /**
   * More secrets accepted from nodes that dial in, for a rotation (each at least 16 bytes):
   * first give every node the new secret here, then make it `secret` everywhere (with the old
   * one here), then drop the old one. The listener answers under the secret that matched.
   */
  readonly acceptSecrets?: readonly string[];
  /** The interface to listen on (default `"127.0.0.1"`). */
  readonly hostname?: string;
  /** The port to listen on (default 0: any free port). */
  readonly port?: number;
  /** Listen with TLS. */
  readonly tls?: RemoteTlsServerOptions;
  /** Dial other nodes with TLS. */
  readonly connectTls?: RemoteTlsClientOptions;
  /** Send a ping after this much idle time, in ms (default 1000). */
  readonly heartbeatIntervalMs?: number;
  /** Close a connection that has been silent this long, in ms (default 5000). */
  readonly heartbeatTimeoutMs?: number;
  /**
   * How long a whole handshake may take, in ms (default 3000). Past it the connection is
   * refused with code `timeout` (sent to the peer) and closed.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * How many inbound connections may be in their handshake at once (default 64). Over the cap a
   * new connection is refused (code `busy`) and closed at once. Until its handshake is done a
   * connection may send only frames of up to 4 KiB.
   */
  readonly maxPendingHandshakes?: number;
  /**
   * How many of those one source address may hold at once (default 8; an IPv6 address counts
   * by its /64), so that a single host cannot take every slot and lock the cluster's own nodes
   * out. Over it a connection is refused with code `busy`.
   */
  readonly maxPendingHandshakesPerAddress?: number;
  /**
   * How many failed proofs a source address may make in a burst (default 5); then it is refused
   * (code `rate-limited`, without checking anything) until one failure is forgiven every
   * `authFailureRefillMs`.
   */
  readonly maxAuthFailures?: number;
  /** One failed proof per address is forgiven every this many ms (default 2000). */
  readonly authFailureRefillMs?: number;
  /** Reconnect delays (default 100 ms doubling to 5 s, jitter 0.2). */
  readonly reconnect?: BackoffOptions;
  /**
   * How many messages to keep for a node that is unreachable (default 10 000); beyond that,
   * tells become dead letters and requests reject with `NodeUnreachableError`. Their size is
   * checked as they are kept: a tell over `maxFrameBytes` is a dead letter at once, such a
   * request rejects with `FrameTooLargeError`. What is still kept when the node closes becomes
   * a dead letter (reason `node-unreachable`) or rejects with `NodeUnreachableError`.
   */
  readonly maxBufferedMessages?: number;
  /**
   * How many bytes may wait for the socket on one connection (default 64 MiB). Past that,
   * tells to that node become dead letters (reason `mailbox-full`) and requests reject with
   * `NodeUnreachableError`, so a producer faster than the network gets bounded memory and
   * keeps its connection.
   */
  readonly maxSendBufferBytes?: number;
  /** The largest frame accepted or sent, in bytes (default 8 MiB). */
  readonly maxFrameBytes?: number;
  /** Where connection problems are reported (default: the console). */
  readonly logger?: LinkLogger;
}

/** What {@linkcode RemoteNode.peers} reports for each known node. */
export interface PeerInfo {
  /** The node's name. */
  readonly node: string;
  /** Its address, `host:port`. */
  readonly address: string;
  /** Whether a connection to it is up. */
  readonly connected: boolean;
}

interface Settings {
  readonly cluster: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerAddress: number;
  readonly reconnect: BackoffOptions;
  readonly maxBufferedMessages: number;
  readonly maxFrameBytes: number;
  readonly maxSendBufferBytes: number;
  readonly connectTls?: RemoteTlsClientOptions;
}

const CONSOLE: LinkLogger = {
  error(message, error) {
    console.error(
      `[troupe remote] ${message}:`,
      error instanceof Error ? error.message : error,
    );
  },
};

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** The largest frame a connection may send before its handshake is done (a Hello is < 1 KiB). */
const HANDSHAKE_MAX_FRAME_BYTES = 4096;
/** The most source addresses whose failed proofs are remembered. */
const AUTH_FAILURE_ADDRESSES = 4096;
/** At most this many handshake log lines per interval; the rest are counted. */
const HANDSHAKE_LOG_LINES = 10;
const HANDSHAKE_LOG_INTERVAL_MS = 10_000;
/** How long close() lets goodbyes and refusals reach the socket before it cuts connections. */
const CLOSE_FLUSH_MS = 1000;
const RATE_LIMITED =
  "too many failed proofs from this address; try again later";
const TELLS_PER_FRAME = 4096;
const BYTES_PER_FRAME = 256 * 1024;
/** The envelope and a tell's tags and length prefixes, at most. */
const TELL_OVERHEAD_BYTES = 64;

/** An error's stable code for a Failure; anything that is not a short code is HANDLER_FAILED. */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.length > 0 && code.length <= 128
    ? code
    : "HANDLER_FAILED";
}

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

// The node itself; RemoteNode (below) is its public face.
class NodeCore {
  readonly #system: ActorSystem;
  /** This node proves itself with the first key, and accepts any of them. */
  readonly #keys: readonly CryptoKey[];
  readonly #settings: Settings;
  readonly #codecs: MessageCodecs;
  readonly #logger: LinkLogger;
  readonly #listener: TcpListener;
  readonly #address: string;
  readonly #factories = new Map<
    string,
    ActorDefinition<unknown, unknown, Handlers<unknown>>
  >();
  readonly #peers = new Map<string, Peer>();
  readonly #sessions = new Set<Session>();
  /** Every connection of this node until its socket is released, so close() can wait for it. */
  readonly #connections = new Set<FrameConnection>();
  /** Links whose handshake is in progress, both directions. */
  readonly #handshakes = new Set<Link>();
  #inboundHandshakes = 0;
  // Handshakes in progress per source address (see sourceKey).
  readonly #handshakesBySource = new Map<string, number>();
  // Connection attempts not yet connected (close() aborts them).
  readonly #dials = new Set<AbortController>();
  readonly #authFailures: AuthFailureLimiter;
  readonly #handshakeLogger: RateLimitedLogger;
  readonly #loggedRefusals = new WeakSet<object>();
  #accepting: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;
  #heartbeat: TimerHandle | null = null;

  constructor(
    system: ActorSystem,
    keys: readonly CryptoKey[],
    authFailures: { burst: number; refillMs: number },
    settings: Settings,
    codecs: MessageCodecs,
    logger: LinkLogger,
    listener: TcpListener,
  ) {
    this.#system = system;
    this.#keys = keys;
    this.#settings = settings;
    this.#codecs = codecs;
    this.#logger = logger;
    this.#listener = listener;
    this.#address = `${listener.addr.hostname}:${listener.addr.port}`;
    const now = () => system.clock.now();
    this.#authFailures = new AuthFailureLimiter({
      ...authFailures,
      maxAddresses: AUTH_FAILURE_ADDRESSES,
      now,
    });
    this.#handshakeLogger = new RateLimitedLogger(logger, {
      maxLines: HANDSHAKE_LOG_LINES,
      intervalMs: HANDSHAKE_LOG_INTERVAL_MS,
      now,
    });
    this.#accepting = this.#acceptLoop();
    this.#armHeartbeat();
  }

  /**
   * Starts a node for `system`: listens, and is ready to connect to others.
   *
   * @param system The actor system (its `node` name is this node's name).
   * @param options Cluster, secret, network and codec options.
   * @returns The running node.
   * @throws {TypeError} When an option is invalid.
   * @throws {RangeError} When a number is out of range, or a secret is shorter than 16 bytes.
   */
  static async start(
    system: ActorSystem,
    options: RemoteNodeOptions,
  ): Promise<NodeCore> {
    if (
      typeof options?.cluster !== "string" ||
      !/^[A-Za-z0-9_.:-]{1,100}$/.test(options.cluster)
    ) {
      throw new TypeError(
        `Invalid cluster name ${JSON.stringify(options?.cluster)}`,
      );
    }
    const positive = (
      name: string,
      value: number | undefined,
      fallback: number,
    ): number => {
      const v = value ?? fallback;
      if (!(v > 0) || !Number.isFinite(v)) {
        throw new RangeError(`Invalid ${name} ${String(value)}: must be > 0`);
      }
      return v;
    };
    const settings: Settings = {
      cluster: options.cluster,
      heartbeatIntervalMs: positive(
        "heartbeatIntervalMs",
        options.heartbeatIntervalMs,
        1000,
      ),
      heartbeatTimeoutMs: positive(
        "heartbeatTimeoutMs",
        options.heartbeatTimeoutMs,
        5000,
      ),
      handshakeTimeoutMs: positive(
        "handshakeTimeoutMs",
        options.handshakeTimeoutMs,
        3000,
      ),
      maxPendingHandshakes: positive(
        "maxPendingHandshakes",
        options.maxPendingHandshakes,
        64,
      ),
      maxPendingHandshakesPerAddress: positive(
        "maxPendingHandshakesPerAddress",
        options.maxPendingHandshakesPerAddress,
        8,
      ),
      reconnect: options.reconnect ?? { minMs: 100, maxMs: 5000, jitter: 0.2 },
      maxBufferedMessages: positive(
        "maxBufferedMessages",
        options.maxBufferedMessages,
        10_000,
      ),
      maxFrameBytes: positive(
        "maxFrameBytes",
        options.maxFrameBytes,
        8 * 1024 * 1024,
      ),
      maxSendBufferBytes: positive(
        "maxSendBufferBytes",
        options.maxSendBufferBytes,
        64 * 1024 * 1024,
      ),
      connectTls: options.connectTls,
    };
    const authFailures = {
      burst: positive("maxAuthFailures", options.maxAuthFailures, 5),
      refillMs: positive(
        "authFailureRefillMs",
        options.authFailureRefillMs,
        2000,
      ),
    };
    checkSecret(options?.secret);
    const accepted = options.acceptSecrets ?? [];
    if (!Array.isArray(accepted)) {
      throw new TypeError(
        "Invalid acceptSecrets: expected an array of strings",
      );
    }
    accepted.forEach((secret, i) => checkSecret(secret, `acceptSecrets[${i}]`));
    const codecs = new MessageCodecs(options);
    const keys = await Promise.all(
      [options.secret, ...accepted].map((secret) => importSecret(secret)),
    );
    const listenOptions: ListenOptions = {
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    } as ListenOptions;
    const listener = await platform.listen(listenOptions);
    return new NodeCore(
      system,
      keys,
      authFailures,
      settings,
      codecs,
      options.logger ?? CONSOLE,
      listener,
    );
  }

  /** This node's name (the actor system's `node`). */
  get node(): string {
    return this.#system.node;
  }

  /** The address others connect to, `host:port`. */
  get address(): string {
    return this.#address;
  }

  /** The actor system. */
  get system(): ActorSystem {
    return this.#system;
  }

  /**
   * Registers an actor type by name, so other nodes can spawn it here.
   *
   * @param name The factory name.
   * @param definition The actor type.
   * @throws {TypeError} When the name is taken or invalid.
   */
  register<A, S, H extends Handlers<S>>(
    name: string,
    definition: ActorDefinition<A, S, H>,
  ): void {
    if (typeof name !== "string" || name.length === 0 || name.length > 200) {
      throw new TypeError(`Invalid factory name ${JSON.stringify(name)}`);
    }
    if (this.#factories.has(name)) {
      throw new TypeError(`Factory "${name}" is already registered`);
    }
    this.#factories.set(
      name,
      definition as unknown as ActorDefinition<
        unknown,
        unknown,
        Handlers<unknown>
      >,
    );
  }

  /**
   * Connects to the node at `address` (if not connected yet) and learns its name. The node's
   * known address becomes `address`, so reconnects dial it; a node connected at another address
   * has moved (a process restarted elsewhere): its old connection is dropped as lost.
   *
   * @param address `host:port`.
   * @returns The node's name.
   * @throws {HandshakeRefusedError} When either side refuses the handshake.
   * @throws {NodeUnreachableError} When the node cannot be reached.
   */
  async connect(address: string): Promise<string> {
    this.#checkOpen();
    const link = await this.dial(address);
    if (this.closed) {
      link.link.close("node closing");
      throw new NodeUnreachableError(this.node, "this node is closed");
    }
    const node = link.peerNode;
    let peer = this.#peers.get(node);
    if (peer === undefined) {
      peer = new Peer(this, node, address);
      this.#peers.set(node, peer);
    }
    // The address that answered is where the node is now: reconnects go there.
    peer.adopt(link.link, address);
    return node;
  }

  /**
   * A ref to an actor on another node (or this one). Messages are typed by `P`.
   *
   * @param node The node's name (connected before with {@linkcode RemoteNode.connect}).
   * @param path The actor's path there.
   * @returns The ref.
   * @throws {TypeError} When the node is unknown, or the actor is not running on this node.
   */
  ref<P = UnknownProtocol>(node: string, path: string): ActorRef<P>;
  /**
   * A ref from an address string `troupe://node/path` (as refs serialize).
   *
   * @param address The address.
   * @returns The ref.
   */
  ref<P = UnknownProtocol>(address: string): ActorRef<P>;
  ref<P = UnknownProtocol>(nodeOrAddress: string, path?: string): ActorRef<P> {
    const { node, path: actorPath } = path === undefined
      ? parseAddress(nodeOrAddress)
      : { node: nodeOrAddress, path };
    if (node === this.node) {
      const local = this.#system.lookup(actorPath);
      if (local === undefined) {
        throw new TypeError(`No actor "${actorPath}" runs on this node`);
      }
      return local as unknown as ActorRef<P>;
    }
    return new RemoteActorRef(
      this.#peer(node),
      actorPath,
    ) as unknown as ActorRef<P>;
  }

  /**
   * Looks an actor up on another node.
   *
   * @param node The node's name.
   * @param path The actor's path there.
   * @param options Timeout.
   * @returns Its ref, or `undefined` when no actor runs at `path`.
   */
  async lookup<P = UnknownProtocol>(
    node: string,
    path: string,
    options?: AskOptions,
  ): Promise<ActorRef<P> | undefined> {
    if (node === this.node) {
      return this.#system.lookup(path) as unknown as ActorRef<P> | undefined;
    }
    const peer = this.#peer(node);
    const found = await peer.request(
      new PlainRequest(
        node,
        `lookup of "${path}"`,
        (id) => ({ kind: "lookup", id, path }),
        (payload) => decoder.decode(payload) === "1",
      ),
      options?.timeoutMs,
    );
    if (!found) return undefined;
    peer.markRunning(path);
    return new RemoteActorRef(peer, path) as unknown as ActorRef<P>;
  }

  /**
   * Spawns an actor on another node from a factory registered there.
   *
   * @param node The node's name.
   * @param factory The factory name (see {@linkcode RemoteNode.register}).
   * @param args The start arguments (encoded with the JSON codec).
   * @param options The actor's id, and a timeout.
   * @returns A ref to the new actor.
   * @throws {RemoteFailureError} When the remote spawn failed (unknown factory, start failure, ...).
   */
  async spawn<P = UnknownProtocol>(
    node: string,
    factory: string,
    args: unknown,
    options: { readonly id?: string; readonly timeoutMs?: number } = {},
  ): Promise<ActorRef<P>> {
    const peer = this.#peer(node);
    const encoded = this.#codecs.encode("json", factory, args);
    const path = await peer.request(
      new PlainRequest(
        node,
        `spawn of "${factory}"`,
        (id) => ({
          kind: "spawn",
          id,
          factory,
          actorId: options.id ?? "",
          codec: "json",
          args: encoded,
        }),
        (payload) => decoder.decode(payload),
      ),
      options.timeoutMs,
    ) as string;
    peer.markRunning(path);
    return new RemoteActorRef(peer, path) as unknown as ActorRef<P>;
  }

  /** How many authenticated connections from other nodes are open (a diagnostic). */
  get inboundConnections(): number {
    return this.#sessions.size;
  }

  /** Internal counts (see {@linkcode remoteNodeCounts}). */
  counts(): RemoteNodeCounts {
    const counts = {
      watchProxies: 0,
      stoppedPaths: 0,
      watchedForOthers: 0,
      buffered: 0,
      pendingRequests: 0,
      reconnectTimers: 0,
    };
    for (const peer of this.#peers.values()) peer.count(counts);
    for (const session of this.#sessions) {
      counts.watchedForOthers += session.watchCount;
    }
    return counts;
  }

  /** The nodes this node knows, and whether each is connected. */
  peers(): PeerInfo[] {
    return [...this.#peers.values()].map((p) => ({
      node: p.node,
      address: p.address,
      connected: p.connected,
    }));
  }

  /**
   * Closes the node: says goodbye to peers, refuses handshakes in progress (code `closing`),
   * closes every connection and the listener, and rejects every request still waiting. Resolves
   * once every socket is released. Idempotent.
   */
  close(): Promise<void> {
    return this.#closing ??= this.#close();
  }

  /** Closes the node (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    if (this.#heartbeat !== null) {
      this.#system.clock.clearTimer(this.#heartbeat);
    }
    this.#heartbeat = null;
    this.#listener.close();
    for (const attempt of this.#dials) {
      attempt.abort(new Error(`node "${this.node}" is closing`));
    }
    for (const peer of this.#peers.values()) peer.shutdown();
    for (const session of this.#sessions) {
      session.link.sendAndClose(
        { kind: "goodbye", reason: "node closing" },
        "node closing",
        this.clock,
      );
    }
    this.#sessions.clear();
    for (const link of this.#handshakes) {
      link.sendAndClose(
        {
          kind: "refused",
          code: "closing",
          reason: `node "${this.node}" is closing`,
        },
        "node closing",
        this.clock,
      );
    }
    await this.#accepting;
    // Wait until the goodbyes and refusals have reached the sockets and every socket is
    // released; a connection whose peer does not read by then is cut.
    const ended = (): Promise<void> =>
      Promise.all([...this.#connections].map((c) => c.ended())).then(() => {});
    let timer: TimerHandle | null = null;
    await Promise.race([
      ended(),
      new Promise<void>((resolve) => {
        timer = platform.setTimer(resolve, CLOSE_FLUSH_MS);
      }),
    ]);
    if (timer !== null) platform.clearTimer(timer);
    for (const connection of this.#connections) connection.close();
    await ended();
    this.#handshakeLogger.flush();
  }

  // ---- internals used by Peer and Session ---------------------------------------------------

  get closed(): boolean {
    return this.#closing !== null;
  }

  get settings(): Settings {
    return this.#settings;
  }

  get codecs(): MessageCodecs {
    return this.#codecs;
  }

  get clock(): Clock {
    return this.#system.clock;
  }

  get logger(): LinkLogger {
    return this.#logger;
  }

  factory(
    name: string,
  ): ActorDefinition<unknown, unknown, Handlers<unknown>> | undefined {
    return this.#factories.get(name);
  }

  // The transport closes a connection whose buffer passes its hard limit; the peer refuses
  // sends before that (Link.fits), so the hard limit sits a frame above the send buffer.
  #frameOptions(): FrameConnectionOptions {
    const limit = this.#settings.maxSendBufferBytes;
    const highWaterBytes = Math.min(4 * 1024 * 1024, Math.floor(limit / 4));
    return {
      maxFrameBytes: this.#settings.maxFrameBytes,
      maxBufferedBytes: limit + this.#settings.maxFrameBytes + 64,
      highWaterBytes,
      lowWaterBytes: Math.floor(highWaterBytes / 4),
    };
  }

  /**
   * Wraps a new connection for its handshake: frames are limited to what the handshake needs
   * until the peer has proved itself (#authenticated), and the node tracks the socket until it
   * is released, so close() can wait for it.
   */
  #link(
    conn: TcpConn,
    description: string,
    logger: LinkLogger = this.#logger,
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

  #checkOpen(): void {
    if (this.closed) {
      throw new NodeUnreachableError(this.node, "this node is closed");
    }
  }

  #peer(node: string): Peer {
    const peer = this.#peers.get(node);
    if (peer === undefined) {
      throw new TypeError(
        `Unknown node "${node}": connect to its address first`,
      );
    }
    return peer;
  }

  /** Dials an address and runs the handshake as the dialer. */
  /**
   * Connects and handshakes. With `expectedNode` (a reconnect, which knows whom it dials) a
   * listener of another name is refused before this node proves anything to it, so whoever
   * took over an old address collects no proof to test guesses of the secret against.
   */
  async dial(
    address: string,
    expectedNode?: string,
  ): Promise<{ link: Link; peerNode: string }> {
    const { hostname, port } = splitAddress(address);
    let conn: TcpConn;
    // The connect (with TLS, its handshake too) gets the handshake's time, and close() aborts
    // it: a peer that never answers can neither hang this dial nor outlive the node's close.
    const attempt = new AbortController();
    this.#dials.add(attempt);
    const timer = this.clock.setTimer(
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
      conn = await platform.connect(options);
    } catch (error) {
      throw new NodeUnreachableError(
        address,
        this.closed ? "this node closed while connecting" : "cannot connect",
        attempt.signal.aborted ? attempt.signal.reason : error,
      );
    } finally {
      this.clock.clearTimer(timer);
      this.#dials.delete(attempt);
    }
    if (this.closed) {
      conn.close();
      throw new NodeUnreachableError(address, "this node is closed");
    }
    conn.setNoDelay(true);
    const link = this.#link(conn, `node at ${address}`);
    this.#handshakes.add(link);
    try {
      const peerNode = await this.#dialerHandshake(link, expectedNode);
      if (this.closed) {
        throw new NodeUnreachableError(address, "this node is closed");
      }
      return { link, peerNode };
    } catch (error) {
      link.close("handshake failed");
      if (this.closed && !isNodeUnreachableError(error)) {
        throw new NodeUnreachableError(
          address,
          "this node closed during the handshake",
          error,
        );
      }
      throw error;
    } finally {
      this.#handshakes.delete(link);
    }
  }

  /** The next handshake message, within what is left of the handshake's time. */
  #next(link: Link, deadline: number): Promise<RemoteMessage> {
    return link.next(this.clock, Math.max(1, deadline - this.clock.now()));
  }

  async #dialerHandshake(
    link: Link,
    expectedNode: string | undefined,
  ): Promise<string> {
    const s = this.#settings;
    const deadline = this.clock.now() + s.handshakeTimeoutMs;
    const dialerNonce = newNonce();
    link.send({
      kind: "hello",
      protocolVersion: PROTOCOL_VERSION,
      node: this.node,
      address: this.#address,
      cluster: s.cluster,
      nonce: dialerNonce,
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
    if (welcome.protocolVersion !== PROTOCOL_VERSION) {
      throw this.#refuse(
        link,
        "version",
        `protocol version ${welcome.protocolVersion} is not supported: ` +
          `this node speaks version ${PROTOCOL_VERSION}`,
      );
    }
    if (welcome.cluster !== s.cluster) {
      throw this.#refuse(
        link,
        "cluster",
        `cluster "${welcome.cluster}" is not "${s.cluster}"`,
      );
    }
    if (expectedNode !== undefined && welcome.node !== expectedNode) {
      throw this.#refuse(
        link,
        "node",
        `expected node "${expectedNode}" at this address, found "${welcome.node}"`,
      );
    }
    const facts = {
      cluster: s.cluster,
      dialerNode: this.node,
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
    return welcome.node;
  }

  /** Tells the other side why, logs it, and returns the error to throw. */
  #refuse(
    link: Link,
    code: string,
    reason: string,
    logger: LinkLogger = this.#logger,
  ): HandshakeRefusedError {
    const error = new HandshakeRefusedError(code, reason);
    this.#loggedRefusals.add(error);
    logger.error(`Refused ${link.description}`, error);
    link.sendAndClose({ kind: "refused", code, reason }, reason, this.clock);
    return error;
  }

  async #acceptLoop(): Promise<void> {
    while (!this.closed) {
      let conn: TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (!this.closed) this.#logger.error("Listener failed", error);
        return;
      }
      if (this.closed) {
        conn.close();
        return;
      }
      void this.#accept(conn);
    }
  }

  async #accept(conn: TcpConn): Promise<void> {
    conn.setNoDelay(true);
    const host = conn.remoteAddr.hostname;
    const remote = `${host}:${conn.remoteAddr.port}`;
    const source = sourceKey(host);
    // Until the peer has proved itself, what it makes us log goes through a rate limit, once
    // per connection (the catch below), not through the link.
    const log = this.#handshakeLogger;
    let logger: LinkLogger | null = null;
    const link = this.#link(conn, `connection from ${remote}`, {
      error: (message, error) => logger?.error(message, error),
    });
    if (this.#inboundHandshakes >= this.#settings.maxPendingHandshakes) {
      this.#refuse(
        link,
        "busy",
        `too many handshakes in progress (${this.#settings.maxPendingHandshakes})`,
        log,
      );
      return;
    }
    const fromSource = this.#handshakesBySource.get(source) ?? 0;
    const perSource = this.#settings.maxPendingHandshakesPerAddress;
    if (fromSource >= perSource) {
      // One address must not hold every slot and so lock the cluster's own nodes out.
      this.#refuse(
        link,
        "busy",
        `too many handshakes in progress from ${source} (${perSource})`,
        log,
      );
      return;
    }
    if (!this.#authFailures.allows(source)) {
      this.#refuse(link, "rate-limited", RATE_LIMITED, log);
      return;
    }
    this.#inboundHandshakes++;
    this.#handshakesBySource.set(source, fromSource + 1);
    this.#handshakes.add(link);
    try {
      const peerNode = await this.#listenerHandshake(link, source);
      logger = this.#logger;
      if (this.closed) {
        link.close("node closing");
        return;
      }
      const session = new Session(this, this.#system, link, peerNode);
      this.#sessions.add(session);
      link.onClose = () => {
        session.closed();
        this.#sessions.delete(session);
      };
      if (link.closed) {
        session.closed();
        this.#sessions.delete(session);
      }
    } catch (error) {
      // #refuse logs what it refuses; timeouts, the dialer's own refusals, oversized or
      // malformed frames and early closes are logged here: a failed handshake is never silent.
      if (!this.#loggedRefusals.has(error as object)) {
        log.error(`Handshake with ${link.description} failed`, error);
      }
      link.close("handshake failed");
    } finally {
      this.#inboundHandshakes--;
      const left = (this.#handshakesBySource.get(source) ?? 1) - 1;
      if (left > 0) this.#handshakesBySource.set(source, left);
      else this.#handshakesBySource.delete(source);
      this.#handshakes.delete(link);
    }
  }

  async #listenerHandshake(link: Link, source: string): Promise<string> {
    const s = this.#settings;
    const deadline = this.clock.now() + s.handshakeTimeoutMs;
    const log = this.#handshakeLogger;
    const hello = await this.#next(link, deadline);
    if (hello.kind !== "hello") {
      throw this.#refuse(
        link,
        "protocol",
        `expected hello, got ${hello.kind}`,
        log,
      );
    }
    if (hello.protocolVersion !== PROTOCOL_VERSION) {
      throw this.#refuse(
        link,
        "version",
        `protocol version ${hello.protocolVersion} is not supported: ` +
          `this node speaks version ${PROTOCOL_VERSION}`,
        log,
      );
    }
    if (hello.cluster !== s.cluster) {
      throw this.#refuse(
        link,
        "cluster",
        `cluster "${hello.cluster}" is not "${s.cluster}"`,
        log,
      );
    }
    if (hello.node === this.node) {
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
      listenerNode: this.node,
      dialerNonce: hello.nonce,
      listenerNonce,
    };
    // Nothing derived from the secret goes out before the dialer's proof has been checked.
    link.send({
      kind: "welcome",
      protocolVersion: PROTOCOL_VERSION,
      node: this.node,
      address: this.#address,
      cluster: s.cluster,
      nonce: listenerNonce,
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
    return hello.node;
  }

  #armHeartbeat(): void {
    this.#heartbeat = this.clock.setTimer(() => {
      this.#heartbeat = null;
      if (this.closed) return;
      for (const peer of this.#peers.values()) peer.heartbeat();
      for (const session of this.#sessions) session.heartbeat();
      this.#armHeartbeat();
    }, this.#settings.heartbeatIntervalMs);
    this.#heartbeat.unref();
  }

  /** Publishes a message that could not be sent as a dead letter. */
  deadLetter(
    node: string,
    path: string,
    type: string,
    payload: unknown,
    reason: "node-unreachable" | "mailbox-full" = "node-unreachable",
  ): void {
    this.#system.deadLetters.publish({
      recipient: formatAddress({ node, path }),
      messageType: type,
      payload,
      reason,
    });
  }
}

// ---- the dialing side: one Peer per remote node ------------------------------------------------

/**
 * What waits in a peer's outbox for the connection. Entries are encoded when they are queued, so
 * their size is checked then, and replaying them cannot fail on size.
 */
type Queued =
  | {
    readonly kind: "tells";
    readonly frame: Uint8Array;
    readonly tells: readonly Tell[];
    /** The values told, for dead letters. */
    readonly payloads: readonly unknown[];
  }
  | {
    readonly kind: "request";
    readonly frame: Uint8Array;
    readonly id: number;
  }
  | {
    readonly kind: "watch" | "unwatch";
    readonly frame: Uint8Array;
    readonly target: string;
  };

/** The local stand-in for a watched remote actor: watchers link to its device. */
interface WatchProxy {
  readonly device: Device;
  /** Whether the Watch went out (or into the outbox). */
  announced: boolean;
}

/** How many paths a peer remembers as stopped (the oldest are forgotten first). */
const MAX_STOPPED_PATHS = 10_000;

class Peer {
  readonly owner: NodeCore;
  readonly node: string;
  /** Where the node was last reached; {@linkcode NodeCore.connect} moves it. */
  address: string;
  readonly requests: RequestTable;
  #link: Link | null = null;
  #connecting = false;
  #attempt = 0;
  #retry: TimerHandle | null = null;
  #outbox: Queued[] = [];
  /** Messages in the outbox (each tell counts). */
  #outboxCount = 0;
  /** Tells not sent yet, encoded as they come; their values are kept for dead letters. */
  readonly #batch = new TellBatchWriter();
  #sendBufferFull = false;
  #tellPayloads: unknown[] = [];
  #flushScheduled = false;
  readonly #proxies = new Map<string, WatchProxy>();
  /** Paths whose proxies to check once the current task is done (see watchLine). */
  #unsettled: string[] = [];
  /** Paths of actors known to have stopped, oldest first. */
  readonly #stopped = new Set<string>();
  #silentTicks = 0;
  #shutdown = false;

  constructor(owner: NodeCore, node: string, address: string) {
    this.owner = owner;
    this.node = node;
    this.address = address;
    this.requests = new RequestTable(owner.clock);
  }

  get connected(): boolean {
    return this.#link !== null && !this.#link.closed;
  }

  /**
   * Takes a connection dialled at `address`. A second connection to the same address is closed
   * (order stays on one connection); one at another address means the node moved (a process
   * restarted elsewhere): the old connection is dropped, and reconnects go to the new address.
   */
  adopt(link: Link, address: string): void {
    if (this.#shutdown) {
      link.close("node closing");
      return;
    }
    const old = this.#link;
    if (old !== null && !old.closed) {
      if (address === this.address) {
        link.close("duplicate connection");
        return;
      }
      old.onClose = null;
      old.close(`node "${this.node}" moved to ${address}`);
      this.#link = null;
      this.#drop(
        new NodeUnreachableError(
          this.node,
          `it moved from ${this.address} to ${address}`,
        ),
      );
    }
    this.address = address;
    this.#cancelRetry();
    this.#link = link;
    this.#attempt = 0;
    this.#silentTicks = 0;
    link.onMessage = (m) => this.#onMessage(m);
    link.onClose = (error) => this.#lost(link, error);
    this.#replay(link);
    this.#scheduleFlush();
  }

  /** Sends what waited for the connection. Never throws: what cannot go out is accounted for. */
  #replay(link: Link): void {
    const outbox = this.#outbox;
    this.#outbox = [];
    this.#outboxCount = 0;
    for (let i = 0; i < outbox.length; i++) {
      const entry = outbox[i];
      if (link.closed) {
        // Lost again while replaying: keep the tells for the next connection (the requests and
        // watches were failed with the connection).
        const kept: Queued[] = outbox.slice(i).filter((e) =>
          e.kind === "tells"
        );
        this.#outbox = kept.concat(this.#outbox);
        this.#outboxCount = this.#countOf(this.#outbox);
        return;
      }
      if (
        entry.kind === "request" && this.requests.peek(entry.id) === undefined
      ) {
        // Timed out while queued: its caller has its answer; the other node must not act on it.
        continue;
      }
      if (!link.fits(entry.frame.byteLength)) {
        this.#give(
          entry,
          new NodeUnreachableError(this.node, "the send buffer to it is full"),
          "mailbox-full",
        );
        continue;
      }
      try {
        link.sendEncoded(entry.frame);
      } catch (error) {
        if (link.closed) {
          i--; // handled as a loss at the top of the loop
          continue;
        }
        this.#give(entry, error, "node-unreachable");
      }
    }
  }

  /** Gives up on a queued entry: its tells become dead letters, its request fails. */
  #give(
    entry: Queued,
    error: unknown,
    reason: "node-unreachable" | "mailbox-full",
  ): void {
    switch (entry.kind) {
      case "tells":
        for (let i = 0; i < entry.tells.length; i++) {
          this.owner.deadLetter(
            this.node,
            entry.tells[i].recipient,
            entry.tells[i].type,
            entry.payloads[i],
            reason,
          );
        }
        return;
      case "request":
        this.requests.fail(entry.id, error);
        return;
      case "watch": {
        const proxy = this.#proxies.get(entry.target);
        this.#proxies.delete(entry.target);
        proxy?.device.disconnect(errorFault(error));
        return;
      }
      case "unwatch":
        return;
    }
  }

  #cancelRetry(): void {
    if (this.#retry !== null) this.owner.clock.clearTimer(this.#retry);
    this.#retry = null;
  }

  #ensureConnecting(): void {
    if (
      this.connected || this.#connecting || this.#retry !== null ||
      this.#shutdown
    ) return;
    this.#connecting = true;
    const address = this.address;
    this.owner.dial(address, this.node).then(
      ({ link, peerNode }) => {
        this.#connecting = false;
        if (this.#shutdown) {
          link.close("node closing");
          return;
        }
        if (peerNode !== this.node) {
          link.close("wrong node");
          this.#failed(
            new NodeUnreachableError(
              this.node,
              `the node at ${address} is now "${peerNode}"`,
            ),
          );
          return;
        }
        if (address !== this.address) {
          // connect() moved the node meanwhile: this connection is to where it was.
          link.close("node moved");
          if (!this.connected) this.#ensureConnecting();
          return;
        }
        this.adopt(link, address);
      },
      (error) => {
        this.#connecting = false;
        // connect() may have succeeded meanwhile: then nothing failed.
        if (this.connected || this.#shutdown) return;
        this.#failed(
          error instanceof Error
            ? new NodeUnreachableError(this.node, error.message, error)
            : error,
        );
      },
    );
  }

  #lost(link: Link, error: unknown): void {
    if (this.#link !== link) return;
    this.#link = null;
    if (this.#shutdown) return;
    this.#failed(new NodeUnreachableError(this.node, "connection lost", error));
  }

  /** A connection attempt failed or the connection was lost: fail what waits, then retry. */
  #failed(error: unknown): void {
    this.#drop(error);
    if (this.#shutdown) return;
    const { minMs, maxMs, jitter = 0 } = this.owner.settings.reconnect;
    const delay = Math.min(maxMs, minMs * 2 ** this.#attempt++) *
      (1 + jitter * Math.random());
    // One reconnect timer at a time: a stale one would dial at the wrong time.
    this.#cancelRetry();
    this.#retry = this.owner.clock.setTimer(() => {
      this.#retry = null;
      // Reconnect only when something is waiting to be sent.
      if (this.#outbox.length > 0 || this.#batch.count > 0) {
        this.#ensureConnecting();
      }
    }, delay);
  }

  /**
   * What a connection carried is gone with it: requests fail, watchers are told, and only tells
   * stay queued (a request or watch waiting in the outbox was failed just now).
   */
  #drop(error: unknown): void {
    this.requests.failAll(error);
    this.#outbox = this.#outbox.filter((m) => m.kind === "tells");
    this.#outboxCount = this.#countOf(this.#outbox);
    const fault = errorFault(error);
    const proxies = [...this.#proxies.values()];
    this.#proxies.clear();
    for (const proxy of proxies) proxy.device.disconnect(fault);
  }

  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    this.#cancelRetry();
    const link = this.#link;
    // Tells told before close() still go out on a live connection.
    if (link !== null && !link.closed) this.#flush();
    const error = new NodeUnreachableError(this.node, "this node is closing");
    this.requests.failAll(error);
    this.requests.close();
    this.#link = null;
    if (link !== null && !link.closed) {
      link.onClose = null;
      link.sendAndClose(
        { kind: "goodbye", reason: "node closing" },
        "node closing",
        this.owner.clock,
      );
    }
    this.#discardBuffered("this node is closing");
    for (const proxy of this.#proxies.values()) {
      proxy.device.disconnect(errorFault(error));
    }
    this.#proxies.clear();
  }

  /** Every tell still buffered becomes a dead letter (`node-unreachable`), and is logged. */
  #discardBuffered(why: string): void {
    let dropped = 0;
    for (const entry of this.#outbox) {
      if (entry.kind === "tells") dropped += entry.tells.length;
      this.#give(
        entry,
        new NodeUnreachableError(this.node, why),
        "node-unreachable",
      );
    }
    this.#outbox = [];
    this.#outboxCount = 0;
    if (this.#batch.count > 0) {
      const payloads = this.#tellPayloads;
      const tells = this.#takeTells();
      dropped += tells.length;
      this.#give(
        { kind: "tells", frame: EMPTY_BODY, tells, payloads },
        undefined,
        "node-unreachable",
      );
    }
    if (dropped > 0) {
      this.owner.logger.error(
        `${dropped} tells for node "${this.node}" became dead letters`,
        new NodeUnreachableError(this.node, why),
      );
    }
  }

  heartbeat(): void {
    this.#sweepProxies();
    const link = this.#link;
    if (link === null || link.closed) return;
    if (link.receivedSinceTick) this.#silentTicks = 0;
    else this.#silentTicks++;
    link.receivedSinceTick = false;
    const s = this.owner.settings;
    if (this.#silentTicks * s.heartbeatIntervalMs >= s.heartbeatTimeoutMs) {
      link.close(
        `no frame from node "${this.node}" for ${s.heartbeatTimeoutMs} ms`,
        new NodeUnreachableError(this.node, "heartbeat timeout"),
      );
      return;
    }
    if (!link.sentSinceTick) {
      try {
        link.send({ kind: "ping", id: 0 });
      } catch {
        // The connection closed under us: its close handler took care of it.
      }
    }
    link.sentSinceTick = false;
  }

  /** Adds this peer's share of the node's internal counts. */
  count(counts: { -readonly [K in keyof RemoteNodeCounts]: number }): void {
    counts.watchProxies += this.#proxies.size;
    counts.stoppedPaths += this.#stopped.size;
    counts.buffered += this.#outboxCount + this.#batch.count;
    counts.pendingRequests += this.requests.size;
    if (this.#retry !== null) counts.reconnectTimers++;
  }

  // ---- sending -----------------------------------------------------------------------------

  tell(path: string, type: string, payload: unknown): void {
    if (this.#shutdown) {
      this.owner.deadLetter(this.node, path, type, payload);
      return;
    }
    const codecs = this.owner.codecs;
    const codec = codecs.nameFor(type);
    // JSON goes into the batch as text: no buffer of its own per tell.
    const text = codecs.jsonText(codec, type, payload);
    const body = text ?? codecs.encode(codec, type, payload);
    const batch = this.#batch;
    if (batch.count > 0) {
      // Keep the batch within the frame limit: only a tell over it on its own is refused.
      const bound = batch.byteLength + TELL_OVERHEAD_BYTES + body.length * 3 +
        (path.length + type.length + codec.length) * 3;
      if (bound > this.owner.settings.maxFrameBytes) this.#flush();
    }
    batch.add(path, type, codec, body);
    this.#tellPayloads.push(payload);
    // Bounded frames: a burst of tells never makes one oversized frame.
    if (
      batch.count >= TELLS_PER_FRAME || batch.byteLength >= BYTES_PER_FRAME
    ) {
      this.#flush();
    } else {
      this.#scheduleFlush();
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#batch.count === 0) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flushTask);
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const batch = this.#batch;
    if (batch.count === 0) return;
    const payloads = this.#tellPayloads;
    const link = this.#link;
    if (link !== null && !link.closed) {
      const frame = batch.finish();
      if (!link.fits(frame.byteLength)) {
        // The network is slower than the producer: refuse what does not fit, as a bounded
        // mailbox does, instead of buffering without bound or losing the connection.
        if (!this.#sendBufferFull) {
          this.#sendBufferFull = true;
          this.owner.logger.error(
            `Send buffer to node "${this.node}" is full; tells become dead letters until it drains`,
            undefined,
          );
        }
        const tells = this.#takeTells();
        this.#give(
          { kind: "tells", frame: EMPTY_BODY, tells, payloads },
          undefined,
          "mailbox-full",
        );
        return;
      }
      this.#sendBufferFull = false;
      try {
        link.sendEncoded(frame);
        batch.reset();
        this.#tellPayloads = [];
        return;
      } catch (error) {
        if (isFrameTooLargeError(error)) {
          // Over the frame limit, so never sendable: each of them is a dead letter.
          this.owner.logger.error(
            `Dropped ${batch.count} tells for node "${this.node}"`,
            error,
          );
          const tells = this.#takeTells();
          this.#give(
            { kind: "tells", frame: EMPTY_BODY, tells, payloads },
            error,
            "node-unreachable",
          );
          return;
        }
        // The connection closed under us: keep them for the next one, as below.
      }
    }
    // Not connected: keep them (boundedly) for when the connection is back.
    const tells = this.#takeTells();
    const room = Math.max(
      0,
      this.owner.settings.maxBufferedMessages - this.#outboxCount,
    );
    if (room < tells.length) {
      this.#give(
        {
          kind: "tells",
          frame: EMPTY_BODY,
          tells: tells.slice(room),
          payloads: payloads.slice(room),
        },
        undefined,
        "node-unreachable",
      );
    }
    if (room > 0) {
      this.#queueTells(tells.slice(0, room), payloads.slice(0, room));
    }
    this.#ensureConnecting();
  }

  /** Queues tells in frames within the frame limit; a tell over it alone is a dead letter. */
  #queueTells(tells: readonly Tell[], payloads: readonly unknown[]): void {
    if (tells.length === 0) return;
    const frame = encodeMessage({ kind: "tells", tells });
    const limit = this.owner.settings.maxFrameBytes;
    if (frame.byteLength <= limit) {
      this.#outbox.push({ kind: "tells", frame, tells, payloads });
      this.#outboxCount += tells.length;
      return;
    }
    if (tells.length === 1) {
      const error = new FrameTooLargeError(frame.byteLength, limit);
      this.owner.logger.error(
        `Dropped "${tells[0].type}" for "${
          tells[0].recipient
        }" on node "${this.node}"`,
        error,
      );
      this.#give(
        { kind: "tells", frame, tells, payloads },
        error,
        "node-unreachable",
      );
      return;
    }
    const half = tells.length >> 1;
    this.#queueTells(tells.slice(0, half), payloads.slice(0, half));
    this.#queueTells(tells.slice(half), payloads.slice(half));
  }

  /** Empties the batch into Tell objects (for the slow paths: buffering, dead letters). */
  #takeTells(): readonly Tell[] {
    // A copy: the writer's buffer is reused, the payloads are views into it.
    const message = decodeMessage(this.#batch.finish().slice());
    this.#batch.reset();
    this.#tellPayloads = [];
    return message.kind === "tells" ? message.tells : [];
  }

  #countOf(outbox: readonly Queued[]): number {
    let n = 0;
    for (const m of outbox) n += m.kind === "tells" ? m.tells.length : 1;
    return n;
  }

  /**
   * Queues an encoded message (a request or a watch) for the connection. Its size is checked
   * now, so the replay cannot fail on it.
   *
   * @throws {FrameTooLargeError} When it is over the frame limit.
   */
  #queue(entry: Queued): void {
    const limit = this.owner.settings.maxFrameBytes;
    if (entry.frame.byteLength > limit) {
      throw new FrameTooLargeError(entry.frame.byteLength, limit);
    }
    this.#outbox.push(entry);
    this.#outboxCount++;
    this.#ensureConnecting();
  }

  /** Sends a request and waits for its answer. */
  request(request: Request, timeoutMs: number | undefined): Promise<unknown> {
    if (this.#shutdown) {
      return Promise.reject(
        new NodeUnreachableError(this.node, "this node is closing"),
      );
    }
    const timeout = timeoutMs ?? this.owner.system.askTimeoutMs;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      return Promise.reject(
        new RangeError(
          `Invalid timeout ${String(timeoutMs)}: must be a finite number > 0`,
        ),
      );
    }
    const promise = this.requests.open(request, timeout);
    const id = request.id;
    this.#flush(); // tells sent before this request go first
    const link = this.#link;
    if (link !== null && !link.closed) {
      try {
        const frame = request.encode(id);
        if (link.fits(frame.byteLength)) link.sendEncoded(frame);
        else {
          this.requests.fail(
            id,
            new NodeUnreachableError(
              this.node,
              "the send buffer to it is full",
            ),
          );
        }
      } catch (error) {
        this.requests.fail(id, error);
      }
    } else if (this.#outboxCount >= this.owner.settings.maxBufferedMessages) {
      this.requests.fail(
        id,
        new NodeUnreachableError(
          this.node,
          "too many messages are waiting for the connection",
        ),
      );
    } else {
      try {
        // A copy: the encoding may be a view of a reused buffer.
        this.#queue({ kind: "request", frame: request.encode(id).slice(), id });
      } catch (error) {
        this.requests.fail(id, error);
      }
    }
    request.sent();
    return promise;
  }

  ask(
    path: string,
    type: string,
    payload: unknown,
    options: AskOptions | undefined,
  ): Promise<unknown> {
    const codecs = this.owner.codecs;
    let body: Uint8Array | string;
    let codec: string;
    try {
      codec = codecs.nameFor(type);
      // JSON goes into the frame as text: no buffer of its own.
      body = codecs.jsonText(codec, type, payload) ??
        codecs.encode(codec, type, payload);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = options?.timeoutMs ?? this.owner.system.askTimeoutMs;
    return this.request(
      new AskRequest(codecs, path, type, codec, body, Math.ceil(timeoutMs)),
      timeoutMs,
    );
  }

  stop(path: string): Promise<void> {
    return this.request(
      new PlainRequest(
        this.node,
        `stop of "${path}"`,
        (id) => ({ kind: "stop", id, path }),
        () => undefined,
      ),
      undefined,
    ) as Promise<void>;
  }

  // ---- death watch -------------------------------------------------------------------------

  /**
   * The line of the proxy device for the actor at `path`, which disconnects when that actor
   * stops or the node is lost. Watchers link to it right after this returns, unwatchers unlink
   * from it (ctx.unwatch also gets the line first), so once the current task is done the proxy
   * is settled: with watchers and not announced yet, the Watch goes out; with none left, it is
   * dropped and, if announced, an Unwatch goes out. The heartbeat settles proxies whose
   * watchers stopped.
   */
  watchLine(path: string): Line {
    if (this.#shutdown) {
      const gone = new Device();
      gone.disconnect(
        errorFault(new NodeUnreachableError(this.node, "this node is closed")),
      );
      return gone.line;
    }
    let proxy = this.#proxies.get(path);
    if (proxy === undefined) {
      proxy = { device: new Device(), announced: false };
      this.#proxies.set(path, proxy);
    }
    if (this.#unsettled.push(path) === 1) queueMicrotask(this.#settleTask);
    return proxy.device.line;
  }

  readonly #settleTask = (): void => {
    const paths = this.#unsettled;
    this.#unsettled = [];
    for (const path of paths) this.#settle(path);
  };

  #settle(path: string): void {
    const proxy = this.#proxies.get(path);
    if (proxy === undefined) return;
    if (proxy.device.watchers().length === 0) {
      this.#proxies.delete(path);
      proxy.device.disconnect();
      if (proxy.announced) this.#control({ kind: "unwatch", target: path });
    } else if (!proxy.announced) {
      proxy.announced = true;
      this.#control({ kind: "watch", target: path });
    }
  }

  #sweepProxies(): void {
    for (const [path, proxy] of this.#proxies) {
      if (proxy.announced) this.#settle(path);
    }
  }

  /** Sends a Watch or Unwatch, or queues it while there is no connection. */
  #control(message: WatchMessage | UnwatchMessage): void {
    if (this.#shutdown) return;
    const link = this.#link;
    let frame: Uint8Array;
    try {
      frame = encodeMessage(message);
      if (link === null || link.closed) {
        this.#queue({ kind: message.kind, frame, target: message.target });
        return;
      }
      link.sendEncoded(frame);
    } catch (error) {
      // Too large to ever go out (or the connection closed under us, which told the watchers).
      if (message.kind === "watch") {
        this.#give(
          { kind: "watch", frame: EMPTY_BODY, target: message.target },
          error,
          "node-unreachable",
        );
      }
    }
  }

  isStopped(path: string): boolean {
    return this.#stopped.has(path);
  }

  /** The actor at `path` answered (or was found, or spawned): it runs. */
  markRunning(path: string): void {
    this.#stopped.delete(path);
  }

  #markStopped(path: string): void {
    const stopped = this.#stopped;
    stopped.delete(path);
    stopped.add(path);
    if (stopped.size > MAX_STOPPED_PATHS) {
      stopped.delete(stopped.values().next().value!);
    }
  }

  // ---- receiving -----------------------------------------------------------------------------

  #onMessage(message: RemoteMessage): void {
    switch (message.kind) {
      case "reply":
        if (this.#stopped.size > 0) {
          const target = this.requests.peek(message.id)?.target;
          if (target !== undefined) this.#stopped.delete(target);
        }
        this.requests.answer(message.id, message.payload);
        return;
      case "failure":
        if (message.code === "ACTOR_STOPPED") {
          const target = this.requests.peek(message.id)?.target;
          if (target !== undefined) this.#markStopped(target);
        }
        this.requests.fail(
          message.id,
          new RemoteFailureError(
            this.node,
            message.code,
            message.name,
            message.message,
          ),
        );
        return;
      case "pong":
        return;
      case "terminated": {
        const proxy = this.#proxies.get(message.target);
        this.#proxies.delete(message.target);
        this.#markStopped(message.target);
        proxy?.device.disconnect(
          message.fault === "" ? undefined : errorFault(
            new RemoteFailureError(
              this.node,
              message.fault,
              "Stopped",
              message.reason,
            ),
          ),
        );
        return;
      }
      case "goodbye":
        this.#link?.close(
          `node "${this.node}" said goodbye: ${message.reason}`,
        );
        return;
      default:
        this.#link?.close(
          `unexpected "${message.kind}" from node "${this.node}"`,
          new RemoteFailureError(
            this.node,
            "MALFORMED_FRAME",
            "ProtocolError",
            `unexpected ${message.kind}`,
          ),
        );
    }
  }
}

// ---- requests ----------------------------------------------------------------------------------

/** A request to a peer: how it goes on the wire, and how its answer and failures are read. */
abstract class Request extends Pending {
  /** The request as a message (for the outbox while there is no connection). */
  abstract build(id: number): RemoteMessage;

  /** The request as bytes; may be a view of a reused buffer (the link copies it at once). */
  encode(id: number): Uint8Array {
    return encodeMessage(this.build(id));
  }

  /** Called once the request went out or into the outbox: let go of what only sending needed. */
  sent(): void {}
}

/** A lookup, spawn or stop. */
class PlainRequest extends Request {
  readonly #node: string;
  readonly #describe: string;
  readonly #build: (id: number) => RemoteMessage;
  readonly #decode: (payload: Uint8Array) => unknown;

  constructor(
    node: string,
    describe: string,
    build: (id: number) => RemoteMessage,
    decode: (payload: Uint8Array) => unknown,
  ) {
    super();
    this.#node = node;
    this.#describe = describe;
    this.#build = build;
    this.#decode = decode;
  }

  build(id: number): RemoteMessage {
    return this.#build(id);
  }

  decode(answer: Uint8Array): unknown {
    return this.#decode(answer);
  }

  timeout(): unknown {
    return new AskTimeoutError(
      `${this.#node}/${this.#describe}`,
      this.#describe,
      this.timeoutMs,
    );
  }
}

const EMPTY_BODY = new Uint8Array(0);

/** An ask of a remote actor; its failures are the errors a local ref would give. */
class AskRequest extends Request {
  readonly #codecs: MessageCodecs;
  readonly #path: string;
  readonly #type: string;
  readonly #codec: string;
  #body: Uint8Array | string;
  readonly #wireTimeoutMs: number;

  constructor(
    codecs: MessageCodecs,
    path: string,
    type: string,
    codec: string,
    body: Uint8Array | string,
    wireTimeoutMs: number,
  ) {
    super();
    this.target = path;
    this.#codecs = codecs;
    this.#path = path;
    this.#type = type;
    this.#codec = codec;
    this.#body = body;
    this.#wireTimeoutMs = wireTimeoutMs;
  }

  override encode(id: number): Uint8Array {
    return encodeAskView(
      id,
      this.#path,
      this.#type,
      this.#codec,
      this.#body,
      this.#wireTimeoutMs,
    );
  }

  build(id: number): RemoteMessage {
    const body = this.#body;
    return {
      kind: "ask",
      id,
      recipient: this.#path,
      type: this.#type,
      codec: this.#codec,
      payload: typeof body === "string" ? encoder.encode(body) : body,
      timeoutMs: this.#wireTimeoutMs,
    };
  }

  override sent(): void {
    this.#body = EMPTY_BODY;
  }

  decode(answer: Uint8Array): unknown {
    return this.#codecs.decode(this.#codec, this.#type, answer);
  }

  timeout(): unknown {
    return new AskTimeoutError(this.#path, this.#type, this.timeoutMs);
  }

  /** Maps a remote failure to the error a local ref would give. */
  override failure(error: unknown): unknown {
    const path = this.#path;
    const type = this.#type;
    if (error instanceof AskTimeoutError) {
      return new AskTimeoutError(path, type, error.timeoutMs);
    }
    if (!(error instanceof RemoteFailureError)) return error;
    switch (error.remoteCode) {
      case "ASK_TIMEOUT":
        return new AskTimeoutError(path, type, NaN);
      case "ACTOR_STOPPED":
        return new ActorStoppedError(path, type);
      case "MESSAGE_NOT_HANDLED":
        return new MessageNotHandledError(path, "remote", type);
      case "MAILBOX_FULL":
        return new MailboxFullError(
          path,
          type,
          Number(/capacity (\d+)/.exec(error.message)?.[1] ?? NaN),
        );
      case "CODEC_UNKNOWN":
        return new CodecError(error.message);
      case "FRAME_TOO_LARGE": {
        // The answer was too large to send: the same error as an ask too large to send.
        const sizes = /Frame of (\d+) bytes is over the limit of (\d+) bytes/
          .exec(error.message);
        return sizes === null
          ? error
          : new FrameTooLargeError(Number(sizes[1]), Number(sizes[2]));
      }
      default:
        return error;
    }
  }
}

// ---- a remote actor's ref ----------------------------------------------------------------------

class RemoteActorRef implements ActorRef<UnknownProtocol> {
  readonly #peer: Peer;
  readonly path: string;
  readonly address: { readonly node: string; readonly path: string };

  constructor(peer: Peer, path: string) {
    this.#peer = peer;
    this.path = path;
    this.address = Object.freeze({ node: peer.node, path });
  }

  get id(): string {
    return this.path.slice(this.path.lastIndexOf("/") + 1);
  }

  get stopped(): boolean {
    return this.#peer.isStopped(this.path);
  }

  tell(type: string, payload?: unknown): void {
    this.#peer.tell(this.path, type, payload);
  }

  ask(type: string, payload?: unknown, options?: AskOptions): Promise<never> {
    return this.#peer.ask(this.path, type, payload, options) as Promise<never>;
  }

  stop(): Promise<void> {
    return this.#peer.stop(this.path);
  }

  toJSON(): string {
    return formatAddress(this.address);
  }

  [WATCH_LINE](): Line {
    return this.#peer.watchLine(this.path);
  }
}

// ---- the listening side: one Session per accepted connection ------------------------------------

class Session {
  readonly owner: NodeCore;
  readonly system: ActorSystem;
  readonly link: Link;
  readonly peerNode: string;
  #refs = new Map<string, ActorRef<UnknownProtocol>>();
  /** Local actors watched for the other node: a device linked to each, by path. */
  #watches = new Map<string, { device: Device; line: Line }>();
  #silentTicks = 0;
  #open = true;

  constructor(
    owner: NodeCore,
    system: ActorSystem,
    link: Link,
    peerNode: string,
  ) {
    this.owner = owner;
    this.system = system;
    this.link = link;
    this.peerNode = peerNode;
    link.onMessage = (m) => this.#onMessage(m);
  }

  /** How many local actors this session watches for the other node. */
  get watchCount(): number {
    return this.#watches.size;
  }

  closed(): void {
    this.#open = false;
    for (const target of [...this.#watches.keys()]) this.#unwatch(target);
    this.#refs.clear();
  }

  heartbeat(): void {
    if (this.link.receivedSinceTick) this.#silentTicks = 0;
    else this.#silentTicks++;
    this.link.receivedSinceTick = false;
    const s = this.owner.settings;
    if (this.#silentTicks * s.heartbeatIntervalMs >= s.heartbeatTimeoutMs) {
      this.link.close(
        `no frame from node "${this.peerNode}" for ${s.heartbeatTimeoutMs} ms`,
        new NodeUnreachableError(this.peerNode, "heartbeat timeout"),
      );
    }
  }

  #ref(path: string): ActorRef<UnknownProtocol> | undefined {
    const cached = this.#refs.get(path);
    if (cached !== undefined && !cached.stopped) return cached;
    const ref = this.system.lookup(path);
    if (ref === undefined) {
      this.#refs.delete(path);
      return undefined;
    }
    if (this.#refs.size < 10_000) this.#refs.set(path, ref);
    return ref;
  }

  // One message that cannot go out (too large, or not encodable) is lost alone, never the
  // connection; a reply that cannot go out fails its request instead.
  #send(message: RemoteMessage): void {
    if (!this.#open || this.link.closed) return;
    try {
      this.link.send(message);
    } catch (error) {
      if (this.link.closed) return; // the transport closed it (its buffer limit) and said why
      this.owner.logger.error(
        `Cannot send "${message.kind}" to node "${this.peerNode}"`,
        error,
      );
      if (message.kind === "reply") this.#fail(message.id, error);
    }
  }

  // A reply never costs the connection: one too large for a frame, or for the send buffer now,
  // fails the ask instead (a Failure is small).
  #sendReply(id: number, codec: string, body: Uint8Array | string): void {
    if (!this.#open || this.link.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeReplyView(id, codec, body);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    const limit = this.owner.settings.maxFrameBytes;
    if (bytes.byteLength > limit) {
      this.#fail(id, new FrameTooLargeError(bytes.byteLength, limit));
      return;
    }
    if (!this.link.fits(bytes.byteLength)) {
      this.#fail(
        id,
        new NodeUnreachableError(
          this.owner.node,
          `the send buffer to node "${this.peerNode}" is full`,
        ),
      );
      return;
    }
    try {
      this.link.sendEncoded(bytes);
    } catch (error) {
      if (isFrameTooLargeError(error)) this.#fail(id, error);
      else this.link.close("cannot send", error);
    }
  }

  // Names and messages are cut to what fits a frame, so no error fails to go out.
  #fail(id: number, error: unknown): void {
    const e = error as { name?: unknown; message?: unknown } | null;
    const bound = errorTextBound(this.owner.settings.maxFrameBytes);
    this.#send({
      kind: "failure",
      id,
      code: errorCode(error),
      name: truncateErrorText(
        typeof e?.name === "string" ? e.name : "Error",
        bound,
      ),
      message: truncateErrorText(
        typeof e?.message === "string" ? e.message : String(error),
        bound,
      ),
    });
  }

  #onMessage(message: RemoteMessage): void {
    switch (message.kind) {
      case "tells":
        for (const tell of message.tells) this.#deliver(tell);
        return;
      case "ask":
        this.#ask(
          message.id,
          message.recipient,
          message.type,
          message.codec,
          message.payload,
          message.timeoutMs,
        );
        return;
      case "ping":
        this.#send({ kind: "pong", id: message.id });
        return;
      case "watch":
        this.#watch(message.target);
        return;
      case "unwatch":
        this.#unwatch(message.target);
        return;
      case "lookup":
        this.#send({
          kind: "reply",
          id: message.id,
          codec: "json",
          payload: encoder.encode(this.#ref(message.path) ? "1" : "0"),
        });
        return;
      case "stop": {
        const ref = this.#ref(message.path);
        const done = ref === undefined ? Promise.resolve() : ref.stop();
        done.then(
          () =>
            this.#send({
              kind: "reply",
              id: message.id,
              codec: "json",
              payload: new Uint8Array(0),
            }),
          (error) => this.#fail(message.id, error),
        );
        return;
      }
      case "spawn":
        this.#spawn(
          message.id,
          message.factory,
          message.actorId,
          message.codec,
          message.args,
        );
        return;
      case "goodbye":
        this.link.close(
          `node "${this.peerNode}" said goodbye: ${message.reason}`,
        );
        return;
      default:
        this.link.close(
          `unexpected "${message.kind}" from node "${this.peerNode}"`,
          new RemoteFailureError(
            this.peerNode,
            "MALFORMED_FRAME",
            "ProtocolError",
            `unexpected ${message.kind}`,
          ),
        );
    }
  }

  #deliver(tell: Tell): void {
    let payload: unknown;
    try {
      payload = this.owner.codecs.decode(tell.codec, tell.type, tell.payload);
    } catch (error) {
      this.owner.logger.error(
        `Dropped "${tell.type}" for "${tell.recipient}" from node "${this.peerNode}"`,
        error,
      );
      this.system.deadLetters.publish({
        recipient: tell.recipient,
        messageType: tell.type,
        payload: tell.payload,
        reason: "not-handled",
      });
      return;
    }
    const ref = this.#ref(tell.recipient);
    if (ref === undefined) {
      this.system.deadLetters.publish({
        recipient: tell.recipient,
        messageType: tell.type,
        payload,
        reason: "actor-stopped",
      });
      return;
    }
    try {
      ref.tell(tell.type, payload);
    } catch (error) {
      // A bounded mailbox with the reject policy: the message is already a dead letter.
      void error;
    }
  }

  #ask(
    id: number,
    path: string,
    type: string,
    codec: string,
    bytes: Uint8Array,
    timeoutMs: number,
  ): void {
    let payload: unknown;
    try {
      payload = this.owner.codecs.decode(codec, type, bytes);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    const ref = this.#ref(path);
    if (ref === undefined) {
      this.#fail(id, new ActorStoppedError(path, type));
      return;
    }
    ref.ask(type, payload, { timeoutMs: timeoutMs > 0 ? timeoutMs : undefined })
      .then(
        (result) => {
          const codecs = this.owner.codecs;
          let body: Uint8Array | string;
          try {
            // JSON goes into the frame as text: no buffer of its own.
            body = codecs.jsonText(codec, type, result) ??
              codecs.encode(codec, type, result);
          } catch (error) {
            this.#fail(id, error);
            return;
          }
          this.#sendReply(id, codec, body);
        },
        (error) => this.#fail(id, error),
      );
  }

  #watch(target: string): void {
    if (this.#watches.has(target)) return;
    const ref = this.#ref(target);
    if (ref === undefined) {
      this.#send({
        kind: "terminated",
        target,
        fault: "",
        reason: "not running",
      });
      return;
    }
    // A device of its own per watch, so an Unwatch or the end of the session unlinks it.
    const watch = {
      device: new Device({
        onMessage: (message: DeviceMessage) => {
          if (message.kind !== "disconnected") return;
          if (this.#watches.get(target) !== watch) return;
          this.#unwatch(target);
          const fault = message.fault;
          this.#send({
            kind: "terminated",
            target,
            fault: fault === undefined ? "" : fault.kind,
            reason: fault === undefined
              ? "stopped"
              : describeFaultShort(fault, this.owner.settings.maxFrameBytes),
          });
        },
      }),
      line: watchLineOf(ref),
    };
    this.#watches.set(target, watch);
    watch.device.linkLine(watch.line, LinkMode.Monitor);
  }

  #unwatch(target: string): void {
    const watch = this.#watches.get(target);
    if (watch === undefined) return;
    this.#watches.delete(target);
    watch.device.unlinkLine(watch.line, LinkMode.Monitor);
    watch.device.disconnect();
  }

  #spawn(
    id: number,
    factory: string,
    actorId: string,
    codec: string,
    args: Uint8Array,
  ): void {
    const definition = this.owner.factory(factory);
    if (definition === undefined) {
      this.#fail(
        id,
        Object.assign(
          new Error(
            `No factory "${factory}" is registered on node "${this.owner.node}"`,
          ),
          { code: "FACTORY_UNKNOWN", name: "FactoryUnknownError" },
        ),
      );
      return;
    }
    let decoded: unknown;
    try {
      decoded = this.owner.codecs.decode(codec, factory, args);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    this.system.spawn(
      definition,
      decoded,
      actorId === "" ? {} : { id: actorId },
    ).then(
      (ref) =>
        this.#send({
          kind: "reply",
          id,
          codec: "json",
          payload: encoder.encode(ref.path),
        }),
      (error) => this.#fail(id, error),
    );
  }
}

/**
 * The bound for one error text field: MAX_ERROR_TEXT_BYTES, or less when frames are small, so
 * that two such fields and the rest of a Failure or Terminated frame always fit.
 */
function errorTextBound(maxFrameBytes: number): number {
  return Math.max(
    64,
    Math.min(MAX_ERROR_TEXT_BYTES, Math.floor((maxFrameBytes - 1024) / 2)),
  );
}

/** A stop's reason for a Terminated notice, cut to what fits a frame. */
function describeFaultShort(
  fault: { kind: string; error?: unknown },
  maxFrameBytes: number,
): string {
  const error = fault.error;
  if (error instanceof Error) {
    return truncateErrorText(
      `${error.name}: ${error.message}`,
      errorTextBound(maxFrameBytes),
    );
  }
  return fault.kind;
}

/**
 * Internal counts of a {@linkcode RemoteNode}, for tests and diagnostics: what death watch,
 * buffering and reconnecting hold on to. Not part of the package's API.
 */
export interface RemoteNodeCounts {
  /** Proxy devices standing for watched actors on other nodes. */
  readonly watchProxies: number;
  /** Paths of actors on other nodes remembered as stopped. */
  readonly stoppedPaths: number;
  /** Watches of this node's actors held for other nodes. */
  readonly watchedForOthers: number;
  /** Messages waiting to be sent. */
  readonly buffered: number;
  /** Requests waiting for an answer. */
  readonly pendingRequests: number;
  /** Reconnect timers armed. */
  readonly reconnectTimers: number;
}

let coreOf: (node: RemoteNode) => NodeCore;

/**
 * Reads a node's internal counts (see {@linkcode RemoteNodeCounts}). For tests; not exported
 * from the package.
 *
 * @param node The node.
 * @returns The counts now.
 *
 * @example Usage
 * ```ts ignore
 * const { watchProxies } = remoteNodeCounts(node);
 * ```
 */
export function remoteNodeCounts(node: RemoteNode): RemoteNodeCounts {
  return coreOf(node).counts();
}

/**
 * Connects an actor system to other nodes over TCP (optionally TLS): remote refs with the
 * same API as local ones, lookups and spawns on other nodes, and death watch across nodes.
 *
 * Every connection starts with a handshake (protocol version, node, cluster, and mutual
 * authentication by HMAC over fresh nonces with the shared secret, the dialing side proving
 * first); a mismatch is refused with a clear reason on both sides. Before authentication a
 * connection may send only small frames, handshakes in progress are capped, and failed proofs
 * are rate-limited per source address. Messages from one sender to one actor arrive in order and are
 * handled one at a time. When a connection is lost, every ask waiting on it rejects at once
 * with `NodeUnreachableError`, watchers of its actors are told, and the node reconnects with
 * backoff (one timer at a time) while buffering (boundedly) what is sent meanwhile; a node that
 * comes back elsewhere is followed with {@linkcode RemoteNode.connect} to its new address.
 *
 * Death watch holds nothing once it ends: an unwatch (or the end of every watcher) is sent to
 * the other node, which lets go of the actor, and an actor respawned at the same path can be
 * watched again (its ref's `stopped` is what the node last learnt: a stop notice or a failed ask
 * sets it, an answer, a lookup or a spawn clears it).
 *
 * A remote error's name and message, and a stop's reason, travel cut to 16 KiB of UTF-8 (ending
 * in `… (truncated, N chars)`), and an answer too large for a frame rejects the ask with
 * `FrameTooLargeError`: no single reply or notice costs the connection.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, defineActor, RemoteNode } from "@troupe/troupe";
 * const echo = defineActor({ name: "echo", init: () => ({}), handlers: { echo: (_s, text: string) => text } });
 * await using a = new ActorSystem({ node: "a" });
 * await using b = new ActorSystem({ node: "b" });
 * await b.spawn(echo, undefined, { id: "echo" });
 * await using nodeA = await RemoteNode.start(a, { cluster: "demo", secret: "correct horse battery" });
 * await using nodeB = await RemoteNode.start(b, { cluster: "demo", secret: "correct horse battery" });
 * await nodeA.connect(nodeB.address);
 * const ref = nodeA.ref<{ echo(text: string): string }>("b", "echo");
 * console.log(await ref.ask("echo", "hi")); // "hi"
 * ```
 */
export class RemoteNode implements AsyncDisposable {
  readonly #core: NodeCore;

  static {
    coreOf = (node) => node.#core;
  }

  private constructor(core: NodeCore) {
    this.#core = core;
  }

  /**
   * Starts a node for `system`: listens, and is ready to connect to others.
   *
   * @param system The actor system (its `node` name is this node's name).
   * @param options Cluster, secret, network and codec options.
   * @returns The running node.
   * @throws {TypeError} When an option is invalid.
   * @throws {RangeError} When a number is out of range, or a secret is shorter than 16 bytes.
   */
  static async start(
    system: ActorSystem,
    options: RemoteNodeOptions,
  ): Promise<RemoteNode> {
    return new RemoteNode(await NodeCore.start(system, options));
  }

  /** This node's name (the actor system's `node`). */
  get node(): string {
    return this.#core.node;
  }

  /** The address others connect to, `host:port`. */
  get address(): string {
    return this.#core.address;
  }

  /** The actor system. */
  get system(): ActorSystem {
    return this.#core.system;
  }

  /** How many authenticated connections from other nodes are open (a diagnostic). */
  get inboundConnections(): number {
    return this.#core.inboundConnections;
  }

  /**
   * Registers an actor type by name, so other nodes can spawn it here.
   *
   * @param name The factory name.
   * @param definition The actor type.
   * @throws {TypeError} When the name is taken or invalid.
   */
  register<A, S, H extends Handlers<S>>(
    name: string,
    definition: ActorDefinition<A, S, H>,
  ): void {
    this.#core.register(name, definition);
  }

  /**
   * Connects to the node at `address` (if not connected yet) and learns its name. The node's
   * known address becomes `address`, so reconnects dial it; a node connected at another address
   * has moved (a process restarted elsewhere): its old connection is dropped as lost.
   *
   * @param address `host:port`.
   * @returns The node's name.
   * @throws {HandshakeRefusedError} When either side refuses the handshake.
   * @throws {NodeUnreachableError} When the node cannot be reached.
   */
  connect(address: string): Promise<string> {
    return this.#core.connect(address);
  }

  /**
   * A ref to an actor on another node (or this one). Messages are typed by `P`.
   *
   * @param node The node's name (connected before with {@linkcode RemoteNode.connect}).
   * @param path The actor's path there.
   * @returns The ref.
   * @throws {TypeError} When the node is unknown, or the actor is not running on this node.
   */
  ref<P = UnknownProtocol>(node: string, path: string): ActorRef<P>;
  /**
   * A ref from an address string `troupe://node/path` (as refs serialize).
   *
   * @param address The address.
   * @returns The ref.
   * @throws {TypeError} When the address is invalid or its node unknown.
   */
  ref<P = UnknownProtocol>(address: string): ActorRef<P>;
  ref<P = UnknownProtocol>(nodeOrAddress: string, path?: string): ActorRef<P> {
    return path === undefined
      ? this.#core.ref<P>(nodeOrAddress)
      : this.#core.ref<P>(nodeOrAddress, path);
  }

  /**
   * Looks an actor up on another node.
   *
   * @param node The node's name.
   * @param path The actor's path there.
   * @param options Timeout.
   * @returns Its ref, or `undefined` when no actor runs at `path`.
   */
  lookup<P = UnknownProtocol>(
    node: string,
    path: string,
    options?: AskOptions,
  ): Promise<ActorRef<P> | undefined> {
    return this.#core.lookup<P>(node, path, options);
  }

  /**
   * Spawns an actor on another node from a factory registered there.
   *
   * @param node The node's name.
   * @param factory The factory name (see {@linkcode RemoteNode.register}).
   * @param args The start arguments (encoded with the JSON codec).
   * @param options The actor's id, and a timeout.
   * @returns A ref to the new actor.
   * @throws {RemoteFailureError} When the remote spawn failed (unknown factory, start failure, ...).
   */
  spawn<P = UnknownProtocol>(
    node: string,
    factory: string,
    args: unknown,
    options?: { readonly id?: string; readonly timeoutMs?: number },
  ): Promise<ActorRef<P>> {
    return this.#core.spawn<P>(node, factory, args, options);
  }

  /** The nodes this node knows, and whether each is connected. */
  peers(): PeerInfo[] {
    return this.#core.peers();
  }

  /**
   * Closes the node: sends the tells told so far on live connections, says goodbye to peers,
   * refuses handshakes in progress (code `closing`), closes every connection and the listener,
   * rejects every request still waiting, and makes every tell still buffered for an unreachable
   * node a dead letter (reason `node-unreachable`). Resolves once every socket is released.
   * Idempotent.
   */
  close(): Promise<void> {
    return this.#core.close();
  }

  /** Closes the node (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
