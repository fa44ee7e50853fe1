// What the HTTP API needs from sharding: `shardingStatsProvider(sharding)` (sharding_stats.ts)
// makes one from a running Sharding, and any other source may implement it. Without one
// (`HttpApiOptions.sharding`) the sharding endpoints answer 404 with the problem code
// SHARDING_UNAVAILABLE. A provider that fails or does not answer within the API's
// `dependencyTimeoutMs` gets its request a 503 problem with Retry-After, never a 500.

/** One node's share of a sharded entity type. */
export interface ShardingNodeStats {
  /** The node's name. */
  readonly node: string;
  /** How many shards of the type it hosts. */
  readonly shards: number;
  /** How many entities of the type run on it; absent when not known (it did not answer). */
  readonly entities?: number;
}

/** One shard of a sharded entity type. */
export interface ShardingShardStats {
  /** The shard's id. */
  readonly id: string;
  /** The node hosting it. */
  readonly node: string;
  /**
   * How many entities run in it; absent when not known (its node did not answer, or does not
   * report hosting it yet: a node learns it hosts a shard on the shard's first message there).
   */
  readonly entities?: number;
}

/** The cluster-wide statistics of one sharded entity type. */
export interface ShardingTypeStats {
  /** The entity type's name. */
  readonly type: string;
  /** Per node: shards and entities. */
  readonly nodes: readonly ShardingNodeStats[];
  /** Every shard with its node and entity count. */
  readonly shards: readonly ShardingShardStats[];
}

/**
 * The source of sharding statistics for the HTTP API and the dashboard (sharding provides it).
 *
 * @example A provider over a fixed table (as a test would write it)
 * ```ts
 * import type { ShardingStatsProvider } from "@troupe/troupe/http";
 * const provider: ShardingStatsProvider = {
 *   types: () => ["cart"],
 *   stats: (type) =>
 *     type === "cart"
 *       ? { type, nodes: [{ node: "a", shards: 1, entities: 2 }], shards: [{ id: "0", node: "a", entities: 2 }] }
 *       : undefined,
 * };
 * console.log(provider.types());
 * ```
 */
export interface ShardingStatsProvider {
  /**
   * The sharded entity types.
   *
   * @returns Their names.
   */
  types(): readonly string[] | Promise<readonly string[]>;
  /**
   * The statistics of one type, across the cluster.
   *
   * @param type An entity type's name.
   * @returns The statistics, or `undefined` for a type that is not sharded.
   * @throws {Error} (or rejects) When they cannot be had now: a
   * `ShardCoordinatorUnavailableError` or `ShardingClosedError` keeps its code in the API's
   * 503 answer; anything else is answered 503 `DEPENDENCY_UNAVAILABLE` and logged.
   */
  stats(
    type: string,
  ): ShardingTypeStats | undefined | Promise<ShardingTypeStats | undefined>;
}
