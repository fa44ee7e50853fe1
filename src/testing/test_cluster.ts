// A multi-node test harness: N actor systems with remote nodes on one in-memory network, under
// one ManualClock, with the network's faults at hand.
import { ActorSystem, type ActorSystemOptions } from "../actor/mod.ts";
import { platform } from "../platform/mod.ts";
import { ManualClock } from "../timer/mod.ts";
import {
  MemoryNetwork,
  RemoteNode,
  type RemoteNodeOptions,
} from "../remote/mod.ts";

/** Options of {@linkcode TestCluster.start}. */
export interface TestClusterOptions {
  /** The nodes' names (default `["n1", "n2", "n3"]`); each is also its host on the network. */
  readonly nodes?: readonly string[];
  /** The seed of the network's loss decisions (default 1): a run repeats with its seed. */
  readonly seed?: number;
  /** The network's latency in virtual ms (default 0). */
  readonly latencyMs?: number;
  /** The probability that a write is lost (default 0). */
  readonly lossRate?: number;
  /**
   * More options of every node. The harness sets `transport` and `clock`; by default the
   * reconnect backoff has no jitter (so runs repeat), and problems go to {@linkcode TestCluster.logs}.
   */
  readonly nodeOptions?: Partial<RemoteNodeOptions>;
  /** More options of every actor system (the harness sets `node` and `clock`). */
  readonly systemOptions?: ActorSystemOptions;
}

const SECRET = "troupe test cluster secret, not for production";
/** Turns of the event loop after each step of virtual time. */
const QUIET_TURNS = 3;

function turn(): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, 0));
}

interface Member {
  readonly system: ActorSystem;
  readonly node: RemoteNode;
  killed: boolean;
}

/**
 * N nodes on a {@linkcode MemoryNetwork} under one {@linkcode ManualClock}: partition and heal
 * them, freeze and thaw them, kill them, and advance time. Nothing runs on wall-clock time
 * (heartbeats, handshake and request timeouts, reconnect backoff and latency all wait for
 * {@linkcode TestCluster.advance}), and with the same seed a run repeats.
 *
 * @example Three nodes, one partition
 * ```ts
 * import { defineActor } from "@troupe/troupe";
 * import { TestCluster } from "@troupe/troupe/testing";
 * await using cluster = await TestCluster.start({ nodes: ["a", "b", "c"] });
 * const echo = defineActor({ name: "echo", init: () => ({}), handlers: { echo: (_s, t: string) => t } });
 * await cluster.system("b").spawn(echo, undefined, { id: "echo" });
 * await cluster.connectAll();
 * const ref = cluster.node("a").ref<{ echo(text: string): string }>("b", "echo");
 * console.log(await ref.ask("echo", "hi")); // "hi"
 * cluster.partition("a", "b");
 * await cluster.advance(10_000); // the heartbeat finds the partition
 * console.log(cluster.node("a").peers().find((p) => p.node === "b")?.connected); // false
 * ```
 */
export class TestCluster implements AsyncDisposable {
  /** The clock of every node and system. */
  readonly clock: ManualClock;
  /** The network between the nodes. */
  readonly network: MemoryNetwork;
  /** What the nodes reported (connection problems), one line each. */
  readonly logs: string[] = [];
  readonly #members = new Map<string, Member>();
  #closed: Promise<void> | null = null;

  private constructor(clock: ManualClock, network: MemoryNetwork) {
    this.clock = clock;
    this.network = network;
  }

  /**
   * Starts the nodes (not connected yet: see {@linkcode TestCluster.connectAll}).
   *
   * @param options Names, seed, network faults and node options.
   * @returns The cluster.
   * @throws {TypeError} When a name is repeated or invalid.
   */
  static async start(options: TestClusterOptions = {}): Promise<TestCluster> {
    const names = options.nodes ?? ["n1", "n2", "n3"];
    if (new Set(names).size !== names.length || names.length === 0) {
      throw new TypeError(
        `Invalid node names ${JSON.stringify(names)}: expected distinct names`,
      );
    }
    const clock = new ManualClock();
    const network = new MemoryNetwork({
      clock,
      seed: options.seed ?? 1,
      latencyMs: options.latencyMs ?? 0,
      lossRate: options.lossRate ?? 0,
    });
    const cluster = new TestCluster(clock, network);
    try {
      for (const name of names) {
        const system = new ActorSystem({
          logger: { error() {} },
          ...options.systemOptions,
          node: name,
          clock,
        });
        let node: RemoteNode;
        try {
          node = await RemoteNode.start(system, {
            cluster: "test",
            secret: SECRET,
            reconnect: { minMs: 100, maxMs: 5000, jitter: 0 },
            logger: {
              error: (message, error) =>
                cluster.logs.push(
                  `${name}: ${message}: ${
                    error instanceof Error ? error.message : String(error)
                  }`,
                ),
            },
            ...options.nodeOptions,
            transport: network.transport(name),
            clock,
          });
        } catch (error) {
          await system.shutdown();
          throw error;
        }
        cluster.#members.set(name, { system, node, killed: false });
      }
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /** The nodes' names. */
  get names(): string[] {
    return [...this.#members.keys()];
  }

  /**
   * The remote node of `name`.
   *
   * @param name A node's name.
   * @returns Its node.
   * @throws {TypeError} When there is no such node.
   */
  node(name: string): RemoteNode {
    return this.#member(name).node;
  }

  /**
   * The actor system of `name`.
   *
   * @param name A node's name.
   * @returns Its system.
   * @throws {TypeError} When there is no such node.
   */
  system(name: string): ActorSystem {
    return this.#member(name).system;
  }

  /**
   * Connects every node to every other one (each dials the others).
   *
   * @returns Once every handshake is done.
   */
  async connectAll(): Promise<void> {
    for (const [name, member] of this.#members) {
      if (member.killed) continue;
      for (const [other, peer] of this.#members) {
        if (other === name || peer.killed) continue;
        await member.node.connect(peer.node.address);
      }
    }
  }

  /**
   * Cuts the network between two nodes (see {@linkcode MemoryNetwork.partition}).
   *
   * @param from A node.
   * @param to Another node.
   * @param options `oneWay`: cut only `from` → `to`.
   */
  partition(
    from: string,
    to: string,
    options?: { readonly oneWay?: boolean },
  ): void {
    this.#member(from);
    this.#member(to);
    this.network.partition(from, to, options);
  }

  /**
   * Heals the partition between two nodes, or every partition.
   *
   * @param from A node.
   * @param to Another node.
   */
  heal(from?: string, to?: string): void {
    this.network.heal(from, to);
  }

  /**
   * Freezes a node: it stops reading, without closing anything.
   *
   * @param name The node.
   */
  freeze(name: string): void {
    this.#member(name);
    this.network.freeze(name);
  }

  /**
   * Thaws a frozen node.
   *
   * @param name The node.
   */
  thaw(name: string): void {
    this.network.thaw(name);
  }

  /**
   * Kills a node as its process would die: its connections are reset and its listener closes
   * (its peers see the reset), then the node and its system stop without a goodbye.
   *
   * @param name The node.
   * @returns Once it has stopped.
   */
  async kill(name: string): Promise<void> {
    const member = this.#member(name);
    if (member.killed) return;
    member.killed = true;
    this.network.kill(name);
    await member.node.close();
    await member.system.shutdown();
  }

  /**
   * Moves virtual time forward in steps (default 100 ms), firing the timers that fall due in
   * each, in order, and letting the work they cause settle (a few turns of the event loop,
   * which handshakes' cryptography needs) before the next step.
   *
   * @param ms How far, in ms.
   * @param options `stepMs`: the size of a step.
   * @returns Once time has moved.
   * @throws {RangeError} When `ms` or `stepMs` is negative or not finite.
   */
  async advance(
    ms: number,
    options: { readonly stepMs?: number } = {},
  ): Promise<void> {
    const stepMs = options.stepMs ?? 100;
    if (!(ms >= 0) || !Number.isFinite(ms) || !(stepMs > 0)) {
      throw new RangeError(
        `Cannot advance by ${ms} ms in steps of ${stepMs} ms: both must be finite, ms ≥ 0, step > 0`,
      );
    }
    let left = ms;
    do {
      const step = Math.min(stepMs, left);
      await this.clock.advance(step);
      for (let i = 0; i < QUIET_TURNS; i++) await turn();
      left -= step;
    } while (left > 0);
  }

  /**
   * Stops every node and system. Idempotent.
   *
   * @returns Once everything is released.
   */
  close(): Promise<void> {
    return this.#closed ??= this.#close();
  }

  /** Stops everything (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.network.heal();
    for (const name of this.#members.keys()) this.network.thaw(name);
    for (const member of this.#members.values()) {
      if (member.killed) continue;
      await member.node.close();
      await member.system.shutdown();
    }
  }

  #member(name: string): Member {
    const member = this.#members.get(name);
    if (member === undefined) {
      throw new TypeError(`Unknown node "${name}" in this cluster`);
    }
    return member;
  }
}
