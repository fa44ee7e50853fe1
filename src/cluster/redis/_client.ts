// One node-redis connection for the cluster's Redis providers (membership table, lease): text
// commands, Lua scripts by EVALSHA with an EVAL fallback, a per-command time limit and abort
// signals, and every failure as a typed cluster error. No node-redis type leaves this file.
import { platform, type TimerHandle } from "../../platform/mod.ts";
import {
  ClusterStoreUnavailableError,
  CorruptClusterDataError,
} from "../errors.ts";

// `redis` is an optional peer dependency of the npm package, loaded only when this subpath is
// imported; its absence is reported by name (as the persistence provider does).
const { createClient, ErrorReply } = await import("redis").catch(
  (error: unknown) => {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === "ERR_MODULE_NOT_FOUND" && /\bredis\b/.test(String(error))) {
      const missing = new Error(
        'Cannot use @troupe/troupe/cluster/redis: the npm package "redis" is not installed; ' +
          "install it next to @troupe/troupe (npm install redis@^5)",
        { cause: error },
      );
      (missing as { code?: string }).code = "ERR_MODULE_NOT_FOUND";
      throw missing;
    }
    throw error;
  },
);

/** A reply, with bulk strings as text. */
export type Reply = null | number | string | readonly Reply[];

/** The server answered with an error reply (the connection is fine). */
export class ReplyError extends Error {
  /**
   * Creates the error.
   *
   * @param message The server's error text.
   */
  constructor(message: string) {
    super(message);
    this.name = "ReplyError";
  }
}

/** Connection options shared by the cluster's Redis providers. */
export interface ConnectionOptions {
  /** `redis://[[user][:password]@]host[:port][/db]`. */
  readonly url: string;
  /** Limit of one connection attempt, in ms. */
  readonly connectTimeoutMs: number;
  /** A command with no reply for this long fails (its outcome unknown), in ms. */
  readonly commandTimeoutMs: number;
}

interface Client {
  readonly isReady: boolean;
  readonly isOpen: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: readonly string[]): Promise<unknown>;
  close(): Promise<void>;
  destroy(): void;
  on(event: "error", listener: (error: unknown) => void): unknown;
}

/** The URL without its password, for messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^@/]*):[^@/]*@/, "//$1:***@");
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    if (error.message !== "") return error.message;
    const code = (error as { code?: unknown }).code;
    return typeof code === "string" ? code : error.name;
  }
  return String(error);
}

/** Error replies of a server that cannot run commands for now (the command did not run). */
const NOT_READY =
  /^(LOADING|BUSY|MASTERDOWN|READONLY|TRYAGAIN|CLUSTERDOWN|NOREPLICAS|MISCONF|OOM)\b/;

/**
 * What an error reply of one of the cluster's scripts means: data of another type or shape at
 * the keys (`WRONGTYPE`, a counter that is not an integer) is CorruptClusterDataError; anything
 * else (permissions, a server without Lua) is ClusterStoreUnavailableError. The scripts check
 * before they write, so an error reply means nothing was written.
 *
 * @param error The error reply.
 * @param key The key the script works on, for the message.
 * @returns The typed error.
 */
export function replyToClusterError(error: ReplyError, key: string): Error {
  if (/^WRONGTYPE\b|not an integer/.test(error.message)) {
    return new CorruptClusterDataError(
      key,
      `Redis refused the script: ${error.message}`,
      error,
    );
  }
  return new ClusterStoreUnavailableError(
    `Redis refused the script on "${key}": ${error.message}`,
    error,
    { notApplied: true },
  );
}

/** The errors of commands that got no reply in time. */
const TIMED_OUT = new WeakSet<Error>();

/**
 * One connection that fails fast while it is down and reconnects by itself. node-redis's own
 * reconnection is off (its backoff sleeps cannot be cancelled, so they would outlive close());
 * instead a fresh client is made per attempt, with capped exponential backoff on a platform
 * timer that close() cancels. Commands are never queued while the connection is down
 * (`disableOfflineQueue`): they reject at once with ClusterStoreUnavailableError (`notApplied`).
 */
export class Connection {
  readonly #options: ConnectionOptions;
  #client: Client | undefined;
  #lastError: unknown;
  #closed = false;
  #failures = 0;
  #timer: TimerHandle | undefined;
  #attempting: Promise<void> | undefined;

  private constructor(options: ConnectionOptions) {
    this.#options = options;
  }

  /**
   * Connects; rejects with ClusterStoreUnavailableError when the first attempt fails.
   *
   * @param options Where and how.
   * @returns The connection.
   */
  static async open(options: ConnectionOptions): Promise<Connection> {
    const connection = new Connection(options);
    await connection.#attempt();
    if (connection.#client === undefined) {
      connection.#closed = true;
      throw new ClusterStoreUnavailableError(
        `Cannot connect to Redis at ${redactUrl(options.url)}: ${
          describe(connection.#lastError)
        }`,
        connection.#lastError,
        { notApplied: true },
      );
    }
    return connection;
  }

  /** One connection attempt; on success the client becomes current. Never rejects. */
  #attempt(): Promise<void> {
    this.#timer = undefined;
    const client = createClient({
      url: this.#options.url,
      disableOfflineQueue: true,
      disableClientInfo: true,
      socket: {
        connectTimeout: this.#options.connectTimeoutMs,
        reconnectStrategy: false,
      },
    }) as unknown as Client;
    client.on("error", (error: unknown) => {
      this.#lastError = error;
      if (this.#client === client && !client.isReady) this.#lost(client);
    });
    const attempt = this.#withTimeout(
      client.connect(),
      this.#options.connectTimeoutMs,
      undefined,
    ).then(
      () => {
        if (this.#closed) {
          if (client.isOpen) client.destroy();
          return;
        }
        this.#client = client;
        this.#failures = 0;
      },
      (error: unknown) => {
        this.#lastError = error;
        if (client.isOpen) client.destroy();
        if (!this.#closed && this.#failures > 0) this.#retry();
      },
    ).finally(() => {
      this.#attempting = undefined;
    });
    this.#attempting = attempt;
    return attempt;
  }

  #lost(client: Client): void {
    this.#client = undefined;
    // node-redis rejects the commands in flight right after the error event.
    queueMicrotask(() => {
      if (client.isOpen) client.destroy();
    });
    if (!this.#closed) this.#retry();
  }

  #retry(): void {
    const delay = Math.min(2000, 50 * 2 ** Math.min(this.#failures, 10));
    this.#failures++;
    this.#timer = platform.setTimer(
      () => void this.#attempt(),
      delay / 2 + Math.random() * delay / 2,
    );
  }

  /**
   * Sends one command.
   *
   * @param args The command and its arguments.
   * @param signal Aborts the wait (the command's outcome is then unknown).
   * @returns The reply.
   */
  async send(args: readonly string[], signal?: AbortSignal): Promise<Reply> {
    signal?.throwIfAborted();
    const client = this.#client;
    if (this.#closed || client === undefined || !client.isReady) {
      throw new ClusterStoreUnavailableError(
        this.#closed
          ? "Cannot send a command to Redis: the connection is closed"
          : `Cannot reach Redis at ${redactUrl(this.#options.url)}: ${
            describe(this.#lastError ?? "not connected")
          } (reconnecting)`,
        this.#lastError,
        { notApplied: true },
      );
    }
    try {
      return await this.#withTimeout(
        client.sendCommand(args),
        this.#options.commandTimeoutMs,
        signal,
      ) as Reply;
    } catch (error) {
      if (signal?.aborted && error === signal.reason) throw error;
      if (error instanceof ErrorReply) {
        if (NOT_READY.test(error.message)) {
          // The server refused to run it for now (loading its data after a restart, a script
          // running too long, a replica that lost its primary...): retry later.
          throw new ClusterStoreUnavailableError(
            `Redis at ${
              redactUrl(this.#options.url)
            } is not ready: ${error.message}`,
            error,
            { notApplied: true },
          );
        }
        throw new ReplyError(error.message);
      }
      if (TIMED_OUT.has(error as Error) && this.#client === client) {
        // A server that stops answering (frozen, or a half-open connection) would hold every
        // later command too: drop this connection and reconnect.
        this.#lastError = error;
        this.#lost(client);
      }
      if (error instanceof ClusterStoreUnavailableError) throw error;
      throw new ClusterStoreUnavailableError(
        `Redis command ${args[0]} failed: ${describe(error)}`,
        error,
      );
    }
  }

  /** Settles like `work`, or rejects at the time limit or when `signal` aborts. */
  #withTimeout<T>(
    work: Promise<T>,
    ms: number,
    signal: AbortSignal | undefined,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = () => {
        platform.clearTimer(timer);
        signal?.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        done();
        reject(signal!.reason);
      };
      const timer = platform.setTimer(() => {
        done();
        const error = new ClusterStoreUnavailableError(
          `Redis at ${
            redactUrl(this.#options.url)
          } did not answer within ${ms} ms`,
        );
        TIMED_OUT.add(error);
        reject(error);
      }, ms);
      signal?.addEventListener("abort", onAbort, { once: true });
      work.then((value) => {
        done();
        resolve(value);
      }, (error) => {
        done();
        reject(error);
      });
    });
  }

  /** Closes the connection; later sends reject. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) platform.clearTimer(this.#timer);
    this.#timer = undefined;
    if (this.#attempting !== undefined) await this.#attempting;
    const client = this.#client;
    this.#client = undefined;
    if (client === undefined) return;
    if (client.isReady) {
      await this.#withTimeout(
        client.close(),
        this.#options.connectTimeoutMs,
        undefined,
      ).catch(() => {});
    }
    if (client.isOpen) client.destroy();
  }
}

/**
 * A Lua script run with EVALSHA, falling back to EVAL when the server does not have it cached
 * (NOSCRIPT, after a restart or on first use): a NOSCRIPT reply means the script did not run,
 * so the fallback never runs it twice.
 */
export class Script {
  /** The Lua source. */
  readonly source: string;
  /** Its SHA-1, as EVALSHA takes it. */
  readonly sha: string;

  private constructor(source: string, sha: string) {
    this.source = source;
    this.sha = sha;
  }

  /**
   * Hashes `source`.
   *
   * @param source The Lua source.
   * @returns The script.
   */
  static async load(source: string): Promise<Script> {
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(source),
    );
    const sha = Array.from(
      new Uint8Array(digest),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    return new Script(source, sha);
  }

  /**
   * Runs the script.
   *
   * @param connection The connection.
   * @param keys KEYS.
   * @param args ARGV.
   * @param signal Aborts the wait.
   * @returns The reply.
   */
  async run(
    connection: Connection,
    keys: readonly string[],
    args: readonly string[],
    signal?: AbortSignal,
  ): Promise<Reply> {
    const tail = [String(keys.length), ...keys, ...args];
    try {
      return await connection.send(["EVALSHA", this.sha, ...tail], signal);
    } catch (error) {
      if (error instanceof ReplyError && error.message.startsWith("NOSCRIPT")) {
        return await connection.send(["EVAL", this.source, ...tail], signal);
      }
      throw error;
    }
  }
}

/** What both cluster providers take to reach Redis (see their option types). */
export interface StoreOptions {
  readonly url?: string;
  readonly keyPrefix?: string;
  readonly connectTimeoutMs?: number;
  readonly commandTimeoutMs?: number;
}

/**
 * Checks a key prefix of the cluster's Redis providers.
 *
 * @param prefix The prefix.
 * @returns It.
 * @throws {TypeError} When it is not a string of at most 200 characters without braces.
 */
export function checkKeyPrefix(prefix: unknown): string {
  if (
    typeof prefix !== "string" || prefix.length > 200 || /[{}]/.test(prefix)
  ) {
    throw new TypeError(
      `Invalid keyPrefix ${
        JSON.stringify(prefix) ?? String(prefix)
      }: expected a string of at most 200 characters without "{" or "}"`,
    );
  }
  return prefix;
}

function positiveMs(
  value: number | undefined,
  fallback: number,
  what: string,
): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `Invalid ${what}: expected a positive number of ms, got ${value}`,
    );
  }
  return value;
}

/**
 * Checks a provider's options and opens its connection.
 *
 * @param options The provider's options.
 * @returns The connection and the checked key prefix.
 * @throws {TypeError} When `keyPrefix` is not valid.
 * @throws {RangeError} When a time limit is not a positive number.
 * @throws {ClusterStoreUnavailableError} When Redis cannot be reached.
 */
export async function openStore(
  options: StoreOptions,
): Promise<{ connection: Connection; prefix: string }> {
  const prefix = checkKeyPrefix(options.keyPrefix ?? "troupe:cluster:");
  const connectTimeoutMs = positiveMs(
    options.connectTimeoutMs,
    5000,
    "connectTimeoutMs",
  );
  const commandTimeoutMs = positiveMs(
    options.commandTimeoutMs,
    5000,
    "commandTimeoutMs",
  );
  const connection = await Connection.open({
    url: options.url ?? "redis://127.0.0.1:6379",
    connectTimeoutMs,
    commandTimeoutMs,
  });
  return { connection, prefix };
}

/**
 * Runs `script`, turning an error reply into the cluster's typed error about `what`.
 *
 * @returns The reply.
 */
export async function runScript(
  script: Script,
  connection: Connection,
  keys: readonly string[],
  args: readonly string[],
  signal: AbortSignal | undefined,
  what: string,
): Promise<Reply> {
  try {
    return await script.run(connection, keys, args, signal);
  } catch (error) {
    if (error instanceof ReplyError) throw replyToClusterError(error, what);
    throw error;
  }
}
