// The shard events of one entity type on this node, published on SHARD_EVENTS through the
// PubSub given to Sharding.start. Without a PubSub, or without a subscriber on this node, an
// event costs one check (one map lookup): nothing is built.
import type { SystemPublisher } from "../pubsub/system_publisher.ts";
import type {
  ShardEvent,
  ShardEventReason,
  ShardEventType,
} from "../pubsub/system_topics.ts";

/** Why a shard is handed off or moved: to even out the shards, or off a leaving member. */
export type MoveReason = "rebalance" | "leaving";

/** Publishes the shard events of one entity type on this node. */
export class ShardEvents {
  readonly #publisher: SystemPublisher<ShardEvent> | undefined;
  readonly #entityType: string;
  readonly #self: string;
  readonly #leaving: () => boolean;

  /**
   * @param publisher Where to publish (undefined: nowhere).
   * @param entityType The entity type.
   * @param self This node.
   * @param leaving Whether this node is leaving (its sharding closes, or its member leaves).
   */
  constructor(
    publisher: SystemPublisher<ShardEvent> | undefined,
    entityType: string,
    self: string,
    leaving: () => boolean,
  ) {
    this.#publisher = publisher;
    this.#entityType = entityType;
    this.#self = self;
    this.#leaving = leaving;
  }

  /** Whether anyone on this node listens (one map lookup). */
  subscribed(): boolean {
    return this.#publisher?.subscribed() ?? false;
  }

  /** The coordinator (running here) gave `shard` the home `node`. */
  allocated(
    shard: number,
    node: string,
    reason: ShardEventReason,
    previous: string | undefined,
  ): void {
    if (!this.subscribed()) return;
    this.#publish(
      previous === undefined
        ? this.#event("shard-allocated", shard, reason, node)
        : { ...this.#event("shard-allocated", shard, reason, node), previous },
    );
  }

  /** This node came to host `shard`. */
  startedHere(shard: number, reason: "message" | "announced"): void {
    if (!this.subscribed()) return;
    this.#publish(this.#event("shard-started-here", shard, reason, this.#self));
  }

  /** This node handed `shard` off. */
  handedOff(shard: number): void {
    if (!this.subscribed()) return;
    const reason = this.#leaving() ? "leaving" : "rebalance";
    this.#publish(this.#event("shard-handed-off", shard, reason, this.#self));
  }

  /** This node stopped hosting `shard` without a hand-off. */
  stopped(shard: number, reason: "closed" | "downed"): void {
    if (!this.subscribed()) return;
    this.#publish(this.#event("shard-stopped", shard, reason, this.#self));
  }

  #event(
    type: ShardEventType,
    shard: number,
    reason: ShardEventReason,
    node: string,
  ): ShardEvent {
    return { type, entityType: this.#entityType, shard, node, reason };
  }

  #publish(event: ShardEvent): void {
    this.#publisher!.publish(Object.freeze(event));
  }
}
