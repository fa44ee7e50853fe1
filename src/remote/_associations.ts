// A node's associations, one per other node, by name: made by connect() (this node dialed) or
// by an accepted connection (the other node dialed), and kept while the node runs, so refs made
// before a loss work again after it.
import { Association, dialBackAddress } from "./_association.ts";
import type { Handshaken } from "./_handshakes.ts";
import type { Peer, PeerCounts } from "./_peer.ts";
import type { NodeContext } from "./_settings.ts";
import type { PeerChange, PeerInfo, RemoteNodeCounts } from "./node.ts";

export class Associations {
  readonly #owner: NodeContext;
  readonly #byNode = new Map<string, Association>();
  readonly #listeners = new Set<(change: PeerChange) => void>();
  readonly #notify = (change: PeerChange): void => {
    for (const listener of [...this.#listeners]) {
      try {
        listener(change);
      } catch (error) {
        this.#owner.logger.error(
          `A peer change listener failed on node "${change.node}"`,
          error,
        );
      }
    }
  };

  constructor(owner: NodeContext) {
    this.#owner = owner;
  }

  #ensure(node: string, address: string): Association {
    let association = this.#byNode.get(node);
    if (association === undefined) {
      association = new Association(this.#owner, node, address, this.#notify);
      this.#byNode.set(node, association);
    }
    return association;
  }

  /**
   * The sending side of the association with `node`.
   *
   * @throws {TypeError} When no association with it exists (nothing connected either way).
   */
  peer(node: string): Peer {
    const association = this.#byNode.get(node);
    if (association === undefined) {
      throw new TypeError(
        `Unknown node "${node}": connect to its address first`,
      );
    }
    return association.peer;
  }

  /** A connection this node dialed at `address`. */
  dialed(handshaken: Handshaken, address: string): void {
    this.#ensure(handshaken.peerNode, address).adopt(handshaken, address);
  }

  /** A connection another node dialed, from `sourceHost`. */
  accepted(handshaken: Handshaken, sourceHost: string): void {
    const link = handshaken.link;
    const dialBack = dialBackAddress(
      link.announcedAddress ?? "",
      sourceHost,
    );
    this.#ensure(handshaken.peerNode, dialBack).accept(handshaken, dialBack);
  }

  /** Every association, once each. */
  peers(): PeerInfo[] {
    return [...this.#byNode.values()].map((a) => a.info());
  }

  /** How many connections other nodes dialed to this one are open. */
  get inbound(): number {
    let n = 0;
    for (const association of this.#byNode.values()) n += association.inbound;
    return n;
  }

  /**
   * Calls `listener` on each change of an association's `connected` (RemoteNode.onPeerChange).
   *
   * @returns The unsubscribe function.
   * @throws {TypeError} When `listener` is not a function.
   */
  onChange(listener: (change: PeerChange) => void): () => void {
    if (typeof listener !== "function") {
      throw new TypeError("Invalid peer change listener: expected a function");
    }
    // A wrapper of its own, so the same function subscribed twice is two subscriptions.
    const entry = (change: PeerChange) => listener(change);
    this.#listeners.add(entry);
    return () => {
      this.#listeners.delete(entry);
    };
  }

  /** The node's internal counts, summed over the associations. */
  counts(): RemoteNodeCounts {
    const counts: PeerCounts = {
      watchProxies: 0,
      stoppedPaths: 0,
      watchedForOthers: 0,
      buffered: 0,
      pendingRequests: 0,
      reconnectTimers: 0,
    };
    for (const association of this.#byNode.values()) association.count(counts);
    return counts;
  }

  heartbeat(): void {
    for (const association of this.#byNode.values()) association.heartbeat();
  }

  /** Ends the association with `node` on purpose, if there is one (RemoteNode.disconnect). */
  disconnect(node: string, reason: string): void {
    this.#byNode.get(node)?.disconnect(reason);
  }

  /** This node closes: every association ends. */
  shutdown(): void {
    for (const association of this.#byNode.values()) association.shutdown();
  }
}
