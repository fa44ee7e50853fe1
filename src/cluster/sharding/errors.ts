// All errors of sharding, each with a stable `code` and an `isXxx()` guard (an `instanceof`
// check fails when two copies of the package are loaded).

function hasShardingCode(value: unknown, code: string): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * A message for an entity could not be buffered: its shard is moving or its home is not known
 * yet, and the shard's buffer on this node is full. An ask rejects with it; a tell is dropped,
 * counted in `troupe_sharding_dropped_total` and logged with it.
 *
 * @example Usage
 * ```ts
 * import { isShardBufferFullError, ShardBufferFullError } from "@troupe/troupe/cluster";
 * const error = new ShardBufferFullError("counter", 7, 1000);
 * console.log(isShardBufferFullError(error), error.code); // true "SHARD_BUFFER_FULL"
 * ```
 */
export class ShardBufferFullError extends Error {
  /** Stable code. */
  readonly code = "SHARD_BUFFER_FULL" as const;
  /** The entity type. */
  readonly entityType: string;
  /** The shard. */
  readonly shard: number;
  /** The buffer's limit. */
  readonly limit: number;
  /**
   * Creates the error.
   *
   * @param entityType The entity type.
   * @param shard The shard.
   * @param limit The buffer's limit.
   */
  constructor(entityType: string, shard: number, limit: number) {
    super(
      `Cannot buffer message for shard ${shard} of entity type "${entityType}": its buffer is full (${limit} messages)`,
    );
    this.name = "ShardBufferFullError";
    this.entityType = entityType;
    this.shard = shard;
    this.limit = limit;
  }
}

/**
 * Whether `value` is a {@linkcode ShardBufferFullError}.
 *
 * @param value Anything.
 * @returns True for a ShardBufferFullError.
 * @example Usage
 * ```ts
 * import { isShardBufferFullError } from "@troupe/troupe/cluster";
 * console.log(isShardBufferFullError(new Error("x"))); // false
 * ```
 */
export function isShardBufferFullError(
  value: unknown,
): value is ShardBufferFullError {
  return hasShardingCode(value, "SHARD_BUFFER_FULL");
}

/**
 * A message for an entity was sent after {@linkcode Sharding.close}, or arrived at a node whose
 * sharding has closed or does not host the entity type.
 *
 * @example Usage
 * ```ts
 * import { isShardingClosedError, ShardingClosedError } from "@troupe/troupe/cluster";
 * console.log(isShardingClosedError(new ShardingClosedError("n1"))); // true
 * ```
 */
export class ShardingClosedError extends Error {
  /** Stable code. */
  readonly code = "SHARDING_CLOSED" as const;
  /** The node. */
  readonly node: string;
  /**
   * Creates the error.
   *
   * @param node The node whose sharding is closed.
   * @param detail What was refused (optional).
   */
  constructor(node: string, detail?: string) {
    super(
      `Sharding on node "${node}" is closed${
        detail === undefined ? "" : `: ${detail}`
      }`,
    );
    this.name = "ShardingClosedError";
    this.node = node;
  }
}

/**
 * Whether `value` is a {@linkcode ShardingClosedError}.
 *
 * @param value Anything.
 * @returns True for a ShardingClosedError.
 * @example Usage
 * ```ts
 * import { isShardingClosedError } from "@troupe/troupe/cluster";
 * console.log(isShardingClosedError(new Error("x"))); // false
 * ```
 */
export function isShardingClosedError(
  value: unknown,
): value is ShardingClosedError {
  return hasShardingCode(value, "SHARDING_CLOSED");
}

/**
 * A sharding message from another node, or a stored coordinator event, is malformed.
 *
 * @example Usage
 * ```ts
 * import { InvalidShardingMessageError, isInvalidShardingMessageError } from "@troupe/troupe/cluster";
 * console.log(isInvalidShardingMessageError(new InvalidShardingMessageError("no kind"))); // true
 * ```
 */
export class InvalidShardingMessageError extends Error {
  /** Stable code. */
  readonly code = "INVALID_SHARDING_MESSAGE" as const;
  /**
   * Creates the error.
   *
   * @param detail What is wrong.
   */
  constructor(detail: string) {
    super(`Invalid sharding message: ${detail}`);
    this.name = "InvalidShardingMessageError";
  }
}

/**
 * Whether `value` is an {@linkcode InvalidShardingMessageError}.
 *
 * @param value Anything.
 * @returns True for an InvalidShardingMessageError.
 * @example Usage
 * ```ts
 * import { isInvalidShardingMessageError } from "@troupe/troupe/cluster";
 * console.log(isInvalidShardingMessageError(new Error("x"))); // false
 * ```
 */
export function isInvalidShardingMessageError(
  value: unknown,
): value is InvalidShardingMessageError {
  return hasShardingCode(value, "INVALID_SHARDING_MESSAGE");
}

/**
 * The coordinator of an entity type is not known yet or did not answer in time, so where its
 * shards live is not known now (`EntityType.clusterStats` rejects with it).
 *
 * @example Usage
 * ```ts
 * import {
 *   isShardCoordinatorUnavailableError,
 *   ShardCoordinatorUnavailableError,
 * } from "@troupe/troupe/cluster";
 * const error = new ShardCoordinatorUnavailableError("cart");
 * console.log(isShardCoordinatorUnavailableError(error), error.code); // true "SHARD_COORDINATOR_UNAVAILABLE"
 * ```
 */
export class ShardCoordinatorUnavailableError extends Error {
  /** Stable code. */
  readonly code = "SHARD_COORDINATOR_UNAVAILABLE" as const;
  /** The entity type. */
  readonly entityType: string;
  /**
   * Creates the error.
   *
   * @param entityType The entity type.
   * @param options The underlying error (an ask's timeout, say).
   */
  constructor(entityType: string, options?: { readonly cause?: unknown }) {
    super(
      `The shard coordinator of "${entityType}" is not available now`,
      options,
    );
    this.name = "ShardCoordinatorUnavailableError";
    this.entityType = entityType;
  }
}

/**
 * Whether `value` is a {@linkcode ShardCoordinatorUnavailableError}.
 *
 * @param value Anything.
 * @returns True for a ShardCoordinatorUnavailableError.
 * @example Usage
 * ```ts
 * import { isShardCoordinatorUnavailableError } from "@troupe/troupe/cluster";
 * console.log(isShardCoordinatorUnavailableError(new Error("x"))); // false
 * ```
 */
export function isShardCoordinatorUnavailableError(
  value: unknown,
): value is ShardCoordinatorUnavailableError {
  return hasShardingCode(value, "SHARD_COORDINATOR_UNAVAILABLE");
}
