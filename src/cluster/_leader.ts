// What every node derives from a gossip state alone, so all nodes that hold the same state agree:
// which members are unreachable, whether the state has converged, who the leader is, and the
// leader's actions.
import {
  type GossipRow,
  type GossipState,
  isLive,
  memberKey,
  updateMembers,
} from "./_member_state.ts";
import type { MemberRow } from "./membership_table.ts";

/**
 * The members that the state finds unreachable. Each observer reports on the few members it
 * monitors. An observer is *suspect* when another observer reports it unreachable; a subject is
 * unreachable when at least `min(2, n)` of its `n` observers that are not suspect report it so
 * (at least one), or when all of its observers are suspect and one of them reports it. So one
 * slow link (both ends suspect each other, the others see both) evicts nobody, while on the
 * small side of a partition, whose observers of the far side are all cut off, one report is
 * enough.
 *
 * @param state The state.
 * @returns The keys of the unreachable members (live ones only).
 */
export function unreachableMembers(state: GossipState): ReadonlySet<string> {
  // Derived from the two maps alone, which a state never changes: computed once per pair.
  const cached = unreachableCache.get(state.reachability);
  if (cached !== undefined && cached.members === state.members) {
    return cached.result;
  }
  const result = computeUnreachable(state);
  unreachableCache.set(state.reachability, { members: state.members, result });
  return result;
}

const unreachableCache = new WeakMap<
  object,
  { readonly members: object; readonly result: ReadonlySet<string> }
>();

function computeUnreachable(state: GossipState): ReadonlySet<string> {
  const observers = new Map<string, string[]>();
  const flagged = new Map<string, string[]>();
  const suspect = new Set<string>();
  for (const [observer, entry] of state.reachability) {
    const row = state.members.get(observer);
    if (row === undefined || !isLive(row)) continue;
    for (const subject of entry.reachable) {
      if (subject === observer) continue;
      (observers.get(subject) ?? observers.set(subject, []).get(subject)!)
        .push(observer);
    }
    for (const subject of entry.unreachable) {
      if (subject === observer) continue;
      (observers.get(subject) ?? observers.set(subject, []).get(subject)!)
        .push(observer);
      (flagged.get(subject) ?? flagged.set(subject, []).get(subject)!)
        .push(observer);
      suspect.add(subject);
    }
  }
  const result = new Set<string>();
  for (const [subject, by] of flagged) {
    const row = state.members.get(subject);
    if (row === undefined || !isLive(row)) continue;
    const good = observers.get(subject)!.filter((o) => !suspect.has(o));
    const goodFlags = by.filter((o) => !suspect.has(o)).length;
    const needed = Math.max(1, Math.min(2, good.length));
    if (good.length === 0 ? by.length > 0 : goodFlags >= needed) {
      result.add(subject);
    }
  }
  return result;
}

/**
 * Whether the state has converged: every live member that is not unreachable has seen it.
 *
 * @param state The state.
 * @param unreachable Its unreachable members ({@linkcode unreachableMembers}).
 * @returns Whether it has converged.
 */
export function isConverged(
  state: GossipState,
  unreachable: ReadonlySet<string>,
): boolean {
  for (const [key, row] of state.members) {
    if (!isLive(row) || unreachable.has(key)) continue;
    if (!state.seen.has(key)) return false;
  }
  return true;
}

/** Orders members by age: up number, then node, then incarnation. */
export function compareAge(a: MemberRow, b: MemberRow): number {
  if (a.upNumber !== b.upNumber) return a.upNumber - b.upNumber;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return a.incarnation < b.incarnation
    ? -1
    : a.incarnation > b.incarnation
    ? 1
    : 0;
}

/**
 * The leader: of the reachable members that are up or leaving, the oldest (lowest up number,
 * then node, then incarnation). While no member is up yet (a cluster forming), the reachable
 * joining member first by node and incarnation leads, so that somebody can move members up.
 *
 * @param state The state.
 * @param unreachable Its unreachable members.
 * @returns The leader's key, or `undefined` when no member can lead.
 */
export function leaderOf(
  state: GossipState,
  unreachable: ReadonlySet<string>,
): string | undefined {
  let best: MemberRow | undefined;
  let joining: MemberRow | undefined;
  for (const [key, row] of state.members) {
    if (unreachable.has(key)) continue;
    if (row.status === "up" || row.status === "leaving") {
      if (best === undefined || compareAge(row, best) < 0) best = row;
    } else if (row.status === "joining") {
      if (joining === undefined || compareAge(row, joining) < 0) joining = row;
    }
  }
  const leader = best ?? joining;
  return leader === undefined ? undefined : memberKey(leader);
}

/**
 * Marks down every member whose node has a newer incarnation joining or up: a restarted
 * process replaces its old self. Any node may apply it (it only adds facts).
 *
 * @param state The state.
 * @param self Who applies it.
 * @returns The new state (the same one when nothing changed).
 */
export function supersedeIncarnations(
  state: GossipState,
  self: string,
): GossipState {
  // Nothing to supersede is the usual case; it is a fact of the members map alone.
  if (singleIncarnations.has(state.members)) return state;
  const byNode = new Map<string, MemberRow[]>();
  for (const row of state.members.values()) {
    if (!isLive(row)) continue;
    (byNode.get(row.node) ?? byNode.set(row.node, []).get(row.node)!).push(row);
  }
  const downs: MemberRow[] = [];
  for (const rows of byNode.values()) {
    if (rows.length < 2) continue;
    // The newest is the one that joined last: a joining row is newer than any up one; among
    // rows of one status the highest up number (then the key) wins, deterministically.
    const newest = rows.reduce((a, b) => {
      const aj = a.status === "joining", bj = b.status === "joining";
      if (aj !== bj) return aj ? a : b;
      return compareAge(a, b) >= 0 ? a : b;
    });
    for (const row of rows) {
      if (row !== newest) downs.push({ ...row, status: "down" });
    }
  }
  if (downs.length === 0) {
    singleIncarnations.add(state.members);
    return state;
  }
  return updateMembers(state, downs, self);
}

/** Members maps in which no node has two live incarnations. */
const singleIncarnations = new WeakSet<object>();

/**
 * The first step of a new cluster, taken only by the member allowed to form one (the first
 * seed): while no member was ever up, it moves itself up, whatever its name. From then on the
 * oldest up member, itself, leads and moves the others up. (The leader of a state of joiners is
 * the first by name, which need not be the member allowed to form: waiting for it deadlocked a
 * cluster whose first seed was not first by name.)
 *
 * @param state The state.
 * @param self The forming member's key.
 * @returns The new state (the same one when a member was up already or `self` is not joining).
 */
export function formCluster(state: GossipState, self: string): GossipState {
  const row = state.members.get(self);
  if (row === undefined || row.status !== "joining") return state;
  for (const other of state.members.values()) {
    if (other.upNumber > 0) return state;
  }
  return updateMembers(state, [{ ...row, status: "up", upNumber: 1 }], self);
}

/** The largest up or removal number the leader gives: the largest that every peer accepts. */
const MAX_NUMBER = Number.MAX_SAFE_INTEGER;

/**
 * The leader's actions, taken only on a converged state and only by the leader: joining → up
 * (with the next up numbers), leaving → exiting, exiting → removed, down → removed (with the
 * next removal numbers; a removed row without one, from a node that did not number removals,
 * gets one too). Each member moves one step per convergence, so every member sees `exiting`
 * before `removed`.
 *
 * @param state The state.
 * @param unreachable Its unreachable members.
 * @param self This node's key.
 * @param wallNow The leader's wall clock (ms since the Unix epoch), stamped on the removals it
 * numbers as their `removedAt` (none when absent).
 * @returns The new state (the same one when there is nothing to do).
 */
export function leaderActions(
  state: GossipState,
  unreachable: ReadonlySet<string>,
  self: string,
  wallNow?: number,
): GossipState {
  if (leaderOf(state, unreachable) !== self) return state;
  if (!isConverged(state, unreachable)) return state;
  let nextUp = 0;
  let nextRemoval = state.prunedThrough;
  for (const row of state.members.values()) {
    nextUp = Math.max(nextUp, row.upNumber);
    nextRemoval = Math.max(nextRemoval, row.removal ?? 0);
  }
  // Whole ms (a wall clock derived from a monotonic one has fractions); a clock that gives
  // no usable time (NaN, negative) stamps nothing, and only `removedSince` ages those rows.
  const at = wallNow === undefined ? undefined : Math.floor(wallNow);
  const stamp = at !== undefined && Number.isSafeInteger(at) && at >= 0
    ? { removedAt: at }
    : {};
  const changes: GossipRow[] = [];
  const rows = [...state.members.values()].sort(compareAge);
  for (const row of rows) {
    switch (row.status) {
      case "joining":
        // (Numbers stay safe integers, which every peer accepts, even after a peer sent the
        // largest one: the member then waits, rather than the state becoming one nobody takes.)
        if (!unreachable.has(memberKey(row)) && nextUp < MAX_NUMBER) {
          changes.push({ ...row, status: "up", upNumber: ++nextUp });
        }
        break;
      case "leaving":
        changes.push({ ...row, status: "exiting" });
        break;
      case "exiting":
      case "down":
        changes.push(
          nextRemoval < MAX_NUMBER
            ? { ...row, status: "removed", removal: ++nextRemoval, ...stamp }
            : { ...row, status: "removed" }, // kept unnumbered: never pruned
        );
        break;
      case "removed":
        if (row.removal === undefined && nextRemoval < MAX_NUMBER) {
          changes.push({ ...row, removal: ++nextRemoval, ...stamp });
        }
        break;
    }
  }
  return changes.length === 0 ? state : updateMembers(state, changes, self);
}

/**
 * How far the leader may raise the watermark of pruned removals: the highest removal number
 * `n` such that every numbered removed row up to `n` has been removed for at least `afterMs`,
 * either as this node saw it (`removedSince`: when it first held the row as removed, on its
 * clock) or by the row's `removedAt` on this node's wall clock (stamped by the leader that
 * numbered it; so a cluster whose processes all live shorter than `afterMs`, as in frequent
 * rolling restarts, prunes too; a skew of the leaders' wall clocks moves pruning by as much).
 *
 * @param state The state.
 * @param removedSince When this node first held a member's row as removed.
 * @param now The time now, on the clock of `removedSince`.
 * @param afterMs How long a tombstone is kept.
 * @param wallNow This node's wall clock (ms since the Unix epoch); without it only
 * `removedSince` counts.
 * @returns The watermark (`state.prunedThrough` when nothing may be pruned yet).
 */
export function prunableThrough(
  state: GossipState,
  removedSince: (key: string) => number | undefined,
  now: number,
  afterMs: number,
  wallNow?: number,
): number {
  let blocked = Infinity;
  const expired: number[] = [];
  for (const [key, row] of state.members) {
    if (row.status !== "removed" || row.removal === undefined) continue;
    const since = removedSince(key);
    if (
      (since !== undefined && now - since >= afterMs) ||
      (wallNow !== undefined && row.removedAt !== undefined &&
        wallNow - row.removedAt >= afterMs)
    ) {
      expired.push(row.removal);
    } else blocked = Math.min(blocked, row.removal);
  }
  let through = state.prunedThrough;
  for (const removal of expired) {
    if (removal < blocked && removal > through) through = removal;
  }
  return through;
}
