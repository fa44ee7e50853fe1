// The association with one other node, however many connections it uses: the connection this
// node dialed to it (its Peer, which carries everything this node sends there) and the
// connections that node dialed to this one (a Session each, which serves what comes on it and
// answers on the same connection). When only the other node dialed, the Peer dials back, at
// the address that node announced in its handshake, the first time there is something to send.
import type { Handshaken } from "./_handshakes.ts";
import { Peer, type PeerCounts } from "./_peer.ts";
import { Session } from "./_session.ts";
import type { NodeContext } from "./_settings.ts";
import type { PeerChange, PeerInfo } from "./node.ts";

/**
 * Where to dial back a node that announced `announced` (its listener's `host:port`) and
 * connected from `sourceHost`: a wildcard host (it listens on every interface) is replaced by
 * the host the connection came from.
 */
export function dialBackAddress(announced: string, sourceHost: string): string {
  const match = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(announced);
  if (match === null) return announced;
  const host = match[1];
  if (host !== "" && host !== "0.0.0.0" && host !== "::") return announced;
  return sourceHost.includes(":")
    ? `[${sourceHost}]:${match[2]}`
    : `${sourceHost}:${match[2]}`;
}

export class Association {
  readonly owner: NodeContext;
  readonly node: string;
  /** The sending side: the connection this node dialed, and all it sends to the node. */
  readonly peer: Peer;
  readonly #sessions = new Set<Session>();
  /** Whether connect() set the address (then an announced address never replaces it). */
  #addressFromConnect = false;
  /** Whether the listeners of RemoteNode.onPeerChange last heard "connected". */
  #reported = false;
  /** The reason every change reports while disconnect() runs. */
  #ending: string | null = null;
  readonly #notify: (change: PeerChange) => void;

  /** @param notify Tells the listeners of RemoteNode.onPeerChange. */
  constructor(
    owner: NodeContext,
    node: string,
    address: string,
    notify: (change: PeerChange) => void,
  ) {
    this.owner = owner;
    this.node = node;
    this.#notify = notify;
    this.peer = new Peer(
      owner,
      node,
      address,
      (reason) => this.#update(reason),
    );
  }

  /** Whether a connection is up, either way. */
  get connected(): boolean {
    return this.peer.connected || this.#sessions.size > 0;
  }

  /** How many connections the node dialed to this one are open. */
  get inbound(): number {
    return this.#sessions.size;
  }

  /** What RemoteNode.peers() reports of it. */
  info(): PeerInfo {
    return {
      node: this.node,
      address: this.peer.address,
      connected: this.connected,
      outbound: this.peer.connected,
      inbound: this.#sessions.size,
    };
  }

  /** A connection this node dialed at `address` (connect()): the Peer takes it. */
  adopt(handshaken: Handshaken, address: string): void {
    this.#addressFromConnect = true;
    this.peer.adopt(handshaken, address);
  }

  /**
   * A connection the node dialed to this one: a Session serves it. Unless connect() gave the
   * node's address, `dialBack` is where the Peer dials it from now on (the latest announcement:
   * a node restarted elsewhere is followed); while the Peer has no connection of its own, the
   * extensions the node announced are what it supports.
   */
  accept({ link, extensions }: Handshaken, dialBack: string): void {
    const peer = this.peer;
    if (!this.#addressFromConnect) peer.address = dialBack;
    if (!peer.connected) peer.extensions = extensions;
    const session = new Session(this.owner, link, this.node);
    this.#sessions.add(session);
    link.onClose = (error) => {
      session.closed();
      this.#sessions.delete(session);
      this.#update(
        `inbound connection lost: ${
          error instanceof Error ? error.message : error
        }`,
      );
    };
    if (link.closed) link.onClose(link.closeError);
    else this.#update();
  }

  /** Tells the listeners of RemoteNode.onPeerChange when `connected` changed. */
  #update(reason?: string): void {
    const connected = this.connected;
    if (this.#reported === connected) return;
    this.#reported = connected;
    const why = this.#ending ?? reason;
    this.#notify({
      node: this.node,
      address: this.peer.address,
      connected,
      ...(connected || why === undefined ? {} : { reason: why }),
    });
  }

  /**
   * Ends the association on purpose (RemoteNode.disconnect): a goodbye with `reason` on every
   * connection, both ways, and the Peer fails what waits with it and dials no more until an
   * explicit connect(). The node may still dial this one; its sessions are served.
   */
  disconnect(reason: string): void {
    this.#ending = reason;
    try {
      this.#closeSessions(reason);
      this.peer.disconnect(reason);
    } finally {
      this.#ending = null;
    }
  }

  /** This node closes: goodbyes on every connection, and the Peer fails what waits. */
  shutdown(): void {
    this.#ending = "this node is closing";
    try {
      this.peer.shutdown();
      this.#closeSessions("node closing");
    } finally {
      this.#ending = null;
    }
  }

  #closeSessions(reason: string): void {
    for (const session of [...this.#sessions]) {
      session.link.sendAndClose(
        { kind: "goodbye", reason },
        reason,
        this.owner.clock,
      );
    }
  }

  heartbeat(): void {
    this.peer.heartbeat();
    for (const session of this.#sessions) session.heartbeat();
  }

  /** Adds this association's share of the node's internal counts. */
  count(counts: PeerCounts): void {
    this.peer.count(counts);
    for (const session of this.#sessions) {
      counts.watchedForOthers += session.watchCount;
    }
  }
}
