// Sends the extension's frames to member nodes.
//
// - The publications of one turn of the event loop to one node go in one frame (up to a size),
//   so a node is sent one frame per batch however many publications it holds, in order.
// - A member this node has never been connected to (a large cluster is not a full mesh) is
//   dialed at its address first; its frames wait, in order, until the dial ends.
// - A frame for a node whose connection is down is not queued in the node's outbox (where a
//   frame given up on later would vanish unseen): it is undelivered at once, and each of its
//   publications becomes a dead letter.
import type { ExtensionChannel, RemoteNode } from "../../remote/mod.ts";
import type { PubSubFrame } from "./_wire.ts";

/** The most frames that wait for one dial; more are refused. */
const MAX_WAITING = 10_000;
/** A batch of publications is sent once it holds this many characters… */
const MAX_BATCH_CHARS = 64 * 1024;
/** …or this many publications. */
const MAX_BATCH_ITEMS = 1024;

/** What becomes of a frame that could not be sent (its publications are dead letters). */
export type OnUndelivered = (frame: PubSubFrame, node: string) => void;

interface Batch {
  readonly address: string;
  readonly items: string[];
  chars: number;
}

export class FrameSender {
  readonly #node: RemoteNode;
  readonly #channel: ExtensionChannel<PubSubFrame, void>;
  readonly #undelivered: OnUndelivered;
  readonly #waiting = new Map<string, PubSubFrame[]>();
  readonly #batches = new Map<string, Batch>();
  #flushQueued = false;
  /** The node's peers as it last reported them. */
  readonly #peers = new Map<string, { address: string; connected: boolean }>();
  readonly #unlisten: () => void;
  #closed = false;

  constructor(
    node: RemoteNode,
    channel: ExtensionChannel<PubSubFrame, void>,
    undelivered: OnUndelivered,
  ) {
    this.#node = node;
    this.#channel = channel;
    this.#undelivered = undelivered;
    for (const peer of node.peers()) this.#peers.set(peer.node, peer);
    this.#unlisten = node.onPeerChange((change) =>
      this.#peers.set(change.node, change)
    );
  }

  /**
   * Adds a publication (topic id, message JSON) to the batch for the member `node`, sent at
   * the end of this turn or once the batch is full.
   */
  publish(node: string, address: string, id: string, json: string): void {
    let batch = this.#batches.get(node);
    if (batch === undefined) {
      batch = { address, items: [], chars: 0 };
      this.#batches.set(node, batch);
    }
    batch.items.push(id, json);
    batch.chars += id.length + json.length + 2;
    if (
      batch.chars >= MAX_BATCH_CHARS ||
      batch.items.length >= 2 * MAX_BATCH_ITEMS
    ) {
      this.#batches.delete(node);
      this.send(node, batch.address, {
        t: "pub",
        to: node,
        items: batch.items,
      });
    } else if (!this.#flushQueued) {
      this.#flushQueued = true;
      queueMicrotask(this.#flush);
    }
  }

  /**
   * Sends `frame` to the member `node` (at `address`, to dial it if the node does not know
   * it). A frame that cannot be sent goes to `undelivered`, now or when its dial fails.
   */
  send(node: string, address: string, frame: PubSubFrame): void {
    const waiting = this.#waiting.get(node);
    if (waiting !== undefined) {
      if (waiting.length < MAX_WAITING) waiting.push(frame);
      else this.#undelivered(frame, node);
      return;
    }
    const peer = this.#peers.get(node);
    if (peer === undefined || peer.address !== address) {
      // Never connected, or a new process at another address.
      if (this.#closed) this.#undelivered(frame, node);
      else this.#dial(node, address, frame);
    } else if (!peer.connected) this.#undelivered(frame, node);
    else this.#tell(node, frame);
  }

  /** Sends the batches, then refuses what still waits for a dial. */
  close(): void {
    this.#flush();
    this.#closed = true;
    this.#unlisten();
    for (const [node, frames] of this.#waiting) {
      for (const frame of frames) this.#undelivered(frame, node);
    }
    this.#waiting.clear();
  }

  readonly #flush = (): void => {
    this.#flushQueued = false;
    if (this.#batches.size === 0) return;
    const batches = [...this.#batches];
    this.#batches.clear();
    for (const [node, batch] of batches) {
      this.send(node, batch.address, {
        t: "pub",
        to: node,
        items: batch.items,
      });
    }
  };

  #dial(node: string, address: string, first: PubSubFrame): void {
    const frames = [first];
    this.#waiting.set(node, frames);
    const flush = (reached: string | undefined) => {
      if (this.#waiting.get(node) !== frames) return; // closed meanwhile
      this.#waiting.delete(node);
      for (const frame of frames) {
        if (reached === node) this.#tell(node, frame);
        else this.#undelivered(frame, node);
      }
    };
    this.#node.connect(address).then(flush, () => flush(undefined));
  }

  #tell(node: string, frame: PubSubFrame): void {
    try {
      this.#channel.tell(node, frame);
    } catch {
      this.#undelivered(frame, node);
    }
  }
}
