// All errors of the persistence subsystem, each with a stable `code` and an `isXxx()` guard.

/** The codes of persistence errors. */
export type PersistenceErrorCode =
  | "JOURNAL_CONFLICT"
  | "JOURNAL_UNAVAILABLE"
  | "CORRUPT_RECORD"
  | "RECOVERY_FAILED"
  | "PERSIST_FAILED";

function hasCode(value: unknown, code: PersistenceErrorCode): boolean {
  return value instanceof Error && (value as { code?: unknown }).code === code;
}

/**
 * An append was refused because the journal's last sequence number was not the expected one:
 * another writer appended to the same persistence id (for example the same entity started twice
 * in a split cluster). Nothing was written.
 *
 * @example Usage
 * ```ts
 * import { isJournalConflictError } from "@troupe/troupe";
 * console.log(isJournalConflictError(new Error())); // false
 * ```
 */
export class JournalConflictError extends Error {
  /** Stable code. */
  readonly code = "JOURNAL_CONFLICT" as const;
  /** The persistence id. */
  readonly persistenceId: string;
  /** The last sequence number the writer expected. */
  readonly expected: number;
  /** The last sequence number the journal has. */
  readonly actual: number;
  /**
   * Creates the error.
   *
   * @param persistenceId The persistence id.
   * @param expected The expected last sequence number.
   * @param actual The journal's last sequence number.
   */
  constructor(persistenceId: string, expected: number, actual: number) {
    super(
      `Cannot append to journal "${persistenceId}": expected last sequence number ${expected}, found ${actual} (another writer?)`,
    );
    this.name = "JournalConflictError";
    this.persistenceId = persistenceId;
    this.expected = expected;
    this.actual = actual;
  }
}

/**
 * The storage could not be reached or failed (connection lost, server error). The operation may
 * be retried; whether an append took effect is unknown unless the error says otherwise.
 *
 * @example Usage
 * ```ts
 * import { isJournalUnavailableError } from "@troupe/troupe";
 * console.log(isJournalUnavailableError(new Error())); // false
 * ```
 */
export class JournalUnavailableError extends Error {
  /** Stable code. */
  readonly code = "JOURNAL_UNAVAILABLE" as const;
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param cause The underlying error.
   */
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "JournalUnavailableError";
  }
}

/**
 * A stored event or snapshot could not be decoded.
 *
 * @example Usage
 * ```ts
 * import { isCorruptRecordError } from "@troupe/troupe";
 * console.log(isCorruptRecordError(new Error())); // false
 * ```
 */
export class CorruptRecordError extends Error {
  /** Stable code. */
  readonly code = "CORRUPT_RECORD" as const;
  /** The persistence id. */
  readonly persistenceId: string;
  /** The sequence number of the bad record. */
  readonly sequenceNr: number;
  /**
   * Creates the error.
   *
   * @param persistenceId The persistence id.
   * @param sequenceNr The record's sequence number.
   * @param what What was wrong.
   * @param cause The underlying error.
   */
  constructor(
    persistenceId: string,
    sequenceNr: number,
    what: string,
    cause?: unknown,
  ) {
    super(`Corrupt record ${sequenceNr} of "${persistenceId}": ${what}`, {
      cause,
    });
    this.name = "CorruptRecordError";
    this.persistenceId = persistenceId;
    this.sequenceNr = sequenceNr;
  }
}

/**
 * A persistent actor could not recover its state. The cause says why (often a
 * {@linkcode CorruptRecordError} or {@linkcode JournalUnavailableError}).
 *
 * @example Usage
 * ```ts
 * import { isRecoveryError } from "@troupe/troupe";
 * console.log(isRecoveryError(new Error())); // false
 * ```
 */
export class RecoveryError extends Error {
  /** Stable code. */
  readonly code = "RECOVERY_FAILED" as const;
  /** The persistence id. */
  readonly persistenceId: string;
  /** The sequence number being recovered when it failed (0 for the snapshot or before). */
  readonly sequenceNr: number;
  /**
   * Creates the error.
   *
   * @param persistenceId The persistence id.
   * @param sequenceNr Where recovery stopped.
   * @param cause Why.
   */
  constructor(persistenceId: string, sequenceNr: number, cause: unknown) {
    super(
      `Recovery of "${persistenceId}" failed at sequence number ${sequenceNr}: ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "RecoveryError";
    this.persistenceId = persistenceId;
    this.sequenceNr = sequenceNr;
  }
}

/**
 * Events could not be persisted after the retries the failure policy allows. The actor's state is
 * unchanged; the cause is the last storage error.
 *
 * @example Usage
 * ```ts
 * import { isPersistFailedError } from "@troupe/troupe";
 * console.log(isPersistFailedError(new Error())); // false
 * ```
 */
export class PersistFailedError extends Error {
  /** Stable code. */
  readonly code = "PERSIST_FAILED" as const;
  /** The persistence id. */
  readonly persistenceId: string;
  /** How many attempts were made. */
  readonly attempts: number;
  /**
   * Creates the error.
   *
   * @param persistenceId The persistence id.
   * @param attempts Attempts made.
   * @param cause The last error.
   */
  constructor(persistenceId: string, attempts: number, cause: unknown) {
    super(
      `Cannot persist events of "${persistenceId}" after ${attempts} attempt(s): ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "PersistFailedError";
    this.persistenceId = persistenceId;
    this.attempts = attempts;
  }
}

/** Tells whether a value is a {@linkcode JournalConflictError}. @param value Anything. @returns Whether it is one. */
export function isJournalConflictError(
  value: unknown,
): value is JournalConflictError {
  return hasCode(value, "JOURNAL_CONFLICT");
}
/** Tells whether a value is a {@linkcode JournalUnavailableError}. @param value Anything. @returns Whether it is one. */
export function isJournalUnavailableError(
  value: unknown,
): value is JournalUnavailableError {
  return hasCode(value, "JOURNAL_UNAVAILABLE");
}
/** Tells whether a value is a {@linkcode CorruptRecordError}. @param value Anything. @returns Whether it is one. */
export function isCorruptRecordError(
  value: unknown,
): value is CorruptRecordError {
  return hasCode(value, "CORRUPT_RECORD");
}
/** Tells whether a value is a {@linkcode RecoveryError}. @param value Anything. @returns Whether it is one. */
export function isRecoveryError(value: unknown): value is RecoveryError {
  return hasCode(value, "RECOVERY_FAILED");
}
/** Tells whether a value is a {@linkcode PersistFailedError}. @param value Anything. @returns Whether it is one. */
export function isPersistFailedError(
  value: unknown,
): value is PersistFailedError {
  return hasCode(value, "PERSIST_FAILED");
}
