// Carries the failure detector's messages between members. A heartbeat is an ask on the
// `troupe.heartbeat` extension and its ack is the ask's reply, so the ack comes back on the
// connection the heartbeat went out on and every monitored connection carries traffic both
// ways (a connection that only ever sends is closed by the node's keep-alive after
// `heartbeatTimeoutMs`, see the report of h-member).
import type { ExtensionChannel } from "../remote/mod.ts";
import type {
  HeartbeatEnvelope,
  HeartbeatPayload,
} from "./_gossip_messages.ts";
import type { PeerLinks } from "./_peer_links.ts";

/** How long a heartbeat's ask waits for its ack (a late ack is useless to the detector). */
const ASK_TIMEOUT_MS = 3000;

function isAck(value: unknown): value is HeartbeatPayload {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.kind === "heartbeat-ack" && Number.isSafeInteger(v.seq) &&
    (v.seq as number) >= 0;
}

/** The node name in a member key (`node#incarnation`; the incarnation has no `#`). */
export function nodeOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf("#"));
}

export class HeartbeatBridge {
  readonly #channel: ExtensionChannel<
    HeartbeatEnvelope,
    HeartbeatPayload | null
  >;
  readonly #peers: PeerLinks;
  readonly #self: string;
  readonly #deliver: (from: string, message: HeartbeatPayload) => void;
  readonly #active: () => boolean;
  /** While answering a heartbeat: whom, and the ack the detector sent meanwhile. */
  #answering: { from: string; ack: HeartbeatPayload | null } | undefined;

  /**
   * @param deliver Hands a message to the failure detector.
   * @param active Whether membership still runs.
   */
  constructor(
    channel: ExtensionChannel<HeartbeatEnvelope, HeartbeatPayload | null>,
    peers: PeerLinks,
    self: string,
    deliver: (from: string, message: HeartbeatPayload) => void,
    active: () => boolean,
  ) {
    this.#channel = channel;
    this.#peers = peers;
    this.#self = self;
    this.#deliver = deliver;
    this.#active = active;
  }

  /** A heartbeat from another member: returns the detector's ack (`null`: none). */
  answer(
    envelope: HeartbeatEnvelope,
    fromNode: string,
  ): HeartbeatPayload | null {
    if (!this.#active() || envelope.toKey !== this.#self) return null;
    if (nodeOfKey(envelope.from) !== fromNode) return null;
    // The detector acks synchronously, inside receive().
    const answering = { from: envelope.from, ack: null };
    this.#answering = answering;
    try {
      this.#deliver(envelope.from, envelope.m);
    } finally {
      this.#answering = undefined;
    }
    return answering.ack;
  }

  /** The detector's `send`. */
  send(toKey: string, m: HeartbeatPayload): void {
    if (!this.#active()) return;
    const answering = this.#answering;
    if (answering !== undefined && answering.from === toKey) {
      if (m.kind === "heartbeat-ack") answering.ack = m;
      return;
    }
    if (m.kind !== "heartbeat") return; // acks travel only as replies
    const node = nodeOfKey(toKey);
    if (!this.#peers.isConnected(node)) return; // lost: the detector sees it
    this.#channel.ask(node, { to: node, toKey, from: this.#self, m }, {
      timeoutMs: ASK_TIMEOUT_MS,
    }).then((reply) => {
      if (this.#active() && isAck(reply)) this.#deliver(toKey, reply);
    }, () => {
      // A heartbeat without an answer is a lost one: the detector sees the silence.
    });
  }
}
