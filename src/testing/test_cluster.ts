// A multi-node test harness: N actor systems with remote nodes on one in-memory network, under
// one ManualClock, with the network's faults at hand.
import { ActorSystem, type ActorSystemOptions } from "../actor/mod.ts";
import { platform, type TimerHandle } from "../platform/mod.ts";
import { ManualClock } from "../timer/mod.ts";
import {
  handshakeCryptoInFlight,
  MemoryNetwork,
  RemoteNode,
  type RemoteNodeOptions,
} from "../remote/mod.ts";
import { TestClusterTimeoutError } from "./errors.ts";

/** Options of one node of a {@linkcode TestCluster} (see {@linkcode TestCluster.addNode}). */
export interface TestNodeOptions {
  /**
   * More options of the node, over the cluster's `nodeOptions`. The harness sets `transport`
   * and `clock`.
   */
  readonly nodeOptions?: Partial<RemoteNodeOptions>;
  /** More options of its actor system, over the cluster's (the harness sets `node` and `clock`). */
  readonly systemOptions?: ActorSystemOptions;
}

/** Options of a wait in virtual time ({@linkcode TestCluster.settle}, {@linkcode TestCluster.until}). */
export interface VirtualWaitOptions {
  /** The most virtual time to let pass, in ms (default 60 000). */
  readonly maxMs?: number;
  /** How far virtual time moves between two checks, in ms (default 10). */
  readonly stepMs?: number;
  /** What is waited for, for the error message. */
  readonly what?: string;
}

/** Options of {@linkcode TestCluster.start}. */
export interface TestClusterOptions {
  /**
   * The nodes' names (default `["n1", "n2", "n3"]`; may be empty, to add nodes later with
   * {@linkcode TestCluster.addNode}); each is also its host on the network.
   */
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
  /**
   * Whether work that is not on the virtual clock is in flight: requests to a real server (a
   * Redis the nodes share, say). While it returns true, the harness lets real time pass before it
   * moves virtual time on (for at most 2 s of wall time per step), so that such a request is
   * answered within the step that made it, however fast the steps are. Default: nothing is.
   */
  readonly busy?: () => boolean;
}

const SECRET = "troupe test cluster secret, not for production";
/** The fewest rounds of the quiet phase after a step of virtual time (see quiet()). */
const MIN_QUIET_ROUNDS = 3;
/** Rounds in a row without activity on the clock that end the quiet phase. */
const QUIET_ROUNDS = 2;
/** The most rounds of one quiet phase: a node that keeps busy does not stall the step. */
const MAX_QUIET_ROUNDS = 200;
const EMPTY = new Uint8Array(0);

/** The most wall time one step waits for {@linkcode TestClusterOptions.busy} to clear, in ms. */
const BUSY_LIMIT_MS = 2000;

/** One turn of the event loop that lets real timers run (a 0 ms timer). */
function turn(): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, 0));
}

/**
 * One round of the quiet phase: work that is not on the virtual clock gets to finish. That is
 * the handshakes' HMACs, which the runtime computes on its thread pool and completes in a
 * later turn of the event loop: a digest queued behind them on the same pool resolves after
 * them, and the immediate after it lets the microtasks their completion causes run. Far
 * cheaper than a 0 ms timer (clamped to 1-4 ms of wall time), and it waits as long as the pool
 * needs instead of a fixed time.
 */
async function poolRound(): Promise<void> {
  await crypto.subtle.digest("SHA-256", EMPTY);
  await new Promise<void>((resolve) => platform.setImmediate(resolve));
}

/**
 * The cluster's clock: a ManualClock that counts what happens on it (timers set, cleared and
 * fired), so that the harness can tell a quiet step from a busy one.
 */
class ActivityClock extends ManualClock {
  /** Timers set, cleared and fired so far. */
  activity = 0;
  /** The deadline of every timer waiting. */
  readonly #deadlines = new Map<TimerHandle, number>();

  override setTimer(callback: () => void, delayMs: number): TimerHandle {
    this.activity++;
    const handle: TimerHandle = super.setTimer(() => {
      this.activity++;
      this.#deadlines.delete(handle);
      callback();
    }, delayMs);
    const delay = Number.isFinite(delayMs) ? Math.max(0, delayMs) : 0;
    this.#deadlines.set(handle, this.now() + delay);
    return handle;
  }

  override clearTimer(handle: TimerHandle): void {
    this.activity++;
    this.#deadlines.delete(handle);
    super.clearTimer(handle);
  }

  /** Whether a timer falls due within `ms` from now. */
  dueWithin(ms: number): boolean {
    const limit = this.now() + ms;
    for (const at of this.#deadlines.values()) if (at <= limit) return true;
    return false;
  }
}

interface Member {
  readonly system: ActorSystem;
  readonly node: RemoteNode;
  /** Killed or stopped: its name may be started again. */
  killed: boolean;
}

const DEFAULT_WAIT_MS = 60_000;
const DEFAULT_WAIT_STEP_MS = 10;
/** Microtask turns a wait lets pass before it takes a turn of the event loop. */
const MICROTASK_CHECKS = 20;

/**
 * N nodes on a {@linkcode MemoryNetwork} under one {@linkcode ManualClock}: add, stop, kill and
 * restart them, partition and heal them, freeze and thaw them, and move time. Nothing runs on
 * wall-clock time (heartbeats, handshake and request timeouts, reconnect backoff and latency all
 * wait for {@linkcode TestCluster.advance}, or for {@linkcode TestCluster.settle} and
 * {@linkcode TestCluster.until}, which move time only while what they wait for needs it), and
 * with the same seed a run repeats. Connecting, stopping and closing let virtual time pass when
 * they need it, so they cannot hang on a clock that nobody advances.
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
  readonly #clock: ActivityClock;
  /** The clock's activity when the last quiet phase ended. */
  #quietAt = -1;
  /** The network between the nodes. */
  readonly network: MemoryNetwork;
  /** What the nodes reported (connection problems), one line each. */
  readonly logs: string[] = [];
  readonly #members = new Map<string, Member>();
  readonly #options: TestClusterOptions;
  #closed: Promise<void> | null = null;

  private constructor(
    clock: ActivityClock,
    network: MemoryNetwork,
    options: TestClusterOptions,
  ) {
    this.clock = clock;
    this.#clock = clock;
    this.network = network;
    this.#options = options;
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
    if (
      !Array.isArray(names) || new Set(names).size !== names.length ||
      names.some((name) => typeof name !== "string" || name.length === 0)
    ) {
      throw new TypeError(
        `Invalid node names ${JSON.stringify(names)}: expected distinct names`,
      );
    }
    const clock = new ActivityClock();
    const network = new MemoryNetwork({
      clock,
      seed: options.seed ?? 1,
      latencyMs: options.latencyMs ?? 0,
      lossRate: options.lossRate ?? 0,
    });
    const cluster = new TestCluster(clock, network, options);
    try {
      for (const name of names) await cluster.addNode(name);
    } catch (error) {
      await cluster.close();
      throw error;
    }
    return cluster;
  }

  /**
   * Starts one more node on the network, or starts again a node that was killed or stopped
   * (a restart: a new system and node under the same name, at a new address, as a process
   * that restarts with a fresh port). Not connected yet: see {@linkcode TestCluster.connect}.
   *
   * @example Usage
   * ```ts
   * import { TestCluster } from "@troupe/troupe/testing";
   * await using cluster = await TestCluster.start({ nodes: ["a"] });
   * await cluster.addNode("b", { nodeOptions: { heartbeatIntervalMs: 500 } });
   * console.log(await cluster.connect("a", "b")); // "b"
   * ```
   *
   * @param name The node's name (also its host on the network).
   * @param options Options of this node, over the cluster's.
   * @returns The node.
   * @throws {TypeError} When the name is invalid or a running node has it, or the cluster is
   * closed.
   */
  async addNode(
    name: string,
    options: TestNodeOptions = {},
  ): Promise<RemoteNode> {
    if (typeof name !== "string" || name.length === 0) {
      throw new TypeError(`Invalid node name ${JSON.stringify(name)}`);
    }
    if (this.#closed !== null) {
      throw new TypeError(`Cannot add node "${name}": the cluster is closed`);
    }
    const existing = this.#members.get(name);
    if (existing !== undefined && !existing.killed) {
      throw new TypeError(`Cannot add node "${name}": it is running`);
    }
    const clock = this.clock;
    const system = new ActorSystem({
      logger: { error() {} },
      ...this.#options.systemOptions,
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
            this.logs.push(
              `${name}: ${message}: ${
                error instanceof Error ? error.message : String(error)
              }`,
            ),
        },
        ...this.#options.nodeOptions,
        ...options.nodeOptions,
        transport: this.network.transport(name),
        clock,
      });
    } catch (error) {
      await system.shutdown();
      throw error;
    }
    this.#members.set(name, { system, node, killed: false });
    return node;
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
   * Connects node `from` to node `to` (`from` dials), letting virtual time pass while the
   * handshake needs it (latency, say).
   *
   * @example Usage
   * ```ts
   * import { TestCluster } from "@troupe/troupe/testing";
   * await using cluster = await TestCluster.start({ nodes: ["a", "b"], latencyMs: 5 });
   * console.log(await cluster.connect("a", "b")); // "b"
   * ```
   *
   * @param from The dialing node.
   * @param to The node dialed.
   * @returns The name of the node reached.
   * @throws {TypeError} When there is no such node.
   * @throws {TestClusterTimeoutError} When the handshake does not end within a minute of
   * virtual time (a partition, say).
   */
  connect(from: string, to: string): Promise<string> {
    const dialer = this.#member(from).node;
    const address = this.#member(to).node.address;
    return this.settle(dialer.connect(address), {
      what: `node "${from}" to connect to "${to}"`,
    });
  }

  /**
   * Connects every running node to every other one (each dials the others).
   *
   * @returns Once every handshake is done.
   * @throws {TestClusterTimeoutError} When a handshake does not end within a minute of virtual
   * time.
   */
  async connectAll(): Promise<void> {
    for (const [name, member] of this.#members) {
      if (member.killed) continue;
      for (const [other, peer] of this.#members) {
        if (other === name || peer.killed) continue;
        await this.connect(name, other);
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
   * (its peers see the reset), then the node and its system stop without a goodbye. Virtual
   * time moves only if stopping needs it (an actor stuck past its stop timeout, say). The name
   * can be started again with {@linkcode TestCluster.addNode}.
   *
   * @param name The node.
   * @returns Once it has stopped.
   * @throws {TypeError} When there is no such node.
   */
  async kill(name: string): Promise<void> {
    const member = this.#member(name);
    if (member.killed) return;
    member.killed = true;
    this.network.kill(name);
    await this.#release(member);
  }

  /**
   * Stops a node the orderly way: it says goodbye to its peers, then it and its system stop.
   * Virtual time moves only if stopping needs it. The name can be started again with
   * {@linkcode TestCluster.addNode}.
   *
   * @example Usage
   * ```ts
   * import { TestCluster } from "@troupe/troupe/testing";
   * await using cluster = await TestCluster.start({ nodes: ["a", "b"] });
   * await cluster.connectAll();
   * await cluster.stop("b");
   * console.log(cluster.node("a").peers()[0].connected); // false
   * ```
   *
   * @param name The node.
   * @returns Once it has stopped.
   * @throws {TypeError} When there is no such node.
   */
  async stop(name: string): Promise<void> {
    const member = this.#member(name);
    if (member.killed) return;
    member.killed = true;
    await this.#release(member);
  }

  /**
   * Waits for `promise`, moving virtual time forward in small steps (default 10 ms) for as long
   * as it is pending: for a result that needs time to pass (a reconnect's backoff, latency, a
   * timeout). A promise that settles without time passing settles with no time passing.
   *
   * @example Usage
   * ```ts
   * import { TestCluster } from "@troupe/troupe/testing";
   * await using cluster = await TestCluster.start({ nodes: [] });
   * const late = new Promise((resolve) => cluster.clock.setTimer(() => resolve("late"), 5000));
   * console.log(await cluster.settle(late)); // "late"
   * console.log(cluster.clock.now() >= 5000); // true
   * ```
   *
   * @param promise What to wait for.
   * @param options The most virtual time to let pass (default 60 s), the step, and what is waited
   * for (for the error).
   * @returns What `promise` resolves to.
   * @throws {TestClusterTimeoutError} When it is still pending after `maxMs` of virtual time.
   * @throws {RangeError} When `maxMs` or `stepMs` is out of range.
   * @throws {unknown} What `promise` rejects with.
   */
  async settle<T>(
    promise: Promise<T>,
    options: VirtualWaitOptions = {},
  ): Promise<T> {
    let settled = false;
    promise.then(() => settled = true, () => settled = true);
    await this.#wait(() => settled, options, "a promise to settle");
    return await promise;
  }

  /**
   * Waits until `condition` holds, moving virtual time forward in small steps (default 10 ms)
   * while it does not.
   *
   * @example Usage
   * ```ts
   * import { TestCluster } from "@troupe/troupe/testing";
   * await using cluster = await TestCluster.start({ nodes: [] });
   * await cluster.until(() => cluster.clock.now() >= 300, { what: "300 ms to pass" });
   * console.log(cluster.clock.now()); // 300
   * ```
   *
   * @param condition Checked after each step.
   * @param options The most virtual time to let pass (default 60 s), the step, and what is waited
   * for (for the error).
   * @returns Once it holds.
   * @throws {TestClusterTimeoutError} When it still does not hold after `maxMs` of virtual time.
   * @throws {RangeError} When `maxMs` or `stepMs` is out of range.
   */
  until(
    condition: () => boolean,
    options: VirtualWaitOptions = {},
  ): Promise<void> {
    return this.#wait(condition, options, "a condition to hold");
  }

  /**
   * Moves virtual time forward in steps (default 100 ms), firing the timers that fall due in
   * each, in order, and letting the work they cause settle before the next step: turns of the
   * event loop until the clock stays quiet (the handshakes' cryptography completes off the
   * event loop). A step in which nothing is due and nothing happened costs no turn.
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
      const before = this.#clock.activity;
      const due = this.#clock.dueWithin(step);
      await this.clock.advance(step);
      // A step in which nothing happened (the clock quiet since the last quiet phase, no timer
      // due, nothing set or cleared while the microtasks ran) changed nothing but the reading:
      // it needs no quiet phase.
      if (
        due || before !== this.#quietAt || this.#clock.activity !== before ||
        this.#busy()
      ) {
        await this.#quiet();
      }
      left -= step;
    } while (left > 0);
  }

  /**
   * Lets the work a step caused settle: rounds of {@linkcode poolRound} until the clock has
   * been quiet (no timer set, cleared or fired) for a few rounds in a row.
   */
  async #quiet(): Promise<void> {
    let calm = 0;
    const deadline = platform.now() + BUSY_LIMIT_MS;
    for (let round = 1; round <= MAX_QUIET_ROUNDS; round++) {
      const before = this.#clock.activity;
      const waited = await this.#whileBusy(deadline);
      await poolRound();
      calm = this.#clock.activity === before && !waited ? calm + 1 : 0;
      if (round >= MIN_QUIET_ROUNDS && calm >= QUIET_ROUNDS) break;
    }
    this.#quietAt = this.#clock.activity;
  }

  /**
   * Whether work outside the clock is in flight: handshake cryptography on the runtime's thread
   * pool, or what {@linkcode TestClusterOptions.busy} reports.
   */
  #busy(): boolean {
    return handshakeCryptoInFlight() > 0 || this.#options.busy?.() === true;
  }

  /**
   * Lets real time pass (0 ms timers) while {@linkcode TestClusterOptions.busy} holds, until
   * `deadline` (wall time); returns whether it had to wait.
   */
  async #whileBusy(deadline: number): Promise<boolean> {
    let waited = false;
    while (this.#busy() && platform.now() < deadline) {
      waited = true;
      await turn();
    }
    return waited;
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
    const stopping: Promise<void>[] = [];
    for (const member of this.#members.values()) {
      if (member.killed) continue;
      member.killed = true;
      stopping.push(this.#release(member));
    }
    const results = await Promise.allSettled(stopping);
    const failed = results.find((r) => r.status === "rejected");
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason;
  }

  /** Closes a node and shuts its system down, letting virtual time pass if that needs it. */
  async #release(member: Member): Promise<void> {
    const what = `node "${member.system.node}" to stop`;
    try {
      await this.settle(member.node.close(), { what });
    } finally {
      await this.settle(member.system.shutdown(), { what });
    }
  }

  async #wait(
    done: () => boolean,
    options: VirtualWaitOptions,
    otherwise: string,
  ): Promise<void> {
    const maxMs = options.maxMs ?? DEFAULT_WAIT_MS;
    const stepMs = options.stepMs ?? DEFAULT_WAIT_STEP_MS;
    if (!(maxMs >= 0) || !Number.isFinite(maxMs) || !(stepMs > 0)) {
      throw new RangeError(
        `Cannot wait ${maxMs} ms in steps of ${stepMs} ms: both must be finite, maxMs ≥ 0, step > 0`,
      );
    }
    for (let i = 0; i < MICROTASK_CHECKS; i++) {
      if (done()) return;
      await null;
    }
    let waited = 0;
    while (true) {
      await turn();
      await this.#whileBusy(platform.now() + BUSY_LIMIT_MS);
      if (done()) return;
      if (waited >= maxMs) {
        throw new TestClusterTimeoutError(
          `Timed out waiting for ${
            options.what ?? otherwise
          }: ${maxMs} ms of virtual time passed`,
        );
      }
      const step = Math.min(stepMs, maxMs - waited);
      await this.clock.advance(step);
      waited += step;
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
