// Test support for pub/sub: members with pub/sub on a TestCluster (in-memory network, virtual
// time), recording subscribers, and a check that the registry has converged.
import { type ActorRef, defineActor } from "../../actor/mod.ts";
import type { RemoteExtension } from "../../remote/mod.ts";
import { TestCluster } from "../../testing/mod.ts";
import { seeded, seedsOf } from "../_membership_kit_test.ts";
import { Cluster } from "../cluster.ts";
import { ClusterExtensions } from "../cluster_extensions.ts";
import { PubSub } from "./pubsub.ts";
import { PubSubExtensions } from "./pubsub_extensions.ts";
import type { Publication, Topic, TopicSubscriber } from "./topic.ts";

const SECRET = "pub/sub test secret, not for production";

/** What a recording subscriber saw: [its node/id, publication]. */
export type Seen = [string, Publication<unknown>];

/** A subscriber that appends what it is told to a shared log. */
export const recorder = defineActor({
  name: "recorder",
  init: (args: { log: Seen[]; name: string }) => args,
  handlers: {
    publication: (state, p: Publication<unknown>) => {
      state.log.push([state.name, p]);
    },
  },
});

/** Options of {@linkcode PubSubNodes.start}. */
export interface PubSubNodesOptions {
  readonly seed?: number;
  /** Pub/sub gossip interval (default 200 ms). */
  readonly gossipIntervalMs?: number;
}

/** Members with pub/sub on a TestCluster. */
export class PubSubNodes implements AsyncDisposable {
  readonly tc: TestCluster;
  readonly clusterExtensions: ClusterExtensions;
  readonly pubsubExtensions: PubSubExtensions;
  readonly clusters = new Map<string, Cluster>();
  readonly pubsubs = new Map<string, PubSub>();
  readonly killed = new Set<string>();
  readonly log: Seen[] = [];
  readonly logs: string[] = [];
  /** Publication frames received, by node. */
  frames = new Map<string, number>();
  readonly #seeds: string[];
  readonly #random: () => number;
  readonly #options: PubSubNodesOptions;

  private constructor(
    tc: TestCluster,
    ce: ClusterExtensions,
    pe: PubSubExtensions,
    seeds: string[],
    options: PubSubNodesOptions,
  ) {
    this.tc = tc;
    this.clusterExtensions = ce;
    this.pubsubExtensions = pe;
    this.#seeds = seeds;
    this.#options = options;
    this.#random = seeded(options.seed ?? 1);
  }

  /** Starts the nodes (not joined: see {@linkcode PubSubNodes.join}). */
  static async start(
    names: readonly string[],
    options: PubSubNodesOptions = {},
  ): Promise<PubSubNodes> {
    const ce = new ClusterExtensions();
    const pe = new PubSubExtensions();
    // Counts the publication frames each node receives (however many publications each holds).
    const frames = new Map<string, number>();
    const counting = pe.remote.map((extension): RemoteExtension => ({
      ...extension,
      handle: (message, from) => {
        const frame = message as { t?: unknown; to?: unknown };
        if (frame?.t === "pub" && typeof frame.to === "string") {
          frames.set(frame.to, (frames.get(frame.to) ?? 0) + 1);
        }
        return extension.handle(message, from);
      },
    }));
    const tc = await TestCluster.start({
      nodes: names,
      seed: options.seed ?? 1,
      nodeOptions: { secret: SECRET, extensions: [...ce.remote, ...counting] },
    });
    const seeds = names.map((n) => tc.node(n).address);
    const nodes = new PubSubNodes(tc, ce, pe, seeds, options);
    nodes.frames = frames;
    return nodes;
  }

  /** Joins `names` to the cluster and starts their pub/sub, moving virtual time meanwhile. */
  async join(names: readonly string[]): Promise<void> {
    const joined = Promise.all(names.map(async (name) => {
      const cluster = await Cluster.join(this.tc.node(name), {
        extensions: this.clusterExtensions,
        discovery: seedsOf(() => this.#seeds),
        clock: this.tc.clock,
        random: this.#random,
        logger: { error: (m) => this.logs.push(`${name}: ${m}`) },
        // A crashed member is removed sooner than by default (virtual time costs wall time).
        downing: { stableAfterMs: 2000 },
      });
      this.clusters.set(name, cluster);
      this.pubsubs.set(
        name,
        await PubSub.start(this.tc.node(name), cluster, {
          extensions: this.pubsubExtensions,
          gossipIntervalMs: this.#options.gossipIntervalMs ?? 200,
          random: this.#random,
          logger: { error: (m) => this.logs.push(`${name}: ${m}`) },
        }),
      );
    }));
    await this.tc.settle(joined, { stepMs: 250, what: `${names} to join` });
  }

  pubsub(name: string): PubSub {
    const pubsub = this.pubsubs.get(name);
    if (pubsub === undefined) throw new TypeError(`${name} has no pub/sub`);
    return pubsub;
  }

  /** The running members (joined, not killed). */
  get running(): string[] {
    return [...this.pubsubs.keys()].filter((n) => !this.killed.has(n));
  }

  /** Spawns a recording subscriber on `node` and subscribes it to `topics`. */
  async subscriber(
    node: string,
    id: string,
    topics: readonly Topic<unknown>[],
  ): Promise<ActorRef<TopicSubscriber<unknown>>> {
    const ref = await this.tc.system(node).spawn(recorder, {
      log: this.log,
      name: `${node}/${id}`,
    }, { id });
    for (const topic of topics) this.pubsub(node).subscribe(topic, ref);
    return ref;
  }

  /** Kills a node's process (its pub/sub and membership end with it, unannounced). */
  async kill(name: string): Promise<void> {
    this.killed.add(name);
    await this.pubsubs.get(name)?.close();
    await this.clusters.get(name)?.close();
    await this.tc.kill(name);
  }

  /**
   * Whether every running node routes `topic` exactly to the other running nodes that have
   * subscribers for it.
   */
  converged(topic: Topic<unknown>): boolean {
    const running = this.running;
    const having = running.filter((n) =>
      this.pubsub(n).subscriberCount(topic) > 0
    );
    return running.every((n) => {
      const routes = this.pubsub(n).nodesFor(topic).sort();
      const truth = having.filter((h) => h !== n).sort();
      return JSON.stringify(routes) === JSON.stringify(truth);
    });
  }

  /** Whether every running member sees exactly the running members, all up. */
  membersSettled(): boolean {
    const running = this.running.sort();
    return running.every((n) => {
      const members = this.clusters.get(n)!.members();
      return JSON.stringify(members.map((m) => m.node).sort()) ===
          JSON.stringify(running) &&
        members.every((m) => m.status === "up" && m.reachable);
    });
  }

  async close(): Promise<void> {
    for (const p of this.pubsubs.values()) await p.close();
    for (const c of this.clusters.values()) await c.close();
    await this.tc.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
