// Keeps a membership table and a cluster member's view in step: the member writes its own row
// and the downs and removals the cluster decides (compare-and-set, statuses only forward), and
// polls the table, so that a member the table says is down is downed in the cluster too.
import { type Clock, systemClock, type TimerHandle } from "../timer/mod.ts";
import type { Cluster } from "./cluster.ts";
import type { ClusterMember } from "./member_event.ts";
import type {
  MemberId,
  MemberRow,
  MembershipTable,
  MembershipTableSnapshot,
} from "./membership_table.ts";
import { contextKey, isDownStatus, isLaterStatus } from "./table_downing.ts";
import { compareAge } from "./_leader.ts";

/** The default of {@linkcode TableMembershipOptions.pollIntervalMs}: 2000 ms. */
export const DEFAULT_TABLE_POLL_MS = 2000;

/**
 * The default of {@linkcode TableMembershipOptions.deleteDefunctAfterMs}: 7 days (Orleans'
 * `DefunctSiloExpiration`), well beyond the gossip's tombstones (a day by default).
 */
export const DEFAULT_DELETE_DEFUNCT_AFTER_MS = 7 * 24 * 60 * 60 * 1000;

/** At most this many rows go in one deletion; the next sync deletes more. */
const MAX_DELETIONS = 1000;

/** Options of {@linkcode syncWithTable}. */
export interface TableMembershipOptions {
  /**
   * The clock of the polling (default `systemClock`); pass the cluster's own clock (a test's
   * `ManualClock` puts it on virtual time).
   */
  readonly clock?: Clock;
  /**
   * How often the table is read, in ms (default {@linkcode DEFAULT_TABLE_POLL_MS}). A member
   * the table says is down is downed in the cluster within about this time; every membership
   * event also triggers a read and a write at once.
   */
  readonly pollIntervalMs?: number;
  /**
   * How many times one sync may find the version moved before it waits for the next poll
   * (default 10).
   */
  readonly maxConflicts?: number;
  /** Where problems and the table's verdicts are reported (default: the console). */
  readonly logger?: { error(message: string, error: unknown): void };
  /**
   * How long a dead member's row (`down` or `removed`) stays in the table, in ms (default
   * {@linkcode DEFAULT_DELETE_DEFUNCT_AFTER_MS}, 7 days; `Infinity`: for ever). Every process
   * start adds a row, so without this the table, and every read of it, grows for the cluster's
   * whole life. The cluster's oldest `up` member deletes the rows it has seen dead for this
   * long (it counts from when it first read them dead: no clocks are compared across nodes; a
   * new oldest member counts from when it saw them), through `MembershipTable.deleteDefunct`
   * (a table without it keeps every row). Give every member the same value: the oldest
   * member's is the one that counts, and which member is oldest changes over time.
   *
   * A row once deleted is not written again by a member that saw it (the gossip may still
   * carry the member as removed). Keep this well above the cluster's `pruneTombstonesAfterMs`:
   * a member that never saw the row, but whose gossip still holds the tombstone, writes it
   * again (as removed; it is deleted again later). A member that finds its own row deleted
   * downs itself, as it does when it finds its row down; one partitioned from the table for
   * longer than this and never downed in the cluster could, until then, keep running.
   */
  readonly deleteDefunctAfterMs?: number;
}

const CONSOLE_LOGGER = Object.freeze({
  error: (message: string, error: unknown): void => {
    if (error === undefined) console.error(`[troupe cluster] ${message}`);
    else console.error(`[troupe cluster] ${message}`, error);
  },
});

function rowOf(member: ClusterMember | MemberRow): MemberRow {
  return {
    node: member.node,
    address: member.address,
    incarnation: member.incarnation,
    status: member.status,
    roles: [...member.roles].sort(),
    upNumber: member.upNumber,
  };
}

function isLive(row: MemberRow): boolean {
  return !isDownStatus(row.status);
}

/**
 * A cluster member kept in step with a membership table (see {@linkcode syncWithTable}).
 *
 * @example Usage
 * ```ts ignore
 * import { Cluster, syncWithTable, TableDiscovery, tableDowning, keepMajority } from "@troupe/troupe/cluster";
 * const cluster = await Cluster.join(node, {
 *   extensions,
 *   discovery: new TableDiscovery(table),
 *   downing: { strategy: tableDowning(table, keepMajority()) },
 * });
 * const membership = syncWithTable(cluster, table);
 * // ...
 * await membership.close();
 * ```
 */
export class TableMembership implements AsyncDisposable {
  readonly #cluster: Cluster;
  readonly #table: MembershipTable;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #maxConflicts: number;
  readonly #logger: { error(message: string, error: unknown): void };
  readonly #deleteAfterMs: number;
  readonly #events = new AbortController();
  /** When this member first read each dead row of the table (key → clock time). */
  readonly #deadSince = new Map<string, number>();
  /**
   * The rows this member has read in the table and that the table or the cluster still has: one
   * of them missing from the table was deleted as defunct, and is not written again.
   */
  readonly #seen = new Set<string>();
  /** The highest version read: a lower one means the table was emptied (a store reset). */
  #version = 0;
  /** The table's epoch last read, when it has one: another one means a store reset. */
  #epoch: string | undefined;
  /** Downs and removals the cluster decided, not yet seen in the table (key → row). */
  readonly #decided = new Map<string, MemberRow>();
  #timer: TimerHandle | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #closed = false;
  #ended = false;
  #following: Promise<void>;

  /** @internal Use {@linkcode syncWithTable}. */
  constructor(
    cluster: Cluster,
    table: MembershipTable,
    options: TableMembershipOptions,
  ) {
    this.#cluster = cluster;
    this.#table = table;
    this.#clock = options.clock ?? systemClock;
    this.#pollMs = options.pollIntervalMs ?? DEFAULT_TABLE_POLL_MS;
    this.#maxConflicts = options.maxConflicts ?? 10;
    this.#logger = options.logger ?? CONSOLE_LOGGER;
    this.#deleteAfterMs = options.deleteDefunctAfterMs ??
      DEFAULT_DELETE_DEFUNCT_AFTER_MS;
    this.#following = this.#follow();
    this.#schedule();
    void this.sync().catch(() => {});
  }

  /**
   * Syncs now: reads the table, writes what the cluster decided that the table lacks, and downs
   * in the cluster what the table says is down. Concurrent calls share one run.
   *
   * @returns Once this sync (or the one it joined) is done.
   * @throws {ClusterStoreUnavailableError} (as a rejection) When the table cannot be reached;
   * the next poll tries again.
   * @throws {ClusterClosedError} (as a rejection) When the table was closed.
   */
  sync(): Promise<void> {
    if (this.#running !== undefined) {
      this.#again = true;
      return this.#running;
    }
    const run = (async () => {
      try {
        do {
          this.#again = false;
          await this.#syncOnce();
        } while (this.#again && !this.#closed);
      } finally {
        this.#running = undefined;
      }
    })();
    this.#running = run;
    return run;
  }

  /**
   * Stops polling and following the cluster's events (the table and the cluster stay open).
   * Idempotent.
   *
   * @returns Once the last sync has ended.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#events.abort();
    await this.#following;
    await this.#running?.catch(() => {});
  }

  /** Closes (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #schedule(): void {
    if (this.#closed || this.#ended) return;
    this.#timer = this.#clock.setTimer(() => {
      this.#timer = undefined;
      this.#poll();
      this.#schedule();
    }, this.#pollMs);
  }

  #poll(): void {
    this.sync().catch((error) => {
      if (!this.#closed) {
        this.#logger.error(
          `Cluster member ${this.#selfName()}: syncing with the membership table failed; the next poll tries again`,
          error,
        );
      }
    });
  }

  #selfName(): string {
    return contextKey(this.#cluster.self);
  }

  /** Follows the events; when they end (this member stopped), a last sync writes its end. */
  async #follow(): Promise<void> {
    for await (const event of this.#cluster.events(this.#events.signal)) {
      if (
        "member" in event &&
        (event.type === "downed" || event.type === "removed")
      ) {
        const row = rowOf(event.member);
        const key = contextKey(row);
        const known = this.#decided.get(key);
        if (known === undefined || isLaterStatus(row.status, known.status)) {
          this.#decided.set(key, row);
        }
      }
      this.#poll();
    }
    if (!this.#events.signal.aborted) {
      // The member stopped (downed, removed or closed): write its last status, then stop.
      this.#ended = true;
      this.#poll();
      if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
  }

  async #syncOnce(): Promise<void> {
    for (let attempt = 0; attempt < this.#maxConflicts; attempt++) {
      const snapshot = await this.#table.read();
      const stored = new Map<string, MemberRow>();
      for (const row of snapshot.rows) stored.set(contextKey(row), row);
      const self = rowOf(this.#cluster.self);
      const members = this.#cluster.members();
      this.#observe(snapshot, members);
      const wanted = new Map<string, MemberRow>();
      const want = (row: MemberRow) => {
        const key = contextKey(row);
        const before = wanted.get(key);
        if (before === undefined || isLaterStatus(row.status, before.status)) {
          wanted.set(key, row);
        }
      };
      want(self);
      if (isLive(self)) {
        // Only a live member speaks for the cluster; a stopped one writes its own end only.
        for (const member of members) {
          if (!isLive(member)) want(rowOf(member));
        }
        for (const row of this.#decided.values()) want(row);
      }

      const selfKey = contextKey(self);
      const writes: MemberRow[] = [];
      for (const [key, row] of wanted) {
        const current = stored.get(key);
        if (current === undefined && this.#seen.has(key)) {
          // Deleted as defunct: its member was dead in the table; not written again.
          this.#decided.delete(key);
        } else if (
          current === undefined || isLaterStatus(row.status, current.status)
        ) {
          writes.push(row);
        } else if (key !== selfKey) {
          this.#decided.delete(key); // the table has it (or something later)
        } else if (
          row.status === current.status &&
          (row.upNumber !== current.upNumber ||
            row.address !== current.address ||
            row.roles.join(",") !== current.roles.join(","))
        ) {
          writes.push(row); // the same status with newer details (an up number)
        }
      }
      const storedSelf = stored.get(selfKey);
      const deleted = storedSelf === undefined && this.#seen.has(selfKey);
      this.#applyTable(snapshot.rows, self, members, deleted);
      // A member the table has dead lost: it writes nothing about the others any more.
      if (
        isLive(self) &&
        (deleted ||
          (storedSelf !== undefined && isDownStatus(storedSelf.status)))
      ) return;
      if (writes.length === 0) {
        if (await this.#deleteDefunct(snapshot, self, members)) return;
        continue; // the version moved under the deletion: read again
      }
      const written = await this.#table.write(snapshot.version, writes);
      if (written !== undefined) {
        for (const row of writes) {
          if (contextKey(row) !== contextKey(self)) {
            this.#decided.delete(contextKey(row));
          }
        }
        return;
      }
    }
  }

  /**
   * Notes what a read showed: the rows seen, and since when the dead ones are dead. Forgets
   * rows neither the table nor the cluster has any more. Another epoch than the one read before,
   * or a version lower than one read before, means the table was emptied (its store lost its
   * data): what was seen then is forgotten, so that the members write their rows again, as into
   * a new table. (Without epochs, a reset goes unseen when the version has grown back past the
   * last one this member read before it reads again.)
   */
  #observe(
    snapshot: MembershipTableSnapshot,
    members: readonly ClusterMember[],
  ): void {
    const { version, rows, epoch } = snapshot;
    const otherEpoch = epoch !== undefined && this.#epoch !== undefined &&
      epoch !== this.#epoch;
    if (otherEpoch || version < this.#version) {
      if (this.#seen.size > 0) {
        this.#logger.error(
          `Cluster member ${this.#selfName()}: the membership table's store lost its data (${
            otherEpoch
              ? `epoch ${this.#epoch} is now ${epoch}`
              : `version ${this.#version} is now ${version}`
          }); the members write their rows again`,
          undefined,
        );
      }
      this.#seen.clear();
      this.#deadSince.clear();
    }
    if (epoch !== undefined) this.#epoch = epoch;
    this.#version = version;
    const now = this.#clock.now();
    const inTable = new Set<string>();
    for (const row of rows) {
      const key = contextKey(row);
      inTable.add(key);
      this.#seen.add(key);
      if (isDownStatus(row.status) && !this.#deadSince.has(key)) {
        this.#deadSince.set(key, now);
      }
    }
    for (const key of this.#deadSince.keys()) {
      if (!inTable.has(key)) this.#deadSince.delete(key);
    }
    if (this.#seen.size > inTable.size) {
      const known = new Set(members.map(contextKey));
      known.add(contextKey(this.#cluster.self));
      for (const key of this.#seen) {
        if (!inTable.has(key) && !known.has(key) && !this.#decided.has(key)) {
          this.#seen.delete(key);
        }
      }
    }
  }

  /**
   * When this member is the oldest `up` member of its cluster, deletes the rows it has seen dead
   * for `deleteDefunctAfterMs`, at the version read. (The cluster's view, not the table's rows,
   * says who is oldest: an `up` row left by a cluster that stopped all at once belongs to no
   * running process. Two members that each think they are the oldest, as the two sides of a
   * partition do, are safe: each deletion is a compare-and-set of dead rows only.)
   *
   * @returns false when the version moved under the deletion (nothing was deleted).
   */
  async #deleteDefunct(
    snapshot: MembershipTableSnapshot,
    self: MemberRow,
    members: readonly ClusterMember[],
  ): Promise<boolean> {
    const table = this.#table;
    if (
      typeof table.deleteDefunct !== "function" ||
      !Number.isFinite(this.#deleteAfterMs) || !isLive(self) || this.#closed
    ) return true;
    let oldest: MemberRow | undefined;
    for (const member of members) {
      if (
        member.status === "up" &&
        (oldest === undefined || compareAge(member, oldest) < 0)
      ) oldest = member;
    }
    if (oldest === undefined || contextKey(oldest) !== contextKey(self)) {
      return true;
    }
    const now = this.#clock.now();
    const due: MemberId[] = [];
    for (const row of snapshot.rows) {
      const since = this.#deadSince.get(contextKey(row));
      if (
        isDownStatus(row.status) && since !== undefined &&
        now - since >= this.#deleteAfterMs
      ) {
        due.push({ node: row.node, incarnation: row.incarnation });
        if (due.length === MAX_DELETIONS) break;
      }
    }
    if (due.length === 0) return true;
    const after = await table.deleteDefunct(snapshot.version, due);
    if (after === undefined) return false;
    this.#observe(after, this.#cluster.members());
    return true;
  }

  /** Downs in the cluster what the table says is down but the cluster still runs. */
  #applyTable(
    rows: readonly MemberRow[],
    self: MemberRow,
    members: readonly ClusterMember[],
    selfDeleted: boolean,
  ): void {
    if (!isLive(self) || this.#closed) return; // stopped: it changes nothing any more
    const selfKey = contextKey(self);
    if (selfDeleted) {
      // Its row was deleted as defunct, so the table had it dead: it downs itself.
      this.#logger.error(
        `Cluster member ${selfKey} was deleted from the membership table as a defunct member; it downs itself`,
        undefined,
      );
      this.#down(self.node);
      return;
    }
    const storedSelf = rows.find((row) => contextKey(row) === selfKey);
    if (storedSelf !== undefined && isDownStatus(storedSelf.status)) {
      // It lost: it downs itself and nothing else (its view of the others is the losing one).
      this.#logger.error(
        `Cluster member ${selfKey} is ${storedSelf.status} in the membership table; it downs itself`,
        undefined,
      );
      this.#down(self.node);
      return;
    }
    for (const row of rows) {
      if (!isDownStatus(row.status)) continue;
      const key = contextKey(row);
      const live = members.filter((m) => m.node === row.node && isLive(m));
      if (!live.some((m) => contextKey(m) === key)) continue;
      if (live.length > 1) {
        // Cluster.down() takes a node name; another live incarnation of the name must not go.
        this.#logger.error(
          `Cluster member ${key} is ${row.status} in the membership table, but another incarnation of node "${row.node}" is live; the cluster's own handling of the restart removes it`,
          undefined,
        );
        continue;
      }
      this.#logger.error(
        `Cluster member ${key} is ${row.status} in the membership table but live in the cluster; ${this.#selfName()} downs it`,
        undefined,
      );
      this.#down(row.node);
    }
  }

  #down(node: string): void {
    try {
      this.#cluster.down(node);
    } catch (error) {
      // Only when no live member has the name any more: it went meanwhile, as wanted.
      this.#logger.error(`Downing node "${node}" found nothing to down`, error);
    }
  }
}

/**
 * Makes a membership table the record of who is in the cluster, for one member: it writes this
 * member's row (node, address, incarnation, roles, status, up number) now and each time its
 * status changes, writes the members the cluster downs or removes as down or removed, and
 * reads the table every `pollIntervalMs` (and on every membership event). Every write is a
 * compare-and-set at the version read, and only ever moves a status forward, so writers on
 * different nodes never undo each other.
 *
 * What the table says wins over the gossip: when this member finds its own row down or
 * removed, it downs itself through {@linkcode Cluster.down} (its events then carry
 * `self-downed`, and the logger says why); a member that the table says is down but the gossip
 * still has live is downed in the cluster. Use it with {@linkcode tableDowning} (so a
 * partition's winner is decided in the table) and `TableDiscovery` over the same table (so a
 * starting node finds the cluster there).
 *
 * The rows of dead members are deleted once they have been dead for `deleteDefunctAfterMs`
 * (default 7 days), by the oldest member, through the table's optional `deleteDefunct()`.
 *
 * The first node must form the cluster alone (join it, then start this sync) before others
 * join through `TableDiscovery`: nodes that all start on an empty table each form a cluster of
 * their own.
 *
 * @param cluster This member (after `Cluster.join`).
 * @param table The table the whole cluster shares.
 * @param options Poll interval, clock, logger, and when dead members' rows are deleted.
 * @returns The handle; `close()` stops it.
 * @throws {TypeError} When `cluster` or `table` is not what it should be.
 * @throws {RangeError} When an option is out of range.
 *
 * @example Usage
 * ```ts ignore
 * import { syncWithTable } from "@troupe/troupe/cluster";
 * await using membership = syncWithTable(cluster, table, { pollIntervalMs: 5000 });
 * await membership.sync();
 * ```
 */
export function syncWithTable(
  cluster: Cluster,
  table: MembershipTable,
  options: TableMembershipOptions = {},
): TableMembership {
  if (
    typeof (cluster as { events?: unknown } | null)?.events !== "function" ||
    typeof (cluster as { down?: unknown }).down !== "function"
  ) {
    throw new TypeError(
      "Cannot sync with a membership table: expected a Cluster",
    );
  }
  if (
    typeof (table as { read?: unknown } | null)?.read !== "function" ||
    typeof (table as { write?: unknown }).write !== "function"
  ) {
    throw new TypeError(
      "Cannot sync with a membership table: expected a MembershipTable",
    );
  }
  const poll = options.pollIntervalMs ?? DEFAULT_TABLE_POLL_MS;
  if (!(poll > 0) || !Number.isFinite(poll)) {
    throw new RangeError(
      `Invalid pollIntervalMs ${poll}: expected a finite number > 0`,
    );
  }
  const deleteAfter = options.deleteDefunctAfterMs ??
    DEFAULT_DELETE_DEFUNCT_AFTER_MS;
  if (typeof deleteAfter !== "number" || !(deleteAfter > 0)) {
    throw new RangeError(
      `Invalid deleteDefunctAfterMs ${
        typeof deleteAfter === "string"
          ? JSON.stringify(deleteAfter)
          : String(deleteAfter)
      }: expected a number > 0 (Infinity: never)`,
    );
  }
  const conflicts = options.maxConflicts ?? 10;
  if (!Number.isSafeInteger(conflicts) || conflicts < 1) {
    throw new RangeError(
      `Invalid maxConflicts ${conflicts}: expected an integer ≥ 1`,
    );
  }
  return new TableMembership(cluster, table, options);
}
