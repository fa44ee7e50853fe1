// Test support for membership: N members on a TestCluster (in-memory network, virtual time), a
// node that restarts under the same name, and seeded randomness.
import { ActorSystem } from "../actor/mod.ts";
import { RemoteNode } from "../remote/mod.ts";
import { TestCluster } from "../testing/mod.ts";
import type { DiscoveredNode, Discovery } from "./discovery.ts";
import type { DowningOptions } from "./downing.ts";
import { ClusterExtensions } from "./cluster_extensions.ts";
import {
  Cluster,
  type ClusterInternalOptions,
  type ClusterOptions,
  joinCluster,
} from "./cluster.ts";
import type { MemberEvent } from "./member_event.ts";

const SECRET = "membership test secret, not for production";

/** A seeded PRNG (mulberry32). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Discovery of fixed addresses, read when asked (so a test can change them). */
export function seedsOf(addresses: () => readonly string[]): Discovery {
  return {
    name: "test-seeds",
    discover: (): Promise<DiscoveredNode[]> =>
      Promise.resolve(addresses().map((address) => ({ address }))),
    close: () => Promise.resolve(),
  };
}

/** Options of {@linkcode Members.start}. */
export interface MembersOptions {
  readonly nodes: readonly string[];
  readonly seed?: number;
  readonly downing?: DowningOptions;
  readonly internal?: ClusterInternalOptions;
  readonly cluster?: Partial<ClusterOptions>;
  /** The discovery of every member, given the nodes' addresses (default: fixed seeds). */
  readonly discovery?: (addresses: readonly string[]) => Discovery;
  /** Whether requests to a real server are in flight (see TestClusterOptions.busy). */
  readonly busy?: () => boolean;
  /** The network's latency in virtual ms (default 0). */
  readonly latencyMs?: number;
}

/** Members on a TestCluster, with their events recorded. */

/** The wall-clock time of virtual time 0 in these tests (2027-01-15). */
const VIRTUAL_EPOCH_MS = 1_800_000_000_000;
export class Members implements AsyncDisposable {
  readonly tc: TestCluster;
  readonly extensions: ClusterExtensions;
  readonly clusters = new Map<string, Cluster>();
  readonly events = new Map<string, MemberEvent[]>();
  readonly logs: string[] = [];
  readonly #options: MembersOptions;
  readonly #random: () => number;
  readonly #restarted: { system: ActorSystem; node: RemoteNode }[] = [];
  #seeds: string[] = [];

  private constructor(
    tc: TestCluster,
    extensions: ClusterExtensions,
    options: MembersOptions,
  ) {
    this.tc = tc;
    this.extensions = extensions;
    this.#options = options;
    this.#random = seeded(options.seed ?? 1);
  }

  static async start(options: MembersOptions): Promise<Members> {
    const extensions = new ClusterExtensions();
    const tc = await TestCluster.start({
      nodes: options.nodes,
      seed: options.seed ?? 1,
      nodeOptions: { secret: SECRET, extensions: extensions.remote },
      busy: options.busy,
      latencyMs: options.latencyMs,
    });
    const members = new Members(tc, extensions, options);
    members.#seeds = options.nodes.map((n) => tc.node(n).address);
    return members;
  }

  /** The RemoteNode of `name` (the restarted one, if it restarted). */
  node(name: string): RemoteNode {
    const restarted = this.#restarted.filter((r) => r.node.node === name).at(
      -1,
    );
    return restarted?.node ?? this.tc.node(name);
  }

  cluster(name: string): Cluster {
    const cluster = this.clusters.get(name);
    if (cluster === undefined) throw new TypeError(`${name} has not joined`);
    return cluster;
  }

  /** Starts joining `names` at once; resolves when all joins settle (advance time meanwhile). */
  join(names: readonly string[]): Promise<Cluster[]> {
    return Promise.all(names.map(async (name) => {
      const cluster = await joinCluster(this.node(name), {
        extensions: this.extensions,
        discovery: this.#options.discovery?.(this.#seeds) ??
          seedsOf(() => this.#seeds),
        clock: this.tc.clock,
        // Wall time on the virtual clock, the same for every member (as NTP keeps real ones).
        wallClock: () => VIRTUAL_EPOCH_MS + this.tc.clock.now(),
        random: this.#random,
        downing: this.#options.downing,
        logger: { error: (m) => this.logs.push(`${name}: ${m}`) },
        ...this.#options.cluster,
      }, this.#options.internal ?? {});
      this.clusters.set(name, cluster);
      const events: MemberEvent[] = [];
      this.events.set(name, events);
      void (async () => {
        for await (const event of cluster.events()) events.push(event);
      })();
      return cluster;
    }));
  }

  /** Joins `names`, advancing virtual time until every join settled. */
  async joinAll(names: readonly string[], maxMs = 30_000): Promise<void> {
    let settled = false;
    const joined = this.join(names).finally(() => settled = true);
    for (let t = 0; t < maxMs && !settled; t += 100) await this.tc.advance(100);
    await joined;
  }

  /** Advances virtual time until `test` holds (checked every 100 ms), or throws after `maxMs`. */
  async until(
    test: () => boolean,
    maxMs = 60_000,
    what = "condition",
  ): Promise<number> {
    for (let t = 0; t <= maxMs; t += 100) {
      if (test()) return t;
      await this.tc.advance(100);
    }
    throw new Error(`Timed out after ${maxMs} virtual ms waiting for ${what}`);
  }

  /** Kills a node's process and closes its membership (as a dead process would). */
  async kill(name: string): Promise<void> {
    await this.clusters.get(name)?.close();
    this.clusters.delete(name);
    const restarted = this.#restarted.filter((r) => r.node.node === name).at(
      -1,
    );
    if (restarted !== undefined) {
      this.tc.network.kill(name);
      await restarted.node.close();
      await restarted.system.shutdown();
    } else {
      await this.tc.kill(name);
    }
  }

  /**
   * Starts a new process for a killed node's name: a new incarnation at a new address, or at
   * the old one with `sameAddress` (as a process restarted on a fixed port).
   */
  async restart(name: string, sameAddress = false): Promise<void> {
    const old = this.#seeds.find((a) => a.startsWith(`${name}:`));
    const port = sameAddress && old !== undefined
      ? Number(old.slice(old.lastIndexOf(":") + 1))
      : undefined;
    const system = new ActorSystem({
      node: name,
      clock: this.tc.clock,
      logger: { error() {} },
    });
    const node = await RemoteNode.start(system, {
      cluster: "test",
      secret: SECRET,
      extensions: this.extensions.remote,
      reconnect: { minMs: 100, maxMs: 5000, jitter: 0 },
      logger: { error() {} },
      transport: this.tc.network.transport(name),
      clock: this.tc.clock,
      ...(port === undefined ? {} : { port }),
    });
    this.#restarted.push({ system, node });
    this.#seeds = this.#seeds.map((a) =>
      a.startsWith(`${name}:`) ? node.address : a
    );
  }

  /** The view of `name`: node → status (removed omitted). */
  view(name: string): Record<string, string> {
    return Object.fromEntries(
      this.cluster(name).members().map((m) => [m.node, m.status]),
    );
  }

  async close(): Promise<void> {
    for (const cluster of this.clusters.values()) await cluster.close();
    for (const r of this.#restarted) {
      await r.node.close();
      await r.system.shutdown();
    }
    await this.tc.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export { Cluster };
