// The gossip state of membership as a CRDT: members keyed by (node, incarnation) whose status only
// moves forward, reachability observations versioned per observer, and the set of members that
// have seen the state's digest. `mergeStates` is commutative, associative and idempotent, so
// gossip in any order, repeated or duplicated, ends in the same state everywhere.
import { InvalidGossipError } from "./errors.ts";
import {
  MEMBER_STATUSES,
  type MemberRow,
  type MemberStatus,
} from "./membership_table.ts";

/** What one observer reports about the members it monitors, at one of its versions. */
export interface ReachabilityEntry {
  /** Grows with every change of the observer's report; the higher version wins a merge. */
  readonly version: number;
  /** Subjects (member keys) it monitors and finds reachable, sorted. */
  readonly reachable: readonly string[];
  /** Subjects it monitors and finds unreachable, sorted. */
  readonly unreachable: readonly string[];
}

/** One node's view of the cluster. Treat as immutable: every operation returns a new state. */
export interface GossipState {
  /** Members by key (see {@linkcode memberKey}); removed members stay as tombstones. */
  readonly members: ReadonlyMap<string, MemberRow>;
  /** Reports by observer key. */
  readonly reachability: ReadonlyMap<string, ReachabilityEntry>;
  /** A hash of members and reachability: equal digests mean equal content. */
  readonly digest: string;
  /** The members known to have seen this digest. */
  readonly seen: ReadonlySet<string>;
}

/** The most members a state may hold (tombstones included): bounds what a peer can make us keep. */
export const MAX_MEMBERS = 10_000;
const MAX_NAME = 256;

/**
 * The key of a member: its node and incarnation, `node#incarnation`.
 *
 * @param row The member (or anything with its node and incarnation).
 * @returns Its key.
 */
export function memberKey(
  row: { readonly node: string; readonly incarnation: string },
): string {
  return `${row.node}#${row.incarnation}`;
}

/** The position of a status in the life cycle. */
export function statusRank(status: MemberStatus): number {
  return MEMBER_STATUSES.indexOf(status);
}

/** Whether a member still takes part (not down, not removed). */
export function isLive(row: MemberRow): boolean {
  return row.status !== "down" && row.status !== "removed";
}

function sortedUnique(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Merges two rows of one member: the later status, the higher up number. */
export function mergeRows(a: MemberRow, b: MemberRow): MemberRow {
  if (a === b) return a;
  const status = statusRank(a.status) >= statusRank(b.status)
    ? a.status
    : b.status;
  // A row's address and roles are set by the member itself and never change; the choices below
  // only make a merge deterministic should a forged or buggy row disagree.
  return {
    node: a.node,
    incarnation: a.incarnation,
    address: a.address <= b.address ? a.address : b.address,
    roles: sortedUnique([...a.roles, ...b.roles]),
    status,
    upNumber: Math.max(a.upNumber, b.upNumber),
  };
}

function entryText(entry: ReachabilityEntry): string {
  return `${entry.version}|${entry.reachable.join(",")}|${
    entry.unreachable.join(",")
  }`;
}

function laterEntry(
  a: ReachabilityEntry,
  b: ReachabilityEntry,
): ReachabilityEntry {
  if (a.version !== b.version) return a.version > b.version ? a : b;
  if (entryText(a) === entryText(b)) return a;
  // One observer writes one content per version; a tie that differs is forged or buggy. It is
  // settled by a union (unreachable wins), which commutes with the pruning in build(), so the
  // merge stays a semilattice.
  const unreachable = sortedUnique([...a.unreachable, ...b.unreachable]);
  const down = new Set(unreachable);
  return {
    version: a.version,
    reachable: sortedUnique([...a.reachable, ...b.reachable]).filter((k) =>
      !down.has(k)
    ),
    unreachable,
  };
}

// cyrb53 by two seeds: 106 bits, plenty for telling states apart.
function hash53(text: string, seed: number): string {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
}

function digestOf(
  members: ReadonlyMap<string, MemberRow>,
  reachability: ReadonlyMap<string, ReachabilityEntry>,
): string {
  const parts: string[] = [];
  for (const key of [...members.keys()].sort()) {
    const row = members.get(key)!;
    parts.push(
      `m|${key}|${row.status}|${row.upNumber}|${row.address}|${
        row.roles.join(",")
      }`,
    );
  }
  for (const key of [...reachability.keys()].sort()) {
    parts.push(`r|${key}|${entryText(reachability.get(key)!)}`);
  }
  const text = parts.join("\n");
  return `${hash53(text, 1)}-${hash53(text, 2)}`;
}

/**
 * Builds a state from members and reports: drops the reports of members that are down or
 * removed and the records about removed members (both facts are permanent, so this keeps the
 * merge a semilattice), and computes the digest.
 */
function build(
  members: ReadonlyMap<string, MemberRow>,
  reports: ReadonlyMap<string, ReachabilityEntry>,
  seen: Iterable<string>,
): GossipState {
  const reachability = new Map<string, ReachabilityEntry>();
  for (const [observer, entry] of reports) {
    const row = members.get(observer);
    if (row !== undefined && !isLive(row)) continue;
    const kept = (subject: string) =>
      members.get(subject)?.status !== "removed";
    const pruned = entry.reachable.every(kept) && entry.unreachable.every(kept)
      ? entry
      : {
        version: entry.version,
        reachable: entry.reachable.filter(kept),
        unreachable: entry.unreachable.filter(kept),
      };
    reachability.set(observer, pruned);
  }
  return {
    members,
    reachability,
    digest: digestOf(members, reachability),
    seen: new Set(seen),
  };
}

/**
 * A state of the given members, seen by nobody yet.
 *
 * @param rows The members.
 * @returns The state.
 */
export function createState(rows: readonly MemberRow[] = []): GossipState {
  const members = new Map<string, MemberRow>();
  for (const row of rows) {
    const key = memberKey(row);
    const old = members.get(key);
    members.set(key, old === undefined ? row : mergeRows(old, row));
  }
  return build(members, new Map(), []);
}

/**
 * Merges two states: members by key with {@linkcode mergeRows}, reports per observer by the
 * higher version, and the seen sets of those inputs whose digest is the result's digest.
 */
export function mergeStates(a: GossipState, b: GossipState): GossipState {
  if (a.digest === b.digest) {
    if (a.seen.size >= b.seen.size && [...b.seen].every((k) => a.seen.has(k))) {
      return a;
    }
    return { ...a, seen: new Set([...a.seen, ...b.seen]) };
  }
  const members = new Map(a.members);
  for (const [key, row] of b.members) {
    const old = members.get(key);
    members.set(key, old === undefined ? row : mergeRows(old, row));
  }
  const reports = new Map(a.reachability);
  for (const [observer, entry] of b.reachability) {
    const old = reports.get(observer);
    reports.set(observer, old === undefined ? entry : laterEntry(old, entry));
  }
  const merged = build(members, reports, []);
  const seen = new Set<string>();
  for (const input of [a, b]) {
    if (input.digest === merged.digest) {
      for (const k of input.seen) seen.add(k);
    }
  }
  return { ...merged, seen };
}

/**
 * Records that `key` has seen the state's digest.
 *
 * @param state The state.
 * @param key A member key.
 * @returns The state with `key` in its seen set.
 */
export function markSeen(state: GossipState, key: string): GossipState {
  if (state.seen.has(key)) return state;
  return { ...state, seen: new Set([...state.seen, key]) };
}

/**
 * Applies changes to members: each row is merged into the member of its key (so a status still
 * moves only forward).
 *
 * @param state The state.
 * @param rows The changed rows.
 * @param self Who makes the change: the new state is seen by it alone.
 * @returns The new state (the same one when nothing changed).
 */
export function updateMembers(
  state: GossipState,
  rows: readonly MemberRow[],
  self: string,
): GossipState {
  const members = new Map(state.members);
  for (const row of rows) {
    const key = memberKey(row);
    const old = members.get(key);
    members.set(key, old === undefined ? row : mergeRows(old, row));
  }
  const next = build(members, state.reachability, []);
  return next.digest === state.digest ? state : markSeen(next, self);
}

/**
 * Replaces `observer`'s report with what it finds now, under its next version.
 *
 * @param state The state.
 * @param observer The observer's key (this node).
 * @param reachable The subjects it finds reachable.
 * @param unreachable The subjects it finds unreachable.
 * @returns The new state (the same one when the report did not change).
 */
export function updateReachability(
  state: GossipState,
  observer: string,
  reachable: Iterable<string>,
  unreachable: Iterable<string>,
): GossipState {
  const old = state.reachability.get(observer);
  const down = sortedUnique(unreachable);
  const downSet = new Set(down);
  const up = sortedUnique(reachable).filter((k) => !downSet.has(k));
  if (
    old !== undefined && old.reachable.join(",") === up.join(",") &&
    old.unreachable.join(",") === down.join(",")
  ) {
    return state;
  }
  const reports = new Map(state.reachability);
  reports.set(observer, {
    version: (old?.version ?? 0) + 1,
    reachable: up,
    unreachable: down,
  });
  return markSeen(build(state.members, reports, []), observer);
}

/** The state as plain data for the wire (JSON). */
export interface WireState {
  /** The members. */
  readonly m: readonly MemberRow[];
  /** The reports: [observer, version, reachable, unreachable]. */
  readonly r: readonly (readonly [
    string,
    number,
    readonly string[],
    readonly string[],
  ])[];
  /** The seen set. */
  readonly s: readonly string[];
}

/** Encodes a state for the wire. */
export function encodeState(state: GossipState): WireState {
  return {
    m: [...state.members.values()],
    r: [...state.reachability].map((
      [k, e],
    ) => [k, e.version, e.reachable, e.unreachable] as const),
    s: [...state.seen],
  };
}

function fail(message: string): never {
  throw new InvalidGossipError(`Invalid gossip state: ${message}`);
}

function isName(value: unknown): value is string {
  return typeof value === "string" && value.length > 0 &&
    value.length <= MAX_NAME;
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || value.length > MAX_MEMBERS) {
    fail(`${what} is not a list of at most ${MAX_MEMBERS} names`);
  }
  for (const item of value) {
    if (typeof item !== "string" || item.length > 2 * MAX_NAME + 1) {
      fail(`${what} holds something that is not a name`);
    }
  }
  return sortedUnique(value as string[]);
}

/**
 * Checks a member row from outside (the wire, a table).
 *
 * @throws {InvalidGossipError} When it is not a valid row.
 */
export function decodeRow(value: unknown): MemberRow {
  if (typeof value !== "object" || value === null) {
    fail("a member is not an object");
  }
  const row = value as Record<string, unknown>;
  if (!isName(row.node)) fail("a member's node is not a name");
  if (!isName(row.incarnation)) fail(`member "${row.node}" has no incarnation`);
  if (typeof row.address !== "string" || row.address.length > MAX_NAME) {
    fail(`member "${row.node}" has no valid address`);
  }
  if (!MEMBER_STATUSES.includes(row.status as MemberStatus)) {
    fail(`member "${row.node}" has an unknown status`);
  }
  if (
    typeof row.upNumber !== "number" || !Number.isSafeInteger(row.upNumber) ||
    row.upNumber < 0
  ) fail(`member "${row.node}" has an invalid up number`);
  const roles = stringList(row.roles, `the roles of member "${row.node}"`);
  if (roles.length > 64) fail(`member "${row.node}" has more than 64 roles`);
  return {
    node: row.node,
    incarnation: row.incarnation,
    address: row.address as string,
    status: row.status as MemberStatus,
    roles,
    upNumber: row.upNumber,
  };
}

/**
 * Decodes a state from the wire, checking every field.
 *
 * @throws {InvalidGossipError} When the value is not a valid state.
 */
export function decodeState(value: unknown): GossipState {
  if (typeof value !== "object" || value === null) fail("not an object");
  const wire = value as Record<string, unknown>;
  if (!Array.isArray(wire.m) || wire.m.length > MAX_MEMBERS) {
    fail(`members are not a list of at most ${MAX_MEMBERS}`);
  }
  if (!Array.isArray(wire.r) || wire.r.length > MAX_MEMBERS) {
    fail(`reports are not a list of at most ${MAX_MEMBERS}`);
  }
  const rows = wire.m.map(decodeRow);
  const members = createState(rows).members;
  const reports = new Map<string, ReachabilityEntry>();
  for (const item of wire.r) {
    if (!Array.isArray(item) || item.length !== 4) {
      fail("a report is not a 4-tuple");
    }
    const [observer, version] = item;
    if (typeof observer !== "string" || observer.length > 2 * MAX_NAME + 1) {
      fail("a report's observer is not a key");
    }
    if (!Number.isSafeInteger(version) || version < 1) {
      fail(`the report of "${observer}" has an invalid version`);
    }
    const reachable = stringList(item[2], `the report of "${observer}"`);
    const unreachable = stringList(item[3], `the report of "${observer}"`);
    const entry = { version, reachable, unreachable };
    const old = reports.get(observer);
    reports.set(observer, old === undefined ? entry : laterEntry(old, entry));
  }
  const state = build(members, reports, []);
  return { ...state, seen: new Set(stringList(wire.s, "the seen set")) };
}
