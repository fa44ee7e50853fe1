import {
  CorruptRecordError,
  isCorruptRecordError,
  isJournalConflictError,
  JournalUnavailableError,
} from "../errors.ts";
import {
  checkPersistenceId,
  checkSequenceNr,
  type Journal,
  type NewEvent,
  type PersistenceProvider,
  type ReadOptions,
  type SnapshotStore,
  type StoredEvent,
  type StoredSnapshot,
} from "../journal.ts";
import {
  checkAppendRecords,
  checkSnapshotRecord,
  decodeRecord,
  decodeSnapshotRecord,
  encodeRecord,
} from "../record_format.ts";
import { AppendBatcher } from "./_append_batcher.ts";
import {
  loadPostgresFactory,
  PostgresConnection,
  type SqlRow,
} from "./_client.ts";
import { isPostgresClientMissingError } from "./errors.ts";
import {
  postgresSchemaSql,
  type PostgresTableOptions,
  type Statements,
  statements,
  storedId,
  type TableNames,
  tableNames,
} from "./schema.ts";

/** Options of {@linkcode PostgresPersistence}. */
export interface PostgresPersistenceOptions extends PostgresTableOptions {
  /**
   * The server, as `postgres://user[:password]@host[:port]/database` (query parameters such as
   * `?sslmode=require` are passed to the client). Default:
   * `"postgres://postgres@127.0.0.1:5432/postgres"`.
   */
  readonly url?: string;
  /** Connections in the pool (queries are also pipelined on each). Default: 4. */
  readonly maxConnections?: number;
  /**
   * Limit of one connection attempt, in milliseconds; {@linkcode PostgresPersistence.connect}
   * rejects after it. Default: 5000.
   */
  readonly connectTimeoutMs?: number;
  /** Delay before the first reconnection probe after the server is lost. Default: 50. */
  readonly reconnectMinDelayMs?: number;
  /** The probe delay doubles up to this. Default: 2000. */
  readonly reconnectMaxDelayMs?: number;
  /** Events fetched per round trip by {@linkcode Journal.read}. Default: 10000. */
  readonly readPageSize?: number;
}

const DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/postgres";
/** A read page holds at most this many record bytes (and at least one record). */
const PAGE_BYTES = 8 * 1024 * 1024;
/** Each record of a read page comes after its sequence number (8 bytes) and length (4). */
const ENTRY_HEADER = 12;

/**
 * The PostgreSQL persistence provider: journals and snapshots in three tables (see
 * {@linkcode postgresSchemaSql}), through the `postgres` npm package, loaded only when a
 * provider is made. PostgreSQL 11 or later.
 *
 * Create the tables once with {@linkcode PostgresPersistence.migrate} (or run `schema.sql`
 * yourself). Many actors may share one provider: queries are pipelined on a small pool of
 * connections, and appends issued while others are on their way are sent together in one
 * statement, each still checked and applied on its own (a conflict fails only its append). An
 * append is acknowledged once its transaction committed, so it is as durable as the server's
 * `synchronous_commit` makes commits. While the server is unreachable every call rejects at once
 * with {@linkcode JournalUnavailableError} and the provider probes it in the background, with
 * backoff; an append in flight when the connection drops rejects too (it may or may not have
 * been stored: read {@linkcode Journal.lastSequenceNr} after reconnecting to find out).
 *
 * Beyond the contract's argument checks, appends and snapshots must have a finite timestamp and
 * a version below 2^32 (what the stored record form holds), and snapshots a sequence number of
 * at least 1; anything else is refused with a RangeError rather than stored unreadable.
 *
 * @example Usage
 * ```ts ignore
 * import { PostgresPersistence } from "@troupe/troupe/postgres";
 *
 * await using provider = await PostgresPersistence.connect({
 *   url: "postgres://postgres@127.0.0.1:5432/app",
 * });
 * await provider.migrate();
 * const data = new TextEncoder().encode("{}");
 * await provider.journal.append("orders/42", 0, [{ type: "created", version: 1, data, timestamp: Date.now() }]);
 * console.log(await provider.journal.lastSequenceNr("orders/42")); // 1
 * ```
 */
export class PostgresPersistence implements PersistenceProvider {
  /** The event journal. */
  readonly journal: Journal;
  /** The snapshot store. */
  readonly snapshots: SnapshotStore;
  readonly #connection: PostgresConnection;
  readonly #names: TableNames;
  readonly #sql: Statements;
  readonly #appends: AppendBatcher;
  readonly #tables: PostgresTableOptions;
  readonly #pageSize: number;
  #closed = false;

  /**
   * Creates the provider and starts loading the client in the background; connections open on
   * first use. Use {@linkcode PostgresPersistence.connect} to find out at once whether the
   * server answers.
   *
   * @param options Where and how to connect, and where the tables are.
   * @throws {TypeError} When an option has the wrong type, or the schema or prefix is not a
   * plain lower-case identifier.
   * @throws {RangeError} When a number option is out of range.
   */
  constructor(options: PostgresPersistenceOptions = {}) {
    const url = options.url ?? DEFAULT_URL;
    if (typeof url !== "string" || !/^postgres(ql)?:\/\//.test(url)) {
      throw new TypeError(
        `Invalid PostgreSQL url ${
          JSON.stringify(url)
        }: expected postgres://user@host:port/database`,
      );
    }
    this.#tables = { schema: options.schema, tablePrefix: options.tablePrefix };
    this.#names = tableNames(this.#tables);
    this.#sql = statements(this.#names);
    const maxConnections = integer(
      "maxConnections",
      options.maxConnections ?? 4,
    );
    const connectTimeoutMs = positive(
      "connectTimeoutMs",
      options.connectTimeoutMs ?? 5000,
    );
    const reconnectMinDelayMs = positive(
      "reconnectMinDelayMs",
      options.reconnectMinDelayMs ?? 50,
    );
    const reconnectMaxDelayMs = positive(
      "reconnectMaxDelayMs",
      options.reconnectMaxDelayMs ?? 2000,
    );
    if (reconnectMaxDelayMs < reconnectMinDelayMs) {
      throw new RangeError(
        "Invalid reconnectMaxDelayMs: must be ≥ reconnectMinDelayMs",
      );
    }
    this.#pageSize = integer("readPageSize", options.readPageSize ?? 10_000);
    this.#connection = new PostgresConnection(loadPostgresFactory(), {
      url,
      maxConnections,
      connectTimeoutMs,
      reconnectMinDelayMs,
      reconnectMaxDelayMs,
    });
    this.#appends = new AppendBatcher(
      this.#connection,
      this.#sql.append,
      this.#sql.last,
    );
    this.journal = {
      append: (id, expected, events) => this.#append(id, expected, events),
      read: (id, from, options) => this.#read(id, from, options),
      lastSequenceNr: (id) => this.#lastSequenceNr(id),
      deleteTo: (id, to) => this.#deleteTo(id, to),
    };
    this.snapshots = {
      save: (snapshot) => this.#save(snapshot),
      loadLatest: (id, max) => this.#loadLatest(id, max),
      keepLatest: (id, count) => this.#keepLatest(id, count),
    };
  }

  /**
   * Loads the client, connects and checks that the server answers (`SELECT 1`). It does not
   * create the tables: see {@linkcode PostgresPersistence.migrate}.
   *
   * @param options Where and how to connect, and where the tables are.
   * @returns The connected provider.
   * @throws {JournalUnavailableError} When the server cannot be reached or does not answer
   * within `connectTimeoutMs`.
   * @throws {PostgresClientMissingError} When the `postgres` package is not installed.
   *
   * @example Usage
   * ```ts ignore
   * import { PostgresPersistence } from "@troupe/troupe/postgres";
   *
   * await using provider = await PostgresPersistence.connect({ tablePrefix: "shop_" });
   * console.log(await provider.journal.lastSequenceNr("cart/1"));
   * ```
   */
  static async connect(
    options: PostgresPersistenceOptions = {},
  ): Promise<PostgresPersistence> {
    const provider = new PostgresPersistence(options);
    try {
      await provider.#connection.verify();
      return provider;
    } catch (error) {
      await provider.close();
      throw error;
    }
  }

  /**
   * Creates the schema (when one is configured) and the tables when they do not exist yet: the
   * script of {@linkcode postgresSchemaSql}, in one transaction under an advisory lock, so that
   * several processes may run it at once. Idempotent; run it at deployment or start-up.
   *
   * @throws {JournalUnavailableError} When the server is unreachable or refuses (e.g. the user
   * may not create tables).
   *
   * @example Usage
   * ```ts ignore
   * import { PostgresPersistence } from "@troupe/troupe/postgres";
   *
   * await using provider = await PostgresPersistence.connect({ schema: "troupe" });
   * await provider.migrate();
   * ```
   */
  async migrate(): Promise<void> {
    this.#check();
    try {
      await this.#connection.script(postgresSchemaSql(this.#tables));
    } catch (error) {
      throw unavailable("Cannot create the tables", error);
    }
  }

  /**
   * Closes the connections, after letting the queries in flight finish (for at most
   * `connectTimeoutMs`). Further calls reject with {@linkcode JournalUnavailableError}.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#connection.close();
  }

  /** Closes the provider (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(): void {
    if (this.#closed) {
      throw new JournalUnavailableError(
        "Cannot use PostgresPersistence: it is closed",
        undefined,
        { notApplied: true },
      );
    }
  }

  #append(
    id: string,
    expected: number,
    events: readonly NewEvent[],
  ): Promise<void> {
    try {
      this.#check();
      checkAppendRecords(id, expected, events);
      // Settles with the final outcome: JournalConflictError or JournalUnavailableError.
      return this.#appends.append(id, storedId(id), expected, events);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  async #read(
    id: string,
    from: number,
    options: ReadOptions | undefined,
  ): Promise<StoredEvent[]> {
    this.#check();
    checkPersistenceId(id);
    checkSequenceNr("fromSequenceNr", from, 0);
    const to = options?.toSequenceNr ?? Infinity;
    const max = options?.max ?? Infinity;
    checkSequenceNr("toSequenceNr", to, 0, true);
    checkSequenceNr("max", max, 0, true);
    const out: StoredEvent[] = [];
    if (max === 0 || from > to) return out;
    const key = storedId(id);
    const toArg = String(Math.min(to, Number.MAX_SAFE_INTEGER));
    const page = (next: number, count: number): Promise<SqlRow[]> =>
      this.#connection.query(this.#sql.read, [
        key,
        String(next),
        toArg,
        String(count),
        String(PAGE_BYTES),
      ]);
    let next = Math.max(from, 1);
    let count = Math.min(max, this.#pageSize);
    let pending = page(next, count);
    try {
      while (true) {
        const [row] = await pending;
        const taken = Number(row?.n);
        const blob = row?.blob;
        if (!(taken > 0)) return out;
        if (!(blob instanceof Uint8Array)) {
          throw new JournalUnavailableError(
            "PostgreSQL answered a read with an unexpected row",
          );
        }
        const start = readSequenceNr(blob, 0);
        if (out.length > 0 && start !== next) {
          throw new JournalUnavailableError(
            `events from ${next} were deleted while they were being read; read again`,
          );
        }
        const last = start + taken - 1;
        // More when the page was cut by its byte budget or filled its count.
        const more = (taken < Number(row.candidates) || taken === count) &&
          out.length + taken < max && last < to;
        if (more) {
          // The server prepares the next page while this one is decoded. Should decoding
          // throw, nobody awaits that page: its failure must not be an unhandled rejection.
          count = Math.min(max - out.length - taken, this.#pageSize);
          pending = page(last + 1, count);
          pending.catch(() => {});
        }
        let at = 0;
        for (let sequenceNr = start; sequenceNr <= last; sequenceNr++) {
          if (at + ENTRY_HEADER > blob.length) {
            throw new JournalUnavailableError(
              "PostgreSQL answered a read with a truncated page",
            );
          }
          if (readSequenceNr(blob, at) !== sequenceNr) {
            throw new CorruptRecordError(
              id,
              sequenceNr,
              "the event is missing from the journal",
            );
          }
          const end = at + ENTRY_HEADER + readU32(blob, at + 8);
          if (end > blob.length) {
            throw new JournalUnavailableError(
              "PostgreSQL answered a read with a truncated page",
            );
          }
          const record = decodeRecord(
            id,
            blob.subarray(at + ENTRY_HEADER, end),
            sequenceNr,
          );
          out.push({
            persistenceId: id,
            sequenceNr,
            type: record.type,
            version: record.version,
            data: record.data,
            timestamp: record.timestamp,
          });
          at = end;
        }
        next = last + 1;
        this.#appends.observe(key, last);
        if (!more) return out;
      }
    } catch (error) {
      throw unavailable(`Cannot read journal "${id}"`, error);
    }
  }

  async #lastSequenceNr(id: string): Promise<number> {
    this.#check();
    checkPersistenceId(id);
    let rows: SqlRow[];
    try {
      rows = await this.#connection.query(this.#sql.last, [storedId(id)]);
    } catch (error) {
      throw unavailable(
        `Cannot read the last sequence number of "${id}"`,
        error,
      );
    }
    const last = rows.length === 0
      ? 0
      : toInteger(rows[0].last, "last_sequence_nr");
    this.#appends.observe(storedId(id), last);
    return last;
  }

  async #deleteTo(id: string, to: number): Promise<void> {
    this.#check();
    checkPersistenceId(id);
    checkSequenceNr("toSequenceNr", to, 0, true);
    if (to === 0) return;
    try {
      await this.#connection.query(this.#sql.deleteTo, [
        storedId(id),
        String(Math.min(to, Number.MAX_SAFE_INTEGER)),
      ]);
    } catch (error) {
      throw unavailable(`Cannot delete events of "${id}"`, error);
    }
  }

  async #save(snapshot: StoredSnapshot): Promise<void> {
    this.#check();
    const id = checkSnapshotRecord(snapshot);
    const record = encodeRecord(snapshot);
    try {
      await this.#connection.query(this.#sql.saveSnapshot, [
        storedId(id),
        String(snapshot.sequenceNr),
        record,
      ]);
    } catch (error) {
      throw unavailable(
        `Cannot save snapshot ${snapshot.sequenceNr} of "${id}"`,
        error,
      );
    }
  }

  async #loadLatest(
    id: string,
    max = Infinity,
  ): Promise<StoredSnapshot | undefined> {
    this.#check();
    checkPersistenceId(id);
    checkSequenceNr("maxSequenceNr", max, 0, true);
    let rows: SqlRow[];
    try {
      rows = await this.#connection.query(this.#sql.loadSnapshot, [
        storedId(id),
        String(Math.min(max, Number.MAX_SAFE_INTEGER)),
      ]);
    } catch (error) {
      throw unavailable(`Cannot load the latest snapshot of "${id}"`, error);
    }
    if (rows.length === 0) return undefined;
    const sequenceNr = toInteger(rows[0].seq, "snapshot sequence_nr");
    return decodeSnapshotRecord(id, rows[0].record, sequenceNr);
  }

  async #keepLatest(id: string, count: number): Promise<void> {
    this.#check();
    checkPersistenceId(id);
    checkSequenceNr("count", count, 1);
    try {
      await this.#connection.query(this.#sql.keepSnapshots, [
        storedId(id),
        String(count - 1),
      ]);
    } catch (error) {
      throw unavailable(`Cannot prune snapshots of "${id}"`, error);
    }
  }
}

function positive(name: string, value: number): number {
  if (typeof value !== "number" || !(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: must be a positive number`,
    );
  }
  return value;
}

function integer(name: string, value: number): number {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: must be an integer ≥ 1`,
    );
  }
  return value;
}

function readU32(bytes: Uint8Array, at: number): number {
  return bytes[at] * 0x1000000 +
    ((bytes[at + 1] << 16) | (bytes[at + 2] << 8) | bytes[at + 3]);
}

function readSequenceNr(bytes: Uint8Array, at: number): number {
  return readU32(bytes, at) * 2 ** 32 + readU32(bytes, at + 4);
}

/** A bigint column (as text) as a number. */
function toInteger(value: unknown, what: string): number {
  const number = Number(value);
  if (
    typeof value !== "string" || !Number.isSafeInteger(number) || number < 0
  ) {
    throw new JournalUnavailableError(
      `Unexpected ${what} ${JSON.stringify(value)} stored in PostgreSQL`,
    );
  }
  return number;
}

/** Corrupt records and conflicts pass as they are; anything else is the storage failing. */
function unavailable(what: string, error: unknown): Error {
  if (isCorruptRecordError(error) || isJournalConflictError(error)) {
    return error as Error;
  }
  if (isPostgresClientMissingError(error)) return error;
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof JournalUnavailableError &&
      error.cause !== undefined
    ? error.cause
    : error;
  return new JournalUnavailableError(`${what}: ${message}`, cause, {
    notApplied: error instanceof JournalUnavailableError && error.notApplied,
  });
}
