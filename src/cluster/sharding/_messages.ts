// The messages sharding sends between nodes over its remote extension, and their check: every
// field of a message from the network is validated before use (InvalidShardingMessageError).
import { InvalidShardingMessageError } from "./errors.ts";

/** The name of sharding's remote extension. */
export const SHARDING_EXTENSION = "troupe.sharding";

/** A message for an entity (`ms` present: an ask with that many ms left). */
export interface DeliverMessage {
  readonly k: "deliver";
  /** Entity type. */
  readonly t: string;
  /** Entity id. */
  readonly i: string;
  /** Message type. */
  readonly m: string;
  /** Payload. */
  readonly p?: unknown;
  /** For an ask: the time left of its timeout, in ms. */
  readonly ms?: number;
}

/** A tell for entity `id` of `entityType` (add `ms` for an ask). */
export function deliverMessage(
  entityType: string,
  id: string,
  type: string,
  payload: unknown,
): DeliverMessage {
  return { k: "deliver", t: entityType, i: id, m: type, p: payload };
}

/** Control messages between regions and from the coordinator. */
export interface ControlMessage {
  readonly k: "flush" | "begin" | "handoff" | "released" | "stats" | "host";
  readonly t: string;
  readonly s: number;
}

/** Any sharding message. */
export type ShardingMessage = DeliverMessage | ControlMessage;

const MAX_NAME = 200;

function text(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length > 10_000) {
    throw new InvalidShardingMessageError(`${what} must be a string`);
  }
  return value;
}

/**
 * Checks a message from the network.
 *
 * @throws {InvalidShardingMessageError} When it is malformed.
 */
export function checkShardingMessage(value: unknown): ShardingMessage {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new InvalidShardingMessageError("expected an object");
  }
  const m = value as Record<string, unknown>;
  const entityType = text(m.t, "t (entity type)");
  if (entityType.length === 0 || entityType.length > MAX_NAME) {
    throw new InvalidShardingMessageError("t (entity type) is out of range");
  }
  switch (m.k) {
    case "deliver": {
      text(m.i, "i (entity id)");
      text(m.m, "m (message type)");
      if (
        m.ms !== undefined &&
        (typeof m.ms !== "number" || !(m.ms > 0) || !Number.isFinite(m.ms))
      ) {
        throw new InvalidShardingMessageError("ms must be a positive number");
      }
      return m as unknown as DeliverMessage;
    }
    case "flush":
    case "begin":
    case "handoff":
    case "released":
    case "stats":
    case "host":
      if (!Number.isSafeInteger(m.s) || (m.s as number) < 0) {
        throw new InvalidShardingMessageError(
          "s (shard) must be an integer ≥ 0",
        );
      }
      return m as unknown as ControlMessage;
    default:
      throw new InvalidShardingMessageError(
        `unknown kind ${JSON.stringify(m.k)}`,
      );
  }
}
