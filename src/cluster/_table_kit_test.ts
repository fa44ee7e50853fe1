// Test support for table membership: members on a TestCluster that join through a shared
// MemoryMembershipTable (TableDiscovery), decide partitions through it (tableDowning) and keep
// it in step (syncWithTable); plus a recording table that catches any backwards move.
import { TableDiscovery } from "./discovery/table_discovery.ts";
import type { DowningStrategy } from "./downing.ts";
import {
  MEMBER_STATUSES,
  type MemberId,
  type MemberRow,
} from "./membership_table.ts";
import type {
  MembershipTable,
  MembershipTableSnapshot,
} from "./membership_table.ts";
import { MemoryMembershipTable } from "./memory_membership_table.ts";
import { Members } from "./_membership_kit_test.ts";
import { contextKey } from "./table_downing.ts";
import { syncWithTable, type TableMembership } from "./table_membership.ts";

/**
 * A table handle that checks, after every successful write, that no row moved backwards and
 * no row vanished (but the dead rows a deleteDefunct() took), and records every error a writer
 * got (a refused backwards move included) and every row deleted.
 */
export class RecordingTable implements MembershipTable {
  readonly #inner: MembershipTable;
  readonly violations: string[];
  readonly errors: unknown[];
  /** The rows deleteDefunct() took (keys), in order. */
  readonly deleted: string[] = [];
  readonly #last: Map<string, MemberRow>;
  /** Reads and writes not answered yet (a real server's answers take real time). */
  inFlight = 0;

  constructor(inner: MembershipTable) {
    this.#inner = inner;
    this.violations = [];
    this.errors = [];
    this.#last = new Map();
  }

  read(signal?: AbortSignal): Promise<MembershipTableSnapshot> {
    this.inFlight++;
    const reading = this.#inner.read(signal);
    const done = (): void => {
      this.inFlight--;
    };
    reading.then(done, done);
    return reading;
  }

  async write(
    expectedVersion: number,
    rows: readonly MemberRow[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    this.inFlight++;
    try {
      const written = await this.#inner.write(expectedVersion, rows, signal);
      if (written !== undefined) this.#check(written);
      return written;
    } catch (error) {
      this.errors.push(error);
      throw error;
    } finally {
      this.inFlight--;
    }
  }

  async deleteDefunct(
    expectedVersion: number,
    members: readonly MemberId[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    this.inFlight++;
    try {
      const before = await this.#inner.read();
      const after = await this.#inner.deleteDefunct!(
        expectedVersion,
        members,
        signal,
      );
      if (after !== undefined) {
        for (const member of members) {
          const key = contextKey(member);
          const row = before.rows.find((r) => contextKey(r) === key);
          if (row === undefined) continue;
          if (!["down", "removed"].includes(row.status)) {
            this.violations.push(`${key} deleted while ${row.status}`);
          }
          this.deleted.push(key);
          this.#last.delete(key);
        }
        this.#check(after);
      }
      return after;
    } catch (error) {
      this.errors.push(error);
      throw error;
    } finally {
      this.inFlight--;
    }
  }

  #check(snapshot: MembershipTableSnapshot): void {
    const now = new Map(snapshot.rows.map((r) => [contextKey(r), r]));
    for (const [key, before] of this.#last) {
      const after = now.get(key);
      if (after === undefined) this.violations.push(`${key} vanished`);
      else if (
        MEMBER_STATUSES.indexOf(after.status) <
          MEMBER_STATUSES.indexOf(before.status)
      ) {
        this.violations.push(`${key}: ${before.status} → ${after.status}`);
      }
    }
    this.#last.clear();
    for (const [key, row] of now) this.#last.set(key, row);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

/** Options of {@linkcode TableMembers.start}. */
export interface TableMembersOptions {
  readonly nodes: readonly string[];
  readonly seed?: number;
  /** The strategy inside tableDowning (applied to a fresh handle per node). */
  readonly wrap?: (table: MembershipTable) => DowningStrategy;
  readonly stableAfterMs?: number;
  readonly downAllWhenUnstableMs?: number | false;
  readonly pollIntervalMs?: number;
  /** The syncs' `deleteDefunctAfterMs`. */
  readonly deleteDefunctAfterMs?: number;
}

/** Members that join through a shared table and keep it in step. */
export class TableMembers implements AsyncDisposable {
  readonly m: Members;
  readonly table: RecordingTable;
  readonly memory: MemoryMembershipTable;
  readonly syncs = new Map<string, TableMembership>();
  readonly #pollMs: number;
  readonly #deleteAfterMs: number | undefined;

  private constructor(
    m: Members,
    memory: MemoryMembershipTable,
    table: RecordingTable,
    pollMs: number,
    deleteAfterMs: number | undefined,
  ) {
    this.m = m;
    this.memory = memory;
    this.table = table;
    this.#pollMs = pollMs;
    this.#deleteAfterMs = deleteAfterMs;
  }

  static async start(
    options: TableMembersOptions,
    memory: MembershipTable = new MemoryMembershipTable(),
  ): Promise<TableMembers> {
    const table = new RecordingTable(memory);
    const m = await Members.start({
      nodes: options.nodes,
      seed: options.seed,
      downing: {
        strategy: options.wrap?.(table),
        stableAfterMs: options.stableAfterMs,
        downAllWhenUnstableMs: options.downAllWhenUnstableMs,
      },
      cluster: { discovery: new TableDiscovery(table) },
      busy: () => table.inFlight > 0,
    });
    return new TableMembers(
      m,
      memory as MemoryMembershipTable,
      table,
      options.pollIntervalMs ?? 1000,
      options.deleteDefunctAfterMs,
    );
  }

  /** Joins `names` through the table (all at once), then starts their syncs and runs one. */
  async join(names: readonly string[]): Promise<void> {
    await this.m.joinAll(names);
    for (const name of names) {
      await this.syncs.get(name)?.close();
      const sync = syncWithTable(this.m.cluster(name), this.table, {
        clock: this.m.tc.clock,
        pollIntervalMs: this.#pollMs,
        deleteDefunctAfterMs: this.#deleteAfterMs,
        logger: { error: (message) => this.m.logs.push(`${name}: ${message}`) },
      });
      this.syncs.set(name, sync);
      await sync.sync();
    }
  }

  /** Kills a node (its sync stops with its process). */
  async kill(name: string): Promise<void> {
    await this.syncs.get(name)?.close();
    this.syncs.delete(name);
    await this.m.kill(name);
  }

  /** node → status of the rows of the table (the newest incarnation's row per node wins). */
  async rows(): Promise<MemberRow[]> {
    return [...(await this.table.read()).rows];
  }

  async close(): Promise<void> {
    for (const sync of this.syncs.values()) await sync.close();
    await this.m.close();
    await this.table.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
