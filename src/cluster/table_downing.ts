// Downing through a membership table: a side of a partition keeps running only after it has
// written the other side down in the table by compare-and-set, so two sides can never both win,
// whatever the strategy inside would let them do.
import {
  type DowningContext,
  type DowningDecision,
  downingSides,
  type DowningStrategy,
} from "./downing.ts";
import { isClusterStoreUnavailableError } from "./errors.ts";
import {
  MEMBER_STATUSES,
  type MemberRow,
  type MembershipTable,
  type MemberStatus,
} from "./membership_table.ts";

/** What {@linkcode tableDowning} does when the table's store cannot be reached. */
export type TableUnavailablePolicy = "retry" | "down-self";

/** Options of {@linkcode tableDowning}. */
export interface TableDowningOptions {
  /**
   * When the table cannot be reached (`ClusterStoreUnavailableError`):
   * - `"retry"` (default): read again every `retryMs` until the table answers or the decision
   *   is called off (the reachability changed or the cluster closed). No side keeps running
   *   without a successful write, so this is as safe as `"down-self"`; it keeps a healthy
   *   cluster running through a short outage of the store, but no unreachable member is downed
   *   meanwhile. The cluster's `downAllWhenUnstableMs` timer still bounds the wait (when it
   *   fires, the side downs itself); set it to `false` to wait for the store indefinitely.
   * - `"down-self"`: this side downs itself at once (fail-stop: an outage of the store during
   *   a partition, or a single crash, stops every side that has to decide).
   */
  readonly whenUnavailable?: TableUnavailablePolicy;
  /** Between two attempts while the table is unavailable, in ms (default 1000). */
  readonly retryMs?: number;
  /**
   * How many times a write may find the version moved (another writer went first) before
   * this side gives up and downs itself (default 10). Each retry reads the table again, so a
   * side that lost the race finds itself down in it and downs itself on the next attempt.
   */
  readonly maxConflicts?: number;
  /** Where the table's verdicts are reported (default: the console). */
  readonly logger?: { error(message: string, error: unknown): void };
}

const RANK: ReadonlyMap<MemberStatus, number> = new Map(
  MEMBER_STATUSES.map((status, i) => [status, i]),
);
const DOWN_RANK = RANK.get("down")!;

/**
 * Whether a row's status is `down` or later (a dead member).
 *
 * @param status A status.
 * @returns Whether it is `down` or `removed`.
 */
export function isDownStatus(status: MemberStatus): boolean {
  return RANK.get(status)! >= DOWN_RANK;
}

/**
 * Whether `to` is strictly after `from` in the members' life cycle.
 *
 * @param to The new status.
 * @param from The old one.
 * @returns Whether the move goes forward.
 */
export function isLaterStatus(to: MemberStatus, from: MemberStatus): boolean {
  return RANK.get(to)! > RANK.get(from)!;
}

/**
 * The member key the downing context uses (`node#incarnation`).
 *
 * @param row A member's identity.
 * @returns Its key.
 */
export function contextKey(
  row: Pick<MemberRow, "node" | "incarnation">,
): string {
  return `${row.node}#${row.incarnation}`;
}

const CONSOLE_LOGGER = Object.freeze({
  error: (message: string, error: unknown): void => {
    if (error === undefined) console.error(`[troupe cluster] ${message}`);
    else console.error(`[troupe cluster] ${message}`, error);
  },
});

function check(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < min) {
    throw new RangeError(
      `Invalid tableDowning ${name} ${value}: expected an integer ≥ ${min}`,
    );
  }
  return v;
}

/**
 * Wraps a downing strategy so that the membership table decides who survives a partition, in
 * the Orleans way. `inner` decides first; when it says `"down-self"`, so be it. When it says
 * `"down-unreachable"`, this node reads the table and:
 * - if the table already says this member is down (the other side won the race), the decision
 *   becomes `"down-self"`;
 * - otherwise it writes the unreachable members as `down` at the version it read
 *   (compare-and-set, statuses only forward) and keeps running only when that write succeeds;
 *   when the version moved, it reads and decides again (at most `maxConflicts` times).
 *
 * Two sides of a partition therefore never both keep running, even with a strategy that would
 * let both (such as `staticQuorum(2)` on a 3|2 split): the first side to write wins, and the
 * other finds itself down. Nodes of the winning side that decide later find the other side
 * already down in the table and keep running without writing.
 *
 * @param table The membership table the whole cluster shares.
 * @param inner The strategy that decides first (for example `keepMajority()`).
 * @param options What to do when the table cannot be reached, retry bounds, logger.
 * @returns The strategy, for `ClusterOptions.downing.strategy`.
 * @throws {TypeError} When `table` or `inner` is not what it should be.
 * @throws {RangeError} When an option is out of range.
 *
 * @example Usage
 * ```ts
 * import { MemoryMembershipTable, staticQuorum, tableDowning } from "@troupe/troupe/cluster";
 * const table = new MemoryMembershipTable();
 * const strategy = tableDowning(table, staticQuorum(2));
 * console.log(strategy.name); // "table(static-quorum(2))"
 * await table.close();
 * ```
 */
export function tableDowning(
  table: MembershipTable,
  inner: DowningStrategy,
  options: TableDowningOptions = {},
): DowningStrategy {
  if (
    typeof (table as { read?: unknown } | null)?.read !== "function" ||
    typeof (table as { write?: unknown }).write !== "function"
  ) {
    throw new TypeError(
      "Cannot create tableDowning: expected a MembershipTable",
    );
  }
  if (typeof (inner as { decide?: unknown } | null)?.decide !== "function") {
    throw new TypeError(
      "Cannot create tableDowning: expected a DowningStrategy to wrap",
    );
  }
  const whenUnavailable = options.whenUnavailable ?? "retry";
  if (whenUnavailable !== "retry" && whenUnavailable !== "down-self") {
    throw new TypeError(
      `Invalid tableDowning whenUnavailable ${
        JSON.stringify(whenUnavailable)
      }: expected "retry" or "down-self"`,
    );
  }
  const retryMs = check("retryMs", options.retryMs, 1000, 1);
  const maxConflicts = check("maxConflicts", options.maxConflicts, 10, 1);
  const logger = options.logger ?? CONSOLE_LOGGER;
  const name = `table(${inner.name})`;

  async function decide(context: DowningContext): Promise<DowningDecision> {
    const decision = await inner.decide(context);
    if (decision !== "down-unreachable") return decision;
    const other = downingSides(context).other;
    let conflicts = 0;
    while (!context.signal.aborted) {
      try {
        const snapshot = await table.read(context.signal);
        const stored = new Map<string, MemberRow>();
        for (const row of snapshot.rows) stored.set(contextKey(row), row);
        const self = stored.get(context.self);
        if (self !== undefined && isDownStatus(self.status)) {
          logger.error(
            `Cluster member ${context.self}: the membership table says it is ${self.status} (the other side of the partition won); this side downs itself`,
            undefined,
          );
          return "down-self";
        }
        const writes: MemberRow[] = [];
        for (const row of other) {
          const current = stored.get(contextKey(row));
          if (current !== undefined && isDownStatus(current.status)) continue;
          writes.push({ ...(current ?? row), status: "down" });
        }
        if (writes.length === 0) return "down-unreachable";
        const written = await table.write(
          snapshot.version,
          writes,
          context.signal,
        );
        if (written !== undefined) {
          logger.error(
            `Cluster member ${context.self} wrote ${
              writes.map(contextKey).join(", ")
            } down in the membership table at version ${written.version}; this side keeps running`,
            undefined,
          );
          return "down-unreachable";
        }
        if (++conflicts >= maxConflicts) {
          logger.error(
            `Cluster member ${context.self}: the membership table moved ${conflicts} times under its downing write; this side downs itself`,
            undefined,
          );
          return "down-self";
        }
      } catch (error) {
        if (context.signal.aborted) break;
        if (!isClusterStoreUnavailableError(error)) throw error;
        if (whenUnavailable === "down-self") {
          logger.error(
            `Cluster member ${context.self}: the membership table is unavailable; this side downs itself (whenUnavailable: "down-self")`,
            error,
          );
          return "down-self";
        }
        logger.error(
          `Cluster member ${context.self}: the membership table is unavailable; downing waits ${retryMs} ms and tries again`,
          error,
        );
        await context.wait(retryMs);
      }
    }
    // Called off (the reachability changed, or the cluster closed): the runner drops this
    // decision; nothing was won, so nothing is claimed.
    return "down-self";
  }

  return Object.freeze({ name, decide });
}
