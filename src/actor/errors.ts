// All errors of the actor runtime. Each has a stable `code` and an `isXxx()` guard that also
// works across two loaded copies of the library (where `instanceof` fails).

/** The codes of the actor runtime's errors. */
export type ActorErrorCode =
  | "ASK_TIMEOUT"
  | "ACTOR_STOPPED"
  | "MESSAGE_NOT_HANDLED"
  | "MAILBOX_FULL"
  | "ACTOR_START_FAILED"
  | "DUPLICATE_ACTOR_ID"
  | "SUPERVISION_ESCALATED";

function hasCode(value: unknown, code: ActorErrorCode): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * An ask got no reply within its timeout.
 *
 * @example Usage
 * ```ts
 * import { isAskTimeoutError } from "@troupe/troupe";
 * console.log(isAskTimeoutError(new Error())); // false
 * ```
 */
export class AskTimeoutError extends Error {
  /** Stable code. */
  readonly code = "ASK_TIMEOUT" as const;
  /** The actor asked. */
  readonly path: string;
  /** The message type asked. */
  readonly messageType: string;
  /** The timeout that ran out, in milliseconds. */
  readonly timeoutMs: number;
  /**
   * Creates the error.
   *
   * @param path The actor asked.
   * @param messageType The message type.
   * @param timeoutMs The timeout in milliseconds.
   */
  constructor(path: string, messageType: string, timeoutMs: number) {
    super(
      `Ask "${messageType}" to actor "${path}" timed out after ${timeoutMs} ms`,
    );
    this.name = "AskTimeoutError";
    this.path = path;
    this.messageType = messageType;
    this.timeoutMs = timeoutMs;
  }
}

/**
 * The actor is stopped (or stopped before it handled the message).
 *
 * @example Usage
 * ```ts
 * import { isActorStoppedError } from "@troupe/troupe";
 * console.log(isActorStoppedError(new Error())); // false
 * ```
 */
export class ActorStoppedError extends Error {
  /** Stable code. */
  readonly code = "ACTOR_STOPPED" as const;
  /** The actor. */
  readonly path: string;
  /**
   * Creates the error.
   *
   * @param path The actor.
   * @param messageType The message that could not be delivered, if any.
   */
  constructor(path: string, messageType?: string) {
    super(
      messageType === undefined
        ? `Actor "${path}" is stopped`
        : `Cannot deliver message "${messageType}" to actor "${path}": actor is stopped`,
    );
    this.name = "ActorStoppedError";
    this.path = path;
  }
}

/**
 * The actor has no handler for the message type (possible only when types are bypassed, or
 * for messages that arrive from outside the type system).
 *
 * @example Usage
 * ```ts
 * import { isMessageNotHandledError } from "@troupe/troupe";
 * console.log(isMessageNotHandledError(new Error())); // false
 * ```
 */
export class MessageNotHandledError extends Error {
  /** Stable code. */
  readonly code = "MESSAGE_NOT_HANDLED" as const;
  /** The actor. */
  readonly path: string;
  /** The message type it does not handle. */
  readonly messageType: string;
  /** The actor's type name. */
  readonly actorType: string;
  /**
   * Creates the error.
   *
   * @param path The actor.
   * @param actorType The actor's type name.
   * @param messageType The unhandled message type.
   */
  constructor(path: string, actorType: string, messageType: string) {
    super(
      `Cannot deliver message "${messageType}" to actor "${path}": actor type "${actorType}" has no handler for it`,
    );
    this.name = "MessageNotHandledError";
    this.path = path;
    this.actorType = actorType;
    this.messageType = messageType;
  }
}

/**
 * A bounded mailbox refused or dropped the message.
 *
 * @example Usage
 * ```ts
 * import { isMailboxFullError } from "@troupe/troupe";
 * console.log(isMailboxFullError(new Error())); // false
 * ```
 */
export class MailboxFullError extends Error {
  /** Stable code. */
  readonly code = "MAILBOX_FULL" as const;
  /** The actor. */
  readonly path: string;
  /** The mailbox capacity. */
  readonly capacity: number;
  /**
   * Creates the error.
   *
   * @param path The actor.
   * @param messageType The message refused or dropped.
   * @param capacity The mailbox capacity.
   */
  constructor(path: string, messageType: string, capacity: number) {
    super(
      `Cannot deliver message "${messageType}" to actor "${path}": mailbox is full (capacity ${capacity})`,
    );
    this.name = "MailboxFullError";
    this.path = path;
    this.capacity = capacity;
  }
}

/**
 * Starting an actor failed: its `init` or `started` hook threw. The cause is in `cause`.
 *
 * @example Usage
 * ```ts
 * import { isActorStartError } from "@troupe/troupe";
 * console.log(isActorStartError(new Error())); // false
 * ```
 */
export class ActorStartError extends Error {
  /** Stable code. */
  readonly code = "ACTOR_START_FAILED" as const;
  /** The actor. */
  readonly path: string;
  /**
   * Creates the error.
   *
   * @param path The actor.
   * @param cause What the hook threw.
   */
  constructor(path: string, cause: unknown) {
    super(
      `Actor "${path}" failed to start: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      {
        cause,
      },
    );
    this.name = "ActorStartError";
    this.path = path;
  }
}

/**
 * An actor with this id already exists (among the top-level actors, or among one parent's
 * children).
 *
 * @example Usage
 * ```ts
 * import { isDuplicateActorIdError } from "@troupe/troupe";
 * console.log(isDuplicateActorIdError(new Error())); // false
 * ```
 */
export class DuplicateActorIdError extends Error {
  /** Stable code. */
  readonly code = "DUPLICATE_ACTOR_ID" as const;
  /** The path that is taken. */
  readonly path: string;
  /**
   * Creates the error.
   *
   * @param path The path that is taken.
   */
  constructor(path: string) {
    super(
      `Cannot spawn actor "${path}": an actor with this id is already running`,
    );
    this.name = "DuplicateActorIdError";
    this.path = path;
  }
}

/**
 * A supervisor gave up on a child (its restart intensity was exceeded, or its strategy said
 * escalate) and failed itself; the child's error is the `cause`.
 *
 * @example Usage
 * ```ts
 * import { isSupervisionEscalatedError } from "@troupe/troupe";
 * console.log(isSupervisionEscalatedError(new Error())); // false
 * ```
 */
export class SupervisionEscalatedError extends Error {
  /** Stable code. */
  readonly code = "SUPERVISION_ESCALATED" as const;
  /** The child whose failure escalated. */
  readonly childPath: string;
  /**
   * Creates the error.
   *
   * @param childPath The failing child.
   * @param reason Why it escalated.
   * @param cause The child's error.
   */
  constructor(childPath: string, reason: string, cause: unknown) {
    super(`Supervision of actor "${childPath}" escalated: ${reason}`, {
      cause,
    });
    this.name = "SupervisionEscalatedError";
    this.childPath = childPath;
  }
}

/** Tells whether a value is an {@linkcode AskTimeoutError}. @param value Anything. @returns Whether it is one. */
export function isAskTimeoutError(value: unknown): value is AskTimeoutError {
  return hasCode(value, "ASK_TIMEOUT");
}
/** Tells whether a value is an {@linkcode ActorStoppedError}. @param value Anything. @returns Whether it is one. */
export function isActorStoppedError(
  value: unknown,
): value is ActorStoppedError {
  return hasCode(value, "ACTOR_STOPPED");
}
/** Tells whether a value is a {@linkcode MessageNotHandledError}. @param value Anything. @returns Whether it is one. */
export function isMessageNotHandledError(
  value: unknown,
): value is MessageNotHandledError {
  return hasCode(value, "MESSAGE_NOT_HANDLED");
}
/** Tells whether a value is a {@linkcode MailboxFullError}. @param value Anything. @returns Whether it is one. */
export function isMailboxFullError(value: unknown): value is MailboxFullError {
  return hasCode(value, "MAILBOX_FULL");
}
/** Tells whether a value is an {@linkcode ActorStartError}. @param value Anything. @returns Whether it is one. */
export function isActorStartError(value: unknown): value is ActorStartError {
  return hasCode(value, "ACTOR_START_FAILED");
}
/** Tells whether a value is a {@linkcode DuplicateActorIdError}. @param value Anything. @returns Whether it is one. */
export function isDuplicateActorIdError(
  value: unknown,
): value is DuplicateActorIdError {
  return hasCode(value, "DUPLICATE_ACTOR_ID");
}
/** Tells whether a value is a {@linkcode SupervisionEscalatedError}. @param value Anything. @returns Whether it is one. */
export function isSupervisionEscalatedError(
  value: unknown,
): value is SupervisionEscalatedError {
  return hasCode(value, "SUPERVISION_ESCALATED");
}
