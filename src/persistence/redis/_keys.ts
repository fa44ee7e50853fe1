// The Redis key layout of one persistence id (mod.ts documents the whole picture).
//
//   <prefix>{<tag>}:events     LIST of encoded event records, in sequence order
//   <prefix>{<tag>}:meta       HASH: first (sequence number of the list head), last (highest ever)
//   <prefix>{<tag>}:snapshots  ZSET of encoded snapshot records scored by sequence number
//
// The tag sits in a Redis Cluster hash tag, `{...}`, so all keys of one id share a slot and one
// script may touch them all. It is the persistence id itself when that is unambiguous, and
// `~` + 4 hex digits per UTF-16 code unit otherwise: when the id contains a brace (Redis ends
// the tag at the first `}`), starts with `~`, or has a lone surrogate (a UTF-8 key would hold
// U+FFFD instead, the same bytes as another id). Raw tags never start with `~`, encoded ones
// always do, and the hex form is injective, so two different ids never share a key.

/** The keys of one persistence id. */
export interface StreamKeys {
  /** LIST of encoded event records, in sequence order. */
  readonly events: string;
  /** HASH with `first` (sequence number of the list head) and `last` (highest ever appended). */
  readonly meta: string;
  /** ZSET of encoded snapshot records scored by sequence number. */
  readonly snapshots: string;
}

const NEEDS_ENCODING =
  /^~|[{}]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * The hash-tag body of a persistence id: the id as it is, or its `~hex` form.
 *
 * @param persistenceId A valid persistence id.
 * @returns The text between the braces.
 */
export function persistenceIdTag(persistenceId: string): string {
  if (!NEEDS_ENCODING.test(persistenceId)) return persistenceId;
  let hex = "~";
  for (let i = 0; i < persistenceId.length; i++) {
    hex += persistenceId.charCodeAt(i).toString(16).padStart(4, "0");
  }
  return hex;
}

/**
 * The keys of one persistence id under a key prefix.
 *
 * @param keyPrefix The provider's key prefix, e.g. `"troupe:"`.
 * @param persistenceId A valid persistence id.
 * @returns Its three keys.
 */
export function streamKeys(
  keyPrefix: string,
  persistenceId: string,
): StreamKeys {
  const base = `${keyPrefix}{${persistenceIdTag(persistenceId)}}:`;
  return {
    events: `${base}events`,
    meta: `${base}meta`,
    snapshots: `${base}snapshots`,
  };
}

/**
 * The keys of the ids a provider used lately, so that an append does not build them again
 * (and node-redis gets the same flat strings each time). Bounded: when full, it starts over.
 */
export class StreamKeysCache {
  readonly #prefix: string;
  readonly #max: number;
  #keys = new Map<string, StreamKeys>();

  /**
   * Creates the cache.
   *
   * @param keyPrefix The provider's key prefix.
   * @param max How many ids it holds at most.
   */
  constructor(keyPrefix: string, max = 1024) {
    this.#prefix = keyPrefix;
    this.#max = max;
  }

  /**
   * The keys of a persistence id.
   *
   * @param persistenceId A valid persistence id.
   * @returns Its three keys.
   */
  get(persistenceId: string): StreamKeys {
    let keys = this.#keys.get(persistenceId);
    if (keys === undefined) {
      if (this.#keys.size >= this.#max) this.#keys = new Map();
      keys = streamKeys(this.#prefix, persistenceId);
      this.#keys.set(persistenceId, keys);
    }
    return keys;
  }
}

/**
 * Throws TypeError for a key prefix that would break the layout: a brace in it would become
 * the hash tag and put every id in one slot.
 *
 * @param keyPrefix The key prefix.
 */
export function checkKeyPrefix(keyPrefix: string): void {
  if (typeof keyPrefix !== "string" || /[{}]/.test(keyPrefix)) {
    throw new TypeError(
      `Invalid keyPrefix ${
        JSON.stringify(keyPrefix)
      }: must be a string without "{" or "}" (a brace would change the hash tag)`,
    );
  }
}

/**
 * A SCAN MATCH pattern for every key under a prefix (glob characters in the prefix escaped).
 *
 * @param keyPrefix The key prefix.
 * @returns The pattern.
 */
export function prefixPattern(keyPrefix: string): string {
  return `${keyPrefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
}
