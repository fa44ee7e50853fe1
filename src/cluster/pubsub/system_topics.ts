// The system topics: what Troupe itself publishes, through the same API as users' topics.
import type { MemberEvent } from "../member_event.ts";
import { systemTopic, type Topic } from "./topic.ts";

/**
 * This node's membership events (member joined, up, leaving, exited, downed, removed,
 * unreachable, reachable, leader changed, self-downed), as its `Cluster` sees them. Each node
 * publishes its own events on it; subscriptions to it are never routed to other nodes. Shard
 * moves are on {@linkcode SHARD_EVENTS}.
 *
 * @example Usage
 * ```ts ignore
 * import { MEMBER_EVENTS } from "@troupe/troupe/cluster";
 * pubsub.subscribe(MEMBER_EVENTS, watcherRef); // told { publication: { message: MemberEvent } }
 * ```
 */
export const MEMBER_EVENTS: Topic<MemberEvent> = systemTopic<MemberEvent>(
  "members",
);

/**
 * What happened to a shard, as one node saw it (see {@linkcode ShardEvent}):
 *
 * - `shard-allocated`: the coordinator gave the shard a home (`node`). Published on the node
 *   that runs the entity type's coordinator.
 * - `shard-started-here`: this node (`node`) learned it hosts the shard, so its entities start
 *   here (on their next message, or at once with remember-entities).
 * - `shard-handed-off`: this node (`node`) handed the shard off: its entities handled what they
 *   were sent and stopped; the shard's new home follows as a `shard-allocated`.
 * - `shard-stopped`: this node (`node`) stopped hosting the shard without handing it off
 *   (sharding closed, or this member was downed); the others reallocate it.
 */
export type ShardEventType =
  | "shard-allocated"
  | "shard-started-here"
  | "shard-handed-off"
  | "shard-stopped";

/**
 * Why a shard event happened:
 *
 * - `first-use` (allocated): the shard had no home and a message for it came.
 * - `node-lost` (allocated): its home went down or was removed (a crash, a partition).
 * - `rebalance` (allocated, handed-off): it moved to even out the shards per node.
 * - `leaving` (allocated, handed-off): it moved off a member that leaves the cluster or
 *   closes its sharding.
 * - `message` (started-here): a message for it came and the coordinator named this node.
 * - `announced` (started-here): the coordinator placed it here and said so at once (with
 *   remember-entities, so that its entities restart without waiting for a message).
 * - `closed` (stopped): `Sharding.close` without a hand-off, or one that ran out of time.
 * - `downed` (stopped): this member was downed, so its sharding closed itself.
 */
export type ShardEventReason =
  | "first-use"
  | "node-lost"
  | "rebalance"
  | "leaving"
  | "message"
  | "announced"
  | "closed"
  | "downed";

/** One shard event of {@linkcode SHARD_EVENTS}. */
export interface ShardEvent {
  /** What happened. */
  readonly type: ShardEventType;
  /** The entity type of the shard. */
  readonly entityType: string;
  /** The shard. */
  readonly shard: number;
  /** The node it concerns: the new home (allocated), or the node that published it. */
  readonly node: string;
  /** Why. */
  readonly reason: ShardEventReason;
  /** For `shard-allocated` after a move or a loss: the shard's previous home. */
  readonly previous?: string;
}

/**
 * Shard moves of cluster sharding, as this node sees them: allocations (on the node that runs
 * the coordinator), and the shards this node starts, hands off and stops hosting. Sharding
 * publishes on it when `Sharding.start` is given this node's `PubSub` (option `pubsub`).
 *
 * Like {@linkcode MEMBER_EVENTS} it is local: each node publishes what happens on it, and a
 * subscription is never routed to other nodes. Every event already happens on one node; making
 * them cluster-wide would send each to every subscribing node, with no ordering between
 * nodes, at a time (a crash, a rebalance) when the network is busiest. A watcher that wants the
 * whole cluster's moves subscribes on every node (the node that runs the coordinator sees every
 * allocation), or asks `EntityType.clusterStats()`. An event nobody on the node subscribes to
 * costs one map lookup: it is not even built.
 *
 * @example Usage
 * ```ts ignore
 * import { SHARD_EVENTS, Sharding } from "@troupe/troupe/cluster";
 * const sharding = await Sharding.start(cluster, { extensions, pubsub });
 * pubsub.subscribe(SHARD_EVENTS, watcherRef); // told { publication: { message: ShardEvent } }
 * ```
 */
export const SHARD_EVENTS: Topic<ShardEvent> = systemTopic<ShardEvent>(
  "shards",
);
