// Downing: who goes when members are unreachable. Each node runs the strategy for its own side
// of a partition, once the reachability has been stable for a while, so the small side downs
// itself without waiting for the large one (it cannot hear from it anyway).
import type { Lease } from "./lease.ts";
import type { MemberRow } from "./membership_table.ts";
import { compareAge } from "./_leader.ts";
import { memberKey } from "./_member_state.ts";

/**
 * What a {@linkcode DowningStrategy} sees: this node's view once the reachability has been
 * stable for `stableAfterMs`.
 */
export interface DowningContext {
  /** This node's member key (`node#incarnation`). */
  readonly self: string;
  /**
   * The members that count in the decision: those that are up, leaving or exiting (joining
   * members do not count: a node may join on one side of a partition only).
   */
  readonly members: readonly MemberRow[];
  /** The keys of the members this node's view finds unreachable (at least one). */
  readonly unreachable: ReadonlySet<string>;
  /**
   * Waits `ms` on the cluster's clock (virtual time in tests).
   *
   * @param ms How long.
   * @returns Once the time has passed.
   */
  wait(ms: number): Promise<void>;
  /** Aborted when the cluster closes or the reachability changes before the decision is made. */
  readonly signal: AbortSignal;
}

/**
 * What this node's side of a partition does:
 * - `"down-unreachable"`: it keeps running, and its leader downs the unreachable members;
 * - `"down-self"`: every member of this side downs itself.
 */
export type DowningDecision = "down-unreachable" | "down-self";

/**
 * A split-brain strategy. Every node runs it for its own side; two sides of one partition must
 * never both decide `"down-unreachable"` when they see the same members (that is what makes
 * the strategies below safe).
 */
export interface DowningStrategy {
  /** Its name, for logs. */
  readonly name: string;
  /**
   * Decides for this node's side.
   *
   * @param context The view.
   * @returns The decision.
   */
  decide(context: DowningContext): DowningDecision | Promise<DowningDecision>;
}

/** This node's side and the other side of a partition, among the members that count. */
export interface DowningSides {
  /** Members on this node's side (reachable from here), oldest first. */
  readonly own: readonly MemberRow[];
  /** Unreachable members, oldest first. */
  readonly other: readonly MemberRow[];
}

/**
 * Splits the counted members into this node's side and the unreachable one.
 *
 * @param context The view.
 * @returns The sides.
 */
export function downingSides(context: DowningContext): DowningSides {
  const own: MemberRow[] = [];
  const other: MemberRow[] = [];
  for (const row of [...context.members].sort(compareAge)) {
    const key = memberKey(row);
    (key !== context.self && context.unreachable.has(key) ? other : own).push(
      row,
    );
  }
  return { own, other };
}

/** Whether this side wins by keep-majority: more members, or on a tie the oldest member. */
function ownSideIsMajority(sides: DowningSides): boolean {
  if (sides.own.length !== sides.other.length) {
    return sides.own.length > sides.other.length;
  }
  if (sides.own.length === 0) return true;
  return compareAge(sides.own[0], sides.other[0]) < 0;
}

/**
 * Keep-majority (the default): the side with more of the members that count keeps running; on
 * a tie, the side holding the oldest member (lowest up number, then node name). Both sides
 * compute the same answer from the same members, so exactly one side survives; when several
 * nodes crash at once and leave a minority running, that minority downs itself too (use
 * {@linkcode leaseMajority} when that is not acceptable).
 *
 * @returns The strategy.
 *
 * @example Usage
 * ```ts
 * import { keepMajority } from "@troupe/troupe/cluster";
 * const strategy = keepMajority();
 * console.log(strategy.name); // "keep-majority"
 * ```
 */
export function keepMajority(): DowningStrategy {
  return Object.freeze({
    name: "keep-majority",
    decide: (context: DowningContext): DowningDecision =>
      ownSideIsMajority(downingSides(context))
        ? "down-unreachable"
        : "down-self",
  });
}

/**
 * Static quorum: a side keeps running if it has at least `size` members that count, and downs
 * itself otherwise. Choose `size` above half the cluster's planned size, so that two sides can
 * never both have it; a cluster that shrinks below `size` downs itself entirely.
 *
 * @param size The quorum (a positive integer).
 * @returns The strategy.
 * @throws {RangeError} When `size` is not a positive integer.
 *
 * @example Usage
 * ```ts
 * import { staticQuorum } from "@troupe/troupe/cluster";
 * console.log(staticQuorum(3).name); // "static-quorum(3)"
 * ```
 */
export function staticQuorum(size: number): DowningStrategy {
  if (!Number.isSafeInteger(size) || size < 1) {
    throw new RangeError(
      `Invalid quorum size ${size}: expected a positive integer`,
    );
  }
  return Object.freeze({
    name: `static-quorum(${size})`,
    decide: (context: DowningContext): DowningDecision =>
      downingSides(context).own.length >= size
        ? "down-unreachable"
        : "down-self",
  });
}

/** Options of {@linkcode leaseMajority}. */
export interface LeaseMajorityOptions {
  /** How long the lease is taken for, in ms (default 120 000). */
  readonly ttlMs?: number;
  /**
   * How long the side that keep-majority would down waits before it tries for the lease, in
   * ms (default 2000), so that the majority side, when it is alive, gets it first.
   */
  readonly minorityDelayMs?: number;
}

/**
 * Lease-majority: the side that holds a lease keeps running, the other downs itself. The side
 * that keep-majority prefers tries first; the other tries after `minorityDelayMs`, so a
 * minority survives only when the majority is really gone (for example crashed). The lease is
 * taken in the name of the side's oldest member, so every node of one side asks for the same
 * owner. When the lease cannot be reached, the side downs itself.
 *
 * @param lease The lease (for example a RedisLease shared by the cluster).
 * @param options Lease time and the minority's delay.
 * @returns The strategy.
 * @throws {RangeError} When an option is out of range.
 *
 * @example Usage
 * ```ts ignore
 * import { leaseMajority } from "@troupe/troupe/cluster";
 * const strategy = leaseMajority(lease, { ttlMs: 60_000 });
 * ```
 */
export function leaseMajority(
  lease: Lease,
  options: LeaseMajorityOptions = {},
): DowningStrategy {
  const ttlMs = options.ttlMs ?? 120_000;
  const minorityDelayMs = options.minorityDelayMs ?? 2000;
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) {
    throw new RangeError(`Invalid lease ttlMs ${ttlMs}: expected ≥ 1`);
  }
  if (!(minorityDelayMs >= 0) || !Number.isFinite(minorityDelayMs)) {
    throw new RangeError(
      `Invalid minorityDelayMs ${minorityDelayMs}: expected a finite number ≥ 0`,
    );
  }
  return Object.freeze({
    name: `lease-majority(${lease.name})`,
    decide: async (context: DowningContext): Promise<DowningDecision> => {
      const sides = downingSides(context);
      if (!ownSideIsMajority(sides)) await context.wait(minorityDelayMs);
      const owner = sides.own.length > 0
        ? memberKey(sides.own[0])
        : context.self;
      try {
        const grant = await lease.acquire(owner, ttlMs, context.signal);
        return grant !== undefined ? "down-unreachable" : "down-self";
      } catch {
        return "down-self";
      }
    },
  });
}

/** Options of downing, in `ClusterOptions.downing`. */
export interface DowningOptions {
  /** The strategy (default {@linkcode keepMajority}). */
  readonly strategy?: DowningStrategy;
  /**
   * How long the set of unreachable members (and the members that count) must stay the same
   * before the strategy decides, in ms. Default: {@linkcode DEFAULT_STABLE_AFTER_MS} (2 s) while
   * at most 8 members count, plus 1 s per doubling beyond (16 members: 3 s, 64: 5 s, 1000: 9 s),
   * since carrying a verdict to every member takes about one more gossip round per doubling. It must be longer than it takes every member of one side to see the
   * whole other side unreachable, so that both sides decide on the same members: the spread of
   * the detection times of the other side's members (a few heartbeat intervals; each monitor's
   * verdict is pushed at once to the member's other monitors, and with up to `monitoredBy + 1`
   * members every member monitors every other) plus the gossip rounds that carry verdicts to
   * non-monitors (about log2 of the cluster size). It is not a safety margin against two
   * incarnations of an entity or a singleton: both sides wait the same time from their own
   * detection, so a longer wait does not change which side acts first (the journal's
   * expected-sequence check and the singleton's lease fence that race). A side of a partition
   * downs itself within the failure detector's detection time (about 2 s at its defaults) +
   * `stableAfterMs` (+ the lease's `minorityDelayMs` with lease-majority), plus up to one
   * gossip interval when a side's monitors of the other side are not all on it; a crashed
   * member is downed by the others in the same time, about 4 s with all defaults in a small
   * cluster. (Akka's split-brain resolver scales its `stable-after` with the cluster size the
   * same way; its absolute values are larger because its failure detector takes about 5 s.)
   */
  readonly stableAfterMs?: number;
  /**
   * When the reachability keeps changing for `stableAfterMs + downAllWhenUnstableMs` after the
   * first member became unreachable, no side can be trusted to decide: every node downs its
   * whole side (default `3/4 × stableAfterMs`; `false` never does).
   */
  readonly downAllWhenUnstableMs?: number | false;
}

/**
 * The default of {@linkcode DowningOptions.stableAfterMs} while at most 8 members count:
 * 2000 ms (1000 ms more per doubling of the members beyond 8).
 */
export const DEFAULT_STABLE_AFTER_MS = 2000;
