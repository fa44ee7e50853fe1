// The PostgreSQL connection of the provider: the `postgres` package (postgres.js 3) loaded with a
// dynamic import, so that it is needed only by programs that use this provider, behind our own
// small interface (no type of that package leaves this file), with a circuit breaker in front.
//
// Why postgres.js rather than `pg`: it pipelines queries on a connection (many actors' appends
// and reads share round trips without a pool per caller), keeps prepared statements per
// connection, is plain ESM with no native part, and runs unchanged on Deno and Node.
//
// While the server is unreachable every query rejects at once with JournalUnavailableError, and
// a probe (SELECT 1) retries in the background with exponential backoff; postgres.js's own
// reconnection backoff is off, or queued queries would wait through it.
import { platform, type TimerHandle } from "../../platform/mod.ts";
import { JournalUnavailableError } from "../errors.ts";
import { PostgresClientMissingError } from "./errors.ts";

/** A query parameter: text (numbers as decimal text), bytes (bytea) or NULL. */
export type SqlParameter = string | Uint8Array | null;

/** A result row: column name to value (text and int8 as strings, bytea as bytes). */
export type SqlRow = Readonly<Record<string, unknown>>;

/** The part of a postgres.js instance used here. */
interface PostgresJs {
  unsafe(
    query: string,
    parameters?: readonly SqlParameter[],
    options?: { readonly prepare?: boolean },
  ): PromiseLike<SqlRow[]>;
  end(options?: { readonly timeout?: number }): Promise<void>;
}

/** The default export of the `postgres` package: makes a client for a URL. */
export type PostgresFactory = (
  url: string,
  options: Readonly<Record<string, unknown>>,
) => unknown;

/**
 * Loads the `postgres` package.
 *
 * @param importer The import (a test passes its own).
 * @returns Its factory.
 * @throws {PostgresClientMissingError} When it cannot be loaded.
 */
export async function loadPostgresFactory(
  importer: () => Promise<unknown> = () => import("postgres"),
): Promise<PostgresFactory> {
  let module: unknown;
  try {
    module = await importer();
  } catch (error) {
    throw new PostgresClientMissingError(error);
  }
  const factory = (module as { default?: unknown } | null)?.default;
  if (typeof factory !== "function") {
    throw new PostgresClientMissingError(
      new TypeError("the package has no default export"),
    );
  }
  return factory as PostgresFactory;
}

/** Options of {@linkcode PostgresConnection}. */
export interface PostgresConnectionOptions {
  /** `postgres://user[:password]@host[:port]/database`. */
  readonly url: string;
  /** Connections in the pool. */
  readonly maxConnections: number;
  /** Limit of one connection attempt. */
  readonly connectTimeoutMs: number;
  /** First delay before probing an unreachable server again. */
  readonly reconnectMinDelayMs: number;
  /** Longest delay between probes. */
  readonly reconnectMaxDelayMs: number;
}

/** SQLSTATE classes and codes that mean the server, not the statement, failed. */
const CONNECTION_STATES = /^(08|28|3D|53300$|57P0[1-3]$)/;

/** The SQLSTATE of a server error (an error or the cause of a JournalUnavailableError). */
export function sqlState(error: unknown): string | undefined {
  const found = error instanceof JournalUnavailableError ? error.cause : error;
  if (!(found instanceof Error) || found.name !== "PostgresError") {
    return undefined;
  }
  const code = (found as { code?: unknown }).code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Whether an error of postgres.js means the connection, not the statement, failed: socket
 * errors, postgres.js's connection errors, and server errors of the connection kind
 * (shutting down, starting up, too many connections, authentication, unknown database).
 */
export function isConnectionFailure(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  if (error.name === "PostgresError") return CONNECTION_STATES.test(code);
  return /^(CONNECTION_|CONNECT_TIMEOUT$|E[A-Z]+$)/.test(code);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.message !== "") return error.message;
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? code : error.name;
  }
  return String(error);
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*):[^@/]*@/, "//$1:***@");
}

/** A pool of postgres.js connections that fails fast while the server is unreachable. */
export class PostgresConnection {
  readonly #options: PostgresConnectionOptions;
  readonly #where: string;
  readonly #loading: Promise<PostgresJs>;
  #sql: PostgresJs | undefined;
  #closed = false;
  /** Set while the server is considered unreachable: the last connection error. */
  #down: unknown;
  #failures = 0;
  #probeTimer: TimerHandle | undefined;
  #probing: Promise<void> | undefined;

  /**
   * Creates the pool; connections open on first use.
   *
   * @param factory The client factory, or its loading.
   * @param options Where and how.
   */
  constructor(
    factory: Promise<PostgresFactory>,
    options: PostgresConnectionOptions,
  ) {
    this.#options = options;
    this.#where = redactUrl(options.url);
    this.#loading = factory.then((make) => {
      const sql = make(options.url, {
        max: options.maxConnections,
        connect_timeout: options.connectTimeoutMs / 1000,
        // Reconnect at once when a query needs a connection; the breaker here does the backoff.
        backoff: 0,
        // Array types are never fetched: array parameters are sent as literals built here.
        fetch_types: false,
        prepare: true,
        onnotice: () => {},
        connection: { application_name: "troupe" },
      }) as PostgresJs;
      if (this.#closed) {
        void sql.end({ timeout: 0 });
      } else {
        this.#sql = sql;
      }
      return sql;
    });
    // A failed load is reported by every call; it must not be an unhandled rejection here.
    this.#loading.catch(() => {});
  }

  /** Where the server is, without password, for messages. */
  get where(): string {
    return this.#where;
  }

  /**
   * Runs one statement (prepared, cached per connection).
   *
   * @param text The SQL.
   * @param parameters Its parameters.
   * @returns The rows.
   * @throws {JournalUnavailableError} When the provider is closed, the server is unreachable or
   * the statement fails; the postgres.js error is the cause.
   * @throws {PostgresClientMissingError} When the client package cannot be loaded.
   */
  query(text: string, parameters: readonly SqlParameter[]): Promise<SqlRow[]> {
    if (this.#closed) return Promise.reject(this.#closedError());
    if (this.#down !== undefined) return Promise.reject(this.#unreachable());
    const sql = this.#sql;
    if (sql === undefined) {
      return this.#loading.then(() => this.query(text, parameters));
    }
    return new Promise<SqlRow[]>((resolve, reject) => {
      sql.unsafe(text, parameters, { prepare: true }).then(
        resolve,
        (error: unknown) => reject(this.#failed(error)),
      );
    });
  }

  /**
   * Runs a script of several statements in one implicit transaction (simple query protocol).
   *
   * @param text The statements.
   * @throws {JournalUnavailableError} As {@linkcode PostgresConnection.query}.
   */
  async script(text: string): Promise<void> {
    if (this.#closed) throw this.#closedError();
    if (this.#down !== undefined) throw this.#unreachable();
    const sql = this.#sql ?? await this.#loading;
    try {
      await sql.unsafe(text);
    } catch (error) {
      throw this.#failed(error);
    }
  }

  /**
   * Checks that the server answers, within `connectTimeoutMs`.
   *
   * @throws {JournalUnavailableError} When it does not.
   * @throws {PostgresClientMissingError} When the client package cannot be loaded.
   */
  async verify(): Promise<void> {
    const sql = this.#sql ?? await this.#loading;
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = platform.setTimer(
        () =>
          reject(
            new JournalUnavailableError(
              `Cannot connect to PostgreSQL at ${this.#where}: no answer within ${this.#options.connectTimeoutMs} ms`,
            ),
          ),
        this.#options.connectTimeoutMs,
      );
    });
    const probe = new Promise<void>((resolve, reject) => {
      sql.unsafe("SELECT 1").then(() => resolve(), reject);
    });
    probe.catch(() => {});
    try {
      await Promise.race([probe, timeout]);
    } catch (error) {
      throw error instanceof JournalUnavailableError
        ? error
        : new JournalUnavailableError(
          `Cannot connect to PostgreSQL at ${this.#where}: ${describe(error)}`,
          error,
        );
    } finally {
      platform.clearTimer(timer!);
    }
  }

  /**
   * Closes every connection after the queries in flight (for at most `connectTimeoutMs`).
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#probeTimer !== undefined) platform.clearTimer(this.#probeTimer);
    this.#probeTimer = undefined;
    await this.#probing;
    let sql: PostgresJs;
    try {
      sql = await this.#loading;
    } catch {
      return; // never loaded: nothing to close
    }
    await sql.end({ timeout: this.#options.connectTimeoutMs / 1000 });
  }

  /** `sent`: the query was on its way when the provider closed, so it may have run. */
  #closedError(sent = false): JournalUnavailableError {
    return new JournalUnavailableError(
      sent
        ? "PostgresPersistence closed before PostgreSQL answered"
        : "Cannot use PostgresPersistence: it is closed",
      undefined,
      { notApplied: !sent },
    );
  }

  #unreachable(): JournalUnavailableError {
    return new JournalUnavailableError(
      `Cannot reach PostgreSQL at ${this.#where}: ${
        describe(this.#down)
      } (reconnecting)`,
      this.#down,
      { notApplied: true }, // never sent: the connection is known to be down
    );
  }

  /** The error a failed query rejects with; a connection failure opens the breaker. */
  #failed(error: unknown): Error {
    if (this.#closed) return this.#closedError(true);
    if (isConnectionFailure(error)) {
      if (this.#down === undefined) {
        this.#down = error;
        this.#scheduleProbe();
      }
      return new JournalUnavailableError(
        `Lost PostgreSQL at ${this.#where}: ${describe(error)}`,
        error,
      );
    }
    const hint = sqlState(error) === "42P01"
      ? " (create the tables with PostgresPersistence.migrate() or schema.sql)"
      : "";
    // The server answered with an error: the statement (one implicit transaction) was rolled
    // back. Anything else (a client-side failure) leaves open whether it ran.
    return new JournalUnavailableError(describe(error) + hint, error, {
      notApplied: sqlState(error) !== undefined,
    });
  }

  #scheduleProbe(): void {
    const { reconnectMinDelayMs: min, reconnectMaxDelayMs: max } =
      this.#options;
    const delay = Math.min(max, min * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    // Jitter in [delay/2, delay], so many providers do not reconnect in lockstep.
    this.#probeTimer = platform.setTimer(
      () => {
        this.#probeTimer = undefined;
        this.#probing = this.#probe();
      },
      delay / 2 + Math.random() * delay / 2,
    );
  }

  async #probe(): Promise<void> {
    const sql = this.#sql;
    if (sql === undefined || this.#closed) return;
    try {
      await sql.unsafe("SELECT 1");
      this.#down = undefined;
      this.#failures = 0;
    } catch (error) {
      if (this.#closed) return;
      this.#down = error;
      this.#scheduleProbe();
    } finally {
      this.#probing = undefined;
    }
  }
}
