// The membership table in memory (one process: tests, simulations), and the checks every table
// applies to rows and status moves, so the Redis table refuses exactly what this one refuses.
import { parseNodeAddress } from "./discovery/static_seeds.ts";
import { ClusterClosedError } from "./errors.ts";
import {
  MEMBER_STATUSES,
  type MemberId,
  type MemberRow,
  type MembershipTable,
  type MembershipTableSnapshot,
  type MemberStatus,
} from "./membership_table.ts";

/** Longest node name, incarnation or role, in UTF-16 code units. */
const MAX_NAME_LENGTH = 255;
const MAX_ROLES = 64;
// deno-lint-ignore no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;
const LONE_SURROGATE =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const RANK: ReadonlyMap<string, number> = new Map(
  MEMBER_STATUSES.map((status, index) => [status, index]),
);
const DOWN_RANK = RANK.get("down")!;

function checkName(value: unknown, what: string): string {
  if (typeof value !== "string") {
    throw new TypeError(
      `Invalid member row: ${what} must be a string, got ${typeof value}`,
    );
  }
  if (value.length === 0 || value.length > MAX_NAME_LENGTH) {
    throw new TypeError(
      `Invalid member row: ${what} must have 1 to ${MAX_NAME_LENGTH} characters, got ${value.length}`,
    );
  }
  if (CONTROL.test(value) || LONE_SURROGATE.test(value)) {
    throw new TypeError(
      `Invalid member row: ${what} ${
        JSON.stringify(value)
      } has a control character or a lone surrogate`,
    );
  }
  return value;
}

/**
 * Checks that `value` is a valid {@linkcode MemberRow} and returns a frozen copy of it. Every
 * membership table applies this check to the rows it is given (and to the rows it reads back
 * from its store), so that all refuse the same rows.
 *
 * A valid row has: `node` and `incarnation`, strings of 1 to 255 characters without control
 * characters or lone surrogates; `address`, a valid `host:port`; `status`, one of
 * {@linkcode MEMBER_STATUSES}; `roles`, at most 64 such strings, sorted, without duplicates;
 * `upNumber`, a non-negative safe integer.
 *
 * @param value The row to check.
 * @returns A frozen copy with only the row's fields.
 * @throws {TypeError} When the row is not valid; the message names the field.
 * @example Usage
 * ```ts
 * import { checkMemberRow } from "@troupe/troupe/cluster";
 * const row = checkMemberRow({
 *   node: "a", address: "127.0.0.1:4000", incarnation: "1", status: "up", roles: [], upNumber: 1,
 * });
 * console.log(Object.isFrozen(row)); // true
 * ```
 */
export function checkMemberRow(value: unknown): MemberRow {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new TypeError(
      `Invalid member row: expected an object, got ${
        value === null ? "null" : typeof value
      }`,
    );
  }
  const row = value as Record<string, unknown>;
  const node = checkName(row.node, "node");
  const incarnation = checkName(row.incarnation, "incarnation");
  try {
    parseNodeAddress(row.address);
  } catch (error) {
    throw new TypeError(
      `Invalid member row for node "${node}": ${(error as Error).message}`,
    );
  }
  const status = row.status;
  if (typeof status !== "string" || !RANK.has(status)) {
    throw new TypeError(
      `Invalid member row for node "${node}": status must be one of ${
        MEMBER_STATUSES.join(", ")
      }, got ${JSON.stringify(status) ?? String(status)}`,
    );
  }
  if (!Array.isArray(row.roles) || row.roles.length > MAX_ROLES) {
    throw new TypeError(
      `Invalid member row for node "${node}": roles must be an array of at most ${MAX_ROLES} strings`,
    );
  }
  const roles = row.roles.map((role) => checkName(role, "a role"));
  for (let i = 1; i < roles.length; i++) {
    if (!(roles[i - 1] < roles[i])) {
      throw new TypeError(
        `Invalid member row for node "${node}": roles must be sorted, without duplicates`,
      );
    }
  }
  const upNumber = row.upNumber;
  if (
    typeof upNumber !== "number" || !Number.isSafeInteger(upNumber) ||
    upNumber < 0
  ) {
    throw new TypeError(
      `Invalid member row for node "${node}": upNumber must be a non-negative integer, got ${
        String(upNumber)
      }`,
    );
  }
  return Object.freeze({
    node,
    address: row.address as string,
    incarnation,
    status: status as MemberStatus,
    roles: Object.freeze(roles),
    upNumber,
  });
}

/**
 * The key of a row in a table: its node and incarnation, which together are a member's
 * identity.
 *
 * @param row The row (or just its identity).
 * @returns A string that is equal for two rows exactly when both fields are.
 * @example Usage
 * ```ts
 * import { memberKey } from "@troupe/troupe/cluster";
 * console.log(memberKey({ node: "a", incarnation: "1" })); // ["a","1"]
 * ```
 */
export function memberKey(
  row: { readonly node: string; readonly incarnation: string },
): string {
  return JSON.stringify([row.node, row.incarnation]);
}

/**
 * Checks the rows of one write: each valid, and no member twice.
 *
 * @param rows The rows.
 * @returns Frozen copies.
 * @throws {TypeError} When `rows` is not an array, a row is not valid, or two rows are the
 * same member.
 * @example Usage
 * ```ts
 * import { checkMemberRows } from "@troupe/troupe/cluster";
 * console.log(checkMemberRows([]).length); // 0
 * ```
 */
export function checkMemberRows(rows: unknown): MemberRow[] {
  if (!Array.isArray(rows)) {
    throw new TypeError("Invalid membership write: rows must be an array");
  }
  const checked = rows.map(checkMemberRow);
  const keys = new Set<string>();
  for (const row of checked) {
    const key = memberKey(row);
    if (keys.has(key)) {
      throw new TypeError(
        `Invalid membership write: member "${row.node}" (incarnation "${row.incarnation}") appears twice`,
      );
    }
    keys.add(key);
  }
  return checked;
}

/**
 * Checks the members given to `MembershipTable.deleteDefunct`: each a valid node and
 * incarnation (as in {@linkcode checkMemberRow}), none twice.
 *
 * @param members The members.
 * @returns Frozen copies with only `node` and `incarnation`.
 * @throws {TypeError} When `members` is not an array, a member is not valid, or one appears
 * twice.
 * @example Usage
 * ```ts
 * import { checkMemberIds } from "@troupe/troupe/cluster";
 * console.log(checkMemberIds([{ node: "a", incarnation: "1" }]).length); // 1
 * ```
 */
export function checkMemberIds(members: unknown): MemberId[] {
  if (!Array.isArray(members)) {
    throw new TypeError(
      "Invalid membership deletion: members must be an array",
    );
  }
  const keys = new Set<string>();
  return members.map((value) => {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new TypeError(
        `Invalid membership deletion: expected a member ({ node, incarnation }), got ${
          value === null ? "null" : typeof value
        }`,
      );
    }
    const member = value as Record<string, unknown>;
    const id = Object.freeze({
      node: checkName(member.node, "node"),
      incarnation: checkName(member.incarnation, "incarnation"),
    });
    const key = memberKey(id);
    if (keys.has(key)) {
      throw new TypeError(
        `Invalid membership deletion: member "${id.node}" (incarnation "${id.incarnation}") appears twice`,
      );
    }
    keys.add(key);
    return id;
  });
}

/**
 * Checks that a stored row may be deleted by `MembershipTable.deleteDefunct`: only the rows
 * of dead members (`down` or `removed`) may go.
 *
 * @param row The stored row.
 * @throws {TypeError} When the row's member is not dead.
 * @example Usage
 * ```ts
 * import { checkDefunctDelete } from "@troupe/troupe/cluster";
 * const row = { node: "a", address: "127.0.0.1:1", incarnation: "1", status: "removed", roles: [], upNumber: 1 } as const;
 * checkDefunctDelete(row); // fine: a removed member's row
 * ```
 */
export function checkDefunctDelete(row: MemberRow): void {
  if (RANK.get(row.status)! < DOWN_RANK) {
    throw new TypeError(
      `Cannot delete member "${row.node}" (incarnation "${row.incarnation}"): it is ${row.status}, and only the rows of down or removed members can be deleted`,
    );
  }
}

/**
 * Checks that a member may move from status `from` to `to`: statuses only move forward, in the
 * order of {@linkcode MEMBER_STATUSES} (staying the same is allowed).
 *
 * @param row The row being written (named in the message).
 * @param from The stored status.
 * @throws {TypeError} When the move goes backwards.
 * @example Usage
 * ```ts
 * import { checkStatusMove } from "@troupe/troupe/cluster";
 * const row = { node: "a", address: "127.0.0.1:1", incarnation: "1", status: "up", roles: [], upNumber: 1 } as const;
 * checkStatusMove(row, "joining"); // fine: joining → up
 * ```
 */
export function checkStatusMove(row: MemberRow, from: MemberStatus): void {
  const before = RANK.get(from)!;
  const after = RANK.get(row.status)!;
  if (after < before) {
    throw new TypeError(
      `Cannot write member "${row.node}" (incarnation "${row.incarnation}"): its status cannot move back from "${from}" to "${row.status}"`,
    );
  }
}

/**
 * Checks the expected version given to `MembershipTable.write`.
 *
 * @param expectedVersion The version.
 * @throws {RangeError} When it is not a non-negative safe integer.
 * @example Usage
 * ```ts
 * import { checkExpectedVersion } from "@troupe/troupe/cluster";
 * checkExpectedVersion(0); // fine
 * ```
 */
export function checkExpectedVersion(expectedVersion: unknown): void {
  if (
    typeof expectedVersion !== "number" ||
    !Number.isSafeInteger(expectedVersion) || expectedVersion < 0
  ) {
    throw new RangeError(
      `Invalid membership write: expectedVersion must be a non-negative integer, got ${
        String(expectedVersion)
      }`,
    );
  }
}

/** Memory tables made in this process, for their epochs. */
let epochs = 0;

/**
 * A {@linkcode MembershipTable} in memory: for tests, simulations and a single process. Every
 * call takes effect at once and atomically, so concurrent writers at one version see exactly one
 * winner. It refuses the same rows and moves as every table (see {@linkcode checkMemberRow}).
 *
 * @example Usage
 * ```ts
 * import { MemoryMembershipTable } from "@troupe/troupe/cluster";
 * const table = new MemoryMembershipTable();
 * const row = {
 *   node: "a", address: "127.0.0.1:4000", incarnation: "1", status: "joining", roles: [], upNumber: 0,
 * } as const;
 * console.log((await table.write(0, [row]))?.version); // 1
 * console.log(await table.write(0, [row])); // undefined: the version moved
 * await table.close();
 * ```
 */
export class MemoryMembershipTable implements MembershipTable {
  #state: {
    version: number;
    readonly rows: Map<string, MemberRow>;
    readonly epoch: string;
  };
  #closed = false;

  /** Makes an empty table (with an epoch of its own: see `MembershipTableSnapshot.epoch`). */
  constructor() {
    this.#state = { version: 0, rows: new Map(), epoch: `memory-${++epochs}` };
  }

  /**
   * Another handle on the same table, as a second node of a simulated cluster would have;
   * closing one handle leaves the others open.
   *
   * @returns The new handle.
   * @throws {ClusterClosedError} When this handle is closed.
   * @example Usage
   * ```ts
   * import { MemoryMembershipTable } from "@troupe/troupe/cluster";
   * const a = new MemoryMembershipTable();
   * const b = a.share();
   * await a.close();
   * console.log((await b.read()).version); // 0
   * ```
   */
  share(): MemoryMembershipTable {
    this.#check(undefined);
    const handle = new MemoryMembershipTable();
    handle.#state = this.#state;
    return handle;
  }

  /**
   * Reads the whole table.
   *
   * @param signal Aborts the read (it rejects with the signal's reason).
   * @returns The rows and their version.
   * @throws {ClusterClosedError} After close().
   */
  read(signal?: AbortSignal): Promise<MembershipTableSnapshot> {
    try {
      this.#check(signal);
      return Promise.resolve(this.#snapshot());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Upserts `rows` if the table is still at `expectedVersion`; all or nothing.
   *
   * @param expectedVersion The version the writer read.
   * @param rows The rows to insert or replace.
   * @param signal Aborts the write (it rejects with the signal's reason, writing nothing).
   * @returns The table after the write, or `undefined` when the version had moved.
   * @throws {TypeError} When a row is not valid, a member appears twice, or a status would move
   * backwards (nothing is written).
   * @throws {RangeError} When `expectedVersion` is not a non-negative integer.
   * @throws {ClusterClosedError} After close().
   */
  write(
    expectedVersion: number,
    rows: readonly MemberRow[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    try {
      this.#check(signal);
      checkExpectedVersion(expectedVersion);
      const checked = checkMemberRows(rows);
      const state = this.#state;
      if (expectedVersion !== state.version) return Promise.resolve(undefined);
      for (const row of checked) {
        const stored = state.rows.get(memberKey(row));
        if (stored !== undefined) checkStatusMove(row, stored.status);
      }
      for (const row of checked) state.rows.set(memberKey(row), row);
      state.version++;
      return Promise.resolve(this.#snapshot());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Deletes the rows of dead members if the table is still at `expectedVersion`; all or
   * nothing. Members without a row are skipped.
   *
   * @param expectedVersion The version the caller read.
   * @param members The members whose rows to delete.
   * @param signal Aborts the call (it rejects with the signal's reason, deleting nothing).
   * @returns The table after the deletion, or `undefined` when the version had moved.
   * @throws {TypeError} When a member is not valid, appears twice, or is not `down` or
   * `removed` (nothing is deleted).
   * @throws {RangeError} When `expectedVersion` is not a non-negative integer.
   * @throws {ClusterClosedError} After close().
   */
  deleteDefunct(
    expectedVersion: number,
    members: readonly MemberId[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    try {
      this.#check(signal);
      checkExpectedVersion(expectedVersion);
      const checked = checkMemberIds(members);
      const state = this.#state;
      if (expectedVersion !== state.version) return Promise.resolve(undefined);
      for (const member of checked) {
        const stored = state.rows.get(memberKey(member));
        if (stored !== undefined) checkDefunctDelete(stored);
      }
      for (const member of checked) state.rows.delete(memberKey(member));
      state.version++;
      return Promise.resolve(this.#snapshot());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes this handle; its later calls reject with ClusterClosedError. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #check(signal: AbortSignal | undefined): void {
    signal?.throwIfAborted();
    if (this.#closed) throw new ClusterClosedError("MemoryMembershipTable");
  }

  #snapshot(): MembershipTableSnapshot {
    return Object.freeze({
      version: this.#state.version,
      rows: Object.freeze([...this.#state.rows.values()]),
      epoch: this.#state.epoch,
    });
  }
}
