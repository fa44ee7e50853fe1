// All errors of the cluster subsystem, each with a stable `code` and an `isXxx()` guard.
// (Helpers append their classes below; keep one file per subsystem.)

// --- Membership table, lease and discovery providers (h-disc) ---

function hasClusterCode(value: unknown, code: string): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * A membership table, lease or discovery provider was used after its `close()`.
 *
 * @example Usage
 * ```ts
 * import { ClusterClosedError, isClusterClosedError } from "@troupe/troupe/cluster";
 * console.log(isClusterClosedError(new ClusterClosedError("MemoryLease \"sbr\""))); // true
 * ```
 */
export class ClusterClosedError extends Error {
  /** Stable code. */
  readonly code = "CLUSTER_CLOSED" as const;
  /** What was closed, for example `MemoryMembershipTable`. */
  readonly resource: string;
  /**
   * Creates the error.
   *
   * @param resource What was closed.
   */
  constructor(resource: string) {
    super(`Cannot use ${resource}: it is closed`);
    this.name = "ClusterClosedError";
    this.resource = resource;
  }
}

/**
 * Whether `value` is a {@linkcode ClusterClosedError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns True for a ClusterClosedError.
 * @example Usage
 * ```ts
 * import { isClusterClosedError } from "@troupe/troupe/cluster";
 * console.log(isClusterClosedError(new Error("x"))); // false
 * ```
 */
export function isClusterClosedError(
  value: unknown,
): value is ClusterClosedError {
  return hasClusterCode(value, "CLUSTER_CLOSED");
}

/** Options of {@linkcode ClusterStoreUnavailableError}. */
export interface ClusterStoreUnavailableErrorOptions {
  /**
   * Whether the operation certainly did not take effect, for example because it was never
   * sent (default `false`: a write may or may not have been applied).
   */
  readonly notApplied?: boolean;
}

/**
 * The store behind a membership table or a lease (Redis) could not be reached or failed. The
 * call may be retried; whether a write took effect is unknown unless `notApplied` is true, so a
 * writer reads the table again before it decides again.
 *
 * @example Usage
 * ```ts
 * import { ClusterStoreUnavailableError, isClusterStoreUnavailableError } from "@troupe/troupe/cluster";
 * const error = new ClusterStoreUnavailableError("Redis is down", undefined, { notApplied: true });
 * console.log(isClusterStoreUnavailableError(error), error.notApplied); // true true
 * ```
 */
export class ClusterStoreUnavailableError extends Error {
  /** Stable code. */
  readonly code = "CLUSTER_STORE_UNAVAILABLE" as const;
  /** True when the operation certainly did not take effect; false when that is unknown. */
  readonly notApplied: boolean;
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param cause The underlying error.
   * @param options Whether the operation certainly did not take effect.
   */
  constructor(
    message: string,
    cause?: unknown,
    options: ClusterStoreUnavailableErrorOptions = {},
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "ClusterStoreUnavailableError";
    this.notApplied = options.notApplied ?? false;
  }
}

/**
 * Whether `value` is a {@linkcode ClusterStoreUnavailableError} (also across copies of the
 * package).
 *
 * @param value Anything.
 * @returns True for a ClusterStoreUnavailableError.
 * @example Usage
 * ```ts
 * import { isClusterStoreUnavailableError } from "@troupe/troupe/cluster";
 * console.log(isClusterStoreUnavailableError(new Error("x"))); // false
 * ```
 */
export function isClusterStoreUnavailableError(
  value: unknown,
): value is ClusterStoreUnavailableError {
  return hasClusterCode(value, "CLUSTER_STORE_UNAVAILABLE");
}

/**
 * Data read from a cluster store (a membership table's rows or version, a lease's owner or
 * token) is not what Troupe writes there: it was damaged or written by something else. Nothing
 * is decided on it; the call fails with this error instead.
 *
 * @example Usage
 * ```ts
 * import { CorruptClusterDataError, isCorruptClusterDataError } from "@troupe/troupe/cluster";
 * const error = new CorruptClusterDataError("troupe:cluster:{members}:version", "not an integer");
 * console.log(isCorruptClusterDataError(error), error.key); // true troupe:cluster:{members}:version
 * ```
 */
export class CorruptClusterDataError extends Error {
  /** Stable code. */
  readonly code = "CORRUPT_CLUSTER_DATA" as const;
  /** Where the bad data is (a Redis key, with the hash field when there is one). */
  readonly key: string;
  /**
   * Creates the error.
   *
   * @param key Where the bad data is.
   * @param problem What is wrong with it.
   * @param cause The validation error, if any.
   */
  constructor(key: string, problem: string, cause?: unknown) {
    super(
      `Cannot use the cluster data at "${key}": ${problem}`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "CorruptClusterDataError";
    this.key = key;
  }
}

/**
 * Whether `value` is a {@linkcode CorruptClusterDataError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns True for a CorruptClusterDataError.
 * @example Usage
 * ```ts
 * import { isCorruptClusterDataError } from "@troupe/troupe/cluster";
 * console.log(isCorruptClusterDataError(new Error("x"))); // false
 * ```
 */
export function isCorruptClusterDataError(
  value: unknown,
): value is CorruptClusterDataError {
  return hasClusterCode(value, "CORRUPT_CLUSTER_DATA");
}

/**
 * A discovery lookup failed: the source (for example the Kubernetes API server) could not be
 * reached, did not answer in time, or answered with an error status. The lookup may be retried.
 *
 * @example Usage
 * ```ts
 * import { DiscoveryUnavailableError, isDiscoveryUnavailableError } from "@troupe/troupe/cluster";
 * const error = new DiscoveryUnavailableError("kubernetes", "connection refused");
 * console.log(isDiscoveryUnavailableError(error), error.provider); // true kubernetes
 * ```
 */
export class DiscoveryUnavailableError extends Error {
  /** Stable code. */
  readonly code = "DISCOVERY_UNAVAILABLE" as const;
  /** The discovery provider's name. */
  readonly provider: string;
  /**
   * Creates the error.
   *
   * @param provider The discovery provider's name.
   * @param problem What went wrong.
   * @param cause The underlying error.
   */
  constructor(provider: string, problem: string, cause?: unknown) {
    super(
      `Cannot discover nodes with "${provider}": ${problem}`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "DiscoveryUnavailableError";
    this.provider = provider;
  }
}

/**
 * Whether `value` is a {@linkcode DiscoveryUnavailableError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns True for a DiscoveryUnavailableError.
 * @example Usage
 * ```ts
 * import { isDiscoveryUnavailableError } from "@troupe/troupe/cluster";
 * console.log(isDiscoveryUnavailableError(new Error("x"))); // false
 * ```
 */
export function isDiscoveryUnavailableError(
  value: unknown,
): value is DiscoveryUnavailableError {
  return hasClusterCode(value, "DISCOVERY_UNAVAILABLE");
}

/**
 * The discovery source refused the credentials (HTTP 401 or 403 from the Kubernetes API server).
 * Retrying will not help until the credentials or their permissions (RBAC) are fixed.
 *
 * @example Usage
 * ```ts
 * import { DiscoveryForbiddenError, isDiscoveryForbiddenError } from "@troupe/troupe/cluster";
 * const error = new DiscoveryForbiddenError("kubernetes", 403, "the service account may not list pods");
 * console.log(isDiscoveryForbiddenError(error), error.status); // true 403
 * ```
 */
export class DiscoveryForbiddenError extends Error {
  /** Stable code. */
  readonly code = "DISCOVERY_FORBIDDEN" as const;
  /** The discovery provider's name. */
  readonly provider: string;
  /** The HTTP status (401 or 403). */
  readonly status: number;
  /**
   * Creates the error.
   *
   * @param provider The discovery provider's name.
   * @param status The HTTP status.
   * @param problem What was refused and how to fix it.
   */
  constructor(provider: string, status: number, problem: string) {
    super(`Cannot discover nodes with "${provider}": ${problem}`);
    this.name = "DiscoveryForbiddenError";
    this.provider = provider;
    this.status = status;
  }
}

/**
 * Whether `value` is a {@linkcode DiscoveryForbiddenError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns True for a DiscoveryForbiddenError.
 * @example Usage
 * ```ts
 * import { isDiscoveryForbiddenError } from "@troupe/troupe/cluster";
 * console.log(isDiscoveryForbiddenError(new Error("x"))); // false
 * ```
 */
export function isDiscoveryForbiddenError(
  value: unknown,
): value is DiscoveryForbiddenError {
  return hasClusterCode(value, "DISCOVERY_FORBIDDEN");
}

/**
 * The discovery source answered, but with something that is not what its API documents (not
 * JSON, not a list of pods, a broken page token). Nothing is taken from it.
 *
 * @example Usage
 * ```ts
 * import { DiscoveryResponseError, isDiscoveryResponseError } from "@troupe/troupe/cluster";
 * const error = new DiscoveryResponseError("kubernetes", "the body is not JSON");
 * console.log(isDiscoveryResponseError(error)); // true
 * ```
 */
export class DiscoveryResponseError extends Error {
  /** Stable code. */
  readonly code = "DISCOVERY_BAD_RESPONSE" as const;
  /** The discovery provider's name. */
  readonly provider: string;
  /**
   * Creates the error.
   *
   * @param provider The discovery provider's name.
   * @param problem What is wrong with the answer.
   * @param cause The parse error, if any.
   */
  constructor(provider: string, problem: string, cause?: unknown) {
    super(
      `Cannot discover nodes with "${provider}": ${problem}`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "DiscoveryResponseError";
    this.provider = provider;
  }
}

/**
 * Whether `value` is a {@linkcode DiscoveryResponseError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns True for a DiscoveryResponseError.
 * @example Usage
 * ```ts
 * import { isDiscoveryResponseError } from "@troupe/troupe/cluster";
 * console.log(isDiscoveryResponseError(new Error("x"))); // false
 * ```
 */
export function isDiscoveryResponseError(
  value: unknown,
): value is DiscoveryResponseError {
  return hasClusterCode(value, "DISCOVERY_BAD_RESPONSE");
}

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
