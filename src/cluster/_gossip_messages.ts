// The messages of the two extensions membership registers with a node, and their checks:
// everything here comes from the network, so every field is validated before use.
import { InvalidGossipError } from "./errors.ts";
import type { WireKey, WireState } from "./_member_state.ts";

/** The extension that carries gossip. */
export const MEMBERSHIP_EXTENSION = "troupe.membership";
/** The extension that carries heartbeats. */
export const HEARTBEAT_EXTENSION = "troupe.heartbeat";

/** A heartbeat or its ack, as the failure detector exchanges them. */
export type HeartbeatPayload =
  | { readonly kind: "heartbeat"; readonly seq: number }
  | { readonly kind: "heartbeat-ack"; readonly seq: number };

/**
 * Gossip. Every message names the node it is for (`to`), so one set of extensions can serve
 * several nodes in one process (tests), and the sender's member key (`from`).
 *
 * - `status`: "I am at `digest`, seen by `seen`": the cheap half of push-pull.
 * - `gossip`: a full state; `reply` asks the receiver to answer with its merged state when it
 *   knew something the sender did not.
 */
export type GossipMessage =
  | {
    readonly t: "status";
    readonly to: string;
    readonly from: string;
    readonly digest: string;
    readonly seen: readonly WireKey[];
  }
  | {
    readonly t: "gossip";
    readonly to: string;
    readonly from: string;
    readonly state: WireState;
    readonly reply: boolean;
  };

/** A heartbeat between two members (by key). */
export interface HeartbeatEnvelope {
  /** The node it is for. */
  readonly to: string;
  /** The member key it is for (a heartbeat for an old incarnation is dropped). */
  readonly toKey: string;
  /** The sender's member key. */
  readonly from: string;
  /** The heartbeat. */
  readonly m: HeartbeatPayload;
}

const KEY_LIMIT = 1024;

function isKey(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 &&
    value.length <= KEY_LIMIT;
}

/**
 * Checks a gossip message from the network (the state inside is checked by `decodeState`).
 *
 * @throws {InvalidGossipError} When it is malformed.
 */
export function checkGossipMessage(value: unknown): GossipMessage {
  if (typeof value !== "object" || value === null) {
    throw new InvalidGossipError("Invalid gossip message: not an object");
  }
  const m = value as Record<string, unknown>;
  if (!isKey(m.to) || !isKey(m.from)) {
    throw new InvalidGossipError(
      "Invalid gossip message: `to` and `from` must be names",
    );
  }
  if (m.t === "status") {
    if (
      !isKey(m.digest) || !Array.isArray(m.seen)
    ) {
      throw new InvalidGossipError(
        `Invalid gossip status from "${m.from}": bad digest or seen set`,
      );
    }
    return m as GossipMessage;
  }
  if (m.t === "gossip") {
    if (typeof m.reply !== "boolean") {
      throw new InvalidGossipError(
        `Invalid gossip from "${m.from}": \`reply\` is not a boolean`,
      );
    }
    return m as GossipMessage;
  }
  throw new InvalidGossipError(
    `Invalid gossip message from "${m.from}": unknown kind ${
      JSON.stringify(m.t)
    }`,
  );
}

/**
 * Checks a heartbeat envelope from the network.
 *
 * @throws {InvalidGossipError} When it is malformed.
 */
export function checkHeartbeat(value: unknown): HeartbeatEnvelope {
  if (typeof value !== "object" || value === null) {
    throw new InvalidGossipError("Invalid heartbeat: not an object");
  }
  const h = value as Record<string, unknown>;
  const m = h.m as Record<string, unknown> | null | undefined;
  if (
    !isKey(h.to) || !isKey(h.toKey) || !isKey(h.from) ||
    typeof m !== "object" || m === null ||
    (m.kind !== "heartbeat" && m.kind !== "heartbeat-ack") ||
    !Number.isSafeInteger(m.seq) || (m.seq as number) < 0
  ) {
    throw new InvalidGossipError("Invalid heartbeat: malformed fields");
  }
  return h as unknown as HeartbeatEnvelope;
}
