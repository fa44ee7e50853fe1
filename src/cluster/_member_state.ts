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

// Digest parts are cached per (immutable) row and report object, and combined by addition, which
// does not depend on order: a state's digest costs one lookup per member and report.
const partHashes = new WeakMap<object, readonly [number, number]>();

function partHash(
  object: object,
  text: () => string,
): readonly [number, number] {
  let hash = partHashes.get(object);
  if (hash === undefined) {
    const t = text();
    hash = [hash32(t, 1), hash32(t, 2)];
    partHashes.set(object, hash);
  }
  return hash;
}

function hash32(text: string, seed: number): number {
  let h = 0x811c9dc5 ^ Math.imul(seed, 0x9e3779b9);
  for (let i = 0; i < text.length; i++) {
    h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function digestOf(
  members: ReadonlyMap<string, MemberRow>,
  reachability: ReadonlyMap<string, ReachabilityEntry>,
): string {
  let a = members.size, b = reachability.size, c = 0, d = 0;
  for (const [key, row] of members) {
    const [x, y] = partHash(
      row,
      () =>
        `m|${key}|${row.status}|${row.upNumber}|${row.address}|${
          row.roles.join(",")
        }`,
    );
    a = (a + x) >>> 0;
    b = (b + y) >>> 0;
    c = (c + Math.imul(x, 0x9e3779b1)) >>> 0;
  }
  for (const [key, entry] of reachability) {
    // The observer's key is part of the text, so an entry object is hashed per observer.
    const [x, y] = partHash(entry, () => `r|${key}|${entryText(entry)}`);
    a = (a + x) >>> 0;
    b = (b + y) >>> 0;
    d = (d + Math.imul(y, 0x85ebca77)) >>> 0;
  }
  return [a, b, c, d].map((v) => v.toString(36)).join("-");
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
 * Records that all of `keys` have seen the state's digest (one copy of the set at most).
 *
 * @param state The state.
 * @param keys Member keys.
 * @returns The state with them in its seen set.
 */
export function addSeen(
  state: GossipState,
  keys: Iterable<string>,
): GossipState {
  let seen: Set<string> | undefined;
  for (const key of keys) {
    if ((seen ?? state.seen).has(key)) continue;
    seen ??= new Set(state.seen);
    seen.add(key);
  }
  return seen === undefined ? state : { ...state, seen };
}

const sortedKeyCache = new WeakMap<object, readonly string[]>();

/** The state's member keys, sorted (cached per members map). */
function sortedKeys(state: GossipState): readonly string[] {
  let keys = sortedKeyCache.get(state.members);
  if (keys === undefined) {
    keys = [...state.members.keys()].sort();
    sortedKeyCache.set(state.members, keys);
  }
  return keys;
}

const indexCache = new WeakMap<object, ReadonlyMap<string, number>>();

function keyIndex(state: GossipState): ReadonlyMap<string, number> {
  let index = indexCache.get(state.members);
  if (index === undefined) {
    index = new Map(sortedKeys(state).map((k, i) => [k, i]));
    indexCache.set(state.members, index);
  }
  return index;
}

/** A key on the wire: its index among the state's sorted member keys, or the key itself. */
export type WireKey = number | string;

/**
 * Encodes member keys compactly, as indices into the state's sorted member keys (a key that
 * is not a member travels as itself).
 */
export function encodeKeys(
  state: GossipState,
  keys: Iterable<string>,
): WireKey[] {
  const index = keyIndex(state);
  const out: WireKey[] = [];
  for (const key of keys) out.push(index.get(key) ?? key);
  return out;
}

/**
 * Decodes keys encoded by {@linkcode encodeKeys} against a state with the same members.
 *
 * @throws {InvalidGossipError} When an index is out of range or an entry is not a key.
 */
export function decodeKeys(state: GossipState, wire: unknown): string[] {
  if (!Array.isArray(wire) || wire.length > MAX_MEMBERS) {
    fail(`a key list is not a list of at most ${MAX_MEMBERS}`);
  }
  const keys = sortedKeys(state);
  const out: string[] = [];
  for (const item of wire) {
    if (typeof item === "number") {
      if (!Number.isSafeInteger(item) || item < 0 || item >= keys.length) {
        fail(`key index ${item} is out of range`);
      }
      out.push(keys[item]);
    } else if (typeof item === "string" && item.length <= 2 * MAX_NAME + 1) {
      out.push(item);
    } else fail("a key list holds something that is not a key");
  }
  return sortedUnique(out);
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
  /** The reports: [observer, version, reachable, unreachable] (subjects as {@linkcode WireKey}s). */
  readonly r: readonly (readonly [
    string,
    number,
    readonly WireKey[],
    readonly WireKey[],
  ])[];
  /** The seen set (as {@linkcode WireKey}s). */
  readonly s: readonly WireKey[];
}

/** Encodes a state for the wire. */
export function encodeState(state: GossipState): WireState {
  return {
    m: [...state.members.values()],
    r: [...state.reachability].map((
      [k, e],
    ) =>
      [
        k,
        e.version,
        encodeKeys(state, e.reachable),
        encodeKeys(state, e.unreachable),
      ] as const
    ),
    s: encodeKeys(state, state.seen),
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

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function sameRow(a: MemberRow, b: MemberRow): boolean {
  return a.node === b.node && a.incarnation === b.incarnation &&
    a.address === b.address && a.status === b.status &&
    a.upNumber === b.upNumber && sameList(a.roles, b.roles);
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
 * @param value The wire value.
 * @param reference A state whose equal rows and reports are reused (this node's own).
 * @throws {InvalidGossipError} When the value is not a valid state.
 */
export function decodeState(
  value: unknown,
  reference?: GossipState,
): GossipState {
  if (typeof value !== "object" || value === null) fail("not an object");
  const wire = value as Record<string, unknown>;
  if (!Array.isArray(wire.m) || wire.m.length > MAX_MEMBERS) {
    fail(`members are not a list of at most ${MAX_MEMBERS}`);
  }
  if (!Array.isArray(wire.r) || wire.r.length > MAX_MEMBERS) {
    fail(`reports are not a list of at most ${MAX_MEMBERS}`);
  }
  // Rows and reports equal to the reference's are replaced by the reference's own objects, so
  // their digest parts are cached and merging them is an identity check.
  const rows = wire.m.map((item) => {
    const row = decodeRow(item);
    const known = reference?.members.get(memberKey(row));
    return known !== undefined && sameRow(known, row) ? known : row;
  });
  const base = createState(rows);
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
    const reachable = decodeKeys(base, item[2]);
    const unreachable = decodeKeys(base, item[3]);
    const known = reference?.reachability.get(observer);
    const entry = known !== undefined && known.version === version &&
        sameList(known.reachable, reachable) &&
        sameList(known.unreachable, unreachable)
      ? known
      : { version, reachable, unreachable };
    const old = reports.get(observer);
    reports.set(observer, old === undefined ? entry : laterEntry(old, entry));
  }
  const state = build(base.members, reports, []);
  return { ...state, seen: new Set(decodeKeys(base, wire.s)) };
}
