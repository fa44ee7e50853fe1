// The options of sharding's entity types, and their checks.
import type { AllocationStrategy } from "./allocation.ts";
import type { Lease } from "../lease.ts";
import type { ShardExtractor } from "./shard_hash.ts";

/** Idle passivation and the bound on active entities. */
export interface PassivationOptions {
  /** An entity that got no message for this many ms is stopped (default: never). */
  readonly idleMs?: number;
  /** At most this many entities of the type run on a node; the least recently used stops. */
  readonly maxActive?: number;
}

/** Options of {@linkcode Sharding.entityType}. Give every node the same ones. */
export interface EntityTypeOptions {
  /** The type's name (default: the definition's name); 1 to 40 of `A-Z a-z 0-9 _ . -`. */
  readonly name?: string;
  /** How many shards (default 100). Never change it while entities live in a journal. */
  readonly numberOfShards?: number;
  /** The shard of an id (default {@linkcode defaultShardOf}: FNV-1a 32 of its UTF-8 bytes). */
  readonly shardOf?: ShardExtractor;
  /** Where shards go (default {@linkcode leastShardsStrategy}). */
  readonly strategy?: AllocationStrategy;
  /** At most this many shards are handed off at once (default 3). */
  readonly maxSimultaneousMoves?: number;
  /** How often the coordinator rebalances and reallocates lost shards, in ms (default 1000). */
  readonly rebalanceIntervalMs?: number;
  /** How long a hand-off step may take, in ms (default 10 000). */
  readonly handOffTimeoutMs?: number;
  /** The most messages one shard buffers on a node while its home is unknown (default 1000). */
  readonly bufferSize?: number;
  /**
   * Remember-entities (default false): the ids of running entities are kept in the journal per
   * shard (through the system's persistence provider), and after a rebalance or a crash the
   * shard's new owner starts them at once, not on their next message. A passivated entity is
   * forgotten.
   */
  readonly rememberEntities?: boolean;
  /** Passivation (default: none). */
  readonly passivation?: PassivationOptions;
  /** How this type's coordinator, a cluster singleton, is hosted and fenced. */
  readonly coordinator?: CoordinatorOptions;
  /** How soon a region asks the coordinator again when it had no answer, in ms (default 100). */
  readonly retryMs?: number;
}

/** How the coordinator of an entity type is hosted (see `ClusterSingleton`). */
export interface CoordinatorOptions {
  /**
   * The lease that fences the coordinator (a `RedisLease` in production, one per entity type;
   * default: none, so a partition may briefly run two coordinators, whose journal writes then
   * conflict rather than interleave).
   */
  readonly lease?: Lease;
  /** The lease's time to live, in ms (default: the singleton's, 10 000). */
  readonly leaseTtlMs?: number;
  /** Only members with this role host the coordinator (every member hosts shards). */
  readonly role?: string;
}

/** Options of {@linkcode Sharding.close}. */
export interface ShardingCloseOptions {
  /** Hand this node's shards off first (default true). */
  readonly handOff?: boolean;
}

export const TYPE_NAME = /^[A-Za-z0-9_.-]{1,40}$/;

/** `value` (or `fallback`), checked to be a positive number. */
export function positive(
  value: number | undefined,
  fallback: number,
  what: string,
): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(`Invalid ${what} ${v}: expected a positive number`);
  }
  return v;
}

/** `value` (or `fallback`), checked to be a positive integer. */
export function count(
  value: number | undefined,
  fallback: number,
  what: string,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(`Invalid ${what} ${v}: expected a positive integer`);
  }
  return v;
}
