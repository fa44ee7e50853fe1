/**
 * Cluster sharding: entities addressed by (type, id), spread over the cluster's members in
 * shards. An entity type is an ordinary actor definition (plain or persistent) whose start
 * argument is the entity id; an entity starts on its first message, on the node that owns its
 * shard. The shard of an id is `fnv1a32(utf8(id)) % numberOfShards` (or a custom extractor).
 * A coordinator per entity type, recovered from its journal, records where each shard lives.
 *
 * @example Usage
 * ```ts ignore
 * import { defineActor, RemoteNode } from "@troupe/troupe";
 * import { Cluster, ClusterExtensions, Sharding, ShardingExtensions } from "@troupe/troupe/cluster";
 * const counter = defineActor({
 *   name: "counter",
 *   init: (_id: string) => ({ n: 0 }),
 *   handlers: { add: (s, by: number) => void (s.n += by), get: (s) => s.n },
 * });
 * const clusterExtensions = new ClusterExtensions();
 * const shardingExtensions = new ShardingExtensions();
 * const node = await RemoteNode.start(system, {
 *   cluster: "demo",
 *   secret,
 *   extensions: [...clusterExtensions.remote, ...shardingExtensions.remote],
 * });
 * const cluster = await Cluster.join(node, { extensions: clusterExtensions, discovery });
 * const sharding = await Sharding.start(cluster, { extensions: shardingExtensions });
 * const counters = sharding.entityType(counter);
 * counters.ref("42").tell("add", 1);
 * console.log(await counters.ref("42").ask("get")); // 1
 * ```
 *
 * @module
 */
export {
  type AllocationStrategy,
  type LeastShardsOptions,
  leastShardsStrategy,
  type ShardAllocations,
} from "./allocation.ts";
export {
  InvalidShardingMessageError,
  isInvalidShardingMessageError,
  isShardBufferFullError,
  isShardCoordinatorUnavailableError,
  isShardingClosedError,
  ShardBufferFullError,
  ShardCoordinatorUnavailableError,
  ShardingClosedError,
} from "./errors.ts";
export type { RegionStats } from "./region.ts";
export { defaultShardOf, fnv1a32, type ShardExtractor } from "./shard_hash.ts";
export {
  type CoordinatorOptions,
  EntityType,
  type EntityTypeOptions,
  type NodeShardStats,
  type PassivationOptions,
  Sharding,
  type ShardingCloseOptions,
  type ShardingOptions,
} from "./sharding.ts";
export { ShardingExtensions } from "./sharding_extensions.ts";
