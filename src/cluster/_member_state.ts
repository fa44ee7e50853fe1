// The gossip state of membership as a CRDT: members keyed by (node, incarnation) whose status only
// moves forward, reachability observations versioned per observer, the set of members that have
// seen the state's digest, and the watermark below which removed members are pruned.
// `mergeStates` is commutative, associative and idempotent, so gossip in any order, repeated or
// duplicated, ends in the same state everywhere.
//
// Removed members stay as tombstones (rows of status `removed`), so that news from a member that
// has not heard of the removal cannot bring them back. The leader numbers each removal (the row's
// `removal`, see `GossipRow`) and stamps it with its wall clock (`removedAt`, so the age does
// not depend on any one process living as long as the delay); once a tombstone is old enough
// it raises `prunedThrough`, and
// every state drops the removed rows numbered at most that. The watermark only grows and a
// removal number only grows in a merge, so whether a tombstone is dropped depends on the
// inputs alone, not on the order of the merges: every node drops the same rows and the digests
// still converge. (The one case this does not cover is a member that never heard of a removal
// before its tombstone was pruned: a member unreachable, and not downed, for longer than the
// pruning delay; its old news then brings the member back, which is then downed and removed
// again. See `ClusterOptions.pruneTombstonesAfterMs`.)
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

/**
 * A member row as gossip holds it: a removed member's row also carries the number the leader
 * gave its removal (1, 2, ...; absent on rows removed by a node that did not number them yet).
 */
export interface GossipRow extends MemberRow {
  /** Only on `removed` rows: the removal's number, compared with `prunedThrough`. */
  readonly removal?: number;
  /**
   * Only on numbered `removed` rows: when the leader numbered the removal, in ms since the Unix
   * epoch on its wall clock (the time that came with the highest number, when two leaders of a
   * split cluster numbered it, or the later one for equal numbers). It carries the
   * tombstone's age across leaders, so that a cluster whose processes are all younger than the
   * pruning delay prunes too (absent on rows numbered by a node that did not stamp them).
   */
  readonly removedAt?: number;
}

/** One node's view of the cluster. Treat as immutable: every operation returns a new state. */
export interface GossipState {
  /**
   * Members by key (see {@linkcode memberKey}); removed members stay as tombstones until the
   * watermark passes their removal number.
   */
  readonly members: ReadonlyMap<string, GossipRow>;
  /** Reports by observer key. */
  readonly reachability: ReadonlyMap<string, ReachabilityEntry>;
  /** A hash of members and reachability: equal digests mean equal content. */
  readonly digest: string;
  /** The members known to have seen this digest. */
  readonly seen: ReadonlySet<string>;
  /** Removed rows numbered at most this are dropped (0: none); only grows. */
  readonly prunedThrough: number;
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

/**
 * Merges two rows of one member: the later status, the higher up number, and (once removed) the
 * higher removal number.
 */
export function mergeRows(a: GossipRow, b: GossipRow): GossipRow {
  if (a === b || sameRow(a, b)) return a;
  const status = statusRank(a.status) >= statusRank(b.status)
    ? a.status
    : b.status;
  // A row's address and roles are set by the member itself and never change; the choices below
  // only make a merge deterministic should a forged or buggy row disagree.
  const merged: GossipRow = {
    node: a.node,
    incarnation: a.incarnation,
    address: a.address <= b.address ? a.address : b.address,
    roles: sortedUnique([...a.roles, ...b.roles]),
    status,
    upNumber: Math.max(a.upNumber, b.upNumber),
  };
  if (status === "removed") {
    // The higher removal number with its own time (the later time when the numbers are
    // equal): the pair's maximum in that order, so that a merge stays a semilattice when the
    // row of a lower number was pruned on the way.
    const ra = a.removal ?? 0;
    const rb = b.removal ?? 0;
    const removal = Math.max(ra, rb);
    if (removal > 0) {
      (merged as { removal?: number }).removal = removal;
      const removedAt = ra > rb
        ? a.removedAt ?? -1
        : rb > ra
        ? b.removedAt ?? -1
        : Math.max(a.removedAt ?? -1, b.removedAt ?? -1);
      if (removedAt >= 0) {
        (merged as { removedAt?: number }).removedAt = removedAt;
      }
    }
  }
  // An input equal to the result is returned itself, so merges can tell "nothing new" by identity.
  return sameRow(merged, b) ? b : sameRow(merged, a) ? a : merged;
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
  const merged = {
    version: a.version,
    reachable: sortedUnique([...a.reachable, ...b.reachable]).filter((k) =>
      !down.has(k)
    ),
    unreachable,
  };
  const text = entryText(merged);
  return text === entryText(b) ? b : text === entryText(a) ? a : merged;
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

/** The digest's sums over one map (members or reports). */
interface Sums {
  readonly x: number;
  readonly y: number;
  readonly z: number;
}

const sumsCache = new WeakMap<object, Sums>();

/**
 * Maps made as a copy of another with some keys set or deleted record that here, so their sums
 * are the other's adjusted for those keys (a merge that changes few entries costs few hashes).
 */
const derivedFrom = new WeakMap<object, Derivation>();

/**
 * How a map was made from another: the changed keys with their values before, and what was
 * cached of the other map then. The other map itself is not kept (a chain of them would keep
 * every earlier state alive).
 */
interface Derivation {
  readonly before: readonly (readonly [string, unknown])[];
  readonly sums: Sums | undefined;
  readonly sorted: readonly string[] | undefined;
}

/** A copy of `base` with `changes` applied (`undefined` deletes), recorded as derived from it. */
function derive<V>(
  base: ReadonlyMap<string, V>,
  changes: ReadonlyMap<string, V | undefined>,
): Map<string, V> {
  const out = new Map(base);
  for (const [key, value] of changes) {
    if (value === undefined) out.delete(key);
    else out.set(key, value);
  }
  derivedFrom.set(out, {
    before: [...changes.keys()].map((key) => [key, base.get(key)] as const),
    sums: sumsCache.get(base),
    sorted: sortedKeyCache.get(base),
  });
  return out;
}

function memberPart(key: string, row: GossipRow): readonly [number, number] {
  return partHash(
    row,
    () =>
      `m|${key}|${row.status}|${row.upNumber}|${row.address}|${
        row.roles.join(",")
      }${row.removal === undefined ? "" : `|${row.removal}`}${
        row.removedAt === undefined ? "" : `@${row.removedAt}`
      }`,
  );
}

// The observer's key is part of the text, so an entry object is hashed per observer.
function reportPart(
  key: string,
  entry: ReachabilityEntry,
): readonly [number, number] {
  return partHash(entry, () => `r|${key}|${entryText(entry)}`);
}

function sumsOf<V>(
  map: ReadonlyMap<string, V>,
  part: (key: string, value: V) => readonly [number, number],
  mix: (x: number, y: number) => number,
): Sums {
  let sums = sumsCache.get(map);
  if (sums !== undefined) return sums;
  let x = 0, y = 0, z = 0;
  const derived = derivedFrom.get(map);
  if (derived?.sums !== undefined) {
    ({ x, y, z } = derived.sums);
    for (const [key, was] of derived.before) {
      const old = was as V | undefined;
      if (old !== undefined) {
        const [ox, oy] = part(key, old);
        x = (x - ox) >>> 0;
        y = (y - oy) >>> 0;
        z = (z - mix(ox, oy)) >>> 0;
      }
      const now = map.get(key);
      if (now !== undefined) {
        const [nx, ny] = part(key, now);
        x = (x + nx) >>> 0;
        y = (y + ny) >>> 0;
        z = (z + mix(nx, ny)) >>> 0;
      }
    }
  } else {
    for (const [key, value] of map) {
      const [px, py] = part(key, value);
      x = (x + px) >>> 0;
      y = (y + py) >>> 0;
      z = (z + mix(px, py)) >>> 0;
    }
  }
  sums = { x, y, z };
  sumsCache.set(map, sums);
  return sums;
}

function digestOf(
  members: ReadonlyMap<string, GossipRow>,
  reachability: ReadonlyMap<string, ReachabilityEntry>,
  prunedThrough: number,
): string {
  const m = sumsOf(members, memberPart, (x) => Math.imul(x, 0x9e3779b1));
  const r = sumsOf(
    reachability,
    reportPart,
    (_, y) => Math.imul(y, 0x85ebca77),
  );
  const a = (members.size + m.x + r.x) >>> 0;
  const b = (reachability.size + m.y + r.y) >>> 0;
  const digest = [a, b, m.z, r.z].map((v) => v.toString(36)).join("-");
  return prunedThrough === 0 ? digest : `${digest}-p${prunedThrough}`;
}

/** Whether every member of the map is live (cached: the maps never change). */
function allLive(members: ReadonlyMap<string, GossipRow>): boolean {
  let live = allLiveCache.get(members);
  if (live === undefined) {
    live = true;
    for (const row of members.values()) {
      if (!isLive(row)) {
        live = false;
        break;
      }
    }
    allLiveCache.set(members, live);
  }
  return live;
}

const allLiveCache = new WeakMap<object, boolean>();

/**
 * The members without the removed rows numbered at most `through` (the map itself when none
 * is; cached per map for the last watermark asked).
 */
function pruneRows(
  members: ReadonlyMap<string, GossipRow>,
  through: number,
): ReadonlyMap<string, GossipRow> {
  if (through === 0 || allLive(members)) return members;
  const cached = prunedCache.get(members);
  if (cached !== undefined && cached.through === through) return cached.kept;
  let changes: Map<string, undefined> | undefined;
  for (const [key, row] of members) {
    if (
      row.status === "removed" && row.removal !== undefined &&
      row.removal <= through
    ) {
      (changes ??= new Map()).set(key, undefined);
    }
  }
  const kept = changes === undefined ? members : derive(members, changes);
  prunedCache.set(members, { through, kept });
  return kept;
}

const prunedCache = new WeakMap<
  object,
  {
    readonly through: number;
    readonly kept: ReadonlyMap<string, GossipRow>;
  }
>();

/**
 * Builds a state from members and reports: drops the removed rows the watermark covers, the
 * reports of members that are down or removed and the records about removed members (all these
 * facts are permanent, so this keeps the merge a semilattice), and computes the digest.
 */
function build(
  allMembers: ReadonlyMap<string, GossipRow>,
  reports: ReadonlyMap<string, ReachabilityEntry>,
  seen: Iterable<string>,
  prunedThrough: number,
): GossipState {
  const members = pruneRows(allMembers, prunedThrough);
  // The maps are never changed after a state holds them, so what they give is computed once:
  // gossip that brings nothing new reuses this node's own maps and costs no pruning or hashing.
  let byReports = builtCache.get(members);
  if (byReports === undefined) {
    byReports = new WeakMap();
    builtCache.set(members, byReports);
  }
  const built = byReports.get(reports);
  if (built !== undefined && built.prunedThrough === prunedThrough) {
    return { members, ...built, seen: new Set(seen) };
  }
  // Nothing to prune while every member is live (the usual case).
  // Against the rows before pruning: a report by or about a member this state just pruned
  // goes too (after the pruning the row is absent, which would read as alive, and whether the
  // report stayed would depend on the order of the merges).
  let kept = reports;
  if (!allLive(allMembers)) {
    const changes = new Map<string, ReachabilityEntry | undefined>();
    const alive = (subject: string) =>
      allMembers.get(subject)?.status !== "removed";
    for (const [observer, entry] of reports) {
      const row = allMembers.get(observer);
      if (row !== undefined && !isLive(row)) {
        changes.set(observer, undefined);
      } else if (
        !entry.reachable.every(alive) || !entry.unreachable.every(alive)
      ) {
        changes.set(observer, {
          version: entry.version,
          reachable: entry.reachable.filter(alive),
          unreachable: entry.unreachable.filter(alive),
        });
      }
    }
    if (changes.size > 0) kept = derive(reports, changes);
  }
  const result = {
    reachability: kept,
    digest: digestOf(members, kept, prunedThrough),
    prunedThrough,
  };
  byReports.set(reports, result);
  if (kept !== reports) byReports.set(kept, result);
  return { members, ...result, seen: new Set(seen) };
}

const builtCache = new WeakMap<
  object,
  WeakMap<
    object,
    {
      readonly reachability: ReadonlyMap<string, ReachabilityEntry>;
      readonly digest: string;
      readonly prunedThrough: number;
    }
  >
>();

/**
 * A state of the given members, seen by nobody yet.
 *
 * @param rows The members.
 * @returns The state.
 */
export function createState(rows: readonly GossipRow[] = []): GossipState {
  const members = new Map<string, GossipRow>();
  for (const row of rows) {
    const key = memberKey(row);
    const old = members.get(key);
    members.set(key, old === undefined ? row : mergeRows(old, row));
  }
  return build(members, new Map(), [], 0);
}

/** A merge of two maps, and whether its content is that of either input. */
interface MapMerge<V> {
  readonly map: ReadonlyMap<string, V>;
  /** The result has the content of the first input (it is then that map itself). */
  readonly equalsA: boolean;
  /** The result has the content of the second input. */
  readonly equalsB: boolean;
}

/**
 * Merges two maps entry by entry; returns one of the inputs itself when the result equals it
 * (the common case in gossip: one side already knows everything), so caches keyed by the map
 * (sorted keys, digest, pruning) keep working. Equal values are expected to be the same objects
 * (see `decodeParts`), so content equality is found by identity.
 */
function mergeMaps<V>(
  a: ReadonlyMap<string, V>,
  b: ReadonlyMap<string, V>,
  merge: (x: V, y: V) => V,
): MapMerge<V> {
  if (a === b) return { map: a, equalsA: true, equalsB: true };
  let changes: Map<string, V> | undefined;
  let allB = true;
  let added = 0;
  for (const [key, value] of b) {
    const old = a.get(key);
    if (old === undefined) added++;
    const next = old === undefined ? value : merge(old, value);
    if (next !== value) allB = false;
    if (next !== old) (changes ??= new Map()).set(key, next);
  }
  if (changes === undefined) {
    return { map: a, equalsA: true, equalsB: allB && a.size === b.size };
  }
  if (allB && a.size + added === b.size) {
    return { map: b, equalsA: false, equalsB: true };
  }
  return { map: derive(a, changes), equalsA: false, equalsB: false };
}

/** The parts of a state as decoded from the wire, before its digest is computed. */
export interface StateParts {
  /** The members by key. */
  readonly members: ReadonlyMap<string, GossipRow>;
  /** The reports by observer (not yet pruned). */
  readonly reachability: ReadonlyMap<string, ReachabilityEntry>;
  /** Who has seen it. */
  readonly seen: ReadonlySet<string>;
  /** Its watermark of pruned removals. */
  readonly prunedThrough: number;
}

/** What {@linkcode mergeIncoming} gives. */
export interface IncomingMerge {
  /** The merged state. */
  readonly state: GossipState;
  /** Whether the merged state has the content of the incoming one (the sender knows it all). */
  readonly sameAsIncoming: boolean;
}

/**
 * Merges a state received from the wire into this node's, as {@linkcode mergeStates} would, but
 * without computing the incoming state's digest: the result's is computed once, and not at all
 * when the incoming state brings nothing new.
 *
 * @param a This node's state.
 * @param b The incoming state (from `decodeParts` with `a` as the reference).
 * @returns The merged state, and whether it equals the incoming one.
 */
export function mergeIncoming(a: GossipState, b: StateParts): IncomingMerge {
  const members = mergeMaps(a.members, b.members, mergeRows);
  const reports = mergeMaps(a.reachability, b.reachability, laterEntry);
  const through = Math.max(a.prunedThrough, b.prunedThrough);
  let isB = members.equalsB && reports.equalsB && through === b.prunedThrough;
  if (members.equalsA && reports.equalsA && through === a.prunedThrough) {
    return { state: isB ? addSeen(a, b.seen) : a, sameAsIncoming: isB };
  }
  let merged = build(members.map, reports.map, isB ? b.seen : [], through);
  if (
    !isB &&
    (merged.reachability !== reports.map || merged.members !== members.map)
  ) {
    // Pruning may also make it equal the incoming state (rare: only when members went down or
    // tombstones were dropped).
    isB = build(b.members, b.reachability, [], b.prunedThrough).digest ===
      merged.digest;
    if (isB) merged = { ...merged, seen: new Set(b.seen) };
  }
  // Pruning may make the result equal this node's state after all.
  if (merged.digest === a.digest) {
    return { state: isB ? addSeen(a, b.seen) : a, sameAsIncoming: isB };
  }
  return { state: merged, sameAsIncoming: isB };
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
  const merged = build(
    mergeMaps(a.members, b.members, mergeRows).map,
    mergeMaps(a.reachability, b.reachability, laterEntry).map,
    [],
    Math.max(a.prunedThrough, b.prunedThrough),
  );
  // The seen set of an input stays only when the result is that input (equal digests); the
  // inputs' digests differ here.
  if (merged.digest === a.digest) return a;
  if (merged.digest === b.digest) return b;
  return merged;
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

/**
 * The state's member keys, sorted (cached per members map). A map derived from another whose
 * keys are known reuses them: the same array when no key came or went (a status change).
 */
function sortedKeys(state: GossipState): readonly string[] {
  const members = state.members;
  let keys = sortedKeyCache.get(members);
  if (keys !== undefined) return keys;
  const derived = derivedFrom.get(members);
  const before = derived?.sorted;
  if (derived !== undefined && before !== undefined) {
    const added = derived.before.filter(([k, was]) =>
      was === undefined && members.has(k)
    ).map(([k]) => k);
    const removed = derived.before.some(([k]) => !members.has(k));
    keys = added.length === 0 && !removed
      ? before
      : [...(removed ? before.filter((k) => members.has(k)) : before), ...added]
        .sort();
  } else {
    keys = [...members.keys()].sort();
  }
  sortedKeyCache.set(members, keys);
  return keys;
}

// Keyed by the sorted keys array, which maps with the same keys share.
const indexCache = new WeakMap<object, ReadonlyMap<string, number>>();

function keyIndex(state: GossipState): ReadonlyMap<string, number> {
  const keys = sortedKeys(state);
  let index = indexCache.get(keys);
  if (index === undefined) {
    index = new Map(keys.map((k, i) => [k, i]));
    indexCache.set(keys, index);
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
  // Lists encoded from sorted lists arrive sorted: no copy then.
  for (let i = 1; i < out.length; i++) {
    if (!(out[i - 1] < out[i])) return sortedUnique(out);
  }
  return out;
}

/**
 * Whether a wire key list, decoded against `keys`, is exactly `list` (sorted and unique): a
 * report equal to this node's is recognised without decoding it.
 */
function wireEquals(
  keys: readonly string[],
  wire: unknown,
  list: readonly string[],
): boolean {
  if (!Array.isArray(wire) || wire.length !== list.length) return false;
  for (let i = 0; i < list.length; i++) {
    const item = wire[i];
    const key = typeof item === "number" ? keys[item] : item;
    if (key !== list[i]) return false;
  }
  return true;
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
  rows: readonly GossipRow[],
  self: string,
): GossipState {
  const changes = new Map<string, GossipRow>();
  for (const row of rows) {
    const key = memberKey(row);
    const old = changes.get(key) ?? state.members.get(key);
    const merged = old === undefined ? row : mergeRows(old, row);
    if (merged !== state.members.get(key)) changes.set(key, merged);
  }
  if (changes.size === 0) return state;
  const next = build(
    derive(state.members, changes),
    state.reachability,
    [],
    state.prunedThrough,
  );
  return next.digest === state.digest ? state : markSeen(next, self);
}

/**
 * Raises the watermark of pruned removals: the removed rows numbered at most `through` are
 * dropped, here and in every state this one is merged into.
 *
 * @param state The state.
 * @param through The new watermark.
 * @param self Who makes the change: the new state is seen by it alone.
 * @returns The new state (the same one when the watermark is not higher).
 */
export function pruneRemoved(
  state: GossipState,
  through: number,
  self: string,
): GossipState {
  if (!(through > state.prunedThrough)) return state;
  return markSeen(
    build(state.members, state.reachability, [], through),
    self,
  );
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
  return markSeen(
    build(state.members, reports, [], state.prunedThrough),
    observer,
  );
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
  /** The watermark of pruned removals (absent when 0). */
  readonly p?: number;
}

/** Encodes a state for the wire. */
export function encodeState(state: GossipState): WireState {
  // The rows and reports depend on the maps alone (which never change): encoded once per pair.
  let byMembers = wireCache.get(state.reachability);
  if (byMembers === undefined) {
    byMembers = new WeakMap();
    wireCache.set(state.reachability, byMembers);
  }
  let parts = byMembers.get(state.members);
  if (parts === undefined) {
    parts = encodeParts(state);
    byMembers.set(state.members, parts);
  }
  const s = encodeKeys(state, state.seen);
  return state.prunedThrough === 0
    ? { ...parts, s }
    : { ...parts, s, p: state.prunedThrough };
}

const wireCache = new WeakMap<
  object,
  WeakMap<object, Omit<WireState, "s">>
>();

function encodeParts(state: GossipState): Omit<WireState, "s"> {
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

function sameRow(a: GossipRow, b: GossipRow): boolean {
  return a.node === b.node && a.incarnation === b.incarnation &&
    a.address === b.address && a.status === b.status &&
    a.upNumber === b.upNumber && a.removal === b.removal &&
    a.removedAt === b.removedAt && sameList(a.roles, b.roles);
}

/**
 * Checks a member row from the wire.
 *
 * @throws {InvalidGossipError} When it is not a valid row.
 */
export function decodeRow(value: unknown): GossipRow {
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
    ...decodeRemoval(row),
  };
}

/**
 * The removal number and time of a wire row, checked: `{ removal, removedAt }`, `{ removal }`,
 * or `{}` when it has none.
 */
function decodeRemoval(
  row: Record<string, unknown>,
): { readonly removal?: number; readonly removedAt?: number } {
  const removal = row.removal;
  const removedAt = row.removedAt;
  if (removal === undefined) {
    if (removedAt !== undefined) {
      fail(`member "${row.node}" has a removal time but no removal number`);
    }
    return {};
  }
  if (row.status !== "removed") {
    fail(`member "${row.node}" has a removal number but is ${row.status}`);
  }
  if (
    typeof removal !== "number" || !Number.isSafeInteger(removal) ||
    removal < 1
  ) fail(`member "${row.node}" has an invalid removal number`);
  if (removedAt === undefined) return { removal };
  if (
    typeof removedAt !== "number" || !Number.isSafeInteger(removedAt) ||
    removedAt < 0
  ) fail(`member "${row.node}" has an invalid removal time`);
  return { removal, removedAt };
}

/** The reference's row equal to a wire row, if it has one (no copy, no allocation). */
function knownRow(
  reference: GossipState,
  item: unknown,
): GossipRow | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const wire = item as Record<string, unknown>;
  if (typeof wire.node !== "string" || typeof wire.incarnation !== "string") {
    return undefined;
  }
  const known = reference.members.get(`${wire.node}#${wire.incarnation}`);
  if (
    known === undefined || known.node !== wire.node ||
    known.address !== wire.address || known.status !== wire.status ||
    known.upNumber !== wire.upNumber || known.removal !== wire.removal ||
    known.removedAt !== wire.removedAt || !Array.isArray(wire.roles)
  ) return undefined;
  const roles = wire.roles as unknown[];
  if (roles.length !== known.roles.length) return undefined;
  for (let i = 0; i < roles.length; i++) {
    if (roles[i] !== known.roles[i]) return undefined;
  }
  return known;
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
  const parts = decodeParts(value, reference);
  return build(
    parts.members,
    parts.reachability,
    parts.seen,
    parts.prunedThrough,
  );
}

/**
 * Decodes the parts of a state from the wire, checking every field, without computing its
 * digest (see {@linkcode mergeIncoming}).
 *
 * @param value The wire value.
 * @param reference A state whose equal rows and reports are reused (this node's own).
 * @throws {InvalidGossipError} When the value is not a valid state.
 */
export function decodeParts(
  value: unknown,
  reference?: GossipState,
): StateParts {
  if (typeof value !== "object" || value === null) fail("not an object");
  const wire = value as Record<string, unknown>;
  if (!Array.isArray(wire.m) || wire.m.length > MAX_MEMBERS) {
    fail(`members are not a list of at most ${MAX_MEMBERS}`);
  }
  if (!Array.isArray(wire.r) || wire.r.length > MAX_MEMBERS) {
    fail(`reports are not a list of at most ${MAX_MEMBERS}`);
  }
  const prunedThrough = wire.p === undefined ? 0 : wire.p;
  if (
    typeof prunedThrough !== "number" || !Number.isSafeInteger(prunedThrough) ||
    prunedThrough < 0
  ) fail("the watermark of pruned removals is not a count");
  // Rows and reports equal to the reference's are replaced by the reference's own objects, and
  // the maps are made as the reference's with the differences applied (or are the reference's
  // own when nothing differs): digest sums, sorted keys, pruning and merges then cost in
  // proportion to the differences.
  const members = decodeMap(
    wire.m,
    reference?.members,
    (item) => {
      const known = reference === undefined
        ? undefined
        : knownRow(reference, item);
      const row = known ?? decodeRow(item);
      return [memberKey(row), row];
    },
    mergeRows,
  );
  const base = { members } as GossipState;
  const reachability = decodeMap(
    wire.r,
    reference?.reachability,
    (item) => decodeReport(base, reference, item),
    laterEntry,
  );
  return {
    members,
    reachability,
    seen: new Set(decodeKeys(base, wire.s)),
    prunedThrough,
  };
}

function decodeReport(
  base: GossipState,
  reference: GossipState | undefined,
  item: unknown,
): readonly [string, ReachabilityEntry] {
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
  const known = reference?.reachability.get(observer);
  if (
    known !== undefined && known.version === version &&
    wireEquals(sortedKeys(base), item[2], known.reachable) &&
    wireEquals(sortedKeys(base), item[3], known.unreachable)
  ) {
    return [observer, known];
  }
  const reachable = decodeKeys(base, item[2]);
  const unreachable = decodeKeys(base, item[3]);
  if (
    known !== undefined && known.version === version &&
    sameList(known.reachable, reachable) &&
    sameList(known.unreachable, unreachable)
  ) {
    return [observer, known];
  }
  return [observer, { version, reachable, unreachable }];
}

/**
 * Decodes a list of entries into a map, reusing `reference` (a map whose equal entries the
 * decoder returns as the same objects): the result is `reference` itself when the list holds
 * exactly its entries, else a map derived from it (see `derive`).
 */
function decodeMap<V>(
  list: readonly unknown[],
  reference: ReadonlyMap<string, V> | undefined,
  decode: (item: unknown) => readonly [string, V],
  merge: (a: V, b: V) => V,
): ReadonlyMap<string, V> {
  const changes = new Map<string, V | undefined>();
  const present = new Set<string>();
  let presentKnown = 0;
  for (const item of list) {
    const [key, value] = decode(item);
    const old = reference?.get(key);
    if (present.has(key)) {
      // A key listed twice (only a forged or buggy peer does that): merged, as before.
      const previous = changes.has(key) ? changes.get(key)! : old!;
      changes.set(key, merge(previous, value));
      continue;
    }
    present.add(key);
    if (old !== undefined) presentKnown++;
    if (value !== old) changes.set(key, value);
  }
  if (reference === undefined) return changes as Map<string, V>;
  if (presentKnown !== reference.size) {
    for (const key of reference.keys()) {
      if (!present.has(key)) changes.set(key, undefined);
    }
  }
  return changes.size === 0 ? reference : derive(reference, changes);
}
