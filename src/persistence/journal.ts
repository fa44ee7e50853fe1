// The storage contract every persistence provider implements, written down once. The
// conformance suite (_conformance_test.ts) checks each rule below for every provider.
//
// - Sequence numbers of a persistence id start at 1 and go up by exactly 1 per event, with no
//   gaps and no reuse, even after deleteTo().
// - Every range is inclusive at both ends: read(id, from, to) returns events with
//   from ≤ sequenceNr ≤ to; deleteTo(id, n) deletes those with sequenceNr ≤ n;
//   loadLatest(id, max) considers snapshots with sequenceNr ≤ max.
// - append(id, expectedLast, events) is atomic: all events are stored, or none and it rejects.
//   It rejects with JournalConflictError when the journal's last sequence number is not
//   expectedLast, so two writers of one id can never interleave or overwrite.
// - Storage failures reject with JournalUnavailableError (cause attached); stored data that
//   cannot be decoded rejects with CorruptRecordError naming the id and sequence number.
// - A failed append may or may not have been stored (a lost reply), unless its error is a
//   JournalConflictError, a JournalQueueFullError, or a JournalUnavailableError with
//   `notApplied` set: those certainly stored nothing.

/** An event as stored: bytes produced by a codec, with its type name and schema version. */
export interface StoredEvent {
  /** The persistence id it belongs to. */
  readonly persistenceId: string;
  /** Its sequence number (1-based). */
  readonly sequenceNr: number;
  /** The event type name. */
  readonly type: string;
  /** The schema version of `data`. */
  readonly version: number;
  /** The encoded event. */
  readonly data: Uint8Array;
  /** When it was persisted (milliseconds since the epoch). */
  readonly timestamp: number;
}

/** An event to append: its sequence number is assigned by its position in the append. */
export interface NewEvent {
  /** The event type name. */
  readonly type: string;
  /** The schema version of `data`. */
  readonly version: number;
  /** The encoded event. */
  readonly data: Uint8Array;
  /** When it was persisted (milliseconds since the epoch). */
  readonly timestamp: number;
}

/** A snapshot as stored: the encoded state after the event `sequenceNr`. */
export interface StoredSnapshot {
  /** The persistence id it belongs to. */
  readonly persistenceId: string;
  /** The last event included in the state. */
  readonly sequenceNr: number;
  /** The state type name. */
  readonly type: string;
  /** The schema version of `data`. */
  readonly version: number;
  /** The encoded state. */
  readonly data: Uint8Array;
  /** When it was taken (milliseconds since the epoch). */
  readonly timestamp: number;
}

/** Options of {@linkcode Journal.read}. */
export interface ReadOptions {
  /** The last sequence number to return (inclusive). Default: no bound. */
  readonly toSequenceNr?: number;
  /** At most this many events. Default: no bound. */
  readonly max?: number;
}

/** The event journal of a provider. */
export interface Journal {
  /**
   * Appends `events` after `expectedLastSequenceNr`, atomically: the first gets
   * `expectedLastSequenceNr + 1`.
   *
   * @throws {JournalConflictError} When the last stored sequence number is not `expectedLastSequenceNr`.
   * @throws {JournalUnavailableError} When storage fails.
   */
  append(
    persistenceId: string,
    expectedLastSequenceNr: number,
    events: readonly NewEvent[],
  ): Promise<void>;
  /**
   * Reads events with `fromSequenceNr ≤ sequenceNr ≤ toSequenceNr`, in order.
   *
   * @throws {CorruptRecordError} When a stored event cannot be decoded.
   * @throws {JournalUnavailableError} When storage fails.
   */
  read(
    persistenceId: string,
    fromSequenceNr: number,
    options?: ReadOptions,
  ): Promise<StoredEvent[]>;
  /** The highest sequence number ever appended (0 when none), even if deleted since. */
  lastSequenceNr(persistenceId: string): Promise<number>;
  /** Deletes events with `sequenceNr ≤ toSequenceNr`. Sequence numbers are never reused. */
  deleteTo(persistenceId: string, toSequenceNr: number): Promise<void>;
}

/** The snapshot store of a provider. */
export interface SnapshotStore {
  /** Saves a snapshot; one with the same sequence number is replaced. */
  save(snapshot: StoredSnapshot): Promise<void>;
  /** The latest snapshot with `sequenceNr ≤ maxSequenceNr` (default: any), or `undefined`. */
  loadLatest(
    persistenceId: string,
    maxSequenceNr?: number,
  ): Promise<StoredSnapshot | undefined>;
  /** Keeps only the newest `count` snapshots (count ≥ 1). */
  keepLatest(persistenceId: string, count: number): Promise<void>;
}

/** A persistence provider: a journal and a snapshot store, and a way to release them. */
export interface PersistenceProvider extends AsyncDisposable {
  /** The event journal. */
  readonly journal: Journal;
  /** The snapshot store. */
  readonly snapshots: SnapshotStore;
  /** Releases connections; further calls reject. Idempotent. */
  close(): Promise<void>;
}

/** Throws TypeError/RangeError for arguments no provider accepts. Providers call it first. */
export function checkAppend(
  persistenceId: string,
  expectedLastSequenceNr: number,
  events: readonly NewEvent[],
): void {
  checkPersistenceId(persistenceId);
  checkSequenceNr("expectedLastSequenceNr", expectedLastSequenceNr, 0);
  if (!Array.isArray(events) || events.length === 0) {
    throw new TypeError(
      `Cannot append to "${persistenceId}": events must be a non-empty array`,
    );
  }
  for (const event of events) {
    if (typeof event?.type !== "string" || event.type.length === 0) {
      throw new TypeError(
        `Cannot append to "${persistenceId}": every event needs a type name`,
      );
    }
    if (!Number.isInteger(event.version) || event.version < 1) {
      throw new RangeError(
        `Cannot append to "${persistenceId}": version must be an integer ≥ 1`,
      );
    }
    if (!(event.data instanceof Uint8Array)) {
      throw new TypeError(
        `Cannot append to "${persistenceId}": data must be a Uint8Array`,
      );
    }
  }
}

/** Throws TypeError for an unusable persistence id. */
export function checkPersistenceId(persistenceId: string): void {
  if (
    typeof persistenceId !== "string" || persistenceId.length === 0 ||
    persistenceId.length > 512
  ) {
    throw new TypeError(
      `Invalid persistence id ${
        JSON.stringify(persistenceId)
      }: 1-512 characters`,
    );
  }
}

/** Throws RangeError unless `value` is an integer ≥ `min` (Infinity allowed when `infinite`). */
export function checkSequenceNr(
  name: string,
  value: number,
  min: number,
  infinite = false,
): void {
  if (infinite && value === Infinity) return;
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: must be an integer ≥ ${min}`,
    );
  }
}
