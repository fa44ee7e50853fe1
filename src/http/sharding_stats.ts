// The HTTP API's sharding figures from a running Sharding: its entity types, and per type the
// coordinator's allocation with what each node reports it runs.
import { type NodeShardStats, Sharding } from "../cluster/mod.ts";
import type {
  ShardingNodeStats,
  ShardingShardStats,
  ShardingStatsProvider,
  ShardingTypeStats,
} from "./sharding.ts";

/** Options of {@linkcode shardingStatsProvider}. */
export interface ShardingStatsProviderOptions {
  /**
   * How long each request waits for the coordinator, and for each node's report, in ms
   * (default 2000). A node that does not answer in time is listed without entity counts.
   */
  readonly timeoutMs?: number;
}

/**
 * The sharding statistics of a running {@linkcode Sharding}, for `HttpApiOptions.sharding`:
 * the entity types registered on this node, and per type every node that holds shards or may
 * host some, with the shards the coordinator allocated to it and the entities it reports (per
 * node, and per shard for the shards it reports hosting). A figure that is not known (the node
 * did not answer, or has not yet learned it hosts a just-allocated shard) is left out, never
 * guessed. While the coordinator is unknown or does not answer, `stats` rejects with a
 * `ShardCoordinatorUnavailableError` (the API then answers 503 `SHARD_COORDINATOR_UNAVAILABLE`
 * with `Retry-After`).
 *
 * @example Serve a sharded node's statistics
 * ```ts ignore
 * import { HttpApi, shardingStatsProvider } from "@troupe/troupe/http";
 * const api = new HttpApi({ system, cluster, sharding: shardingStatsProvider(sharding) });
 * const res = await api.fetch(new Request("http://node/sharding/stats/counter"));
 * console.log(await res.json()); // { type, nodes: [...], shards: [...] }
 * ```
 *
 * @param sharding This node's sharding.
 * @param options How long to wait for the figures.
 * @returns The provider.
 * @throws {TypeError} When `sharding` is not a Sharding.
 * @throws {RangeError} When `timeoutMs` is not a finite number > 0.
 */
export function shardingStatsProvider(
  sharding: Sharding,
  options: ShardingStatsProviderOptions = {},
): ShardingStatsProvider {
  if (!(sharding instanceof Sharding)) {
    throw new TypeError(
      "Invalid sharding: expected a Sharding from Sharding.start()",
    );
  }
  const timeoutMs = options.timeoutMs ?? 2000;
  if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
    throw new RangeError(
      `Invalid timeoutMs ${timeoutMs}: expected a finite number > 0`,
    );
  }
  return {
    types: () => sharding.entityTypeNames(),
    stats: async (type) => {
      if (!sharding.entityTypeNames().includes(type)) return undefined;
      return typeStats(
        type,
        await sharding.clusterStats(type, { timeoutMs }),
      );
    },
  };
}

/** The HTTP API's view of one type's figures by node. */
function typeStats(
  type: string,
  byNode: Readonly<Record<string, NodeShardStats>>,
): ShardingTypeStats {
  const nodes: ShardingNodeStats[] = [];
  const shards: { shard: number; stats: ShardingShardStats }[] = [];
  for (const node of Object.keys(byNode).sort()) {
    const stats = byNode[node];
    nodes.push(
      stats.entities === undefined
        ? { node, shards: stats.shards }
        : { node, shards: stats.shards, entities: stats.entities },
    );
    for (const shard of stats.allocated) {
      const entities = stats.shardEntities?.[shard];
      const id = String(shard);
      shards.push({
        shard,
        stats: entities === undefined ? { id, node } : { id, node, entities },
      });
    }
  }
  shards.sort((a, b) => a.shard - b.shard);
  return { type, nodes, shards: shards.map((s) => s.stats) };
}
