// All errors of the cluster subsystem, each with a stable `code` and an `isXxx()` guard.
// (Helpers append their classes below; keep one file per subsystem.)

// --- membership (h-member) ---

/**
 * A gossip message or state from another node is malformed (not a valid membership state). The
 * message is dropped and logged; the connection and the cluster carry on.
 *
 * @example Usage
 * ```ts
 * import { isInvalidGossipError } from "@troupe/troupe/cluster";
 * console.log(isInvalidGossipError(new Error())); // false
 * ```
 */
export class InvalidGossipError extends Error {
  /** Stable code. */
  readonly code = "INVALID_GOSSIP" as const;
  /**
   * Creates the error.
   *
   * @param message What is wrong.
   * @param options The underlying error.
   */
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = "InvalidGossipError";
  }
}

/**
 * Whether `value` is an {@linkcode InvalidGossipError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns Whether it is one.
 *
 * @example Usage
 * ```ts
 * import { isInvalidGossipError } from "@troupe/troupe/cluster";
 * console.log(isInvalidGossipError(new TypeError())); // false
 * ```
 */
export function isInvalidGossipError(
  value: unknown,
): value is InvalidGossipError {
  return value instanceof Error &&
    (value as { code?: unknown }).code === "INVALID_GOSSIP";
}

/**
 * Joining the cluster failed: no node found by discovery could be reached in time, the node was
 * downed before it became up, or the join was aborted.
 *
 * @example Usage
 * ```ts
 * import { isClusterJoinError } from "@troupe/troupe/cluster";
 * console.log(isClusterJoinError(new Error())); // false
 * ```
 */
export class ClusterJoinError extends Error {
  /** Stable code. */
  readonly code = "CLUSTER_JOIN_FAILED" as const;
  /**
   * Creates the error.
   *
   * @param message Why.
   * @param options The underlying error.
   */
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = "ClusterJoinError";
  }
}

/**
 * Whether `value` is a {@linkcode ClusterJoinError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns Whether it is one.
 *
 * @example Usage
 * ```ts
 * import { isClusterJoinError } from "@troupe/troupe/cluster";
 * console.log(isClusterJoinError(new Error())); // false
 * ```
 */
export function isClusterJoinError(value: unknown): value is ClusterJoinError {
  return value instanceof Error &&
    (value as { code?: unknown }).code === "CLUSTER_JOIN_FAILED";
}
