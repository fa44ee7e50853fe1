// The messages sharding sends between nodes over its remote extension, and their check: every
// field of a message from the network is validated before use (InvalidShardingMessageError).
// Deliveries to entities and their replies travel in binary batches (_delivery_codec.ts, which
// checks them as it decodes); the control messages are JSON and checked here.
import {
  type DeliveryBatch,
  isDecodedBatch,
  type ReplyBatch,
} from "./_delivery_codec.ts";
import { InvalidShardingMessageError } from "./errors.ts";

/** The name of sharding's remote extension. */
export const SHARDING_EXTENSION = "troupe.sharding";

/** Control messages between regions and from the coordinator. */
export interface ControlMessage {
  readonly k: "flush" | "begin" | "handoff" | "released" | "stats" | "host";
  readonly t: string;
  readonly s: number;
}

/** Any sharding message. */
export type ShardingMessage = ControlMessage | DeliveryBatch | ReplyBatch;

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
  // Batches were checked as the codec decoded them; JSON cannot make one (they are branded).
  if (isDecodedBatch(value)) return value;
  const m = value as Record<string, unknown>;
  const entityType = text(m.t, "t (entity type)");
  if (entityType.length === 0 || entityType.length > MAX_NAME) {
    throw new InvalidShardingMessageError("t (entity type) is out of range");
  }
  switch (m.k) {
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
