// The errors of the transport layer (frames over a connection), with their guards. The remote
// subsystem's errors.ts re-exports them, so users see one list.

function hasCode(value: unknown, code: string): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * A frame is larger than the configured limit (inbound: the connection is closed; outbound:
 * the message is refused).
 *
 * @example Usage
 * ```ts
 * import { isFrameTooLargeError } from "@troupe/troupe";
 * console.log(isFrameTooLargeError(new Error())); // false
 * ```
 */
export class FrameTooLargeError extends Error {
  /** Stable code. */
  readonly code = "FRAME_TOO_LARGE" as const;
  /** The frame's size in bytes. */
  readonly size: number;
  /** The limit in bytes. */
  readonly limit: number;
  /**
   * Creates the error.
   *
   * @param size The frame's size.
   * @param limit The limit.
   */
  constructor(size: number, limit: number) {
    super(`Frame of ${size} bytes is over the limit of ${limit} bytes`);
    this.name = "FrameTooLargeError";
    this.size = size;
    this.limit = limit;
  }
}

/**
 * The connection is closed (by either side, or because the peer stopped reading or answering).
 *
 * @example Usage
 * ```ts
 * import { isConnectionClosedError } from "@troupe/troupe";
 * console.log(isConnectionClosedError(new Error())); // false
 * ```
 */
export class ConnectionClosedError extends Error {
  /** Stable code. */
  readonly code = "CONNECTION_CLOSED" as const;
  /**
   * Creates the error.
   *
   * @param reason Why it closed.
   * @param cause The underlying error.
   */
  constructor(reason: string, cause?: unknown) {
    super(`Connection closed: ${reason}`, { cause });
    this.name = "ConnectionClosedError";
  }
}

/** Tells whether a value is a {@linkcode FrameTooLargeError}. @param value Anything. @returns Whether it is one. */
export function isFrameTooLargeError(
  value: unknown,
): value is FrameTooLargeError {
  return hasCode(value, "FRAME_TOO_LARGE");
}
/** Tells whether a value is a {@linkcode ConnectionClosedError}. @param value Anything. @returns Whether it is one. */
export function isConnectionClosedError(
  value: unknown,
): value is ConnectionClosedError {
  return hasCode(value, "CONNECTION_CLOSED");
}
