// The messages of the remoting protocol as plain TypeScript types: one `kind` per body of the
// Envelope in proto/troupe_remote.proto, with the fields in camelCase. The codec checks the
// limits documented here in both directions.

/**
 * The version of the wire protocol this code speaks; Hello and Welcome carry it. Version 2 moved
 * the listener's proof from Welcome to Accepted (the dialer proves first).
 */
export const PROTOCOL_VERSION = 2;

/** The size of a handshake nonce in bytes (Hello and Welcome). */
export const NONCE_BYTES = 32;

/** The size of a handshake proof (an HMAC-SHA256) in bytes (Proof and Accepted). */
export const PROOF_BYTES = 32;

/** The longest string field, in UTF-8 bytes (64 KiB). Bytes fields are bounded by the frame. */
export const MAX_STRING_BYTES = 65_536;

/** The most extension names a Hello or Welcome may list. */
export const MAX_EXTENSIONS = 64;

/**
 * The dialer's first handshake step.
 *
 * `node`, `address` and `cluster` are non-empty; `nonce` is exactly {@linkcode NONCE_BYTES} bytes.
 */
export interface HelloMessage {
  /** Discriminant. */
  readonly kind: "hello";
  /** The sender's {@linkcode PROTOCOL_VERSION} (a uint32; any value decodes, so it can be refused). */
  readonly protocolVersion: number;
  /** The sender's node name. */
  readonly node: string;
  /** The address the sender listens on, e.g. `127.0.0.1:4000`. */
  readonly address: string;
  /** The sender's cluster name. */
  readonly cluster: string;
  /** A fresh random nonce. */
  readonly nonce: Uint8Array;
  /**
   * The extensions the sender handles (non-empty names, at most {@linkcode MAX_EXTENSIONS});
   * absent when none, as from a peer that predates extensions.
   */
  readonly extensions?: readonly string[];
}

/**
 * The listener's answer to {@linkcode HelloMessage}: the same facts about the listener and a fresh
 * nonce, and nothing derived from the secret (the dialer proves itself first).
 */
export interface WelcomeMessage {
  /** Discriminant. */
  readonly kind: "welcome";
  /** The sender's protocol version (a uint32). */
  readonly protocolVersion: number;
  /** The sender's node name (non-empty). */
  readonly node: string;
  /** The address the sender listens on (non-empty). */
  readonly address: string;
  /** The sender's cluster name (non-empty). */
  readonly cluster: string;
  /** A fresh random nonce ({@linkcode NONCE_BYTES} bytes). */
  readonly nonce: Uint8Array;
  /** The extensions the sender handles, as in {@linkcode HelloMessage.extensions}. */
  readonly extensions?: readonly string[];
}

/** The dialer's proof, the third handshake step. */
export interface ProofMessage {
  /** Discriminant. */
  readonly kind: "proof";
  /** The dialer's proof ({@linkcode PROOF_BYTES} bytes). */
  readonly proof: Uint8Array;
}

/**
 * The listener accepts the connection, with its own proof (sent only once the dialer's proof
 * verified): the handshake is done once the dialer has checked it.
 */
export interface AcceptedMessage {
  /** Discriminant. */
  readonly kind: "accepted";
  /** The listener's proof ({@linkcode PROOF_BYTES} bytes). */
  readonly proof: Uint8Array;
}

/** Sent instead of the next handshake step, or before closing: why the connection is refused. */
export interface RefusedMessage {
  /** Discriminant. */
  readonly kind: "refused";
  /**
   * Which check failed (non-empty): `version`, `cluster`, `auth`, `protocol`, `timeout`, `busy`,
   * `rate-limited` or `closing`.
   */
  readonly code: string;
  /** The explanation (may be empty). */
  readonly reason: string;
}

/** One fire-and-forget message to an actor on the receiving node. */
export interface Tell {
  /** The recipient's actor path (non-empty). */
  readonly recipient: string;
  /** The message type (non-empty). */
  readonly type: string;
  /** The name of the codec of `payload` (non-empty). */
  readonly codec: string;
  /** The encoded message (may be empty). */
  readonly payload: Uint8Array;
  /**
   * The sender's W3C trace context (the `traceparent` header's value); absent (or `""`) when
   * the tell is not traced. At most {@linkcode MAX_STRING_BYTES} UTF-8 bytes; the receiver's
   * tracer checks its form.
   */
  readonly traceparent?: string;
}

/** Tells to actors on the receiving node, delivered in this order. */
export interface TellBatchMessage {
  /** Discriminant. */
  readonly kind: "tells";
  /** The tells, at least one. */
  readonly tells: readonly Tell[];
}

/** A request to an actor; answered by {@linkcode ReplyMessage} or {@linkcode FailureMessage}. */
export interface AskMessage {
  /** Discriminant. */
  readonly kind: "ask";
  /** The request id (a uint32) that the answer repeats. */
  readonly id: number;
  /** The recipient's actor path (non-empty). */
  readonly recipient: string;
  /** The message type (non-empty). */
  readonly type: string;
  /** The name of the codec of `payload` (non-empty). */
  readonly codec: string;
  /** The encoded message (may be empty). */
  readonly payload: Uint8Array;
  /** How long the asker waits, in milliseconds (a uint32). */
  readonly timeoutMs: number;
  /** The asker's W3C trace context, as {@linkcode Tell.traceparent}. */
  readonly traceparent?: string;
}

/** The successful answer to a request (Ask, Spawn, Lookup or Stop). */
export interface ReplyMessage {
  /** Discriminant. */
  readonly kind: "reply";
  /** The id of the request (a uint32). */
  readonly id: number;
  /** The name of the codec of `payload` (non-empty). */
  readonly codec: string;
  /** The encoded answer (may be empty). */
  readonly payload: Uint8Array;
}

/** A request failed on the remote side. */
export interface FailureMessage {
  /** Discriminant. */
  readonly kind: "failure";
  /** The id of the request (a uint32). */
  readonly id: number;
  /** A stable error code, e.g. `ACTOR_STOPPED` or `HANDLER_FAILED` (non-empty). */
  readonly code: string;
  /** The error message (may be empty). */
  readonly message: string;
  /** The error name (may be empty). */
  readonly name: string;
}

/** Liveness probe; answered with a {@linkcode PongMessage} with the same id. */
export interface PingMessage {
  /** Discriminant. */
  readonly kind: "ping";
  /** The probe id (a uint32). */
  readonly id: number;
}

/** The answer to a {@linkcode PingMessage}. */
export interface PongMessage {
  /** Discriminant. */
  readonly kind: "pong";
  /** The id of the ping (a uint32). */
  readonly id: number;
}

/** Death watch: the receiver sends {@linkcode TerminatedMessage} when `target` stops. */
export interface WatchMessage {
  /** Discriminant. */
  readonly kind: "watch";
  /** The watched actor's path (non-empty). */
  readonly target: string;
}

/** Cancels a {@linkcode WatchMessage}. */
export interface UnwatchMessage {
  /** Discriminant. */
  readonly kind: "unwatch";
  /** The actor's path (non-empty). */
  readonly target: string;
}

/** A watched actor stopped (or was not running). */
export interface TerminatedMessage {
  /** Discriminant. */
  readonly kind: "terminated";
  /** The actor's path (non-empty). */
  readonly target: string;
  /** `""` for a clean stop, else the fault kind. */
  readonly fault: string;
  /** The explanation (may be empty). */
  readonly reason: string;
}

/** Spawns an actor from a factory registered by name on the receiving node. */
export interface SpawnMessage {
  /** Discriminant. */
  readonly kind: "spawn";
  /** The request id (a uint32). */
  readonly id: number;
  /** The factory's name (non-empty). */
  readonly factory: string;
  /** The new actor's id, `""` to let the receiver choose one. */
  readonly actorId: string;
  /** The name of the codec of `args` (non-empty). */
  readonly codec: string;
  /** The encoded start arguments (may be empty). */
  readonly args: Uint8Array;
}

/** Asks whether an actor runs at `path`. */
export interface LookupMessage {
  /** Discriminant. */
  readonly kind: "lookup";
  /** The request id (a uint32). */
  readonly id: number;
  /** The actor's path (non-empty). */
  readonly path: string;
}

/** Stops the actor at `path`. */
export interface StopMessage {
  /** Discriminant. */
  readonly kind: "stop";
  /** The request id (a uint32). */
  readonly id: number;
  /** The actor's path (non-empty). */
  readonly path: string;
}

/** The sender is closing the connection on purpose. */
export interface GoodbyeMessage {
  /** Discriminant. */
  readonly kind: "goodbye";
  /** Why (may be empty). */
  readonly reason: string;
}

/**
 * A message of an extension (a message kind registered by a higher layer). With an id (not 0)
 * it is a request, answered by a Reply or a Failure; with id 0 nothing answers it.
 */
export interface ExtensionMessage {
  /** Discriminant. */
  readonly kind: "extension";
  /** The request id (a uint32), or 0 for a message that expects no answer. */
  readonly id: number;
  /** The extension's name (non-empty). */
  readonly name: string;
  /** The message, in the extension's codec. */
  readonly payload: Uint8Array;
}

/** One message of the remoting protocol: the body of one frame. */
export type RemoteMessage =
  | HelloMessage
  | WelcomeMessage
  | ProofMessage
  | AcceptedMessage
  | RefusedMessage
  | TellBatchMessage
  | AskMessage
  | ReplyMessage
  | FailureMessage
  | PingMessage
  | PongMessage
  | WatchMessage
  | UnwatchMessage
  | TerminatedMessage
  | SpawnMessage
  | LookupMessage
  | StopMessage
  | GoodbyeMessage
  | ExtensionMessage;

/** The `kind` of a {@linkcode RemoteMessage}. */
export type RemoteMessageKind = RemoteMessage["kind"];
