// Shards and entities per node, cluster-wide, for one entity type: the coordinator's
// allocation, and each node's own report of what it hosts (checked: it comes from the network).
import type { ActorRef } from "../../actor/mod.ts";
import type { SendControl } from "./_coordinator_regions.ts";
import type { CoordinatorProtocol, RegionStats } from "./_region_types.ts";
import {
  InvalidShardingMessageError,
  ShardCoordinatorUnavailableError,
} from "./errors.ts";

/** The shards and entities of one node, for one entity type. */
export interface NodeShardStats {
  /** Shards the coordinator allocated to the node. */
  readonly shards: number;
  /** Those shards, ascending. */
  readonly allocated: readonly number[];
  /** Entities running there; absent when the node did not answer in time. */
  readonly entities?: number;
  /**
   * The entities of each shard the node reports hosting, by shard; absent when the node did
   * not answer in time. A node learns it hosts a shard on the shard's first message there
   * (at once with remember-entities), so a shard just allocated or moving may be missing.
   */
  readonly shardEntities?: Readonly<Record<string, number>>;
}

/** What the cluster-wide figures are gathered from. */
export interface ClusterStatsSources {
  readonly entityType: string;
  /** The coordinator, once known. */
  readonly coordinator: ActorRef<CoordinatorProtocol> | undefined;
  /** Up, reachable members (listed even without shards). */
  readonly hostable: readonly string[];
  readonly control: SendControl;
  readonly timeoutMs: number;
  readonly logError: (message: string, error: unknown) => void;
}

const MAX_SHARDS = 1_000_000;

function count(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0;
}

/**
 * Checks a region's answer to `stats` from another node.
 *
 * @throws {InvalidShardingMessageError} When it is malformed.
 */
export function checkRegionStats(value: unknown): RegionStats {
  const v = value as Partial<Record<keyof RegionStats, unknown>> | null;
  if (
    typeof v !== "object" || v === null || !count(v.entities) ||
    !Array.isArray(v.shards) || !Array.isArray(v.shardEntities) ||
    v.shards.length > MAX_SHARDS ||
    v.shards.length !== v.shardEntities.length ||
    !v.shards.every(count) || !v.shardEntities.every(count)
  ) {
    throw new InvalidShardingMessageError(
      "a region's stats must be { shards: number[], shardEntities: number[] of the same length, entities: number }",
    );
  }
  return v as RegionStats;
}

/**
 * Checks the coordinator's answer to `homes` (node → shards), which may come from another node.
 *
 * @throws {InvalidShardingMessageError} When it is malformed.
 */
export function checkHomes(value: unknown): Record<string, number[]> {
  if (
    typeof value !== "object" || value === null || Array.isArray(value) ||
    !Object.values(value).every((shards) =>
      Array.isArray(shards) && shards.length <= MAX_SHARDS &&
      shards.every(count)
    )
  ) {
    throw new InvalidShardingMessageError(
      "the coordinator's homes must be { [node]: number[] }",
    );
  }
  return value as Record<string, number[]>;
}

/**
 * Every node that holds shards of the type or may host some: the coordinator's allocation and
 * each node's report (asked in parallel; a node that does not answer in time, or answers
 * nonsense, has no `entities`).
 *
 * @throws {ShardCoordinatorUnavailableError} When the coordinator is not known or does not
 * answer in time.
 */
export async function clusterStatsOf(
  sources: ClusterStatsSources,
): Promise<Record<string, NodeShardStats>> {
  const { entityType, coordinator, timeoutMs } = sources;
  if (coordinator === undefined) {
    throw new ShardCoordinatorUnavailableError(entityType);
  }
  let homes: Record<string, number[]>;
  try {
    homes = checkHomes(
      await coordinator.ask("homes", undefined, { timeoutMs }),
    );
  } catch (error) {
    throw new ShardCoordinatorUnavailableError(entityType, { cause: error });
  }
  const nodes = [...new Set([...Object.keys(homes), ...sources.hostable])]
    .sort();
  const reports = await Promise.all(nodes.map(async (node) => {
    try {
      return checkRegionStats(
        await sources.control(
          node,
          { k: "stats", t: entityType, s: 0 },
          timeoutMs,
        ),
      );
    } catch (error) {
      if (error instanceof InvalidShardingMessageError) {
        sources.logError(`Bad stats of "${entityType}" from "${node}"`, error);
      }
      return undefined; // Not reachable now, or closed: its figures are not known.
    }
  }));
  const out: Record<string, NodeShardStats> = {};
  nodes.forEach((node, i) => {
    const allocated = [...(homes[node] ?? [])].sort((a, b) => a - b);
    const report = reports[i];
    if (report === undefined) {
      out[node] = { shards: allocated.length, allocated };
      return;
    }
    const shardEntities: Record<string, number> = {};
    report.shards.forEach((shard, j) => {
      shardEntities[shard] = report.shardEntities[j];
    });
    out[node] = {
      shards: allocated.length,
      allocated,
      entities: report.entities,
      shardEntities,
    };
  });
  return out;
}
