// The stable shard of an entity id: FNV-1a (32 bit) over the id's UTF-8 bytes, modulo the
// number of shards. Written out here (no platform hash), so Deno, Node and every later version
// agree: an id's shard never changes while the number of shards stays the same.

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
const encoder = new TextEncoder();

/**
 * The 32-bit FNV-1a hash of `text`'s UTF-8 bytes, as an unsigned integer.
 *
 * @param text Any string (lone surrogates are encoded as U+FFFD, as TextEncoder does).
 * @returns The hash, 0 to 2^32 - 1.
 * @example Usage
 * ```ts
 * import { fnv1a32 } from "@troupe/troupe/cluster";
 * console.log(fnv1a32("")); // 2166136261
 * console.log(fnv1a32("a")); // 3826002220
 * ```
 */
export function fnv1a32(text: string): number {
  let hash = FNV_OFFSET;
  let ascii = true;
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) > 0x7f) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    for (let i = 0; i < text.length; i++) {
      hash = Math.imul(hash ^ text.charCodeAt(i), FNV_PRIME);
    }
  } else {
    for (const byte of encoder.encode(text)) {
      hash = Math.imul(hash ^ byte, FNV_PRIME);
    }
  }
  return hash >>> 0;
}

/**
 * Maps an entity id to its shard, `0 ≤ shard < numberOfShards`.
 *
 * @param id The entity id.
 * @param numberOfShards How many shards the entity type has.
 * @returns The shard.
 */
export type ShardExtractor = (id: string, numberOfShards: number) => number;

/**
 * The default shard of an entity id: `fnv1a32(id) % numberOfShards`.
 *
 * @param id The entity id.
 * @param numberOfShards How many shards (a positive integer).
 * @returns The shard, `0 ≤ shard < numberOfShards`.
 * @throws {RangeError} When `numberOfShards` is not a positive safe integer.
 * @example Usage
 * ```ts
 * import { defaultShardOf } from "@troupe/troupe/cluster";
 * console.log(defaultShardOf("a", 100)); // 20
 * ```
 */
export function defaultShardOf(id: string, numberOfShards: number): number {
  if (!Number.isSafeInteger(numberOfShards) || numberOfShards < 1) {
    throw new RangeError(
      `Invalid numberOfShards ${numberOfShards}: expected a positive integer`,
    );
  }
  return fnv1a32(id) % numberOfShards;
}
