// All errors of the remoting subsystem, each with a stable `code` and an `isXxx()` guard. The
// protocol and transport layers own theirs (a lower layer cannot import this file); they are
// re-exported here so the subsystem's errors stay one list.
export { isProtocolError, ProtocolError } from "./protocol/errors.ts";
export {
  ConnectionClosedError,
  FrameTooLargeError,
  isConnectionClosedError,
  isFrameTooLargeError,
} from "./transport/errors.ts";

/** The codes of remoting errors. */
export type RemoteErrorCode =
  | "MALFORMED_FRAME"
  | "FRAME_TOO_LARGE"
  | "CONNECTION_CLOSED"
  | "HANDSHAKE_REFUSED"
  | "NODE_UNREACHABLE"
  | "REMOTE_FAILURE"
  | "CODEC_UNKNOWN"
  | "EXTENSION_UNSUPPORTED";

function hasCode(value: unknown, code: RemoteErrorCode): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * The handshake was refused: protocol version, cluster name or secret do not match. `reason`
 * says which; both sides get it.
 *
 * @example Usage
 * ```ts
 * import { isHandshakeRefusedError } from "@troupe/troupe";
 * console.log(isHandshakeRefusedError(new Error())); // false
 * ```
 */
export class HandshakeRefusedError extends Error {
  /** Stable code. */
  readonly code = "HANDSHAKE_REFUSED" as const;
  /**
   * Which check failed: "version", "cluster", "auth", "protocol", "timeout", "busy" (too many
   * handshakes in progress), "rate-limited" (too many failed proofs from the address),
   * "closing" (the other node is closing) or "node" (a reconnect found another node at the
   * address, and refused before proving anything to it).
   */
  readonly refusal: string;
  /**
   * Creates the error.
   *
   * @param refusal Which check failed.
   * @param reason The explanation.
   */
  constructor(refusal: string, reason: string) {
    super(`Handshake refused (${refusal}): ${reason}`);
    this.name = "HandshakeRefusedError";
    this.refusal = refusal;
  }
}

/**
 * The node is not reachable: the connection to it was lost or could not be made. Asks waiting
 * on it reject with this error at once.
 *
 * @example Usage
 * ```ts
 * import { isNodeUnreachableError } from "@troupe/troupe";
 * console.log(isNodeUnreachableError(new Error())); // false
 * ```
 */
export class NodeUnreachableError extends Error {
  /** Stable code. */
  readonly code = "NODE_UNREACHABLE" as const;
  /** The node. */
  readonly node: string;
  /**
   * Why it is unreachable; after `RemoteNode.disconnect()`, the reason given there
   * (for example why a cluster member was downed).
   */
  readonly reason: string;
  /**
   * Creates the error.
   *
   * @param node The node.
   * @param reason Why.
   * @param cause The underlying error.
   */
  constructor(node: string, reason: string, cause?: unknown) {
    super(`Node "${node}" is unreachable: ${reason}`, { cause });
    this.name = "NodeUnreachableError";
    this.node = node;
    this.reason = reason;
  }
}

/**
 * A request failed on the remote node. `remoteCode` is the remote error's stable code (for
 * example `ACTOR_STOPPED`, `MESSAGE_NOT_HANDLED`, `HANDLER_FAILED`), `remoteName` its name.
 *
 * @example Usage
 * ```ts
 * import { isRemoteFailureError } from "@troupe/troupe";
 * console.log(isRemoteFailureError(new Error())); // false
 * ```
 */
export class RemoteFailureError extends Error {
  /** Stable code. */
  readonly code = "REMOTE_FAILURE" as const;
  /** The remote error's code. */
  readonly remoteCode: string;
  /** The remote error's name. */
  readonly remoteName: string;
  /** The node that reported it. */
  readonly node: string;
  /**
   * Creates the error.
   *
   * @param node The node.
   * @param remoteCode The remote code.
   * @param remoteName The remote error name.
   * @param message The remote message.
   */
  constructor(
    node: string,
    remoteCode: string,
    remoteName: string,
    message: string,
  ) {
    super(`${remoteName} on node "${node}": ${message}`);
    this.name = "RemoteFailureError";
    this.node = node;
    this.remoteCode = remoteCode;
    this.remoteName = remoteName;
  }
}

/**
 * A message names a codec that is not registered, or its payload does not decode.
 *
 * @example Usage
 * ```ts
 * import { isCodecError } from "@troupe/troupe";
 * console.log(isCodecError(new Error())); // false
 * ```
 */
export class CodecError extends Error {
  /** Stable code. */
  readonly code = "CODEC_UNKNOWN" as const;
  /**
   * Creates the error.
   *
   * @param message What went wrong.
   * @param cause The underlying error.
   */
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "CodecError";
  }
}

/**
 * A message of an extension went to a node that does not handle that extension (it did not
 * announce it in the handshake, or refused the message). The connection stays up.
 *
 * @example Usage
 * ```ts
 * import { isExtensionUnsupportedError } from "@troupe/troupe";
 * console.log(isExtensionUnsupportedError(new Error())); // false
 * ```
 */
export class ExtensionUnsupportedError extends Error {
  /** Stable code. */
  readonly code = "EXTENSION_UNSUPPORTED" as const;
  /** The node that lacks it. */
  readonly node: string;
  /** The extension's name. */
  readonly extension: string;
  /**
   * Creates the error.
   *
   * @param node The node that lacks the extension.
   * @param extension The extension's name.
   */
  constructor(node: string, extension: string) {
    super(`Node "${node}" does not handle extension "${extension}"`);
    this.name = "ExtensionUnsupportedError";
    this.node = node;
    this.extension = extension;
  }
}

/** Tells whether a value is a {@linkcode ExtensionUnsupportedError}. @param value Anything. @returns Whether it is one. */
export function isExtensionUnsupportedError(
  value: unknown,
): value is ExtensionUnsupportedError {
  return hasCode(value, "EXTENSION_UNSUPPORTED");
}

/** Tells whether a value is a {@linkcode HandshakeRefusedError}. @param value Anything. @returns Whether it is one. */
export function isHandshakeRefusedError(
  value: unknown,
): value is HandshakeRefusedError {
  return hasCode(value, "HANDSHAKE_REFUSED");
}
/** Tells whether a value is a {@linkcode NodeUnreachableError}. @param value Anything. @returns Whether it is one. */
export function isNodeUnreachableError(
  value: unknown,
): value is NodeUnreachableError {
  return hasCode(value, "NODE_UNREACHABLE");
}
/** Tells whether a value is a {@linkcode RemoteFailureError}. @param value Anything. @returns Whether it is one. */
export function isRemoteFailureError(
  value: unknown,
): value is RemoteFailureError {
  return hasCode(value, "REMOTE_FAILURE");
}
/** Tells whether a value is a {@linkcode CodecError}. @param value Anything. @returns Whether it is one. */
export function isCodecError(value: unknown): value is CodecError {
  return hasCode(value, "CODEC_UNKNOWN");
}
