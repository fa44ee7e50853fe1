// All errors of the cluster singleton, each with a stable `code` and an `isXxx()` guard.

function hasCode(value: unknown, code: string): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * A message for a singleton did not fit the proxy's buffer: the instance is moving (or not
 * started yet) and `bufferSize` messages already wait. An ask rejects with it; a tell becomes
 * a dead letter (reason `mailbox-full`).
 *
 * @example Usage
 * ```ts
 * import { isSingletonBufferFullError, SingletonBufferFullError } from "@troupe/troupe/cluster";
 * const error = new SingletonBufferFullError("orders", "place", 1000);
 * console.log(isSingletonBufferFullError(error), error.bufferSize); // true 1000
 * ```
 */
export class SingletonBufferFullError extends Error {
  /** Stable code. */
  readonly code = "SINGLETON_BUFFER_FULL" as const;
  /** The singleton's name. */
  readonly singleton: string;
  /** The message type that did not fit. */
  readonly messageType: string;
  /** The buffer's size. */
  readonly bufferSize: number;
  /**
   * Creates the error.
   *
   * @param singleton The singleton's name.
   * @param messageType The message type.
   * @param bufferSize The buffer's size.
   */
  constructor(singleton: string, messageType: string, bufferSize: number) {
    super(
      `Cannot deliver message "${messageType}" to singleton "${singleton}": its proxy's buffer is full (${bufferSize} messages wait while the instance moves)`,
    );
    this.name = "SingletonBufferFullError";
    this.singleton = singleton;
    this.messageType = messageType;
    this.bufferSize = bufferSize;
  }
}

/**
 * Whether `value` is a {@linkcode SingletonBufferFullError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns True for a SingletonBufferFullError.
 * @example Usage
 * ```ts
 * import { isSingletonBufferFullError } from "@troupe/troupe/cluster";
 * console.log(isSingletonBufferFullError(new Error("x"))); // false
 * ```
 */
export function isSingletonBufferFullError(
  value: unknown,
): value is SingletonBufferFullError {
  return hasCode(value, "SINGLETON_BUFFER_FULL");
}

/**
 * A message was sent through the proxy of a singleton whose `ClusterSingleton.close()`
 * was called on this node (asks still buffered then reject with it too).
 *
 * @example Usage
 * ```ts
 * import { isSingletonClosedError, SingletonClosedError } from "@troupe/troupe/cluster";
 * console.log(isSingletonClosedError(new SingletonClosedError("orders"))); // true
 * ```
 */
export class SingletonClosedError extends Error {
  /** Stable code. */
  readonly code = "SINGLETON_CLOSED" as const;
  /** The singleton's name. */
  readonly singleton: string;
  /**
   * Creates the error.
   *
   * @param singleton The singleton's name.
   */
  constructor(singleton: string) {
    super(
      `Cannot deliver message to singleton "${singleton}": its part on this node is closed`,
    );
    this.name = "SingletonClosedError";
    this.singleton = singleton;
  }
}

/**
 * Whether `value` is a {@linkcode SingletonClosedError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns True for a SingletonClosedError.
 * @example Usage
 * ```ts
 * import { isSingletonClosedError } from "@troupe/troupe/cluster";
 * console.log(isSingletonClosedError(new Error("x"))); // false
 * ```
 */
export function isSingletonClosedError(
  value: unknown,
): value is SingletonClosedError {
  return hasCode(value, "SINGLETON_CLOSED");
}
