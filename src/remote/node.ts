import type {
  ActorDefinition,
  ActorRef,
  ActorSystem,
  AskOptions,
  Handlers,
  UnknownProtocol,
} from "../actor/mod.ts";
import { NodeCore } from "./_node_core.ts";
import type { ExtensionChannel } from "./extension.ts";
import type { RemoteNodeOptions } from "./options.ts";

/**
 * What {@linkcode RemoteNode.peers} reports of the association with one node, however many
 * connections it uses: the one this node dialed (which carries everything this node sends
 * there) and those the node dialed to this one (whose requests are answered on them).
 */
export interface PeerInfo {
  /** The node's name. */
  readonly node: string;
  /**
   * Where this node dials it, `host:port`: the address given to {@linkcode RemoteNode.connect},
   * else the one the node announced in its handshake.
   */
  readonly address: string;
  /** Whether a connection with it is up, either way (`outbound` or `inbound > 0`). */
  readonly connected: boolean;
  /** Whether the connection this node dialed to it is up. */
  readonly outbound: boolean;
  /** How many connections it dialed to this node are open. */
  readonly inbound: number;
}

/**
 * What {@linkcode RemoteNode.onPeerChange} reports: a node became connected, or stopped being
 * connected (its connection was lost, it moved, this node disconnected it or is closing).
 */
export interface PeerChange {
  /** The node's name. */
  readonly node: string;
  /** Its address, `host:port`. */
  readonly address: string;
  /** Whether it is connected now (as {@linkcode PeerInfo.connected} reports it). */
  readonly connected: boolean;
  /** Why it is no longer connected (absent when it became connected). */
  readonly reason?: string;
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
 * are rate-limited per source address.
 *
 * There is one association per other node, however many connections it uses (see
 * {@linkcode RemoteNode.peers}): what this node sends to a node goes over the connection this
 * node dialed to it, and requests that came on a connection the node dialed are answered on that
 * connection. A node that only dialed this one is dialed back, at the address it announced in
 * its handshake (its connection's host when it listens on every interface, and refused unless
 * the listener there has the expected name), when this node has something to send it. Messages
 * from one sender to one actor arrive in order and are handled one at a time. When a connection is lost, every ask waiting on it rejects at once
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
   * @param node The node's name (associated: this node connected to it with
   * {@linkcode RemoteNode.connect}, or it connected to this node).
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

  /**
   * The nodes this node is associated with (it connected to them, or they to it), once each,
   * with the connections of each association, both ways.
   *
   * @returns One entry per node.
   */
  peers(): PeerInfo[] {
    return this.#core.peers();
  }

  /**
   * Calls `listener` each time a node becomes connected or stops being connected (the changes
   * of what {@linkcode RemoteNode.peers} reports as `connected`), synchronously, in the order
   * they happen. A listener that throws is logged and does not stop the others.
   *
   * @param listener Called with each change.
   * @returns A function that unsubscribes the listener (idempotent).
   * @throws {TypeError} When `listener` is not a function.
   *
   * @example Usage
   * ```ts
   * import { ActorSystem, RemoteNode } from "@troupe/troupe";
   * await using a = new ActorSystem({ node: "a" });
   * await using b = new ActorSystem({ node: "b" });
   * const options = { cluster: "demo", secret: "correct horse battery" };
   * await using nodeA = await RemoteNode.start(a, options);
   * await using nodeB = await RemoteNode.start(b, options);
   * const seen: string[] = [];
   * const unsubscribe = nodeA.onPeerChange((c) => seen.push(`${c.node} ${c.connected}`));
   * await nodeA.connect(nodeB.address);
   * unsubscribe();
   * console.log(seen); // ["b true"]
   * ```
   */
  onPeerChange(listener: (change: PeerChange) => void): () => void {
    return this.#core.onPeerChange(listener);
  }

  /**
   * Ends the association with `node` on purpose (a cluster member was downed or removed): says
   * goodbye with `reason` and closes its connections, both ways (see
   * {@linkcode RemoteNode.peers}); every request waiting on it
   * rejects with `NodeUnreachableError` whose `reason` is `reason`; watchers of its actors are
   * told (their watch ends with that error); tells buffered for it become dead letters
   * (`node-unreachable`). No reconnect is armed: until {@linkcode RemoteNode.connect} is called
   * for it again, tells to it are dead letters and requests reject at once. Should the node dial
   * this one again, what it sends is still served (refuse it in the cluster layer), but nothing
   * goes to it. A node not associated is no error (there is nothing to end).
   *
   * @param node The node's name.
   * @param reason Why (it travels in the goodbye and in the errors).
   * @throws {TypeError} When `node` or `reason` is not a string, or `node` is this node.
   *
   * @example Usage
   * ```ts
   * import { ActorSystem, RemoteNode } from "@troupe/troupe";
   * await using a = new ActorSystem({ node: "a" });
   * await using b = new ActorSystem({ node: "b" });
   * const options = { cluster: "demo", secret: "correct horse battery" };
   * await using nodeA = await RemoteNode.start(a, options);
   * await using nodeB = await RemoteNode.start(b, options);
   * await nodeA.connect(nodeB.address);
   * nodeA.disconnect("b", "downed by the cluster");
   * console.log(nodeA.peers()[0].connected); // false
   * ```
   */
  disconnect(node: string, reason: string): void {
    this.#core.disconnect(node, reason);
  }

  /**
   * The channel of an extension registered with the `extensions` option: send its messages to
   * a connected node (which must have announced the extension in the handshake) and get replies.
   *
   * @typeParam M The extension's messages.
   * @typeParam R Its replies.
   * @param name The extension's name.
   * @returns Its channel.
   * @throws {TypeError} When no extension of that name is registered on this node.
   *
   * @example Usage
   * ```ts
   * import { ActorSystem, RemoteNode } from "@troupe/troupe";
   * const greet = { name: "demo.greet", handle: (who: string) => `hello, ${who}` };
   * await using a = new ActorSystem({ node: "a" });
   * await using b = new ActorSystem({ node: "b" });
   * const options = { cluster: "demo", secret: "correct horse battery", extensions: [greet] };
   * await using nodeA = await RemoteNode.start(a, options);
   * await using nodeB = await RemoteNode.start(b, options);
   * await nodeA.connect(nodeB.address);
   * console.log(await nodeA.extension<string, string>("demo.greet").ask("b", "a")); // "hello, a"
   * ```
   */
  extension<M = unknown, R = unknown>(name: string): ExtensionChannel<M, R> {
    return this.#core.extension<M, R>(name);
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
