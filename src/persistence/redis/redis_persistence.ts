import { platform, type TimerHandle } from "../../platform/mod.ts";
import {
  CorruptRecordError,
  DurabilityError,
  isCorruptRecordError,
  isDurabilityError,
  isJournalConflictError,
  isJournalUnavailableError,
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
import {
  NodeRedisCommands,
  redactUrl,
  type RedisCommands,
  type RedisReply,
  RedisReplyError,
} from "./_client.ts";
import { checkKeyPrefix, StreamKeysCache } from "./_keys.ts";
import { DELETE_TO, READ, SAVE_SNAPSHOT } from "./_scripts.ts";
import { AppendBatcher } from "./_append_batcher.ts";

/** Options of {@linkcode RedisPersistence}. */
export interface RedisPersistenceOptions {
  /**
   * The server, as `redis://[[user][:password]@]host[:port][/db]` (`rediss://` for TLS).
   * Default: `"redis://127.0.0.1:6379"`.
   */
  readonly url?: string;
  /** Prefix of every key this provider writes, without braces. Default: `"troupe:"`. */
  readonly keyPrefix?: string;
  /**
   * Limit of one connection attempt, in milliseconds; {@linkcode RedisPersistence.connect}
   * rejects after it. Default: 5000.
   */
  readonly connectTimeoutMs?: number;
  /** Delay before the first reconnection attempt after the connection is lost. Default: 50. */
  readonly reconnectMinDelayMs?: number;
  /** The reconnection delay doubles up to this. Default: 2000. */
  readonly reconnectMaxDelayMs?: number;
  /** Events fetched per round trip by {@linkcode Journal.read}. Default: 10000. */
  readonly readPageSize?: number;
  /**
   * When commands are in flight and Redis sends no reply for this long, in milliseconds, the
   * connection is taken for dead (for example half-open: the server hangs or the network
   * dropped it silently): it is closed, every command in flight rejects with
   * {@linkcode JournalUnavailableError} (an append's outcome is then unknown), and the provider
   * reconnects. It is noticed within 1.25 times this. Default: 10000.
   */
  readonly commandTimeoutMs?: number;
  /**
   * How many appends may wait to be sent while earlier ones are on their way; beyond that an
   * append rejects at once with {@linkcode JournalQueueFullError} and nothing is sent. This
   * bounds the memory appends hold while Redis does not answer. Default: 100000.
   */
  readonly maxQueuedAppends?: number;
  /**
   * What to do when the server would lose acknowledged appends on a restart: it runs without
   * `appendonly yes`, or its configuration cannot be read (`CONFIG GET` disabled, renamed or
   * not permitted). {@linkcode RedisPersistence.connect} reads it once when it connects:
   * - `"warn"` (default): tell the `logger`, once per provider, and go on;
   * - `"require"`: `connect()` rejects with {@linkcode DurabilityError};
   * - `"ignore"`: do not check (e.g. for a cache or tests).
   *
   * A provider made with `new RedisPersistence()` checks in the background once it is connected
   * (so it can only warn: use `connect()` with `"require"`).
   */
  readonly durability?: "warn" | "require" | "ignore";
  /** Where warnings go. Default: `console.warn`. */
  readonly logger?: RedisPersistenceLogger;
}

/** Where {@linkcode RedisPersistence} reports warnings. */
export interface RedisPersistenceLogger {
  /**
   * Reports a warning.
   *
   * @param message What is wrong.
   */
  warn(message: string): void;
}

const DEFAULT_URL = "redis://127.0.0.1:6379";
const CONSOLE_LOGGER: RedisPersistenceLogger = {
  warn: (message) => console.warn(message),
};
/** Set by connect() while it constructs: that provider checks durability itself. */
let connecting = false;

/**
 * The Redis persistence provider: journals and snapshots in a standalone Redis, 6.2 or later.
 * See the module docs for the key layout.
 *
 * Many actors may use one provider at once over its one connection: commands are pipelined,
 * and appends issued while others are on their way are sent together in one script call (each
 * still checked and applied on its own). While Redis is unreachable every call rejects at once
 * with {@linkcode JournalUnavailableError} and the provider reconnects in the background, with
 * backoff; an append in flight when the connection drops rejects too (it may or may not have
 * been stored: read {@linkcode Journal.lastSequenceNr} after reconnecting to find out). A
 * connection that stops answering is closed after `commandTimeoutMs`, and appends that cannot
 * be sent are bounded by `maxQueuedAppends`.
 *
 * An append is as durable as the server's persistence makes it: it is acknowledged once Redis
 * has applied it in memory. With `appendonly no` (Redis's default) it is lost when Redis
 * restarts; with `appendonly yes` it survives a restart of Redis, and with `appendfsync always`
 * also a crash of the machine (with `everysec`, the last second may be lost then). The provider
 * checks this when it connects (see the `durability` option).
 *
 * Beyond the contract's argument checks, appends and snapshots must have a finite timestamp and
 * a version below 2^32 (what the stored record form holds), and snapshots a sequence number of
 * at least 1; anything else is refused with a RangeError rather than stored unreadable.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisPersistence } from "@troupe/troupe/redis";
 *
 * await using provider = await RedisPersistence.connect({ url: "redis://127.0.0.1:6379" });
 * const data = new TextEncoder().encode("{}");
 * await provider.journal.append("orders/42", 0, [{ type: "created", version: 1, data, timestamp: Date.now() }]);
 * console.log(await provider.journal.lastSequenceNr("orders/42")); // 1
 * ```
 */
export class RedisPersistence implements PersistenceProvider {
  /** The event journal. */
  readonly journal: Journal;
  /** The snapshot store. */
  readonly snapshots: SnapshotStore;
  readonly #commands: RedisCommands;
  readonly #appends: AppendBatcher;
  readonly #keys: StreamKeysCache;
  readonly #url: string;
  readonly #connectTimeoutMs: number;
  readonly #pageSize: number;
  readonly #durability: "warn" | "require" | "ignore";
  readonly #logger: RedisPersistenceLogger;
  #closed = false;

  /**
   * Creates the provider and starts connecting in the background; calls made before the first
   * connection attempt has finished wait for it. Use {@linkcode RedisPersistence.connect} to
   * find out at once whether Redis answers.
   *
   * @param options Where and how to connect.
   * @throws {TypeError} When an option has the wrong type, or the key prefix has a brace.
   * @throws {RangeError} When a number option is out of range.
   */
  constructor(options: RedisPersistenceOptions = {}) {
    const url = options.url ?? DEFAULT_URL;
    if (typeof url !== "string" || !/^rediss?:\/\//.test(url)) {
      throw new TypeError(
        `Invalid Redis url ${JSON.stringify(url)}: expected redis://host:port`,
      );
    }
    const keyPrefix = options.keyPrefix ?? "troupe:";
    checkKeyPrefix(keyPrefix);
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
    this.#pageSize = positive("readPageSize", options.readPageSize ?? 10_000);
    if (!Number.isSafeInteger(this.#pageSize)) {
      throw new RangeError("Invalid readPageSize: must be an integer");
    }
    const commandTimeoutMs = positive(
      "commandTimeoutMs",
      options.commandTimeoutMs ?? 10_000,
    );
    const maxQueuedAppends = positive(
      "maxQueuedAppends",
      options.maxQueuedAppends ?? 100_000,
    );
    if (!Number.isSafeInteger(maxQueuedAppends)) {
      throw new RangeError("Invalid maxQueuedAppends: must be an integer");
    }
    const durability = options.durability ?? "warn";
    if (
      durability !== "warn" && durability !== "require" &&
      durability !== "ignore"
    ) {
      throw new TypeError(
        `Invalid durability ${
          JSON.stringify(durability)
        }: expected "warn", "require" or "ignore"`,
      );
    }
    const logger = options.logger ?? CONSOLE_LOGGER;
    if (typeof logger?.warn !== "function") {
      throw new TypeError("Invalid logger: it needs a warn(message) method");
    }
    this.#durability = durability;
    this.#logger = logger;
    this.#keys = new StreamKeysCache(keyPrefix);
    this.#url = url;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#commands = new NodeRedisCommands({
      url,
      connectTimeoutMs,
      reconnectMinDelayMs,
      reconnectMaxDelayMs,
      commandTimeoutMs,
    });
    this.#appends = new AppendBatcher(this.#commands, maxQueuedAppends);
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
    if (!connecting && durability !== "ignore") {
      // Only a warning can come of it here; connect() checks before it resolves.
      this.#commands.connected().then(
        () => this.#checkDurability(undefined, "warn"),
        () => {},
      ).catch(() => {});
    }
  }

  /**
   * Connects to Redis, checks that it answers (PING) and, unless `durability` is `"ignore"`,
   * whether it keeps acknowledged appends across a restart (`CONFIG GET appendonly`).
   *
   * @param options Where and how to connect.
   * @returns The connected provider.
   * @throws {JournalUnavailableError} When Redis cannot be reached or does not answer within
   * `connectTimeoutMs`.
   * @throws {DurabilityError} With `durability: "require"`, when Redis runs without
   * `appendonly yes` or its configuration cannot be read.
   *
   * @example Usage
   * ```ts ignore
   * import { RedisPersistence } from "@troupe/troupe/redis";
   *
   * await using provider = await RedisPersistence.connect({ keyPrefix: "shop:" });
   * console.log(await provider.journal.lastSequenceNr("cart/1"));
   * ```
   */
  static async connect(
    options: RedisPersistenceOptions = {},
  ): Promise<RedisPersistence> {
    connecting = true;
    let provider: RedisPersistence;
    try {
      provider = new RedisPersistence(options);
    } finally {
      connecting = false;
    }
    try {
      await provider.#verify();
      return provider;
    } catch (error) {
      await provider.close();
      throw error;
    }
  }

  /**
   * Releases the connection, after letting the replies in flight arrive (for at most
   * `connectTimeoutMs`). Further calls reject with {@linkcode JournalUnavailableError}.
   * Idempotent.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#commands.close();
  }

  /** Closes the provider (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #verify(): Promise<void> {
    const where = redactUrl(this.#url);
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = platform.setTimer(
        () =>
          reject(
            new JournalUnavailableError(
              `Cannot connect to Redis at ${where}: no answer within ${this.#connectTimeoutMs} ms`,
            ),
          ),
        this.#connectTimeoutMs,
      );
    });
    try {
      await Promise.race([this.#commands.connected(), timeout]);
      const reply = await Promise.race([
        this.#commands.send(["PING"]),
        timeout,
      ]);
      if (reply !== "PONG") {
        throw new JournalUnavailableError(
          `Cannot use Redis at ${where}: PING answered ${String(reply)}`,
        );
      }
      if (this.#durability !== "ignore") {
        await this.#checkDurability(timeout, this.#durability);
      }
    } catch (error) {
      throw isJournalUnavailableError(error) || isDurabilityError(error)
        ? error
        : new JournalUnavailableError(
          `Cannot connect to Redis at ${where}: ${String(error)}`,
          error,
        );
    } finally {
      platform.clearTimer(timer!);
    }
  }

  /**
   * Reads the server's persistence settings; warns or throws DurabilityError (see the
   * `durability` option) when acknowledged appends would not survive a Redis restart. Throws
   * JournalUnavailableError when Redis does not answer.
   */
  async #checkDurability(
    timeout: Promise<never> | undefined,
    mode: "warn" | "require" | "ignore",
  ): Promise<void> {
    const where = redactUrl(this.#url);
    const config = (name: string) => {
      const reply = this.#commands.send(["CONFIG", "GET", name]);
      return (timeout === undefined ? reply : Promise.race([reply, timeout]))
        .then((reply) => configValue(reply, name));
    };
    let problem: string;
    let cause: unknown;
    try {
      const [appendonly, appendfsync] = await Promise.all([
        config("appendonly"),
        config("appendfsync"),
      ]);
      if (appendonly === "yes") return;
      problem =
        `Redis at ${where} runs with appendonly ${appendonly} (appendfsync ${appendfsync}): ` +
        "acknowledged appends are lost when it restarts. Set appendonly yes " +
        "(and appendfsync always to survive a crash of the machine too)";
    } catch (error) {
      if (
        !(error instanceof RedisReplyError) && !(error instanceof TypeError)
      ) {
        throw error;
      }
      cause = error;
      problem =
        `Cannot verify that Redis at ${where} keeps acknowledged appends across a restart: ` +
        `CONFIG GET failed (${error.message}). Unless it runs with appendonly yes, ` +
        "they are lost when it restarts";
    }
    if (mode === "require") {
      throw new DurabilityError(problem, cause);
    }
    try {
      this.#logger.warn(`RedisPersistence: ${problem}`);
    } catch {
      // A broken logger must not break the provider.
    }
  }

  #check(): void {
    if (this.#closed) {
      throw new JournalUnavailableError(
        "Cannot use RedisPersistence: it is closed",
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
      const keys = this.#keys.get(id);
      // Settles with the final outcome: JournalConflictError or JournalUnavailableError.
      return this.#appends.append(id, keys.events, keys.meta, expected, events);
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
    const { events, meta } = this.#keys.get(id);
    const keys = [events, meta];
    const toArg = String(Math.min(to, Number.MAX_SAFE_INTEGER));
    const page = (next: number, count: number): Promise<RedisReply> =>
      READ.run(this.#commands, keys, [String(next), toArg, String(count)]);
    let next = from;
    let count = Math.min(max, this.#pageSize);
    let pending = page(next, count);
    try {
      while (true) {
        const reply = await pending;
        if (reply === null) return out;
        if (
          !Array.isArray(reply) || reply.length !== 2 ||
          !Array.isArray(reply[1])
        ) {
          throw new JournalUnavailableError("unexpected reply from Redis");
        }
        const start = Math.max(next, toInteger(reply[0], "first"));
        if (out.length > 0 && start !== next) {
          throw new JournalUnavailableError(
            `events from ${next} were deleted while they were being read; read again`,
          );
        }
        const records = reply[1] as readonly RedisReply[];
        next = start + records.length;
        const more = records.length === count &&
          out.length + records.length < max && next <= to;
        if (more) {
          // Redis prepares the next page while this one is decoded. Should decoding throw,
          // nobody awaits that page: its failure must not be an unhandled rejection.
          count = Math.min(max - out.length - records.length, this.#pageSize);
          pending = page(next, count);
          pending.catch(() => {});
        }
        for (let i = 0; i < records.length; i++) {
          const sequenceNr = start + i;
          const bytes = records[i];
          if (!(bytes instanceof Uint8Array)) {
            throw new CorruptRecordError(
              id,
              sequenceNr,
              "the stored entry is not a byte string",
            );
          }
          const record = decodeRecord(id, bytes, sequenceNr);
          out.push({
            persistenceId: id,
            sequenceNr,
            type: record.type,
            version: record.version,
            data: record.data,
            timestamp: record.timestamp,
          });
        }
        if (!more) return out;
      }
    } catch (error) {
      throw unavailable(`Cannot read journal "${id}"`, error);
    }
  }

  async #lastSequenceNr(id: string): Promise<number> {
    this.#check();
    checkPersistenceId(id);
    let reply: RedisReply;
    try {
      reply = await this.#commands.send([
        "HGET",
        this.#keys.get(id).meta,
        "last",
      ]);
    } catch (error) {
      throw unavailable(
        `Cannot read the last sequence number of "${id}"`,
        error,
      );
    }
    return reply === null ? 0 : toInteger(reply, "last");
  }

  async #deleteTo(id: string, to: number): Promise<void> {
    this.#check();
    checkPersistenceId(id);
    checkSequenceNr("toSequenceNr", to, 0, true);
    if (to === 0) return;
    const keys = this.#keys.get(id);
    try {
      await DELETE_TO.run(this.#commands, [keys.events, keys.meta], [
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
      await SAVE_SNAPSHOT.run(this.#commands, [
        this.#keys.get(id).snapshots,
      ], [
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
    let reply: RedisReply;
    try {
      reply = await this.#commands.send([
        "ZRANGE",
        this.#keys.get(id).snapshots,
        max === Infinity ? "+inf" : String(max),
        "-inf",
        "BYSCORE",
        "REV",
        "LIMIT",
        "0",
        "1",
        "WITHSCORES",
      ]);
    } catch (error) {
      throw unavailable(`Cannot load the latest snapshot of "${id}"`, error);
    }
    if (!Array.isArray(reply) || reply.length === 0) return undefined;
    const sequenceNr = toInteger(reply[1], "snapshot score");
    return decodeSnapshotRecord(id, reply[0], sequenceNr);
  }

  async #keepLatest(id: string, count: number): Promise<void> {
    this.#check();
    checkPersistenceId(id);
    checkSequenceNr("count", count, 1);
    try {
      await this.#commands.send([
        "ZREMRANGEBYRANK",
        this.#keys.get(id).snapshots,
        "0",
        String(-(count + 1)),
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

/** The value in a CONFIG GET reply (`[name, value]`); TypeError for anything else. */
function configValue(reply: RedisReply, name: string): string {
  if (Array.isArray(reply) && reply.length === 2) {
    const value = reply[1];
    if (value instanceof Uint8Array) return new TextDecoder().decode(value);
    if (typeof value === "string") return value;
  }
  throw new TypeError(
    `unexpected reply ${JSON.stringify(String(reply))} to CONFIG GET ${name}`,
  );
}

/** A decimal integer reply (bytes or text) as a number. */
function toInteger(reply: RedisReply, what: string): number {
  const text = reply instanceof Uint8Array
    ? new TextDecoder().decode(reply)
    : String(reply);
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new JournalUnavailableError(
      `Unexpected ${what} ${JSON.stringify(text)} stored in Redis`,
    );
  }
  return value;
}

/** Corrupt records and conflicts pass as they are; anything else is the storage failing. */
function unavailable(what: string, error: unknown): Error {
  if (isCorruptRecordError(error) || isJournalConflictError(error)) {
    return error as Error;
  }
  const message = error instanceof Error ? error.message : String(error);
  return new JournalUnavailableError(`${what}: ${message}`, error);
}
