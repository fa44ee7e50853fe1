// The few Redis operations the provider needs, behind our own interface (RedisCommands), and
// its node-redis implementation. No node-redis type leaves this file, so a test double or
// another client can take its place.
import { platform, type TimerHandle } from "../../platform/mod.ts";
import { JournalUnavailableError } from "../errors.ts";

// `redis` is an optional peer dependency of the npm package: only programs that import this
// subpath need it, so it is loaded here, when this module is first imported, and its absence is
// reported by name instead of as a bare "Cannot find package". (A literal dynamic import keeps
// its types for the type check, and keeps `deno doc` out of node-redis's Node-typed
// declarations.)
const { createClient, ErrorReply, RESP_TYPES } = await importNodeRedis();

function importNodeRedis() {
  return import("redis").catch((error: unknown) => {
    const code = (error as { code?: unknown } | null)?.code;
    if (
      code === "ERR_MODULE_NOT_FOUND" && /\bredis\b/.test(String(error))
    ) {
      const missing = new Error(
        'Cannot use @troupe/troupe/redis: the npm package "redis" is not installed; ' +
          "install it next to @troupe/troupe (npm install redis@^5)",
        { cause: error },
      );
      (missing as { code?: string }).code = "ERR_MODULE_NOT_FOUND";
      throw missing;
    }
    throw error;
  });
}

/** An argument of a command: text, or binary bytes sent as they are. */
export type RedisArgument = string | Uint8Array;

/**
 * A reply: bulk strings as bytes, status replies as text, integers as numbers, nil as `null`,
 * arrays as arrays.
 */
export type RedisReply =
  | null
  | number
  | string
  | Uint8Array
  | readonly RedisReply[];

/** What the provider needs from a Redis connection. */
export interface RedisCommands {
  /**
   * Sends one command. Concurrent calls are pipelined on the connection.
   *
   * Rejects with {@linkcode RedisReplyError} when the server answers with an error, and with
   * JournalUnavailableError when the connection is down or closed (the command was not sent:
   * `notApplied` is true), or drops or stops answering before the reply (the command may or may
   * not have run then).
   */
  send(args: readonly RedisArgument[]): Promise<RedisReply>;
  /**
   * Resolves once the first connection attempt has succeeded; rejects with
   * JournalUnavailableError when it failed (reconnection goes on in the background).
   */
  connected(): Promise<void>;
  /** Releases the connection; later sends reject. Idempotent. */
  close(): Promise<void>;
}

/** The server answered a command with an error reply (the connection itself is fine). */
export class RedisReplyError extends Error {
  /**
   * Creates the error.
   *
   * @param message The server's error text, e.g. `"NOSCRIPT No matching script"`.
   */
  constructor(message: string) {
    super(message);
    this.name = "RedisReplyError";
  }
}

/** Options of {@linkcode NodeRedisCommands}. */
export interface NodeRedisOptions {
  /** `redis://[[user][:password]@]host[:port][/db]`. */
  readonly url: string;
  /** Limit of one connection attempt (socket and handshake). */
  readonly connectTimeoutMs: number;
  /** First delay before reconnecting. */
  readonly reconnectMinDelayMs: number;
  /** Longest delay between reconnection attempts. */
  readonly reconnectMaxDelayMs: number;
  /**
   * A connection with commands in flight that gets no reply for this long is taken for dead:
   * it is closed, its commands reject, and it reconnects. Default 10000.
   */
  readonly commandTimeoutMs?: number;
}

// node-redis needs Node's Buffer class itself (its RESP encoder takes Buffer arguments and its
// decoder returns Buffers only for this exact constructor); Node and Deno 2 both have it global.
interface BufferClass {
  from(buffer: ArrayBufferLike, byteOffset: number, length: number): Uint8Array;
}
function bufferClass(): BufferClass {
  const found = (globalThis as { Buffer?: BufferClass }).Buffer;
  if (found === undefined) {
    throw new JournalUnavailableError(
      "Cannot use Redis: this runtime has no global Buffer class",
    );
  }
  return found;
}

/** The part of a node-redis client used here (its own types are too generic to pass around). */
interface Client {
  readonly isOpen: boolean;
  readonly isReady: boolean;
  connect(): Promise<unknown>;
  sendCommand(args: readonly (string | Uint8Array)[]): Promise<RedisReply>;
  close(): Promise<void>;
  destroy(): void;
  on(event: "error", listener: (error: unknown) => void): unknown;
}

/**
 * A RedisCommands over one node-redis connection that fails fast while it is down.
 *
 * node-redis's own reconnection is off (`reconnectStrategy: false`); this class reconnects
 * instead, with a fresh client per attempt and exponential backoff on a platform timer that
 * close() cancels, so nothing is left running after close. Commands are never queued while the
 * connection is down (`disableOfflineQueue`): they reject at once with JournalUnavailableError,
 * and commands in flight when the connection drops reject too.
 *
 * A half-open connection (the server stopped answering without closing it) would hold every
 * command forever: a watchdog that runs every quarter of `commandTimeoutMs` notices when
 * commands are in flight and no reply has come for `commandTimeoutMs` (so after 1 to 1.25 times
 * it), closes that connection and reconnects. Counting replies keeps the cost per command at
 * two increments instead of a timer each.
 */
export class NodeRedisCommands implements RedisCommands {
  readonly #options: NodeRedisOptions;
  readonly #buffer: BufferClass;
  /** The current client while it connects or is ready. */
  #client: Client | undefined;
  #ready = false;
  #closed = false;
  #lastError: unknown;
  #failures = 0;
  #timer: TimerHandle | undefined;
  #firstSettled = false;
  /** The connection attempt in progress (settles, never rejects). */
  #attempting: Promise<void> | undefined;
  readonly #firstAttempt: Promise<void>;
  #settleFirst!: () => void;
  readonly #commandTimeoutMs: number;
  /** Commands sent and not answered yet; replies (and failures) received so far. */
  #pending = 0;
  #replies = 0;
  /** The watchdog's view: replies at its last look, and since when none came (or -1). */
  #seenReplies = 0;
  #stalledSince = -1;
  #watchdog: TimerHandle | undefined;
  /** The last connection the watchdog closed, so its commands say why they failed. */
  #timedOut: Client | undefined;
  readonly #onReply = (reply: unknown): RedisReply => {
    this.#pending--;
    this.#replies++;
    return reply as RedisReply;
  };

  /**
   * Starts connecting at once.
   *
   * @param options Where and how.
   */
  constructor(options: NodeRedisOptions) {
    this.#options = options;
    this.#commandTimeoutMs = options.commandTimeoutMs ?? 10_000;
    this.#buffer = bufferClass();
    this.#firstAttempt = new Promise((resolve) => {
      this.#settleFirst = () => {
        this.#firstSettled = true;
        resolve();
      };
    });
    this.#attempt();
    this.#watch();
  }

  async connected(): Promise<void> {
    await this.#firstAttempt;
    if (this.#ready) return;
    if (this.#closed) throw this.#unreachable();
    throw new JournalUnavailableError(
      `Cannot connect to Redis at ${redactUrl(this.#options.url)}: ${
        describe(this.#lastError)
      }`,
      this.#lastError,
    );
  }

  send(args: readonly RedisArgument[]): Promise<RedisReply> {
    const client = this.#client;
    if (this.#ready && client !== undefined) {
      const converted: (string | Uint8Array)[] = new Array(args.length);
      for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        converted[i] = typeof arg === "string"
          ? arg
          : this.#buffer.from(arg.buffer, arg.byteOffset, arg.byteLength);
      }
      this.#pending++;
      return client.sendCommand(converted).then(this.#onReply, (error) => {
        this.#pending--;
        this.#replies++;
        throw this.#commandError(client, error);
      });
    }
    if (this.#closed) {
      return Promise.reject(
        new JournalUnavailableError(
          "Cannot send a command to Redis: the connection is closed",
          undefined,
          { notApplied: true },
        ),
      );
    }
    if (!this.#firstSettled) {
      return this.#firstAttempt.then(() => this.send(args));
    }
    return Promise.reject(this.#unreachable());
  }

  #unreachable(): JournalUnavailableError {
    if (this.#closed) {
      return new JournalUnavailableError(
        "Cannot send a command to Redis: the connection is closed",
        undefined,
        { notApplied: true },
      );
    }
    return new JournalUnavailableError(
      `Cannot reach Redis at ${redactUrl(this.#options.url)}: ${
        describe(this.#lastError)
      } (reconnecting)`,
      this.#lastError,
      { notApplied: true },
    );
  }

  #commandError(client: Client, error: unknown): Error {
    if (client === this.#timedOut && !(error instanceof ErrorReply)) {
      return new JournalUnavailableError(
        `Redis at ${
          redactUrl(this.#options.url)
        } did not answer within ${this.#commandTimeoutMs} ms (reconnecting)`,
        error,
      );
    }
    return toCommandError(error);
  }

  /** The watchdog: closes a connection whose commands get no reply (see the class docs). */
  #watch = (): void => {
    if (this.#closed) return;
    const tick = this.#commandTimeoutMs / 4;
    this.#watchdog = platform.setTimer(this.#watch, tick);
    this.#watchdog.unref();
    if (this.#pending === 0 || this.#replies !== this.#seenReplies) {
      this.#seenReplies = this.#replies;
      this.#stalledSince = -1;
      return;
    }
    const now = platform.now();
    if (this.#stalledSince < 0) {
      this.#stalledSince = now;
      return;
    }
    if (now - this.#stalledSince < this.#commandTimeoutMs - 1) return;
    this.#stalledSince = -1;
    const client = this.#client;
    if (!this.#ready || client === undefined) return;
    this.#timedOut = client;
    this.#lastError = new Error(
      `no reply within ${this.#commandTimeoutMs} ms`,
    );
    this.#lost();
    // Rejects every command in flight on it, at once.
    if (client.isOpen) client.destroy();
  };

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#ready = false;
    if (this.#timer !== undefined) platform.clearTimer(this.#timer);
    this.#timer = undefined;
    if (this.#watchdog !== undefined) platform.clearTimer(this.#watchdog);
    this.#watchdog = undefined;
    const client = this.#client;
    this.#client = undefined;
    this.#settleFirst();
    // An attempt still in progress must finish (or time out) before close() resolves: its socket
    // operation would otherwise outlive the provider.
    const attempting = this.#attempting;
    if (attempting !== undefined) {
      if (client?.isOpen) client.destroy();
      await this.#bounded(attempting);
      if (client?.isOpen) client.destroy();
      return;
    }
    if (client === undefined || !client.isOpen) return;
    if (!client.isReady) {
      client.destroy();
      return;
    }
    // Let the replies in flight arrive, but not for longer than a connection attempt may take.
    await this.#bounded(client.close().catch(() => {}));
    if (client.isOpen) client.destroy();
  }

  /** Waits for `work`, but at most one connection attempt's time. */
  async #bounded(work: Promise<unknown>): Promise<void> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = platform.setTimer(resolve, this.#options.connectTimeoutMs);
    });
    await Promise.race([work, timeout]);
    platform.clearTimer(timer!);
  }

  #attempt(): void {
    this.#timer = undefined;
    const client = createClient({
      url: this.#options.url,
      disableOfflineQueue: true,
      disableClientInfo: true,
      socket: {
        connectTimeout: this.#options.connectTimeoutMs,
        reconnectStrategy: false,
      },
      commandOptions: {
        typeMapping: {
          [RESP_TYPES.BLOB_STRING]: this
            .#buffer as unknown as BufferConstructor,
        },
      },
    }) as unknown as Client;
    this.#client = client;
    client.on("error", (error: unknown) => this.#onError(client, error));
    const attempt = client.connect().then(
      () => {
        if (this.#client !== client) {
          if (client.isOpen) client.destroy();
          return;
        }
        this.#ready = true;
        this.#failures = 0;
        this.#settleFirst();
      },
      (error: unknown) => {
        if (client.isOpen) client.destroy();
        if (this.#client !== client) return;
        this.#lastError = error;
        this.#lost();
      },
    );
    this.#attempting = attempt;
    void attempt.then(() => {
      if (this.#attempting === attempt) this.#attempting = undefined;
    });
  }

  #onError(client: Client, error: unknown): void {
    if (client !== this.#client) return;
    this.#lastError = error;
    // Failed attempts are handled where connect() rejects; here, a ready connection broke.
    // Right after this event node-redis rejects every command in flight with the error
    // (disableOfflineQueue); the client is destroyed after that, so they get the real cause.
    if (this.#ready && !client.isReady) {
      this.#lost();
      queueMicrotask(() => {
        if (client.isOpen) client.destroy();
      });
    }
  }

  #lost(): void {
    this.#client = undefined;
    this.#ready = false;
    this.#settleFirst();
    if (this.#closed) return;
    const { reconnectMinDelayMs: min, reconnectMaxDelayMs: max } =
      this.#options;
    const delay = Math.min(max, min * 2 ** Math.min(this.#failures, 30));
    this.#failures++;
    // Jitter in [delay/2, delay], so many providers do not reconnect in lockstep.
    this.#timer = platform.setTimer(
      () => this.#attempt(),
      delay / 2 + Math.random() * delay / 2,
    );
  }
}

function toCommandError(error: unknown): Error {
  if (error instanceof ErrorReply) return new RedisReplyError(error.message);
  return new JournalUnavailableError(
    `Redis command failed: ${describe(error)}`,
    error,
  );
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

/**
 * A Lua script run with EVALSHA (the first run in a process uses EVAL, which caches it), falling
 * back to EVAL when the server does not have it cached (NOSCRIPT, e.g. after a restart). A NOSCRIPT reply means the
 * script did not run, so the fallback never runs it twice. Made with {@linkcode LuaScript.load},
 * which hashes the source once, up front: nothing is left running in the background.
 */
export class LuaScript {
  /** The Lua source. */
  readonly source: string;
  /** The SHA-1 of the source, as EVALSHA takes it. */
  readonly sha: string;
  #evaluated = false;

  /**
   * Hashes `source` and makes the script.
   *
   * @param source The Lua source.
   * @returns The script.
   */
  static async load(source: string): Promise<LuaScript> {
    const digest = await crypto.subtle.digest(
      "SHA-1",
      new TextEncoder().encode(source),
    );
    const sha = Array.from(
      new Uint8Array(digest),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    return new LuaScript(source, sha);
  }

  private constructor(source: string, sha: string) {
    this.source = source;
    this.sha = sha;
  }

  /**
   * Runs the script.
   *
   * @param commands The connection.
   * @param keys KEYS.
   * @param args ARGV.
   * @returns The script's reply.
   */
  run(
    commands: RedisCommands,
    keys: readonly string[],
    args: readonly RedisArgument[],
  ): Promise<RedisReply> {
    if (!this.#evaluated) {
      // The first run loads the script with EVAL; commands on the connection run in order, so
      // every EVALSHA sent after it finds the script cached (until a server restart).
      this.#evaluated = true;
      return commands.send(this.#command("EVAL", this.source, keys, args));
    }
    return commands.send(this.#command("EVALSHA", this.sha, keys, args)).catch(
      (error: unknown) => {
        if (
          error instanceof RedisReplyError &&
          error.message.startsWith("NOSCRIPT")
        ) {
          return commands.send(this.#command("EVAL", this.source, keys, args));
        }
        throw error;
      },
    );
  }

  #command(
    name: string,
    script: string,
    keys: readonly string[],
    args: readonly RedisArgument[],
  ): RedisArgument[] {
    const command: RedisArgument[] = [name, script, String(keys.length)];
    for (const key of keys) command.push(key);
    for (const arg of args) command.push(arg);
    return command;
  }
}
