// The errors of the protocol layer (bytes that are not a valid message), with their guards.
// The remote subsystem's errors.ts re-exports them, so users see one list.

/**
 * Bytes from the network are not a valid frame or message.
 *
 * @example Usage
 * ```ts
 * import { isProtocolError } from "@troupe/troupe";
 * console.log(isProtocolError(new Error())); // false
 * ```
 */
export class ProtocolError extends Error {
  /** Stable code. */
  readonly code = "MALFORMED_FRAME" as const;
  /**
   * Creates the error.
   *
   * @param message What was wrong.
   * @param cause The underlying error.
   */
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "ProtocolError";
  }
}

/** Tells whether a value is a {@linkcode ProtocolError}. @param value Anything. @returns Whether it is one. */
export function isProtocolError(value: unknown): value is ProtocolError {
  return value instanceof Error &&
    (value as { code?: unknown }).code === "MALFORMED_FRAME";
}
