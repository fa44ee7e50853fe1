// All errors of the persistence subsystem, each with a stable `code` and an `isXxx()` guard.

/** The codes of persistence errors. */
export type PersistenceErrorCode =
  | "JOURNAL_CONFLICT"
  | "JOURNAL_UNAVAILABLE"
  | "CORRUPT_RECORD"
  | "JOURNAL_QUEUE_FULL"
  | "DURABILITY_NOT_VERIFIED"
  | "RECOVERY_FAILED"
  | "PERSIST_FAILED"
  | "PERSIST_OUTCOME_UNKNOWN";

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

/** Options of {@linkcode JournalUnavailableError}. */
export interface JournalUnavailableErrorOptions {
  /**
   * Whether the operation certainly did not take effect, e.g. because it was never sent
   * (default `false`: an append may or may not have been stored).
   */
  readonly notApplied?: boolean;
}

/**
 * The storage could not be reached or failed (connection lost, server error). The operation may
 * be retried. Whether an append took effect is unknown unless {@linkcode notApplied} says it
 * certainly did not (it was never sent, e.g. because the connection was already down).
 *
 * @example Usage
 * ```ts
 * import { isJournalUnavailableError, JournalUnavailableError } from "@troupe/troupe";
 * const error = new JournalUnavailableError("Redis is down", undefined, { notApplied: true });
 * console.log(isJournalUnavailableError(error), error.notApplied); // true true
 * ```
 */
export class JournalUnavailableError extends Error {
  /** Stable code. */
  readonly code = "JOURNAL_UNAVAILABLE" as const;
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
    options: JournalUnavailableErrorOptions = {},
  ) {
    super(message, { cause });
    this.name = "JournalUnavailableError";
    this.notApplied = options.notApplied === true;
  }
}

/**
 * An append was refused at once, without being sent, because the provider already holds as
 * many appends waiting to be sent as it allows (for example while the storage does not answer).
 * Nothing was written; the append may be retried later.
 *
 * @example Usage
 * ```ts
 * import { isJournalQueueFullError, JournalQueueFullError } from "@troupe/troupe";
 * console.log(isJournalQueueFullError(new JournalQueueFullError("a", 10_000))); // true
 * ```
 */
export class JournalQueueFullError extends Error {
  /** Stable code. */
  readonly code = "JOURNAL_QUEUE_FULL" as const;
  /** The persistence id of the refused append. */
  readonly persistenceId: string;
  /** How many appends may wait to be sent. */
  readonly limit: number;
  /**
   * Creates the error.
   *
   * @param persistenceId The persistence id.
   * @param limit How many appends may wait.
   */
  constructor(persistenceId: string, limit: number) {
    super(
      `Cannot append to journal "${persistenceId}": ${limit} appends are already waiting to be sent (is the storage answering?)`,
    );
    this.name = "JournalQueueFullError";
    this.persistenceId = persistenceId;
    this.limit = limit;
  }
}

/**
 * A provider refused to start because it could not confirm that the storage keeps acknowledged
 * appends across a restart (for example a Redis server without `appendonly yes`), and it was
 * asked to require that.
 *
 * @example Usage
 * ```ts
 * import { DurabilityError, isDurabilityError } from "@troupe/troupe";
 * console.log(isDurabilityError(new DurabilityError("appendonly is no"))); // true
 * ```
 */
export class DurabilityError extends Error {
  /** Stable code. */
  readonly code = "DURABILITY_NOT_VERIFIED" as const;
  /**
   * Creates the error.
   *
   * @param message What the storage is missing.
   * @param cause The underlying error, when the check itself failed.
   */
  constructor(message: string, cause?: unknown) {
    super(message, { cause });
    this.name = "DurabilityError";
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
  /**
   * The sequence number of the record that failed (the corrupt one, when the cause is a
   * {@linkcode CorruptRecordError}), else the one recovery was reading; 0 for the snapshot when
   * its sequence number is not known.
   */
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

/** Options of {@linkcode PersistOutcomeUnknownError}. */
export interface PersistOutcomeUnknownErrorOptions {
  /** The sequence number the first event has if it was stored. */
  readonly fromSequenceNr: number;
  /** How many events the append had. */
  readonly count: number;
  /** How many attempts were made. */
  readonly attempts: number;
  /** The last storage error. */
  readonly cause?: unknown;
}

/**
 * An append failed in a way that leaves unknown whether it was stored (the reply was lost and
 * the journal could not be read to find out). It may be durable and then recovered later, so
 * the caller must not assume it failed (retrying a deposit could deposit twice). The actor
 * settles the question from the journal before it handles its next message: if the events were
 * stored, they are applied then.
 *
 * @example Usage
 * ```ts
 * import { isPersistOutcomeUnknownError } from "@troupe/troupe";
 * console.log(isPersistOutcomeUnknownError(new Error())); // false
 * ```
 */
export class PersistOutcomeUnknownError extends Error {
  /** Stable code. */
  readonly code = "PERSIST_OUTCOME_UNKNOWN" as const;
  /** The persistence id. */
  readonly persistenceId: string;
  /** The sequence number the first event would have (if it was stored). */
  readonly fromSequenceNr: number;
  /** How many events the append had. */
  readonly count: number;
  /** How many attempts were made. */
  readonly attempts: number;
  /**
   * Creates the error.
   *
   * @param persistenceId The persistence id.
   * @param options Which events, attempts made and the last error.
   */
  constructor(
    persistenceId: string,
    options: PersistOutcomeUnknownErrorOptions,
  ) {
    const { fromSequenceNr, count, attempts, cause } = options;
    const last = fromSequenceNr + count - 1;
    super(
      `Cannot tell whether events ${fromSequenceNr}${
        last > fromSequenceNr ? `..${last}` : ""
      } of "${persistenceId}" were persisted after ${attempts} attempt(s): ${
        cause instanceof Error ? cause.message : String(cause)
      }`,
      { cause },
    );
    this.name = "PersistOutcomeUnknownError";
    this.persistenceId = persistenceId;
    this.fromSequenceNr = fromSequenceNr;
    this.count = count;
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
/** Tells whether a value is a {@linkcode JournalQueueFullError}. @param value Anything. @returns Whether it is one. */
export function isJournalQueueFullError(
  value: unknown,
): value is JournalQueueFullError {
  return hasCode(value, "JOURNAL_QUEUE_FULL");
}
/** Tells whether a value is a {@linkcode DurabilityError}. @param value Anything. @returns Whether it is one. */
export function isDurabilityError(value: unknown): value is DurabilityError {
  return hasCode(value, "DURABILITY_NOT_VERIFIED");
}
/** Tells whether a value is a {@linkcode PersistOutcomeUnknownError}. @param value Anything. @returns Whether it is one. */
export function isPersistOutcomeUnknownError(
  value: unknown,
): value is PersistOutcomeUnknownError {
  return hasCode(value, "PERSIST_OUTCOME_UNKNOWN");
}
