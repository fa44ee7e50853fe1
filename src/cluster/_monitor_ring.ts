// Who monitors whom: the members placed on a ring by a hash of their keys (so neighbours on the
// ring are not neighbours by name or address, as in Akka's HeartbeatNodeRing), each member
// monitoring the next min(k, n − 1) members clockwise. Every node computes the same ring from the
// same set of keys, so it knows both its own subjects and who is watching it.

// Hashes memoised process-wide: every membership change makes each node (and, in a simulated
// cluster, every node of the process) hash all the keys again. Bounded: cleared when full.
const HASH_CACHE = new Map<string, number>();
const HASH_CACHE_LIMIT = 65_536;

function ringHash(key: string): number {
  let hash = HASH_CACHE.get(key);
  if (hash === undefined) {
    if (HASH_CACHE.size >= HASH_CACHE_LIMIT) HASH_CACHE.clear();
    hash = computeRingHash(key);
    HASH_CACHE.set(key, hash);
  }
  return hash;
}

/** 32-bit FNV-1a over the UTF-16 code units, then the murmur3 finaliser to spread the bits. */
function computeRingHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function checkArguments(keys: readonly string[], monitoredBy: number): void {
  if (!Array.isArray(keys)) {
    throw new TypeError(
      `Cannot build monitor ring: keys must be an array of strings, got ${typeof keys}`,
    );
  }
  for (const key of keys) {
    if (typeof key !== "string") {
      throw new TypeError(
        `Cannot build monitor ring: every key must be a string, got ${typeof key}`,
      );
    }
  }
  if (!Number.isSafeInteger(monitoredBy) || monitoredBy < 1) {
    throw new RangeError(
      `Cannot build monitor ring: monitoredBy must be an integer ≥ 1, got ${monitoredBy}`,
    );
  }
}

/** Orders two ring entries: by hash, then by key (so equal hashes still have one order). */
function compareEntries(ha: number, a: string, hb: number, b: string): number {
  return ha - hb || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * The subjects of `observer` on the ring of `keys`: the same as
 * `new MonitorRing(keys, monitoredBy).subjectsOf(observer)`, found in one pass without sorting
 * (O(n·k) instead of O(n log n) and no ring to allocate), for a node that only needs its own.
 *
 * @param keys The members' keys.
 * @param observer The member whose subjects are wanted.
 * @param monitoredBy How many members monitor each member, `k`.
 * @returns Its subjects in ring order; empty when `observer` is not among `keys`.
 * @throws {TypeError} When `keys` is not an array of strings.
 * @throws {RangeError} When `monitoredBy` is not an integer ≥ 1.
 */
export function ringSubjectsOf(
  keys: readonly string[],
  observer: string,
  monitoredBy: number,
): string[] {
  checkArguments(keys, monitoredBy);
  const self = ringHash(observer);
  let present = false;
  // The best candidates so far, in ring order after the observer: entries after it on the
  // ring come first (wrap = 0), then the ones before it (wrap = 1).
  const best: { key: string; hash: number; wrap: number }[] = [];
  for (const key of keys) {
    if (key === observer) {
      present = true;
      continue;
    }
    const hash = ringHash(key);
    const wrap = compareEntries(hash, key, self, observer) > 0 ? 0 : 1;
    const worst = best.at(-1);
    if (
      best.length === monitoredBy && worst !== undefined &&
      (wrap - worst.wrap || compareEntries(hash, key, worst.hash, worst.key)) >
        0
    ) continue;
    if (best.some((entry) => entry.key === key)) continue;
    let at = best.length;
    while (
      at > 0 &&
      (wrap - best[at - 1].wrap ||
          compareEntries(hash, key, best[at - 1].hash, best[at - 1].key)) < 0
    ) at--;
    best.splice(at, 0, { key, hash, wrap });
    if (best.length > monitoredBy) best.pop();
  }
  return present ? best.map((entry) => entry.key) : [];
}

const INDEX_SPAN = 2 ** 20;

/**
 * Sorts distinct keys into ring order (hash, then key). Up to 2^20 keys, each is packed as
 * `hash · 2^20 + index` into a Float64Array (exact below 2^53) and sorted natively, several
 * times faster than a comparator sort; the rare runs of equal hashes are then ordered by key.
 */
function sortOnRing(keys: string[]): string[] {
  const n = keys.length;
  if (n >= INDEX_SPAN) {
    const hashed = keys.map((key) => ({ key, hash: ringHash(key) }));
    hashed.sort((a, b) => compareEntries(a.hash, a.key, b.hash, b.key));
    return hashed.map((entry) => entry.key);
  }
  const packed = new Float64Array(n);
  for (let i = 0; i < n; i++) packed[i] = ringHash(keys[i]) * INDEX_SPAN + i;
  packed.sort();
  const ring = new Array<string>(n);
  for (let i = 0; i < n; i++) ring[i] = keys[packed[i] % INDEX_SPAN];
  for (let i = 0; i < n;) {
    const hash = Math.floor(packed[i] / INDEX_SPAN);
    let j = i + 1;
    while (j < n && Math.floor(packed[j] / INDEX_SPAN) === hash) j++;
    if (j - i > 1) {
      const run = ring.slice(i, j).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      for (let m = 0; m < run.length; m++) ring[i + m] = run[m];
    }
    i = j;
  }
  return ring;
}

/**
 * The monitoring ring of a set of members. With `n` members and `k = monitoredBy`, every member
 * monitors the `min(k, n − 1)` members after it on the ring and is monitored by the
 * `min(k, n − 1)` before it. The ring depends only on the set of keys (not their order, and
 * duplicates count once), and one join or leave changes the subjects of at most `k` members, each
 * by one.
 */
export class MonitorRing {
  readonly #ring: readonly string[];
  readonly #position: ReadonlyMap<string, number>;
  readonly #span: number;

  /**
   * Places `keys` on the ring.
   *
   * @param keys The members' keys (opaque strings such as `node#incarnation`).
   * @param monitoredBy How many members monitor each member, `k` (an integer ≥ 1).
   * @throws {TypeError} When `keys` is not an array of strings.
   * @throws {RangeError} When `monitoredBy` is not an integer ≥ 1.
   */
  constructor(keys: readonly string[], monitoredBy: number) {
    checkArguments(keys, monitoredBy);
    this.#ring = sortOnRing([...new Set(keys)]);
    this.#position = new Map(this.#ring.map((key, i) => [key, i]));
    this.#span = Math.min(monitoredBy, Math.max(0, this.#ring.length - 1));
  }

  /** The members on the ring, in ring order. */
  get members(): readonly string[] {
    return this.#ring;
  }

  /**
   * The members that `observer` monitors: the next `min(k, n − 1)` on the ring.
   *
   * @param observer A member's key.
   * @returns Its subjects in ring order; empty when `observer` is not on the ring.
   */
  subjectsOf(observer: string): readonly string[] {
    return this.#walk(observer, 1);
  }

  /**
   * The members that monitor `subject`: the previous `min(k, n − 1)` on the ring.
   *
   * @param subject A member's key.
   * @returns Its observers, nearest first; empty when `subject` is not on the ring.
   */
  observersOf(subject: string): readonly string[] {
    return this.#walk(subject, -1);
  }

  #walk(key: string, step: 1 | -1): readonly string[] {
    const at = this.#position.get(key);
    if (at === undefined) return [];
    const n = this.#ring.length;
    const found: string[] = [];
    for (let i = 1; i <= this.#span; i++) {
      found.push(this.#ring[(((at + step * i) % n) + n) % n]);
    }
    return found;
  }
}
