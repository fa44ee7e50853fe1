// Which member nodes this node is connected to, and dialing the ones it needs: the failure
// detector's subjects and gossip's picks (so a large cluster is not a full mesh).
import type { RemoteNode } from "../remote/mod.ts";

/** The connections of one node to other members' nodes, as membership sees them. */
export class PeerLinks {
  readonly #node: RemoteNode;
  #known = new Map<string, { address: string; connected: boolean }>();
  #connected = new Set<string>();
  readonly #connecting = new Set<string>();
  /**
   * Nodes this node disconnected (their member was downed or removed). The node sends nothing
   * to them until it connects again, even when they dial in, so reaching one dials it: a
   * process restarted at the same address is a new member to talk to.
   */
  readonly #severed = new Set<string>();
  readonly #unsubscribe: () => void;

  constructor(node: RemoteNode) {
    this.#node = node;
    // Between refreshes, the node's own news keeps the view current.
    this.#unsubscribe = node.onPeerChange((change) => {
      this.#known.set(change.node, change);
      if (change.connected) this.#connected.add(change.node);
      else this.#connected.delete(change.node);
    });
  }

  /** Stops following the node's peers. */
  close(): void {
    this.#unsubscribe();
  }

  /**
   * Ends the association with `node` (a member that is down or removed): requests to it fail,
   * remote death watch fires for its actors, and nothing reconnects it.
   */
  disconnect(node: string, reason: string): void {
    this.#severed.add(node);
    this.#connected.delete(node);
    this.#known.delete(node);
    try {
      this.#node.disconnect(node, reason);
    } catch {
      // This node is closing, or the name is its own: nothing to end.
    }
  }

  /** Whether `node` was connected at the last refresh (or dialed since). */
  isConnected(node: string): boolean {
    return this.#connected.has(node) && !this.#severed.has(node);
  }

  /** Reads the node's peers again. */
  refresh(): void {
    this.#known.clear();
    for (const peer of this.#node.peers()) this.#known.set(peer.node, peer);
    this.#connected = new Set(
      [...this.#known].filter(([, p]) => p.connected).map(([n]) => n),
    );
  }

  /**
   * Runs `send` with the node's name now when it is connected, or once it is dialed when the
   * node does not know it at `address` yet (a known, disconnected node is being reconnected by
   * the node itself: nothing to do).
   */
  reach(
    node: string,
    address: string,
    send?: (node: string) => void,
  ): void {
    const peer = this.#known.get(node);
    if (
      peer === undefined || peer.address !== address || this.#severed.has(node)
    ) {
      void this.dial(address).then((name) => {
        if (name !== undefined) send?.(name);
      });
    } else if (peer.connected) send?.(node);
  }

  /** Dials `address` (once at a time); resolves to the node's name, or `undefined`. */
  dial(address: string): Promise<string | undefined> {
    if (this.#connecting.has(address)) return Promise.resolve(undefined);
    this.#connecting.add(address);
    return this.#node.connect(address).then(
      (name) => {
        this.#severed.delete(name);
        this.#connected.add(name);
        this.#known.set(name, { address, connected: true });
        return name;
      },
      () => undefined,
    ).finally(() => this.#connecting.delete(address));
  }
}
