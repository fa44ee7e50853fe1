// The membership table in Redis: the source of truth of who is in the cluster, changed only by
// a Lua script that checks the version (and every status move, or that the rows it deletes are
// the ones checked) before it writes, so two writers can never both win, and a write is all or
// nothing.
import {
  CorruptClusterDataError,
  isCorruptClusterDataError,
} from "../errors.ts";
import type {
  MemberId,
  MemberRow,
  MembershipTable,
  MembershipTableSnapshot,
} from "../membership_table.ts";
import { MEMBER_STATUSES } from "../membership_table.ts";
import {
  checkDefunctDelete,
  checkExpectedVersion,
  checkMemberIds,
  checkMemberRow,
  checkMemberRows,
  checkStatusMove,
  memberKey,
} from "../memory_membership_table.ts";
import { ClusterClosedError } from "../errors.ts";
import {
  type Connection,
  openStore,
  type Reply,
  runScript,
  Script,
} from "./_client.ts";

/** Options of {@linkcode RedisMembershipTable.connect}. */
export interface RedisMembershipTableOptions {
  /** `redis://[[user][:password]@]host[:port][/db]` (default `redis://127.0.0.1:6379`). */
  readonly url?: string;
  /**
   * Prefix of the table's two keys (default `"troupe:cluster:"`): one cluster per prefix. It
   * may not contain `{` or `}` (the keys carry a Redis Cluster hash tag).
   */
  readonly keyPrefix?: string;
  /** Limit of a connection attempt, in ms (default 5000). */
  readonly connectTimeoutMs?: number;
  /** A command with no reply for this long fails with an unknown outcome, in ms (default 5000). */
  readonly commandTimeoutMs?: number;
}

// What both changing scripts do first and last. ARGV[1] is the expected version, ARGV[2] an
// epoch for a new table. A script checks the version, then its own conditions, then changes
// the rows and returns commit(), which also gives the table its epoch when it starts (version
// 0) or has none yet (a table of an earlier version of this code).
const CHANGE_PRELUDE = `
local current = redis.call('GET', KEYS[1])
local version = 0
if current then
  version = tonumber(current)
  if version == nil or version < 0 or version % 1 ~= 0 or not string.match(current, '^%d+$') then
    return {'corrupt', KEYS[1], 'the version is not a non-negative integer'}
  end
elseif redis.call('EXISTS', KEYS[2]) == 1 then
  return {'corrupt', KEYS[1], 'the version is missing while rows exist'}
end
if version ~= tonumber(ARGV[1]) then return {'stale', string.format('%d', version)} end
local function commit()
  local text = string.format('%d', version + 1)
  redis.call('SET', KEYS[1], text)
  if version == 0 or redis.call('EXISTS', KEYS[3]) == 0 then
    redis.call('SET', KEYS[3], ARGV[2])
  end
  return {'ok', text, redis.call('HGETALL', KEYS[2]), redis.call('GET', KEYS[3])}
end
`;

// Then ARGV[3], the statuses in order (JSON), and per row: field, row JSON, rank of its status.
// rank_of gives the rank of a stored row (nil when the row is absent; a corrupt reply when it
// is not JSON with a known status).
const WRITE_SOURCE = CHANGE_PRELUDE + `
local ranks = {}
for rank, status in ipairs(cjson.decode(ARGV[3])) do ranks[status] = rank end
local function rank_of(field)
  local stored = redis.call('HGET', KEYS[2], field)
  if not stored then return nil end
  local ok, decoded = pcall(cjson.decode, stored)
  if not ok or type(decoded) ~= 'table' or ranks[decoded.status] == nil then
    return nil, {'corrupt', KEYS[2] .. ' ' .. field, 'the stored row is not a valid member row'}
  end
  return ranks[decoded.status], nil, decoded.status
end
for i = 4, #ARGV, 3 do
  local rank, corrupt, status = rank_of(ARGV[i])
  if corrupt then return corrupt end
  if rank and rank > tonumber(ARGV[i + 2]) then
    return {'backwards', ARGV[i], status}
  end
end
for i = 4, #ARGV, 3 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
return commit()
`;

// Then, from ARGV[3], per row to delete: its field and the stored text that deleteDefunct()
// read and checked.
// The script does not check rows itself: a row whose bytes are not that text any more is
// reported as 'changed' (with what is stored now), and nothing is deleted.
const DELETE_SOURCE = CHANGE_PRELUDE + `
for i = 3, #ARGV, 2 do
  local stored = redis.call('HGET', KEYS[2], ARGV[i])
  if stored ~= ARGV[i + 1] then return {'changed', ARGV[i], stored} end
end
for i = 3, #ARGV, 2 do redis.call('HDEL', KEYS[2], ARGV[i]) end
return commit()
`;

const READ_SOURCE = `
local current = redis.call('GET', KEYS[1])
local epoch = redis.call('GET', KEYS[3])
if current then return {1, current, redis.call('HGETALL', KEYS[2]), epoch} end
return {0, '', redis.call('HGETALL', KEYS[2]), epoch}
`;

const RANKS_JSON = JSON.stringify(MEMBER_STATUSES);

interface Scripts {
  readonly write: Script;
  readonly read: Script;
  readonly deleteDefunct: Script;
}

let scripts: Promise<Scripts> | undefined;
function loadScripts(): Promise<Scripts> {
  scripts ??= Promise.all([
    Script.load(WRITE_SOURCE),
    Script.load(READ_SOURCE),
    Script.load(DELETE_SOURCE),
  ]).then(([write, read, deleteDefunct]) => ({ write, read, deleteDefunct }));
  return scripts;
}

/**
 * A {@linkcode MembershipTable} in Redis (6.2 or later), through the `redis` npm package
 * (node-redis 5): the table the whole cluster shares, in the Orleans way.
 *
 * ## Keys
 *
 * | key | type | content |
 * | --- | --- | --- |
 * | `{prefix}{members}:version` | STRING | the table's version, a decimal integer |
 * | `{prefix}{members}:rows` | HASH | one field per member, `["<node>","<incarnation>"]`, holding the row as JSON |
 * | `{prefix}{members}:epoch` | STRING | the table's epoch (a random UUID), set by its first write |
 *
 * A write runs one Lua script that checks the version and every status move, then writes all
 * its rows and adds 1 to the version, or writes nothing: it is atomic, so of many writers at one
 * version exactly one wins. Everything read back is checked (the version is an integer, each row
 * is a valid member row under its own field); anything else fails the call with
 * `CorruptClusterDataError` instead of being used. The write script itself checks only the
 * version and that each stored row the write replaces is JSON with a known status, and then
 * writes nothing; a damaged row elsewhere is found only in the table the write returns, and the
 * error then says that the write was applied.
 *
 * A deletion of dead members' rows ({@linkcode RedisMembershipTable.deleteDefunct}) first reads
 * the whole table and checks it as a read does, and deletes nothing when any of it is damaged;
 * then its script deletes the rows and adds 1 to the version only if the version has not moved
 * and each row is still exactly the text that was checked, else it deletes nothing.
 *
 * ## Failures and durability
 *
 * While Redis is unreachable calls reject with `ClusterStoreUnavailableError` (`notApplied`
 * when nothing was sent) and the connection reconnects by itself. A write whose reply is lost
 * (connection dropped, `commandTimeoutMs`) may or may not have been applied: read again before
 * deciding again. The table is exactly as durable as the server: with `appendonly no` a restart
 * of Redis empties it (version 0, no epoch), and its next write gives it a new epoch, by which
 * `syncWithTable` members tell that it lost its data and write their rows again; run the
 * server with `appendonly yes` (and `appendfsync always` to survive a crash of the machine).
 * A table written before epochs existed gets one at its next change.
 *
 * @example Usage
 * ```ts ignore
 * import { RedisMembershipTable } from "@troupe/troupe/cluster/redis";
 * const table = await RedisMembershipTable.connect({ url: "redis://127.0.0.1:6379", keyPrefix: "shop:" });
 * const { version } = await table.read();
 * await table.write(version, [
 *   { node: "a", address: "10.0.0.5:4000", incarnation: crypto.randomUUID(), status: "joining", roles: [], upNumber: 0 },
 * ]);
 * await table.close();
 * ```
 */
export class RedisMembershipTable implements MembershipTable {
  readonly #connection: Connection;
  readonly #scripts: Scripts;
  readonly #keys: readonly [string, string, string];
  #closed = false;

  private constructor(
    connection: Connection,
    scripts: Scripts,
    prefix: string,
  ) {
    this.#connection = connection;
    this.#scripts = scripts;
    this.#keys = [
      `${prefix}{members}:version`,
      `${prefix}{members}:rows`,
      `${prefix}{members}:epoch`,
    ];
  }

  /**
   * Connects to Redis.
   *
   * @param options Where, and under which key prefix.
   * @returns The table.
   * @throws {TypeError} When `keyPrefix` is not valid.
   * @throws {RangeError} When a time limit is not a positive number.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached.
   */
  static async connect(
    options: RedisMembershipTableOptions = {},
  ): Promise<RedisMembershipTable> {
    const loaded = await loadScripts();
    const { connection, prefix } = await openStore(options);
    return new RedisMembershipTable(connection, loaded, prefix);
  }

  /**
   * Reads the whole table.
   *
   * @param signal Aborts the read (it rejects with the signal's reason).
   * @returns The rows and their version.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached.
   * @throws {CorruptClusterDataError} When the stored data is not valid.
   * @throws {ClusterClosedError} After close().
   */
  async read(signal?: AbortSignal): Promise<MembershipTableSnapshot> {
    this.#check(signal);
    const { version, flat, epoch } = await this.#fetch(signal);
    return this.#frozen(version, this.#rows(flat), epoch);
  }

  /**
   * Upserts `rows` if the table is still at `expectedVersion`; all or nothing, atomically.
   *
   * @param expectedVersion The version the writer read.
   * @param rows The rows to insert or replace.
   * @param signal Aborts the wait (the outcome is then unknown).
   * @returns The table after the write, or `undefined` when the version had moved.
   * @throws {TypeError} When a row is not valid, a member appears twice, or a status would move
   * backwards (nothing is written).
   * @throws {RangeError} When `expectedVersion` is not a non-negative integer.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached or the reply was lost.
   * @throws {CorruptClusterDataError} When the stored data is not valid (nothing is written).
   * @throws {ClusterClosedError} After close().
   */
  async write(
    expectedVersion: number,
    rows: readonly MemberRow[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    this.#check(signal);
    checkExpectedVersion(expectedVersion);
    const checked = checkMemberRows(rows);
    const args = [String(expectedVersion), crypto.randomUUID(), RANKS_JSON];
    for (const row of checked) {
      args.push(
        memberKey(row),
        JSON.stringify(row),
        String(MEMBER_STATUSES.indexOf(row.status) + 1),
      );
    }
    return await this.#change(this.#scripts.write, args, signal, (reply) => {
      if (reply[0] !== "backwards") return;
      const row = checked.find((r) => memberKey(r) === reply[1])!;
      checkStatusMove(row, reply[2] as MemberRow["status"]);
      throw new TypeError(
        `Cannot write member "${row.node}": its status cannot move back`,
      );
    });
  }

  /**
   * Deletes the rows of dead members (`down` or `removed`) if the table is still at
   * `expectedVersion`; all or nothing. Members without a row are skipped (the version still
   * grows by 1).
   *
   * It takes two round trips. The first reads the whole table and checks it as
   * {@linkcode RedisMembershipTable.read} does; at another version it stops there. The second
   * runs a script that, atomically, checks the version again and that each row to delete is
   * still byte for byte the text the first one checked, then deletes those rows and adds 1 to
   * the version.
   *
   * @param expectedVersion The version the caller read.
   * @param members The members whose rows to delete.
   * @param signal Aborts the wait (the outcome is then unknown).
   * @returns The table after the deletion, or `undefined` when the version was not (or was no
   * longer) `expectedVersion`.
   * @throws {TypeError} When a member is not valid, appears twice, or is not `down` or
   * `removed` (nothing is deleted).
   * @throws {RangeError} When `expectedVersion` is not a non-negative integer.
   * @throws {ClusterStoreUnavailableError} When Redis cannot be reached or the reply was lost.
   * @throws {CorruptClusterDataError} When the stored version or any stored row (not only those
   * to delete) is not valid, when a row to delete changed between the two round trips without a
   * change of the version (written around the table), or when a row to delete is not valid
   * UTF-8 (so its bytes are not the text that was checked); nothing is deleted.
   * @throws {ClusterClosedError} After close().
   */
  async deleteDefunct(
    expectedVersion: number,
    members: readonly MemberId[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    this.#check(signal);
    checkExpectedVersion(expectedVersion);
    const checked = checkMemberIds(members);
    const { version, flat } = await this.#fetch(signal);
    if (version !== expectedVersion) return undefined;
    const stored = new Map(
      this.#rows(flat).map((entry) => [memberKey(entry.row), entry]),
    );
    const args = [String(expectedVersion), crypto.randomUUID()];
    for (const member of checked) {
      const entry = stored.get(memberKey(member));
      if (entry === undefined) continue;
      checkDefunctDelete(entry.row);
      args.push(memberKey(member), entry.text);
    }
    return await this.#change(
      this.#scripts.deleteDefunct,
      args,
      signal,
      (reply) => {
        if (reply[0] !== "changed") return;
        const field = String(reply[1]);
        // Text that decodes to what was checked but is other bytes is not valid UTF-8.
        throw new CorruptClusterDataError(
          `${this.#keys[1]} ${field}`,
          reply[2] === stored.get(field)?.text
            ? "the stored row is not valid UTF-8"
            : "the row changed without a change of the table's version",
        );
      },
    );
  }

  /**
   * Runs a changing script: the table after it, or `undefined` at a stale version. `refused`
   * throws for the script's own refusals; any other reply is unexpected.
   */
  async #change(
    script: Script,
    args: readonly string[],
    signal: AbortSignal | undefined,
    refused: (reply: readonly Reply[]) => void,
  ): Promise<MembershipTableSnapshot | undefined> {
    const reply = await this.#run(script, args, signal);
    if (!Array.isArray(reply) || typeof reply[0] !== "string") {
      throw new CorruptClusterDataError(this.#keys[0], "unexpected reply");
    }
    switch (reply[0]) {
      case "ok":
        return this.#applied(reply);
      case "stale":
        return undefined;
      case "corrupt":
        throw new CorruptClusterDataError(String(reply[1]), String(reply[2]));
      default:
        refused(reply);
        throw new CorruptClusterDataError(this.#keys[0], "unexpected reply");
    }
  }

  /** The table an applied write or deletion returned (`["ok", version, rows, epoch]`). */
  #applied(reply: readonly Reply[]): MembershipTableSnapshot {
    try {
      return this.#frozen(
        this.#version(reply[1]),
        this.#rows(Array.isArray(reply[2]) ? reply[2] : []),
        this.#epoch(reply[3] ?? null),
      );
    } catch (error) {
      if (!isCorruptClusterDataError(error)) throw error;
      // The scripts check the version and the rows they change; a damaged row elsewhere shows
      // up only here, after the change.
      throw new CorruptClusterDataError(
        error.key,
        `the write was applied (version ${
          reply[1]
        }), but the table holds data that is not valid: ${error.message}`,
        error,
      );
    }
  }

  /** Closes the connection; later calls reject with ClusterClosedError. The data stays. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#connection.close();
  }

  #check(signal: AbortSignal | undefined): void {
    signal?.throwIfAborted();
    if (this.#closed) throw new ClusterClosedError("RedisMembershipTable");
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
      this.#keys.join(", "),
    );
  }

  /**
   * Reads the version and the epoch (both checked) and the rows (not checked yet) with the READ
   * script. An empty table (no version) has no epoch, whatever its key holds.
   */
  async #fetch(
    signal: AbortSignal | undefined,
  ): Promise<
    { version: number; flat: readonly Reply[]; epoch: string | undefined }
  > {
    const reply = await this.#run(this.#scripts.read, [], signal);
    if (!Array.isArray(reply) || reply.length !== 4) {
      throw new CorruptClusterDataError(this.#keys[0], "unexpected reply");
    }
    const [exists, version, rows, epoch] = reply as [
      Reply,
      Reply,
      Reply,
      Reply,
    ];
    const flat = Array.isArray(rows) ? rows : [];
    if (exists !== 1) {
      if (flat.length > 0) {
        throw new CorruptClusterDataError(
          this.#keys[0],
          "the version is missing while rows exist",
        );
      }
      return { version: 0, flat, epoch: undefined };
    }
    return {
      version: this.#version(version),
      flat,
      epoch: this.#epoch(epoch ?? null),
    };
  }

  #frozen(
    version: number,
    rows: readonly { row: MemberRow }[],
    epoch: string | undefined,
  ): MembershipTableSnapshot {
    return Object.freeze({
      version,
      rows: Object.freeze(rows.map(({ row }) => row)),
      ...(epoch === undefined ? {} : { epoch }),
    });
  }

  /** The stored epoch: `undefined` when there is none (a table written before epochs). */
  #epoch(epoch: Reply): string | undefined {
    if (epoch === null) return undefined;
    if (typeof epoch !== "string" || !/^[\x21-\x7e]{1,128}$/.test(epoch)) {
      throw new CorruptClusterDataError(
        this.#keys[2],
        "the epoch is not 1 to 128 printable ASCII characters",
      );
    }
    return epoch;
  }

  #version(version: Reply): number {
    if (
      typeof version !== "string" || !/^(0|[1-9]\d{0,15})$/.test(version) ||
      !Number.isSafeInteger(Number(version))
    ) {
      throw new CorruptClusterDataError(
        this.#keys[0],
        `the version ${JSON.stringify(version)} is not a non-negative integer`,
      );
    }
    return Number(version);
  }

  /** Checks every row of an HGETALL reply; each with the text it was read from. */
  #rows(flat: readonly Reply[]): { row: MemberRow; text: string }[] {
    const rowsKey = this.#keys[1];
    const rows: { row: MemberRow; text: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i];
      const text = flat[i + 1];
      const where = `${rowsKey} ${String(field)}`;
      let row: MemberRow;
      try {
        row = checkMemberRow(JSON.parse(String(text)));
      } catch (error) {
        throw new CorruptClusterDataError(
          where,
          `the stored row is not a valid member row (${
            (error as Error).message
          })`,
          error,
        );
      }
      if (field !== memberKey(row)) {
        throw new CorruptClusterDataError(
          where,
          "the stored row belongs to another member than its field says",
        );
      }
      rows.push({ row, text: String(text) });
    }
    return rows;
  }
}
