// Group commit of appends. An append goes out at once (on the next microtask) unless
// MAX_IN_FLIGHT statements are already on their way; then it waits for one of them to come back
// and goes out with every other append that waited, in one statement (statements().append): the
// appends of many actors share a round trip and a commit instead of each paying for its own.
//
// Each append in a statement is checked on its own: its events are inserted only when the id's
// last sequence number is the expected one, so a writer that is behind fails that append alone.
// At most one append per persistence id is in flight at any time (a later one waits for the
// earlier to settle): appends of one id are applied in the order they were made, whatever
// connection carries them, exactly as if each were sent alone.
//
// The check costs an index lookup per append, as much as the insert itself, unless the batcher
// already knows the id's last number is the expected one: it keeps a lower bound of the last
// number of ids it has seen (from its own appends, reads and lastSequenceNr). Numbers only grow
// and are gapless, so when the bound equals the expected number the journal's last number is
// that or more; if more, event expected + 1 is either stored (the primary key refuses the
// append) or was deleted (deleteTo recorded a higher last number in the streams table, which
// the light check reads). Either way the append fails as it must, for one small lookup.
//
// Two writers in different processes that race for the same numbers both pass the check; the
// primary key on (id, sequence number) lets the first commit and fails the other's statement as
// a whole (nothing of it is applied). Such a statement, or one that deadlocked, is sent again:
// a deadlock as it was, anything else append by append, so that only the append that lost the
// race fails (with JournalConflictError). When the connection is lost, every append in the
// statement rejects with JournalUnavailableError: whether it was stored is then unknown, as the
// contract allows.
import { JournalConflictError, JournalUnavailableError } from "../errors.ts";
import type { NewEvent } from "../journal.ts";
import { encodedRecordLength, encodeRecordInto } from "../record_format.ts";
import {
  isConnectionFailure,
  type PostgresConnection,
  type SqlParameter,
  type SqlRow,
  sqlState,
} from "./_client.ts";
import { integerArray, textArray } from "./schema.ts";

/** Statements of appends on their way at once before new appends wait and batch. */
const MAX_IN_FLIGHT = 4;
/** At most this many appends, records and bytes per statement (one bigger append goes alone). */
const MAX_BATCH_APPENDS = 256;
const MAX_BATCH_RECORDS = 8192;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** How often a statement that deadlocked is tried again. */
const DEADLOCK_RETRIES = 3;
/** Ids whose last number is remembered (the oldest are forgotten first). */
const MAX_KNOWN = 100_000;

interface AppendRequest {
  readonly persistenceId: string;
  /** The id as stored. */
  readonly id: string;
  readonly expected: number;
  /** Whether the light check is enough (the known last number is `expected`). */
  light: boolean;
  /** The records, back to back, and the length of each. */
  readonly bytes: Uint8Array;
  readonly lengths: readonly number[];
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

/** Sends appends through a connection pool, batching those that would otherwise wait. */
export class AppendBatcher {
  readonly #connection: PostgresConnection;
  readonly #statement: string;
  readonly #lastStatement: string;
  #queue: AppendRequest[] = [];
  /** Ids with an append in flight. */
  readonly #busy = new Set<string>();
  /** Conflicts whose last number is being read; their batch is done once they are. */
  #pendingConflicts: Promise<void>[] = [];
  /** A lower bound of the last number of ids seen lately (see the top of this file). */
  readonly #known = new Map<string, number>();
  #inFlight = 0;
  #scheduled = false;

  /**
   * Creates the batcher.
   *
   * @param connection The pool.
   * @param statement The batch append statement.
   * @param lastStatement The statement reading an id's last sequence number.
   */
  constructor(
    connection: PostgresConnection,
    statement: string,
    lastStatement: string,
  ) {
    this.#connection = connection;
    this.#statement = statement;
    this.#lastStatement = lastStatement;
  }

  /**
   * Appends events after `expected`, atomically. They are encoded at once (later changes to the
   * caller's data are not stored), numbered from `expected + 1`; the caller has checked them.
   *
   * @param persistenceId The persistence id, for errors.
   * @param id The id as stored.
   * @param expected The expected last sequence number.
   * @param events The events.
   * @returns Resolves when committed; rejects with JournalConflictError when the last sequence
   * number is not `expected`, else with JournalUnavailableError.
   * @throws {RangeError} When an event cannot be encoded (type name too long).
   */
  append(
    persistenceId: string,
    id: string,
    expected: number,
    events: readonly NewEvent[],
  ): Promise<void> {
    const lengths: number[] = new Array(events.length);
    let size = 0;
    for (let i = 0; i < events.length; i++) {
      lengths[i] = encodedRecordLength(events[i]);
      size += lengths[i];
    }
    const bytes = new Uint8Array(size);
    let at = 0;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      at = encodeRecordInto(bytes, at, {
        sequenceNr: expected + 1 + i,
        type: event.type,
        version: event.version,
        data: event.data,
        timestamp: event.timestamp,
      });
    }
    return new Promise((resolve, reject) => {
      this.#queue.push({
        persistenceId,
        id,
        expected,
        light: false,
        bytes,
        lengths,
        resolve,
        reject,
      });
      this.#schedule();
    });
  }

  /**
   * Records that the last number of an id is at least `last` (read from the journal).
   *
   * @param id The id as stored.
   * @param last A last sequence number the journal had.
   */
  observe(id: string, last: number): void {
    const known = this.#known.get(id);
    if (known !== undefined && known >= last) return;
    this.#known.delete(id);
    this.#known.set(id, last);
    if (this.#known.size > MAX_KNOWN) {
      this.#known.delete(this.#known.keys().next().value as string);
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= MAX_IN_FLIGHT) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#inFlight < MAX_IN_FLIGHT && this.#queue.length > 0) {
      const batch: AppendRequest[] = [];
      const rest: AppendRequest[] = [];
      // Ids that must wait: in flight, or behind an append of theirs that waits.
      const blocked = new Set<string>();
      let records = 0;
      let bytes = 0;
      for (const request of this.#queue) {
        const fits = batch.length === 0 || (
          batch.length < MAX_BATCH_APPENDS &&
          records + request.lengths.length <= MAX_BATCH_RECORDS &&
          bytes + request.bytes.length <= MAX_BATCH_BYTES
        );
        if (fits && !this.#busy.has(request.id) && !blocked.has(request.id)) {
          // Decided now: the appends of this id before it have settled.
          request.light = this.#known.get(request.id) === request.expected;
          batch.push(request);
          this.#busy.add(request.id);
          records += request.lengths.length;
          bytes += request.bytes.length;
        } else {
          rest.push(request);
          blocked.add(request.id);
        }
      }
      this.#queue = rest;
      if (batch.length === 0) return; // all wait for appends in flight
      this.#inFlight++;
      this.#send(batch, 0).then(() => this.#drainConflicts()).finally(() => {
        this.#inFlight--;
        for (const request of batch) this.#busy.delete(request.id);
        if (this.#queue.length > 0) this.#schedule();
      });
    }
  }

  /** Sends a batch and settles each of its appends; never rejects. */
  async #send(batch: readonly AppendRequest[], attempt: number): Promise<void> {
    let rows: SqlRow[];
    try {
      rows = await this.#connection.query(this.#statement, parameters(batch));
    } catch (error) {
      const cause = error instanceof JournalUnavailableError
        ? error.cause
        : error;
      const state = sqlState(error);
      if (
        (state === "40P01" || state === "40001") && attempt < DEADLOCK_RETRIES
      ) {
        return this.#send(batch, attempt + 1);
      }
      if (
        state !== undefined && !isConnectionFailure(cause) && batch.length > 1
      ) {
        // Nothing was applied; find the append at fault by sending each alone.
        await Promise.all(batch.map((request) => this.#send([request], 0)));
        return;
      }
      if (state === "23505" && batch.length === 1) {
        // A stored event already has one of the numbers: another writer was first.
        this.#conflict(batch[0], undefined);
        return;
      }
      for (const request of batch) request.reject(failed(request, error));
      return;
    }
    this.#settle(batch, rows);
  }

  /** Settles a batch whose statement succeeded: it answered a row per refused append. */
  #settle(batch: readonly AppendRequest[], rows: readonly SqlRow[]): void {
    const refused = new Set<AppendRequest>();
    for (const row of rows) {
      const request = batch[Number(row.i) - 1];
      if (request === undefined || refused.has(request)) continue;
      refused.add(request);
      const actual = Number(row.last);
      // -1: the light check found deleted events past the expected number.
      this.#conflict(request, actual >= 0 ? actual : undefined);
    }
    for (const request of batch) {
      if (refused.has(request)) continue;
      this.observe(request.id, request.expected + request.lengths.length);
      request.resolve();
    }
  }

  async #drainConflicts(): Promise<void> {
    while (this.#pendingConflicts.length > 0) {
      const pending = this.#pendingConflicts;
      this.#pendingConflicts = [];
      await Promise.all(pending);
    }
  }

  /** Rejects a refused append with the last number, read now when not known. */
  #conflict(request: AppendRequest, actual: number | undefined): void {
    const settle = (last: number) => {
      this.observe(request.id, last);
      request.reject(
        new JournalConflictError(request.persistenceId, request.expected, last),
      );
    };
    if (actual !== undefined) {
      settle(actual);
      return;
    }
    // Settled before the next append of this id is sent (it waits while this one is busy).
    this.#pendingConflicts.push(
      this.#last(request, request.expected + 1).then(settle),
    );
  }

  /** The id's last sequence number now, or `fallback` when it cannot be read. */
  async #last(request: AppendRequest, fallback: number): Promise<number> {
    try {
      const rows = await this.#connection.query(this.#lastStatement, [
        request.id,
      ]);
      return rows.length === 0 ? 0 : Number(rows[0].last);
    } catch {
      return fallback;
    }
  }
}

/** The statement's parameters for a batch (see statements().append). */
function parameters(batch: readonly AppendRequest[]): SqlParameter[] {
  const ids: string[] = new Array(batch.length);
  const expected: number[] = new Array(batch.length);
  let light = "{";
  const owners: number[] = [];
  const seqs: number[] = [];
  const offsets: number[] = [];
  const lengths: number[] = [];
  let total = 0;
  for (let i = 0; i < batch.length; i++) {
    const request = batch[i];
    ids[i] = request.id;
    expected[i] = request.expected;
    light += i === 0
      ? (request.light ? "t" : "f")
      : (request.light ? ",t" : ",f");
    for (let k = 0; k < request.lengths.length; k++) {
      owners.push(i + 1);
      seqs.push(request.expected + 1 + k);
      offsets.push(total);
      lengths.push(request.lengths[k]);
      total += request.lengths[k];
    }
  }
  const blob = new Uint8Array(total);
  let at = 0;
  for (const request of batch) {
    blob.set(request.bytes, at);
    at += request.bytes.length;
  }
  return [
    textArray(ids),
    integerArray(expected),
    light + "}",
    integerArray(owners),
    integerArray(seqs),
    integerArray(offsets),
    integerArray(lengths),
    blob,
  ];
}

/** The error of an append that failed for another reason than a conflict. */
function failed(request: AppendRequest, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new JournalUnavailableError(
    `Cannot append to journal "${request.persistenceId}": ${message}`,
    error instanceof JournalUnavailableError && error.cause !== undefined
      ? error.cause
      : error,
    {
      notApplied: error instanceof JournalUnavailableError && error.notApplied,
    },
  );
}
