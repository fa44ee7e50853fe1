// Who monitors whom: the members placed on a ring by a hash of their keys (so neighbours on the
// ring are not neighbours by name or address, as in Akka's HeartbeatNodeRing), each member
// monitoring the next min(k, n − 1) members clockwise. Every node computes the same ring from the
// same set of keys, so it knows both its own subjects and who is watching it.

/** 32-bit FNV-1a over the UTF-16 code units, then the murmur3 finaliser to spread the bits. */
function ringHash(key: string): number {
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
    const hashed = [...new Set(keys)].map((key) => ({
      key,
      hash: ringHash(key),
    }));
    hashed.sort((a, b) =>
      a.hash - b.hash || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)
    );
    this.#ring = hashed.map((entry) => entry.key);
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
