// The lease in Redis: one Lua script per operation, the grant a hash with a PX time to live,
// and the fencing token from an INCR counter that grows on each change of owner.
import { ClusterClosedError, CorruptClusterDataError } from "../errors.ts";
import type { Lease, LeaseGrant } from "../lease.ts";
import {
  checkLeaseAcquire,
  checkLeaseName,
  checkLeaseOwner,
} from "../memory_lease.ts";
import {
  type Connection,
  openStore,
  type Reply,
  runScript,
  Script,
} from "./_client.ts";

/** Options of {@linkcode RedisLease.connect}. */
export interface RedisLeaseOptions {
  /** `redis://[[user][:password]@]host[:port][/db]` (default `redis://127.0.0.1:6379`). */
  readonly url?: string;
  /** Prefix of the lease's keys (default `"troupe:cluster:"`); no `{` or `}`. */
  readonly keyPrefix?: string;
  /** Limit of a connection attempt, in ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** A command with no reply for this long fails with an unknown outcome, in ms (default 5000). */
  readonly commandTimeoutMs?: number;
}

// Server time in ms since the Unix epoch, from inside the script (effects replication).
const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

const ACQUIRE_SOURCE = NOW + `
local ttl = tonumber(ARGV[2])
local owner = redis.call('HGET', KEYS[1], 'owner')
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ttl)
  return {1, owner, redis.call('HGET', KEYS[1], 'token') or '', string.format('%d', now + ttl)}
elseif owner then
  return {0, owner, redis.call('HGET', KEYS[1], 'token') or '', string.format('%d', now + redis.call('PTTL', KEYS[1]))}
elseif redis.call('EXISTS', KEYS[1]) == 1 then
  return {-1, 'the grant has no owner'}
end
local token = redis.call('INCR', KEYS[2])
redis.call('HSET', KEYS[1], 'owner', ARGV[1], 'token', token)
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, ARGV[1], string.format('%d', token), string.format('%d', now + ttl)}
`;

const RELEASE_SOURCE = `
if redis.call('HGET', KEYS[1], 'owner') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`;

const HOLDER_SOURCE = NOW + `
local owner = redis.call('HGET', KEYS[1], 'owner')
if not owner then
  if redis.call('EXISTS', KEYS[1]) == 1 then return {-1, 'the grant has no owner'} end
  return {0}
end
return {1, owner, redis.call('HGET', KEYS[1], 'token') or '', string.format('%d', now + redis.call('PTTL', KEYS[1]))}
`;

interface Scripts {
  readonly acquire: Script;
  readonly release: Script;
  readonly holder: Script;
}

let scripts: Promise<Scripts> | undefined;
function loadScripts(): Promise<Scripts> {
  scripts ??= Promise.all([
    Script.load(ACQUIRE_SOURCE),
    Script.load(RELEASE_SOURCE),
    Script.load(HOLDER_SOURCE),
  ]).then(([acquire, release, holder]) => ({ acquire, release, holder }));
  return scripts;
}

/**
 * A {@linkcode Lease} in Redis (6.2 or later), through the `redis` npm package (node-redis 5),
 * for lease-majority downing and the cluster singleton's fencing.
 *
 * ## Keys
 *
 * | key | type | content |
 * | --- | --- | --- |
 * | `{prefix}lease:{<name>}` | HASH, with a time to live | `owner` and `token` of the current grant |
 * | `{prefix}lease:{<name>}:token` | STRING | the fencing counter (INCR), never expires |
 *
 * Each call is one Lua script, so taking, renewing and releasing are atomic. A grant lapses by
 * the server's own clock (`PEXPIRE`), so the nodes' clocks do not matter; `expiresAt` is in ms
 * since the Unix epoch by the server's clock (`TIME`). A holder should count its time
 * from just before it sent `acquire` (on its own monotonic clock), treat the lease as lost once
 * `ttlMs`, less a margin for clock-rate drift, has passed since then without a successful
 * renewal, and renew well before that; the fencing token covers what that cannot. The token comes from the counter, which grows each time the lease is granted
 * to an owner that did not hold it: a resource that remembers the highest token it has seen
 * refuses a stale holder. Data under those keys that Troupe did not write (a grant without an
 * owner, a token that is not an integer, a key of another type) fails the call with
 * `CorruptClusterDataError`.
 *
 * The counter is exactly as durable as the server: with `appendonly no`, a restart of Redis
 * resets it and tokens start again at 1, so a resource fenced by an older, higher token would
 * refuse new holders until reset. Run the server with `appendonly yes`.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisLease } from "@troupe/troupe/cluster/redis";
 * const lease = await RedisLease.connect("sbr", { url: "redis://127.0.0.1:6379", keyPrefix: "shop:" });
 * const grant = await lease.acquire("node-a#1", 10_000);
 * if (grant !== undefined) console.log(`held with fencing token ${grant.token}`);
 * await lease.close();
 * ```
 */
export class RedisLease implements Lease {
  /** The lease's name. */
  readonly name: string;
  readonly #connection: Connection;
  readonly #scripts: Scripts;
  readonly #keys: readonly [string, string];
  #closed = false;

  private constructor(
    name: string,
    connection: Connection,
    loaded: Scripts,
    prefix: string,
  ) {
    this.name = name;
    this.#connection = connection;
    this.#scripts = loaded;
    const grantKey = `${prefix}lease:{${name}}`;
    this.#keys = [grantKey, `${grantKey}:token`];
  }

  /**
   * Connects to Redis.
   *
   * @param name The lease's name (1 to 200 characters, no control characters, `{` or `}`).
   * @param options Where, and under which key prefix.
   * @returns The lease.
   * @throws {TypeError} When `name` or `keyPrefix` is not valid.
   * @throws {RangeError} When a time limit is not a positive number.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached.
   */
  static async connect(
    name: string,
    options: RedisLeaseOptions = {},
  ): Promise<RedisLease> {
    checkLeaseName(name);
    const loaded = await loadScripts();
    const { connection, prefix } = await openStore(options);
    return new RedisLease(name, connection, loaded, prefix);
  }

  /**
   * Takes the lease for `owner`, or renews it if `owner` holds it (keeping the token).
   *
   * @param owner Who takes it.
   * @param ttlMs How long it is held without renewal, in ms.
   * @param signal Aborts the wait (the outcome is then unknown: assume it is not held).
   * @returns The grant, or `undefined` when another owner holds it.
   * @throws {RangeError} When `ttlMs` is not a positive integer.
   * @throws {TypeError} When `owner` is not valid.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached.
   * @throws {CorruptClusterDataError} When the stored grant or counter is not valid.
   * @throws {ClusterClosedError} After close().
   */
  async acquire(
    owner: string,
    ttlMs: number,
    signal?: AbortSignal,
  ): Promise<LeaseGrant | undefined> {
    this.#check(signal);
    checkLeaseAcquire(owner, ttlMs);
    const reply = await this.#run(
      this.#scripts.acquire,
      [owner, String(ttlMs)],
      signal,
    );
    const grant = this.#grant(reply);
    if (grant === undefined || grant.owner !== owner) return undefined;
    return grant;
  }

  /**
   * Gives the lease up, if `owner` holds it.
   *
   * @param owner Who gives it up.
   * @param signal Aborts the wait.
   * @returns Whether `owner` held it.
   * @throws {TypeError} When `owner` is not valid.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached.
   * @throws {ClusterClosedError} After close().
   */
  async release(owner: string, signal?: AbortSignal): Promise<boolean> {
    this.#check(signal);
    checkLeaseOwner(owner);
    const reply = await this.#run(this.#scripts.release, [owner], signal);
    return reply === 1;
  }

  /**
   * Reads who holds the lease.
   *
   * @param signal Aborts the read.
   * @returns The grant, or `undefined` when nobody holds it.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached.
   * @throws {CorruptClusterDataError} When the stored grant is not valid.
   * @throws {ClusterClosedError} After close().
   */
  async holder(signal?: AbortSignal): Promise<LeaseGrant | undefined> {
    this.#check(signal);
    return this.#grant(await this.#run(this.#scripts.holder, [], signal));
  }

  /** Closes the connection; a held lease simply lapses. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#connection.close();
  }

  #run(
    script: Script,
    args: readonly string[],
    signal: AbortSignal | undefined,
  ): Promise<Reply> {
    return runScript(
      script,
      this.#connection,
      this.#keys,
      args,
      signal,
      this.#keys[0],
    );
  }

  #grant(reply: Reply): LeaseGrant | undefined {
    if (!Array.isArray(reply)) {
      throw new CorruptClusterDataError(this.#keys[0], "unexpected reply");
    }
    const [state, owner, token, expiresAt] = reply as Reply[];
    if (state === 0 && reply.length === 1) return undefined;
    if (state === -1) {
      throw new CorruptClusterDataError(this.#keys[0], String(owner));
    }
    if (
      typeof owner !== "string" || owner === "" || owner.length > 255
    ) {
      throw new CorruptClusterDataError(
        this.#keys[0],
        `the owner ${JSON.stringify(owner)} is not valid`,
      );
    }
    const tokenNumber = Number(token);
    if (
      typeof token !== "string" || !/^[1-9]\d{0,15}$/.test(token) ||
      !Number.isSafeInteger(tokenNumber)
    ) {
      throw new CorruptClusterDataError(
        this.#keys[0],
        `the token ${JSON.stringify(token)} is not a positive integer`,
      );
    }
    if (typeof expiresAt !== "string" || !/^\d{1,16}$/.test(expiresAt)) {
      throw new CorruptClusterDataError(this.#keys[0], "unexpected reply");
    }
    return Object.freeze({
      owner,
      token: tokenNumber,
      expiresAt: Number(expiresAt),
    });
  }

  #check(signal: AbortSignal | undefined): void {
    signal?.throwIfAborted();
    if (this.#closed) throw new ClusterClosedError(`RedisLease "${this.name}"`);
  }
}
