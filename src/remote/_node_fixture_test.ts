// One multi-node scenario, two networks: `testOnBoth()` registers a test twice, as `name [tcp]`
// on real TCP between nodes in this process (the real clock; each direction between two nodes
// goes through a TcpRelay, so connections can be cut), and as `name [memory]` on a TestCluster
// (MemoryNetwork under a ManualClock: virtual time). The scenario sees only NodeFixture, so it
// says "let time pass until" rather than sleeping or advancing a clock itself.
import { platform } from "../platform/mod.ts";
import { test } from "../platform/test_harness.ts";
import { ActorSystem, type ActorSystemOptions } from "../../mod.ts";
import { TestCluster } from "../testing/mod.ts";
import { TcpRelay, waitFor } from "../../tests/remote/support.ts";
import { RemoteNode } from "./node.ts";
import type { RemoteNodeOptions } from "./options.ts";

/** The secret of every fixture node (unless a test gives one its own). */
export const FIXTURE_SECRET = "troupe test cluster secret, not for production";

/** Options of one node of a fixture. */
export interface FixtureNodeOptions {
  /** More options of the node (the fixture sets `cluster`, `secret`, `logger` by default). */
  readonly nodeOptions?: Partial<RemoteNodeOptions>;
  /** More options of its actor system (the fixture sets `node` and a quiet logger). */
  readonly systemOptions?: ActorSystemOptions;
}

/** Nodes on a network, the same way on real TCP and on the in-memory network. */
export interface NodeFixture {
  /** Which network: "tcp" (real sockets, real time) or "memory" (virtual time). */
  readonly kind: "tcp" | "memory";
  /** What the nodes logged (connection problems, refusals), one line each: `name: message: error`. */
  readonly logs: readonly string[];
  /** Starts a node (not connected). A killed or stopped name may be started again. */
  start(name: string, options?: FixtureNodeOptions): Promise<RemoteNode>;
  /** The node of `name`. */
  node(name: string): RemoteNode;
  /** The actor system of `name`. */
  system(name: string): ActorSystem;
  /** The address `from` dials to reach `to` (on TCP, the relay's; after a connect). */
  address(from: string, to: string): string;
  /** `from` dials `to`; resolves with the name of the node reached. */
  connect(from: string, to: string): Promise<string>;
  /** Drops every connection between the two nodes (both see it); they may connect again. */
  cut(from: string, to: string): void;
  /** How many connections `from` has dialed to `to` so far. */
  connectionsOpened(from: string, to: string): number;
  /** The node loses its connections without a goodbye, then stops. */
  kill(name: string): Promise<void>;
  /** The node says goodbye and stops. */
  stop(name: string): Promise<void>;
  /** Lets `ms` of time pass (real or virtual). */
  advance(ms: number): Promise<void>;
  /** Waits for `promise`, letting time pass while it needs it; fails after a bound. */
  settle<T>(promise: Promise<T>): Promise<T>;
  /** Waits until `condition` holds, letting time pass; fails after a bound. */
  until(condition: () => boolean, what: string): Promise<void>;
  /** Stops every node. */
  close(): Promise<void>;
}

const quiet = { error() {} };

function logLine(name: string, message: string, error: unknown): string {
  return `${name}: ${message}: ${
    error instanceof Error ? error.message : String(error)
  }`;
}

function key(from: string, to: string): string {
  return `${from}\u0000${to}`;
}

/** Real nodes on loopback; every direction between two nodes through its own TcpRelay. */
class TcpFixture implements NodeFixture {
  readonly kind = "tcp" as const;
  readonly logs: string[] = [];
  readonly #nodes = new Map<
    string,
    { system: ActorSystem; node: RemoteNode; stopped: boolean }
  >();
  readonly #relays = new Map<string, TcpRelay>();

  async start(
    name: string,
    options: FixtureNodeOptions = {},
  ): Promise<RemoteNode> {
    if (this.#nodes.get(name)?.stopped === false) {
      throw new TypeError(`Node "${name}" is running`);
    }
    const system = new ActorSystem({
      logger: quiet,
      ...options.systemOptions,
      node: name,
    });
    let node: RemoteNode;
    try {
      node = await RemoteNode.start(system, {
        cluster: "test",
        secret: FIXTURE_SECRET,
        hostname: "127.0.0.1",
        port: 0,
        // As on a TestCluster: no jitter, so runs repeat.
        reconnect: { minMs: 100, maxMs: 5000, jitter: 0 },
        logger: {
          error: (message, error) =>
            this.logs.push(logLine(name, message, error)),
        },
        ...options.nodeOptions,
      });
    } catch (error) {
      await system.shutdown();
      throw error;
    }
    this.#nodes.set(name, { system, node, stopped: false });
    // A restarted node listens at a new port: relays to it go there from now on.
    for (const [k, relay] of this.#relays) {
      if (k.endsWith(`\u0000${name}`)) relay.retarget(node.address);
    }
    return node;
  }

  node(name: string): RemoteNode {
    return this.#member(name).node;
  }

  system(name: string): ActorSystem {
    return this.#member(name).system;
  }

  address(from: string, to: string): string {
    const relay = this.#relays.get(key(from, to));
    if (relay === undefined) {
      throw new TypeError(`Node "${from}" has not connected to "${to}"`);
    }
    return relay.address;
  }

  async connect(from: string, to: string): Promise<string> {
    let relay = this.#relays.get(key(from, to));
    if (relay === undefined) {
      relay = await TcpRelay.start(this.node(to).address);
      this.#relays.set(key(from, to), relay);
    }
    return await this.node(from).connect(relay.address);
  }

  cut(from: string, to: string): void {
    this.#relays.get(key(from, to))?.cut();
    this.#relays.get(key(to, from))?.cut();
  }

  connectionsOpened(from: string, to: string): number {
    return this.#relays.get(key(from, to))?.accepted ?? 0;
  }

  async kill(name: string): Promise<void> {
    const member = this.#member(name);
    if (member.stopped) return;
    member.stopped = true;
    // Its connections drop before it can say anything: what its peers see of a dead process.
    for (const [k, relay] of this.#relays) {
      const [from, to] = k.split("\u0000");
      if (from === name || to === name) relay.cut();
    }
    await member.node.close();
    await member.system.shutdown();
  }

  async stop(name: string): Promise<void> {
    const member = this.#member(name);
    if (member.stopped) return;
    member.stopped = true;
    await member.node.close();
    await member.system.shutdown();
  }

  advance(ms: number): Promise<void> {
    return new Promise((resolve) => platform.setTimer(resolve, ms));
  }

  async settle<T>(promise: Promise<T>): Promise<T> {
    let timer: ReturnType<typeof platform.setTimer> | undefined;
    try {
      return await Promise.race([
        promise,
        new Promise<never>((_, reject) => {
          timer = platform.setTimer(
            () => reject(new Error("timed out after 30 s waiting to settle")),
            30_000,
          );
        }),
      ]);
    } finally {
      if (timer !== undefined) platform.clearTimer(timer);
    }
  }

  until(condition: () => boolean, what: string): Promise<void> {
    return waitFor(condition, what);
  }

  async close(): Promise<void> {
    for (const name of this.#nodes.keys()) await this.stop(name);
    for (const relay of this.#relays.values()) {
      await relay[Symbol.asyncDispose]();
    }
  }

  #member(
    name: string,
  ): { system: ActorSystem; node: RemoteNode; stopped: boolean } {
    const member = this.#nodes.get(name);
    if (member === undefined) throw new TypeError(`Unknown node "${name}"`);
    return member;
  }
}

/** Nodes of a TestCluster: the in-memory network under its ManualClock. */
class MemoryFixture implements NodeFixture {
  readonly kind = "memory" as const;
  readonly #cluster: TestCluster;

  constructor(cluster: TestCluster) {
    this.#cluster = cluster;
  }

  get logs(): readonly string[] {
    return this.#cluster.logs;
  }

  start(name: string, options: FixtureNodeOptions = {}): Promise<RemoteNode> {
    return this.#cluster.addNode(name, {
      ...options,
      nodeOptions: { secret: FIXTURE_SECRET, ...options.nodeOptions },
    });
  }

  node(name: string): RemoteNode {
    return this.#cluster.node(name);
  }

  system(name: string): ActorSystem {
    return this.#cluster.system(name);
  }

  address(_from: string, to: string): string {
    return this.#cluster.node(to).address;
  }

  connect(from: string, to: string): Promise<string> {
    return this.#cluster.connect(from, to);
  }

  cut(from: string, to: string): void {
    this.#cluster.network.reset(from, to);
  }

  connectionsOpened(from: string, to: string): number {
    return this.#cluster.network.connectionsOpened(from, to);
  }

  kill(name: string): Promise<void> {
    return this.#cluster.kill(name);
  }

  stop(name: string): Promise<void> {
    return this.#cluster.stop(name);
  }

  advance(ms: number): Promise<void> {
    return this.#cluster.advance(ms);
  }

  settle<T>(promise: Promise<T>): Promise<T> {
    return this.#cluster.settle(promise);
  }

  until(condition: () => boolean, what: string): Promise<void> {
    return this.#cluster.until(condition, { what });
  }

  close(): Promise<void> {
    return this.#cluster.close();
  }
}

/**
 * Registers `fn` twice: `name [tcp]` on real TCP nodes, `name [memory]` on a TestCluster under
 * virtual time. The fixture is closed after `fn`, whatever it did.
 *
 * @param name The test's name, without the network.
 * @param fn The scenario.
 */
export function testOnBoth(
  name: string,
  fn: (fixture: NodeFixture) => Promise<void>,
): void {
  test(`${name} [tcp]`, () => run(new TcpFixture(), fn));
  test(`${name} [memory]`, async () => {
    const cluster = await TestCluster.start({ nodes: [] });
    await run(new MemoryFixture(cluster), fn);
  });
}

async function run(
  fixture: NodeFixture,
  fn: (fixture: NodeFixture) => Promise<void>,
): Promise<void> {
  try {
    await fn(fixture);
  } finally {
    await fixture.close();
  }
}
