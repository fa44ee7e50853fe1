// Test support for sharding: members of a TestCluster (in-memory network, virtual time) that
// join a cluster, share one journal, start sharding (optionally with pub/sub, for the shard
// events) and host a persistent entity type that records every message it acknowledged, and
// counts its live incarnations.
import { TestCluster } from "../../testing/mod.ts";
import {
  definePersistentActor,
  MemoryPersistence,
  usePersistence,
} from "../../persistence/mod.ts";
import type { ActorRef } from "../../actor/mod.ts";
import type { Discovery } from "../discovery.ts";
import { ClusterExtensions } from "../cluster_extensions.ts";
import { Cluster } from "../cluster.ts";
import {
  type EntityType,
  type EntityTypeOptions,
  Sharding,
} from "./sharding.ts";
import { ShardingExtensions } from "./sharding_extensions.ts";
import { PubSub } from "../pubsub/pubsub.ts";
import { PubSubExtensions } from "../pubsub/pubsub_extensions.ts";

/** Live incarnations of each entity id, and the most ever seen at once. */
export const incarnations = { live: new Map<string, number>(), maxSeen: 0 };

/** A persistent log: `add` persists one record and acknowledges with the log's length. */
export const logEntity = definePersistentActor({
  name: "log",
  init: (_id: string) => ({ records: [] as string[] }),
  events: {
    added: (state, e: { record: string }) => {
      state.records.push(e.record);
    },
  },
}).handlers({
  add: async (state, record: string, ctx) => {
    await ctx.persist("added", { record });
    return state.records.length;
  },
  records: (state) => [...state.records],
}, {
  recovered: (_state, ctx) => {
    const id = ctx.self.path;
    const n = (incarnations.live.get(id) ?? 0) + 1;
    incarnations.live.set(id, n);
    incarnations.maxSeen = Math.max(incarnations.maxSeen, n);
  },
  stopped: (_state, ctx) => {
    const id = ctx.self.path;
    incarnations.live.set(id, (incarnations.live.get(id) ?? 1) - 1);
  },
});

/** The protocol of the log entity. */
export type LogProtocol = {
  add(record: string): Promise<number>;
  records(): string[];
};

interface Member {
  readonly cluster: Cluster;
  readonly sharding: Sharding;
  readonly logs: EntityType<LogProtocol>;
  /** The member's pub/sub, given to its sharding (with `pubsub: true`). */
  readonly pubsub: PubSub | undefined;
}

/** Options of the kit itself. */
export interface ShardingKitOptions {
  /** Start pub/sub on each member and give it to sharding (for the shard events). */
  readonly pubsub?: boolean;
}

const SECRET = "sharding test secret, not for production";

/** Members with sharding on one TestCluster. */
export class ShardingKit implements AsyncDisposable {
  readonly tc: TestCluster;
  readonly clusterExtensions = new ClusterExtensions();
  readonly persistence = new MemoryPersistence();
  readonly members = new Map<string, Member>();
  readonly errors: string[] = [];
  readonly #options: EntityTypeOptions;
  readonly #kitOptions: ShardingKitOptions;
  #seeds: string[] = [];

  private constructor(
    tc: TestCluster,
    options: EntityTypeOptions,
    kitOptions: ShardingKitOptions,
  ) {
    this.tc = tc;
    this.#options = options;
    this.#kitOptions = kitOptions;
  }

  /** Starts `names` one after the other (the first is the oldest). */
  static async start(
    names: readonly string[],
    options: EntityTypeOptions = {},
    kitOptions: ShardingKitOptions = {},
  ): Promise<ShardingKit> {
    incarnations.live.clear();
    incarnations.maxSeen = 0;
    const tc = await TestCluster.start({ nodes: [] });
    const kit = new ShardingKit(tc, {
      numberOfShards: 12,
      rebalanceIntervalMs: 500,
      ...options,
    }, kitOptions);
    try {
      for (const name of names) await kit.add(name);
    } catch (error) {
      await kit.close();
      throw error;
    }
    return kit;
  }

  /** Adds a member: starts its node, joins, starts sharding and the log type. */
  async add(name: string): Promise<void> {
    const extensions = new ShardingExtensions();
    const pubsubExtensions = this.#kitOptions.pubsub
      ? new PubSubExtensions()
      : undefined;
    const node = await this.tc.addNode(name, {
      nodeOptions: {
        secret: SECRET,
        extensions: [
          ...this.clusterExtensions.remote,
          ...extensions.remote,
          ...pubsubExtensions?.remote ?? [],
        ],
      },
    });
    usePersistence(node.system, this.persistence);
    this.#seeds.push(node.address);
    const discovery: Discovery = {
      name: "test-seeds",
      discover: () =>
        Promise.resolve(this.#seeds.map((address) => ({ address }))),
      close: () => Promise.resolve(),
    };
    const cluster = await this.tc.settle(
      Cluster.join(node, {
        extensions: this.clusterExtensions,
        discovery,
        clock: this.tc.clock,
        gossipIntervalMs: 200,
        downing: { stableAfterMs: 1500 },
        logger: { error: (m) => this.errors.push(`${name}: ${m}`) },
      }),
      { what: `${name} to join`, stepMs: 100 },
    );
    const logger = { error: (m: string) => this.errors.push(`${name}: ${m}`) };
    const pubsub = pubsubExtensions === undefined
      ? undefined
      : await PubSub.start(node, cluster, {
        extensions: pubsubExtensions,
        gossipIntervalMs: 200,
        logger,
      });
    const sharding = await Sharding.start(cluster, {
      extensions,
      pubsub,
      logger,
    });
    const logs = sharding.entityType(logEntity, this.#options);
    this.members.set(name, { cluster, sharding, logs, pubsub });
  }

  /** The member `name`. */
  member(name: string): Member {
    const member = this.members.get(name);
    if (member === undefined) throw new TypeError(`No member ${name}`);
    return member;
  }

  /** The log entity `id`, as seen from `name`. */
  log(name: string, id: string): ActorRef<LogProtocol> {
    return this.member(name).logs.ref(id);
  }

  /** Kills a member as a crash would (its network goes at once). */
  async kill(name: string): Promise<void> {
    const member = this.member(name);
    this.members.delete(name);
    this.tc.network.kill(name);
    // A crashed node publishes nothing more: its pub/sub goes first.
    await member.pubsub?.close();
    await member.cluster.close();
    await member.sharding.close({ handOff: false });
    await this.tc.kill(name);
  }

  /** Advances virtual time until `test` holds (checked every 100 ms). */
  async until(
    test: () => boolean,
    maxMs = 60_000,
    what = "a condition",
  ): Promise<void> {
    for (let t = 0; t <= maxMs; t += 100) {
      if (test()) return;
      await this.tc.advance(100);
    }
    throw new Error(`Timed out after ${maxMs} virtual ms waiting for ${what}`);
  }

  /** Leaves gracefully: sharding hands its shards off, then the member leaves and stops. */
  async leave(name: string): Promise<void> {
    const member = this.member(name);
    this.members.delete(name);
    await this.settle(member.sharding.close(), 60_000);
    await member.pubsub?.close();
    await this.settle(member.cluster.leave(), 60_000).catch(() => {});
    await member.cluster.close();
    await this.tc.stop(name);
  }

  /** Waits (in virtual time) for a promise. */
  settle<T>(promise: Promise<T>, maxMs = 60_000): Promise<T> {
    return this.tc.settle(promise, { maxMs, stepMs: 50 });
  }

  /**
   * Asks `add` until the entity answers, as a client does after a crash: an ask sent to a node
   * that just died fails (it was not acknowledged) and is sent again.
   */
  async addUntilAnswered(
    from: string,
    id: string,
    record: string,
    maxMs = 60_000,
  ): Promise<number> {
    const start = this.tc.clock.now();
    while (true) {
      try {
        return await this.settle(
          this.log(from, id).ask("add", record, { timeoutMs: 3000 }),
        );
      } catch (error) {
        if (this.tc.clock.now() - start > maxMs) throw error;
        await this.tc.advance(100);
      }
    }
  }

  /** Shards per live member as the members report them. */
  shardCounts(): Map<string, number> {
    return new Map(
      [...this.members].map((
        [name, m],
      ) => [name, m.logs.localStats().shards.length]),
    );
  }

  /** Every member sees every other as up. */
  converged(): boolean {
    const n = this.members.size;
    return [...this.members.values()].every((m) =>
      m.cluster.members().filter((x) => x.status === "up").length === n
    );
  }

  async close(): Promise<void> {
    for (const member of this.members.values()) {
      await member.sharding.close({ handOff: false });
      await member.pubsub?.close();
      await member.cluster.close();
    }
    this.members.clear();
    await this.tc.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
