// Discovery from a membership table: the live members (up, leaving, joining) of the table the
// cluster shares, for a node that starts and joins a cluster formed through that table.
import type { DiscoveredNode, Discovery } from "../discovery.ts";
import { ClusterClosedError } from "../errors.ts";
import type { MembershipTable, MemberStatus } from "../membership_table.ts";

/** The statuses TableDiscovery returns, best first. */
const LIVE: ReadonlyMap<MemberStatus, number> = new Map([
  ["up", 0],
  ["leaving", 1],
  ["joining", 2],
]);

/**
 * Discovery from a {@linkcode MembershipTable}: the members that are `up`, `leaving` or
 * `joining`, best first: up members oldest first (by up number), then leaving, then joining
 * ones; one entry per address (a restarted process at the same address appears once). Members
 * that are exiting, down or removed are not returned.
 *
 * The table is the caller's: close() does not close it.
 *
 * @example Usage
 * ```ts
 * import { MemoryMembershipTable, TableDiscovery } from "@troupe/troupe/cluster";
 * const table = new MemoryMembershipTable();
 * await table.write(0, [
 *   { node: "a", address: "10.0.0.5:4000", incarnation: "1", status: "up", roles: [], upNumber: 1 },
 *   { node: "b", address: "10.0.0.6:4000", incarnation: "1", status: "down", roles: [], upNumber: 2 },
 * ]);
 * const discovery = new TableDiscovery(table);
 * console.log(await discovery.discover()); // [{ address: "10.0.0.5:4000", node: "a" }]
 * await discovery.close();
 * await table.close();
 * ```
 */
export class TableDiscovery implements Discovery {
  /** `"membership-table"`. */
  readonly name: string = "membership-table";
  readonly #table: MembershipTable;
  #closed = false;

  /**
   * Makes the provider.
   *
   * @param table The membership table to read.
   * @throws {TypeError} When `table` has no `read` method.
   */
  constructor(table: MembershipTable) {
    if (typeof (table as { read?: unknown } | null)?.read !== "function") {
      throw new TypeError(
        "Cannot create TableDiscovery: expected a MembershipTable",
      );
    }
    this.#table = table;
  }

  /**
   * Reads the table and lists its live members.
   *
   * @param signal Aborts the read (it rejects with the signal's reason).
   * @returns The live members, best first.
   * @throws {ClusterClosedError} After close().
   * @throws {ClusterStoreUnavailableError} When the table's store cannot be reached.
   * @throws {CorruptClusterDataError} When the table's data is not valid.
   */
  async discover(signal?: AbortSignal): Promise<DiscoveredNode[]> {
    signal?.throwIfAborted();
    if (this.#closed) throw new ClusterClosedError("TableDiscovery");
    const { rows } = await this.#table.read(signal);
    const live = rows.filter((row) => LIVE.has(row.status));
    live.sort((a, b) =>
      LIVE.get(a.status)! - LIVE.get(b.status)! ||
      a.upNumber - b.upNumber ||
      (a.node < b.node ? -1 : a.node > b.node ? 1 : 0) ||
      (a.incarnation < b.incarnation ? -1 : 1)
    );
    const seen = new Set<string>();
    const nodes: DiscoveredNode[] = [];
    for (const row of live) {
      if (seen.has(row.address)) continue;
      seen.add(row.address);
      nodes.push({ address: row.address, node: row.node });
    }
    return nodes;
  }

  /** Closes the provider (not the table); later discover() calls reject. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
