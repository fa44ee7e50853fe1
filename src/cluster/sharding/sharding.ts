// Sharding on one node: the entity types it hosts (a region each), their coordinators, and the
// routing of sharding messages between nodes.
import type {
  ActorDefinition,
  ActorRef,
  Handlers,
  ProtocolOf,
  UnknownProtocol,
} from "../../actor/mod.ts";
import type { RemoteNode } from "../../remote/mod.ts";
import type { Cluster } from "../cluster.ts";
import type { PubSub } from "../pubsub/pubsub.ts";
import {
  type SystemPublisher,
  systemPublisher,
} from "../pubsub/system_publisher.ts";
import { SHARD_EVENTS, type ShardEvent } from "../pubsub/system_topics.ts";
import { leastShardsStrategy } from "./allocation.ts";
import type { CoordinatorMembers } from "./coordinator.ts";
import { coordinatorRegions } from "./_coordinator_regions.ts";
import { clusterStatsOf, type NodeShardStats } from "./_cluster_stats.ts";
import { ShardEvents } from "./_shard_events.ts";
import { type CoordinatorHost, hostAsSingleton } from "./coordinator_host.ts";
import { EntityRef, parseEntityRef } from "./entity_ref.ts";
import { ShardingClosedError } from "./errors.ts";
import {
  type ControlMessage,
  SHARDING_EXTENSION,
  type ShardingMessage,
} from "./_messages.ts";
import { RemoteDeliveries } from "./_deliveries.ts";
import { nodeNow } from "./_node_now.ts";
import { type RegionHost, type RegionStats, ShardRegion } from "./region.ts";
import { forSharding } from "./_entity.ts";
import { drainRegion } from "./_drain.ts";
import { controlRegion } from "./_control.ts";
import { RememberedEntities } from "./_remembered.ts";
import { persistenceOf } from "../../persistence/mod.ts";
import { defaultShardOf } from "./shard_hash.ts";
import {
  type CoordinatorOptions,
  count,
  type EntityTypeOptions,
  type PassivationOptions,
  positive,
  type ShardingCloseOptions,
  TYPE_NAME,
} from "./sharding_options.ts";
import {
  bindSharding,
  type ShardingExtensions,
} from "./sharding_extensions.ts";

export type {
  CoordinatorOptions,
  EntityTypeOptions,
  NodeShardStats,
  PassivationOptions,
  ShardingCloseOptions,
};

/** Options of {@linkcode Sharding.start}. */
export interface ShardingOptions {
  /** The sharding extension this node was started with. */
  readonly extensions: ShardingExtensions;
  /**
   * This node's pub/sub: sharding publishes its shard events there, on the system topic
   * `SHARD_EVENTS` (to this node's subscribers only). Default: none, so no shard events.
   */
  readonly pubsub?: PubSub;
  /** Where sharding reports problems (default: the console). */
  readonly logger?: { error(message: string, error: unknown): void };
}

/** One entity type of a {@linkcode Sharding}: makes refs to its entities. */
export class EntityType<P> {
  readonly #region: ShardRegion;
  readonly #sharding: Sharding;
  readonly #askTimeoutMs: number;

  /** @internal Made by `Sharding.entityType`. */
  constructor(region: ShardRegion, sharding: Sharding, askTimeoutMs: number) {
    this.#region = region;
    this.#sharding = sharding;
    this.#askTimeoutMs = askTimeoutMs;
  }

  /** The type's name. */
  get name(): string {
    return this.#region.settings.entityType;
  }

  /**
   * The ref of the entity `id`; the entity starts on its first message, on the node that owns
   * its shard.
   *
   * @param id The entity id (a non-empty string of at most about 110 UTF-8 bytes).
   * @returns Its ref, typed by the definition's handlers.
   * @throws {TypeError} When the id is empty.
   * @throws {RangeError} When the id is too long, or a custom extractor gives a bad shard.
   */
  ref(id: string): ActorRef<P> {
    return new EntityRef<P>(this.#region, id, this.#askTimeoutMs);
  }

  /**
   * The shard of an id.
   *
   * @param id The entity id.
   * @returns The shard.
   */
  shardOf(id: string): number {
    return this.#region.shardOf(id);
  }

  /**
   * The shards this node owns and the entities it runs.
   *
   * @returns This node's figures.
   */
  localStats(): RegionStats {
    return this.#region.stats();
  }

  /**
   * Shards and entities per node, cluster-wide (see {@linkcode Sharding.clusterStats}).
   *
   * @param options Timeout (default 5000 ms).
   * @returns Figures by node name.
   * @throws {ShardCoordinatorUnavailableError} When the coordinator is not known or does not
   * answer in time.
   */
  clusterStats(
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Record<string, NodeShardStats>> {
    return this.#sharding.clusterStats(this.name, options);
  }
}

interface TypeEntry {
  readonly region: ShardRegion;
  readonly host: CoordinatorHost;
}

/**
 * Cluster sharding on one node: entities addressed by (type, id), spread over the cluster's
 * members in shards, each shard on one node at a time. Start it on every node, after
 * `Cluster.join`, and register the same entity types everywhere. When this member is downed
 * (for example on the minority side of a partition), it closes itself: its entities stop, since
 * the others reallocate its shards. The coordinators write their journals through the actor
 * system's persistence provider (`usePersistence`): give every node the same shared provider
 * (Redis in production), or a coordinator that moves to another node starts without the
 * allocations and places shards again.
 *
 * @example Usage
 * ```ts ignore
 * const sharding = await Sharding.start(cluster, { extensions: shardingExtensions });
 * const counters = sharding.entityType(counter);
 * const ref = counters.ref("42");
 * ref.tell("add", 1);
 * console.log(await ref.ask("get"));
 * ```
 */
export class Sharding implements AsyncDisposable {
  readonly #cluster: Cluster;
  readonly #node: RemoteNode;
  readonly #types = new Map<string, TypeEntry>();
  readonly #logger: { error(message: string, error: unknown): void };
  readonly #publisher: SystemPublisher<ShardEvent> | undefined;
  readonly #unbind: () => void;
  readonly #events = new AbortController();
  /** Members that are unreachable, down or removed (kept from membership events). */
  readonly #unreachable = new Set<string>();
  #closed: Promise<void> | undefined;
  /** Set once the hand-off before a close is over: messages are refused from then on. */
  #stopped = false;
  /** Messages for entities on other nodes and their replies, batched per node. */
  readonly #deliveries: RemoteDeliveries;

  private constructor(
    cluster: Cluster,
    options: ShardingOptions,
    publisher: SystemPublisher<ShardEvent> | undefined,
  ) {
    this.#cluster = cluster;
    this.#node = cluster.node;
    this.#logger = options.logger ?? console;
    this.#publisher = publisher;
    this.#deliveries = new RemoteDeliveries({
      self: this.#node.node,
      clock: this.#node.system.clock,
      tracer: () => this.#node.system.tracer,
      channel: () => this.#channel(),
      inbound: (delivery, onValue, onError) => {
        const entry = this.#types.get(delivery.entityType);
        if (entry === undefined || this.#stopped) {
          throw new ShardingClosedError(
            this.#node.node,
            `entity type "${delivery.entityType}" is not hosted here`,
          );
        }
        entry.region.inbound(delivery, onValue, onError);
      },
      logError: (message, error) => this.#logger.error(message, error),
    });
    const unbind = bindSharding(
      options.extensions,
      (message, from) => this.#endpoint(message, from),
    );
    // A lost connection fails the asks sent over it at once, as remote requests do.
    const unwatch = this.#node.onPeerChange((change) => {
      if (!change.connected) {
        this.#deliveries.connectionLost(change.node, change.reason);
      }
    });
    this.#unbind = () => {
      unbind();
      unwatch();
    };
    void this.#watch();
  }

  /**
   * Starts sharding on this node.
   *
   * @param cluster The cluster this node joined.
   * @param options The sharding extension this node was started with, this node's pub/sub
   * (for shard events), and a logger.
   * @returns The running sharding.
   * @throws {TypeError} When the options are invalid (`pubsub` not a PubSub of this node), or
   * the extension serves another Sharding.
   */
  static start(cluster: Cluster, options: ShardingOptions): Promise<Sharding> {
    // Throws TypeError when the node was started without sharding's extension.
    cluster.node.extension(SHARDING_EXTENSION);
    const pubsub = options.pubsub;
    let publisher: SystemPublisher<ShardEvent> | undefined;
    if (pubsub !== undefined) {
      publisher = systemPublisher(pubsub, SHARD_EVENTS);
      if (pubsub.node !== cluster.node.node) {
        throw new TypeError(
          `Cannot publish the shard events of node "${cluster.node.node}" on the pub/sub of node "${pubsub.node}"`,
        );
      }
    }
    return Promise.resolve(new Sharding(cluster, options, publisher));
  }

  /**
   * Hosts an entity type on this node (do the same on every node).
   *
   * @param definition The entities' actor type (plain or persistent); its start argument is
   * the entity id.
   * @param options Shards, allocation, buffering and passivation.
   * @returns The entity type, which makes refs.
   * @throws {TypeError} When the name is invalid or taken, or sharding is closed.
   * @throws {RangeError} When a number is out of range.
   */
  entityType<S, H extends Handlers<S>>(
    definition: ActorDefinition<string, S, H>,
    options: EntityTypeOptions = {},
  ): EntityType<ProtocolOf<H>> {
    if (this.#closed !== undefined) {
      throw new TypeError("Cannot add an entity type: sharding is closed");
    }
    if (
      (definition as { kind?: unknown } | null)?.kind !== "troupe.actor"
    ) {
      throw new TypeError(
        "Cannot add an entity type: the definition must come from defineActor() or definePersistentActor()",
      );
    }
    const name = options.name ?? definition.name;
    if (!TYPE_NAME.test(name)) {
      throw new TypeError(
        `Invalid entity type name ${
          JSON.stringify(name)
        }: 1 to 40 of A-Z a-z 0-9 _ . -`,
      );
    }
    if (this.#types.has(name)) {
      throw new TypeError(`Entity type "${name}" is registered already`);
    }
    const numberOfShards = count(options.numberOfShards, 100, "numberOfShards");
    const passivation = options.passivation ?? {};
    const handOffTimeoutMs = positive(
      options.handOffTimeoutMs,
      10_000,
      "handOffTimeoutMs",
    );
    const rebalanceIntervalMs = positive(
      options.rebalanceIntervalMs,
      1000,
      "rebalanceIntervalMs",
    );
    const system = this.#node.system;
    const conflicts = system.metrics.counter(
      "troupe_sharding_journal_conflicts_total",
      "Messages to entities that failed because another incarnation wrote to the entity's journal",
      ["type"],
    ).labels(name);
    const events = new ShardEvents(
      this.#publisher,
      name,
      this.#node.node,
      () => this.#leaving(),
    );
    const regionHost: RegionHost = {
      self: this.#node.node,
      system,
      coordinator: () => entry.host.ref(),
      reachable: (node) => !this.#unreachable.has(node),
      send: (node, id, type, payload, trace) =>
        this.#deliveries.tell(node, name, id, type, payload, trace),
      ask: (node, id, type, payload, timeoutMs, trace) =>
        this.#deliveries.ask(node, name, id, type, payload, timeoutMs, trace),
      control: (node, message, timeoutMs) =>
        this.#control(node, message, timeoutMs),
      logError: (message, error) => this.#logger.error(message, error),
      events,
    };
    const region = new ShardRegion({
      entityType: name,
      definition: forSharding(
        definition as unknown as ActorDefinition<
          unknown,
          unknown,
          Handlers<unknown>
        >,
        () => conflicts.inc(),
      ),
      args: (id) => id,
      numberOfShards,
      shardOf: options.shardOf ?? defaultShardOf,
      bufferSize: count(options.bufferSize, 1000, "bufferSize"),
      idleMs: passivation.idleMs === undefined
        ? undefined
        : positive(passivation.idleMs, 0, "passivation.idleMs"),
      maxActive: passivation.maxActive === undefined
        ? undefined
        : count(passivation.maxActive, 0, "passivation.maxActive"),
      retryMs: positive(options.retryMs, 100, "retryMs"),
      handOffTimeoutMs,
      registerIntervalMs: rebalanceIntervalMs,
      remembered: options.rememberEntities === true
        ? new RememberedEntities(
          persistenceOf(system).journal,
          name,
          (message, error) => this.#logger.error(message, error),
          () => system.clock.now(),
        )
        : undefined,
    }, regionHost);
    const regions = coordinatorRegions(
      name,
      (node, message, timeoutMs) => this.#control(node, message, timeoutMs),
      handOffTimeoutMs,
    );
    const entry: TypeEntry = {
      region,
      host: hostAsSingleton(this.#cluster, {
        entityType: name,
        strategy: options.strategy ??
          leastShardsStrategy({
            maxSimultaneous: options.maxSimultaneousMoves,
          }),
        members: () => this.#members(),
        regions,
        rebalanceIntervalMs,
        rememberEntities: options.rememberEntities === true,
        events,
        maxSimultaneous: count(
          options.maxSimultaneousMoves,
          3,
          "maxSimultaneousMoves",
        ),
      }, {
        ...options.coordinator,
        logger: this.#logger,
      }),
    };
    this.#types.set(name, entry);
    return new EntityType<ProtocolOf<H>>(region, this, system.askTimeoutMs);
  }

  /**
   * Turns the string form of an entity ref (its `toJSON()`) back into a ref.
   *
   * @param text `troupe+entity://<type>/<id>`.
   * @returns The ref (type it with `P`).
   * @throws {TypeError} When `text` is not an entity ref, or its type is not hosted here.
   */
  ref<P = UnknownProtocol>(text: string): ActorRef<P> {
    const { entityType, id } = parseEntityRef(text);
    const entry = this.#types.get(entityType);
    if (entry === undefined) {
      throw new TypeError(
        `Entity type "${entityType}" is not hosted on this node`,
      );
    }
    return new EntityRef<P>(entry.region, id, this.#node.system.askTimeoutMs);
  }

  /**
   * This node's shards and entities, by entity type.
   *
   * @returns Figures by type name.
   */
  stats(): Record<string, RegionStats> {
    const out: Record<string, RegionStats> = {};
    for (const [name, entry] of this.#types) out[name] = entry.region.stats();
    return out;
  }

  /**
   * The entity types registered on this node.
   *
   * @example Usage
   * ```ts ignore
   * sharding.entityType(counter);
   * console.log(sharding.entityTypeNames()); // ["counter"]
   * ```
   *
   * @returns Their names, in registration order.
   */
  entityTypeNames(): string[] {
    return [...this.#types.keys()];
  }

  /**
   * Shards and entities per node, cluster-wide, for one entity type: the coordinator's
   * allocation, and what each node reports it hosts. Every node that holds shards of the type
   * or may host some is listed; one that does not answer in time has no `entities` and no
   * `shardEntities`.
   *
   * @example Usage
   * ```ts ignore
   * const stats = await sharding.clusterStats("counter", { timeoutMs: 1000 });
   * console.log(stats["n1"]?.allocated); // the shards the coordinator put on n1
   * ```
   *
   * @param entityType A type registered on this node.
   * @param options Timeout of each question (default 5000 ms).
   * @returns Figures by node name.
   * @throws {TypeError} When the type is not registered here.
   * @throws {RangeError} When `timeoutMs` is not a positive number.
   * @throws {ShardCoordinatorUnavailableError} When the coordinator is not known or does not
   * answer in time.
   */
  clusterStats(
    entityType: string,
    options: { readonly timeoutMs?: number } = {},
  ): Promise<Record<string, NodeShardStats>> {
    const entry = this.#types.get(entityType);
    if (entry === undefined) {
      throw new TypeError(
        `Entity type ${JSON.stringify(entityType)} is not registered here`,
      );
    }
    return clusterStatsOf({
      entityType,
      coordinator: entry.host.ref(),
      hostable: this.#members().hostable,
      control: (node, message, timeoutMs) =>
        this.#control(node, message, timeoutMs),
      timeoutMs: positive(options.timeoutMs, 5000, "timeoutMs"),
      logError: (message, error) => this.#logger.error(message, error),
    });
  }

  /**
   * Hands this node's shards off (each entity type's coordinator moves them to other nodes at
   * once; waits at most `handOffTimeoutMs` per type), then stops this node's entities and its
   * part of the coordinators, and refuses further messages. Call it before `cluster.leave()`.
   *
   * @param options `handOff: false` skips the hand-off (the shards then move once the member
   * is removed).
   * @returns When they stopped.
   */
  close(options: ShardingCloseOptions = {}): Promise<void> {
    return this.#close(options.handOff ?? true, "closed");
  }

  #close(handOff: boolean, reason: "closed" | "downed"): Promise<void> {
    return this.#closed ??= (async () => {
      if (handOff) {
        await Promise.all(
          [...this.#types.values()].map((entry) =>
            drainRegion(entry.region, entry.host.ref(), this.#node.system.clock)
          ),
        );
      }
      this.#stopped = true;
      this.#events.abort();
      this.#unbind();
      for (const entry of this.#types.values()) {
        await entry.host.close();
        await entry.region.close(reason);
      }
      this.#deliveries.close();
    })();
  }

  /** Closes it. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #channel() {
    return this.#node.extension<ShardingMessage, unknown>(SHARDING_EXTENSION);
  }

  #control(
    node: string,
    message: ControlMessage,
    timeoutMs: number,
  ): Promise<unknown> {
    if (node === this.#node.node) {
      try {
        return Promise.resolve(this.#endpoint(message, node));
      } catch (error) {
        return Promise.reject(error);
      }
    }
    // After the messages for entities queued for that node: a hand-off's "flush" relies on it.
    this.#deliveries.flush(node);
    return this.#channel().ask(node, message, { timeoutMs });
  }

  #endpoint(message: ShardingMessage, from: string): unknown {
    if (message.k === "deliveries") {
      return this.#deliveries.receive(message, from);
    }
    if (message.k === "replies") return this.#deliveries.settle(message, from);
    const entry = this.#types.get(message.t);
    if (entry === undefined || this.#stopped) {
      throw new ShardingClosedError(
        this.#node.node,
        `entity type "${message.t}" is not hosted here`,
      );
    }
    return controlRegion(entry.region, message);
  }

  /** Whether this node is on its way out: its sharding closes, or its member leaves. */
  #leaving(): boolean {
    const status = this.#cluster.self.status;
    return this.#closed !== undefined || status === "leaving" ||
      status === "exiting";
  }

  #members(): CoordinatorMembers {
    const live = new Set<string>();
    const hostable: string[] = [];
    const leaving = new Set<string>();
    for (const member of this.#cluster.members()) {
      if (member.status === "down" || member.status === "removed") continue;
      live.add(member.node);
      if (member.status === "up" && member.reachable) {
        hostable.push(member.node);
      }
      if (member.status === "leaving" || member.status === "exiting") {
        leaving.add(member.node);
      }
    }
    return { live, hostable, leaving };
  }

  async #watch(): Promise<void> {
    try {
      for await (const event of this.#cluster.events(this.#events.signal)) {
        if (event.type === "self-downed") {
          // Out of the cluster: the others reallocate our shards, so our entities must stop.
          this.#logger.error(
            `Sharding on node "${this.#node.node}" closes: this member was downed`,
            event.reason,
          );
          void this.#close(false, "downed");
          return;
        }
        if (!("member" in event)) continue;
        // Events are about one incarnation, but messages go to a node by name, and a restarted
        // node (a new incarnation under the same name) may be up before its previous
        // incarnation is removed: what a node name is worth is read from the members now.
        const node = event.member.node;
        const now = nodeNow(this.#cluster.members(), node);
        if (now.reachable) this.#unreachable.delete(node);
        else this.#unreachable.add(node);
        if (event.type === "removed" || event.type === "downed") {
          for (const entry of this.#types.values()) entry.region.nodeGone(node);
          if (!now.live) this.#deliveries.nodeGone(node);
        }
      }
    } catch (error) {
      if (!this.#events.signal.aborted) {
        this.#logger.error("Sharding stopped following membership", error);
      }
    }
  }
}
