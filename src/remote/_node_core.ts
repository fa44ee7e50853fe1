// The node that composes the parts of remoting: its listener and accept loop, the handshakes,
// one association per other node (both directions of it: see _association.ts), registered
// factories, the heartbeat, and close(). RemoteNode (node.ts) is its public face.
import {
  type ActorDefinition,
  type ActorRef,
  type ActorSystem,
  type AskOptions,
  formatAddress,
  type Handlers,
  parseAddress,
  type UnknownProtocol,
} from "../actor/mod.ts";
import {
  type ListenOptions,
  platform,
  type TcpConn,
  type TcpListener,
  type TimerHandle,
} from "../platform/mod.ts";
import type { Clock } from "../timer/mod.ts";
import { type Handshaken, Handshakes } from "./_handshakes.ts";
import type { RemoteLogger } from "./_link.ts";
import type { PeerChange, PeerInfo, RemoteNodeCounts } from "./node.ts";
import { Associations } from "./_associations.ts";
import type { Peer } from "./_peer.ts";
import { RemoteActorRef } from "./_remote_ref.ts";
import { PlainRequest } from "./_requests.ts";
import {
  type AuthFailureSettings,
  type NodeContext,
  resolveSettings,
  type Settings,
} from "./_settings.ts";
import { MessageCodecs } from "./codecs.ts";
import { type ExtensionChannel, ExtensionRegistry } from "./extension.ts";
import { NodeUnreachableError } from "./errors.ts";
import { importSecret } from "./handshake.ts";
import type { RemoteNodeOptions } from "./options.ts";

const CONSOLE: RemoteLogger = {
  error(message, error) {
    console.error(
      `[troupe remote] ${message}:`,
      error instanceof Error ? error.message : error,
    );
  },
};

const decoder = new TextDecoder();
/** How long close() lets goodbyes and refusals reach the socket before it cuts connections. */
const CLOSE_FLUSH_MS = 1000;

export class NodeCore implements NodeContext {
  readonly #system: ActorSystem;
  readonly #settings: Settings;
  readonly #codecs: MessageCodecs;
  readonly #logger: RemoteLogger;
  readonly #listener: TcpListener;
  readonly #address: string;
  readonly #handshakes: Handshakes;
  readonly #extensions: ExtensionRegistry;
  readonly #factories = new Map<
    string,
    ActorDefinition<unknown, unknown, Handlers<unknown>>
  >();
  readonly #associations: Associations = new Associations(this);
  #accepting: Promise<void> = Promise.resolve();
  #closing: Promise<void> | null = null;
  #heartbeat: TimerHandle | null = null;

  constructor(
    system: ActorSystem,
    keys: readonly CryptoKey[],
    authFailures: AuthFailureSettings,
    settings: Settings,
    codecs: MessageCodecs,
    extensions: ExtensionRegistry,
    logger: RemoteLogger,
    listener: TcpListener,
  ) {
    this.#system = system;
    this.#extensions = extensions;
    this.#settings = settings;
    this.#codecs = codecs;
    this.#logger = logger;
    this.#listener = listener;
    this.#address = `${listener.addr.hostname}:${listener.addr.port}`;
    this.#handshakes = new Handshakes({
      node: system.node,
      address: this.#address,
      keys,
      settings,
      authFailures,
      clock: this.clock,
      logger,
      closed: () => this.closed,
      extensions: extensions.names,
    });
    this.#accepting = this.#acceptLoop();
    this.#armHeartbeat();
  }

  /** See RemoteNode.start. */
  static async start(
    system: ActorSystem,
    options: RemoteNodeOptions,
  ): Promise<NodeCore> {
    const { settings, authFailures, secrets } = resolveSettings(options);
    const codecs = new MessageCodecs(options);
    const extensions = new ExtensionRegistry(options.extensions);
    const keys = await Promise.all(
      secrets.map((secret) => importSecret(secret)),
    );
    const listenOptions: ListenOptions = {
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      ...(options.tls === undefined ? {} : { tls: options.tls }),
    } as ListenOptions;
    const listener = await settings.transport.listen(listenOptions);
    return new NodeCore(
      system,
      keys,
      authFailures,
      settings,
      codecs,
      extensions,
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

  /** See RemoteNode.register. */
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

  /** See RemoteNode.connect. */
  async connect(address: string): Promise<string> {
    this.#checkOpen();
    const link = await this.dial(address);
    if (this.closed) {
      link.link.close("node closing");
      throw new NodeUnreachableError(this.node, "this node is closed");
    }
    // The address that answered is where the node is now: reconnects go there.
    this.#associations.dialed(link, address);
    return link.peerNode;
  }

  /** See RemoteNode.ref. @throws {TypeError} When the node is unknown. */
  ref<P = UnknownProtocol>(node: string, path: string): ActorRef<P>;
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

  /** See RemoteNode.lookup. */
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
    peer.watches.markRunning(path);
    return new RemoteActorRef(peer, path) as unknown as ActorRef<P>;
  }

  /** See RemoteNode.spawn. */
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
    peer.watches.markRunning(path);
    return new RemoteActorRef(peer, path) as unknown as ActorRef<P>;
  }

  /** How many authenticated connections from other nodes are open (a diagnostic). */
  get inboundConnections(): number {
    return this.#associations.inbound;
  }

  /** Internal counts (see {@linkcode remoteNodeCounts}). */
  counts(): RemoteNodeCounts {
    return this.#associations.counts();
  }

  /** The nodes this node is associated with, once each, and their connections. */
  peers(): PeerInfo[] {
    return this.#associations.peers();
  }

  /** See RemoteNode.onPeerChange. */
  onPeerChange(listener: (change: PeerChange) => void): () => void {
    return this.#associations.onChange(listener);
  }

  /** See RemoteNode.disconnect. @throws {TypeError} On a bad argument, or this node's name. */
  disconnect(node: string, reason: string): void {
    if (typeof node !== "string" || node.length === 0) {
      throw new TypeError(`Invalid node name ${JSON.stringify(node)}`);
    }
    if (typeof reason !== "string") {
      throw new TypeError(`Invalid reason ${JSON.stringify(reason)}`);
    }
    if (node === this.node) {
      throw new TypeError(`Cannot disconnect node "${node}" from itself`);
    }
    this.#associations.disconnect(node, reason);
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
      this.clock.clearTimer(this.#heartbeat);
    }
    this.#heartbeat = null;
    this.#listener.close();
    this.#handshakes.abortDials();
    this.#associations.shutdown();
    this.#handshakes.refuseAll();
    await this.#accepting;
    // Wait until the goodbyes and refusals have reached the sockets and every socket is
    // released; a connection whose peer does not read by then is cut.
    let timer: TimerHandle | null = null;
    await Promise.race([
      this.#handshakes.ended(),
      new Promise<void>((resolve) => {
        timer = platform.setTimer(resolve, CLOSE_FLUSH_MS);
      }),
    ]);
    if (timer !== null) platform.clearTimer(timer);
    this.#handshakes.cut();
    await this.#handshakes.ended();
    this.#handshakes.flushLog();
  }

  // ---- internals used by Peer and Session ---------------------------------------------------

  get closed(): boolean {
    return this.#closing !== null;
  }

  get settings(): Settings {
    return this.#settings;
  }

  get extensions(): ExtensionRegistry {
    return this.#extensions;
  }

  /**
   * The channel of the extension `name` (registered with the `extensions` option).
   *
   * @throws {TypeError} When no extension of that name is registered here.
   */
  extension<M, R>(name: string): ExtensionChannel<M, R> {
    return this.#extensions.channel<M, R>(
      name,
      this.node,
      (node) => this.#peer(node),
    );
  }

  get codecs(): MessageCodecs {
    return this.#codecs;
  }

  get clock(): Clock {
    return this.#settings.clock ?? this.#system.clock;
  }

  get logger(): RemoteLogger {
    return this.#logger;
  }

  factory(
    name: string,
  ): ActorDefinition<unknown, unknown, Handlers<unknown>> | undefined {
    return this.#factories.get(name);
  }

  #checkOpen(): void {
    if (this.closed) {
      throw new NodeUnreachableError(this.node, "this node is closed");
    }
  }

  /** @throws {TypeError} When this node has no association with `node`. */
  #peer(node: string): Peer {
    return this.#associations.peer(node);
  }

  /**
   * Connects and handshakes (see Handshakes.dial): with `expectedNode`, a listener of another
   * name is refused before this node proves anything to it.
   */
  dial(address: string, expectedNode?: string): Promise<Handshaken> {
    return this.#handshakes.dial(address, expectedNode);
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
    const accepted = await this.#handshakes.accept(conn);
    if (accepted === undefined) return;
    this.#associations.accepted(accepted, conn.remoteAddr.hostname);
  }

  #armHeartbeat(): void {
    this.#heartbeat = this.clock.setTimer(() => {
      this.#heartbeat = null;
      if (this.closed) return;
      this.#associations.heartbeat();
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
