// The contract of a membership table: the record of who is in the cluster, changed only by
// versioned compare-and-set (the Orleans way), so two nodes can never both win a conflicting
// change. Implementations: MemoryMembershipTable (tests, one process) and RedisMembershipTable
// (`@troupe/troupe/cluster/redis`); both run the one conformance suite.

/**
 * The life cycle of a member, in order; a member only moves forward.
 *
 * - `joining`: it asked to join; not yet part of the cluster's decisions.
 * - `up`: a full member.
 * - `leaving`: it asked to leave gracefully (`leave()`).
 * - `exiting`: its leaving is being completed (its work is handed over).
 * - `down`: it was declared dead (by an operator's `down()`, by the downing strategy, or by
 *   itself); it must stop, and is never up again (a restart is a new incarnation).
 * - `removed`: gone from the cluster (a tombstone, kept so that late news cannot revive it; in
 *   gossip, pruned after `ClusterOptions.pruneTombstonesAfterMs`).
 */
export type MemberStatus =
  | "joining"
  | "up"
  | "leaving"
  | "exiting"
  | "down"
  | "removed";

/** The statuses in their order: a member's status only moves to a later one. */
export const MEMBER_STATUSES: readonly MemberStatus[] = Object.freeze([
  "joining",
  "up",
  "leaving",
  "exiting",
  "down",
  "removed",
]);

/**
 * One member of the cluster: a node's name plus the incarnation of the process behind it. A
 * process restarted at the same address and name is a new member (a new incarnation), and the
 * old one is removed.
 */
export interface MemberRow {
  /** The node's name (as in `RemoteNode.node`). */
  readonly node: string;
  /** Where to dial it (`host:port`, as in `RemoteNode.address`). */
  readonly address: string;
  /** Unique per process start (for example a random id); with `node`, the member's identity. */
  readonly incarnation: string;
  /** Its status. */
  readonly status: MemberStatus;
  /** Its roles (for example `"shard-host"`), sorted, without duplicates. */
  readonly roles: readonly string[];
  /**
   * Its up number: the order in which members became `up` (lower is older; 0 while joining).
   * Used to derive the leader and the oldest member deterministically.
   */
  readonly upNumber: number;
}

/** What a membership table holds at one version. */
export interface MembershipTableSnapshot {
  /** The table's version: 0 for an empty table never written; each successful write adds 1. */
  readonly version: number;
  /** The rows, one per member (node and incarnation), in no particular order. */
  readonly rows: readonly MemberRow[];
  /**
   * The identity of the table's data: the same for as long as the store keeps it, and another
   * one when the store lost its data and the table started again (a Redis restarted without
   * persistence, say), even once its version has grown back past the old one. Optional: absent
   * when the table cannot tell (a Redis table has none before its first write). `syncWithTable`
   * uses it to tell a store that lost its data from deletions of dead members.
   */
  readonly epoch?: string;
}

/**
 * The record of the cluster's members, changed only by compare-and-set on its version.
 *
 * Rows are keyed by `node` and `incarnation`. A write that would move a row's status backwards
 * (see {@linkcode MEMBER_STATUSES}) is refused with a `TypeError` and changes nothing.
 */
export interface MembershipTable {
  /**
   * Reads the whole table.
   *
   * @param signal Aborts the read.
   * @returns The rows and the version they are at.
   */
  read(signal?: AbortSignal): Promise<MembershipTableSnapshot>;
  /**
   * Upserts `rows` (by node and incarnation) if, and only if, the table is still at
   * `expectedVersion`; all or nothing.
   *
   * @param expectedVersion The version the writer read.
   * @param rows The rows to insert or replace.
   * @param signal Aborts the write (its outcome is then unknown).
   * @returns The table after the write, or `undefined` when the version had moved (nothing was
   * written: read again and decide again).
   */
  write(
    expectedVersion: number,
    rows: readonly MemberRow[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined>;
  /**
   * Deletes the rows of dead members (status `down` or `removed`) if, and only if, the table is
   * still at `expectedVersion`; all or nothing, and the version goes up by 1. A member without a
   * row is skipped. The rows of live members cannot be deleted: a member still in the cluster
   * would lose its record.
   *
   * Optional: a table without it keeps the row of every member that ever joined (one per
   * process start); {@linkcode syncWithTable} deletes dead members' rows through it once they
   * have been dead for `deleteDefunctAfterMs` (the Orleans "defunct silo" clean-up).
   *
   * @param expectedVersion The version the caller read.
   * @param members The members whose rows to delete (node and incarnation).
   * @param signal Aborts the call (its outcome is then unknown).
   * @returns The table after the deletion, or `undefined` when the version had moved (nothing
   * was deleted).
   * @throws {TypeError} When a member is not a valid node and incarnation, appears twice, or
   * has a row that is not `down` or `removed` (nothing is deleted).
   * @throws {RangeError} When `expectedVersion` is not a non-negative integer.
   */
  deleteDefunct?(
    expectedVersion: number,
    members: readonly MemberId[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined>;
  /** Releases what the table holds (connections); the data stays. */
  close(): Promise<void>;
}

/** A member's identity in a membership table: its node's name and its incarnation. */
export interface MemberId {
  /** The node's name. */
  readonly node: string;
  /** The incarnation (one per process start). */
  readonly incarnation: string;
}
