// All errors of pub/sub, each with a stable `code` and an `isXxx()` guard.

function hasCode(value: unknown, code: string): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * A pub/sub frame from another node (registry gossip or a publication) is malformed. The frame
 * is dropped and logged; the connection and the node carry on.
 *
 * @example Usage
 * ```ts
 * import { InvalidPubSubFrameError, isInvalidPubSubFrameError } from "@troupe/troupe/cluster";
 * console.log(isInvalidPubSubFrameError(new InvalidPubSubFrameError("bad"))); // true
 * ```
 */
export class InvalidPubSubFrameError extends Error {
  /** Stable code. */
  readonly code = "INVALID_PUBSUB_FRAME" as const;
  /**
   * Creates the error.
   *
   * @param message What is wrong.
   * @param options The underlying error.
   */
  constructor(message: string, options?: { readonly cause?: unknown }) {
    super(message, options);
    this.name = "InvalidPubSubFrameError";
  }
}

/**
 * Whether `value` is an {@linkcode InvalidPubSubFrameError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns Whether it is one.
 *
 * @example Usage
 * ```ts
 * import { isInvalidPubSubFrameError } from "@troupe/troupe/cluster";
 * console.log(isInvalidPubSubFrameError(new Error("x"))); // false
 * ```
 */
export function isInvalidPubSubFrameError(
  value: unknown,
): value is InvalidPubSubFrameError {
  return hasCode(value, "INVALID_PUBSUB_FRAME");
}

/**
 * A {@linkcode PubSub} was used after its `close()`.
 *
 * @example Usage
 * ```ts
 * import { isPubSubClosedError, PubSubClosedError } from "@troupe/troupe/cluster";
 * console.log(isPubSubClosedError(new PubSubClosedError("a"))); // true
 * ```
 */
export class PubSubClosedError extends Error {
  /** Stable code. */
  readonly code = "PUBSUB_CLOSED" as const;
  /** The node whose pub/sub is closed. */
  readonly node: string;
  /**
   * Creates the error.
   *
   * @param node The node whose pub/sub is closed.
   */
  constructor(node: string) {
    super(`Cannot use the pub/sub of node "${node}": it is closed`);
    this.name = "PubSubClosedError";
    this.node = node;
  }
}

/**
 * Whether `value` is a {@linkcode PubSubClosedError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns Whether it is one.
 *
 * @example Usage
 * ```ts
 * import { isPubSubClosedError } from "@troupe/troupe/cluster";
 * console.log(isPubSubClosedError(new TypeError("x"))); // false
 * ```
 */
export function isPubSubClosedError(
  value: unknown,
): value is PubSubClosedError {
  return hasCode(value, "PUBSUB_CLOSED");
}
