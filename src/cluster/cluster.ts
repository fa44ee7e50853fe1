// The public face of membership: join a cluster through discovery, read its members and leader,
// leave or down members, and follow the membership events.
import type { ActorRef } from "../actor/mod.ts";
import type { RemoteNode } from "../remote/mod.ts";
import { type Clock, systemClock } from "../timer/mod.ts";
import type { Discovery } from "./discovery.ts";
import type { DowningOptions } from "./downing.ts";
import type {
  ClusterMember,
  MemberEvent,
  MemberEventProtocol,
} from "./member_event.ts";
import { ClusterExtensions } from "./cluster_extensions.ts";
import { ClusterDriver } from "./_cluster_driver.ts";
import type { LocalReachabilityFactory } from "./_local_reachability.ts";
import { MEMBERSHIP_EXTENSION } from "./_gossip_messages.ts";
import { heartbeatReachability } from "./_default_reachability.ts";
import {
  type FailureDetectorSettings,
  failureDetectorSettings,
} from "./failure_detector.ts";

/** Options of {@linkcode Cluster.join}. */
export interface ClusterOptions {
  /**
   * The extensions this node was started with (`extensions: clusterExtensions.remote` in
   * `RemoteNode.start`).
   */
  readonly extensions: ClusterExtensions;
  /**
   * Where to find the cluster. A node forms a new cluster when discovery finds no other node,
   * or when it is the first node found and the others either answer that no cluster was ever
   * up or do not answer within five join rounds; otherwise it joins through the nodes found
   * (retrying every `joinRetryMs`). Give every node the same seeds.
   */
  readonly discovery: Discovery;
  /** This member's roles (for example `"shard-host"`). */
  readonly roles?: readonly string[];
  /**
   * The clock of gossip, failure detection and downing (default `systemClock`; a test's
   * `ManualClock` puts membership on virtual time).
   */
  readonly clock?: Clock;
  /**
   * How often this node gossips, in ms (default 1000). Each round it sends its state's digest
   * (a few dozen bytes plus the seen set) to `gossipFanOut` members, preferring those that
   * have not seen its state; the full state goes only to a member whose digest differs.
   */
  readonly gossipIntervalMs?: number;
  /** How many members each gossip round goes to (default 1). */
  readonly gossipFanOut?: number;
  /** How often a joining node retries discovery and its seeds, in ms (default 1000). */
  readonly joinRetryMs?: number;
  /** How long {@linkcode Cluster.join} waits to become up, in ms (default 30 000). */
  readonly joinTimeoutMs?: number;
  /**
   * The failure detector's settings (any subset; default
   * `DEFAULT_FAILURE_DETECTOR_SETTINGS`: heartbeats every 250 ms to each of the 5 members that
   * monitor a member, a dead or frozen member suspected within about 2 s).
   */
  readonly failureDetector?: Partial<FailureDetectorSettings>;
  /** The downing strategy and its timing (default: keep-majority after 5000 ms stable). */
  readonly downing?: DowningOptions;
  /**
   * How long a removed member is kept as a tombstone, in ms (default 86 400 000: a day, as
   * Akka's `prune-gossip-tombstones-after`). A tombstone keeps late news from a member that has
   * not heard of the removal (one that was unreachable meanwhile) from bringing the removed
   * member back; after this long, the leader, on a converged view, drops it from every
   * member's view. A member unreachable and not downed for longer than this can bring back
   * members removed meanwhile (they are then downed and removed again). Tombstones count
   * towards the 10 000 members a view may hold, so this also bounds how many removals a
   * cluster can take per such period. The age of a tombstone travels with it (the time the
   * leader numbered the removal, on its `wallClock`), so a cluster whose processes all live
   * shorter than this, as with frequent rolling restarts, prunes too; a leader also counts from
   * when it first saw a tombstone, whichever comes first.
   */
  readonly pruneTombstonesAfterMs?: number;
  /**
   * The wall clock stamped on removals and read to age tombstones, in ms since the Unix epoch
   * (default `Date.now`). Every member's should roughly agree (a skew between leaders moves the
   * pruning of a tombstone by as much, against a delay of a day by default); a test on virtual
   * time passes one that follows its `ManualClock`.
   */
  readonly wallClock?: () => number;
  /** Where membership reports problems and downing decisions (default: the console). */
  readonly logger?: { error(message: string, error: unknown): void };
  /** The random source of gossip's choice of peers (default `Math.random`; tests seed it). */
  readonly random?: () => number;
  /** Aborts the join (the promise rejects with the signal's reason). */
  readonly signal?: AbortSignal;
}

/** Internal options, for tests and benches (not exported from the package). */
export interface ClusterInternalOptions {
  /** Replaces the failure detector. */
  readonly reachability?: LocalReachabilityFactory;
}

let driverOf: (cluster: Cluster) => ClusterDriver;
let wrap: (driver: ClusterDriver, node: RemoteNode) => Cluster;

const CONSOLE_LOGGER = Object.freeze({
  error: (message: string, error: unknown): void => {
    if (error === undefined) console.error(`[troupe cluster] ${message}`);
    else console.error(`[troupe cluster] ${message}`, error);
  },
});

/**
 * The driver behind a cluster member, for tests and benches (not exported from the package).
 *
 * @param cluster The member.
 * @returns Its driver.
 */
export function clusterDriver(cluster: Cluster): ClusterDriver {
  return driverOf(cluster);
}

function positive(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  const v = value ?? fallback;
  if (!(v > 0) || !Number.isFinite(v)) {
    throw new RangeError(
      `Invalid ${name} ${value}: expected a finite number > 0`,
    );
  }
  return v;
}

/**
 * This node's membership in a cluster: gossip of the member list (a CRDT, so every member that
 * hears the same news holds the same view), failure detection by φ-accrual heartbeats (each
 * member watched by a few others; two must agree), a leader derived from the converged view
 * (the oldest reachable up member), and a split-brain strategy (keep-majority by default).
 *
 * A member's identity is its node name plus an incarnation chosen at random on every join, so a
 * restarted process is a new member and its old self is downed and removed.
 *
 * When this node finds itself downed it emits `self-downed`, logs why, and stops gossiping and
 * heartbeating: the application should then stop its work and close its actor system.
 *
 * @example Three nodes on one process
 * ```ts ignore
 * import { ActorSystem, RemoteNode } from "@troupe/troupe";
 * import { Cluster, ClusterExtensions } from "@troupe/troupe/cluster";
 * const extensions = new ClusterExtensions();
 * const system = new ActorSystem({ node: "a" });
 * const node = await RemoteNode.start(system, { cluster: "demo", secret, extensions: extensions.remote });
 * const cluster = await Cluster.join(node, { extensions, discovery });
 * console.log(cluster.members().map((m) => `${m.node}:${m.status}`));
 * ```
 */
export class Cluster implements AsyncDisposable {
  readonly #driver: ClusterDriver;
  readonly #node: RemoteNode;
  readonly #subscribers = new Map<string, () => void>();

  static {
    driverOf = (cluster) => cluster.#driver;
    wrap = (driver, node) => new Cluster(driver, node);
  }

  private constructor(driver: ClusterDriver, node: RemoteNode) {
    this.#driver = driver;
    this.#node = node;
  }

  /**
   * Joins (or forms) the cluster: finds nodes through discovery, gossips with them, and
   * resolves once this member is `up`.
   *
   * @param node This node, started with `extensions: options.extensions.remote`.
   * @param options Discovery, roles, timing and downing.
   * @returns This node's membership.
   * @throws {TypeError} When the node lacks the extensions, or an option is invalid.
   * @throws {RangeError} When a number is out of range.
   * @throws {ClusterJoinError} (as a rejection) When the node is not up within `joinTimeoutMs`,
   * is downed first, or the join is aborted.
   */
  static join(node: RemoteNode, options: ClusterOptions): Promise<Cluster> {
    return joinCluster(node, options, {});
  }

  /** The remote node this member joined with (for layers built on membership, such as the singleton). */
  get node(): RemoteNode {
    return this.#node;
  }

  /** This member (its current row). */
  get self(): ClusterMember {
    return this.#driver.member(this.#driver.selfKey)!;
  }

  /**
   * The members this node knows (removed ones excepted), by node name.
   *
   * @returns The members.
   */
  members(): ClusterMember[] {
    return this.#driver.members();
  }

  /**
   * The failure detector's current φ for a member, as this node sees it: how unlikely the
   * silence since its last heartbeat is (it is judged unreachable above the threshold, 8 by
   * default). Each member is watched by a few others only, so most members have no φ here.
   *
   * @param node A member's node name.
   * @returns φ, or `undefined` when this node does not heartbeat that member (or has not heard
   * from it yet) or no live member has that name.
   */
  phi(node: string): number | undefined {
    const member =
      this.#driver.members().find((m) =>
        m.node === node && m.status !== "down"
      ) ?? this.#driver.members().find((m) => m.node === node);
    if (member === undefined) return undefined;
    const value = this.#driver.phi(member);
    return value === undefined || Number.isNaN(value) ? undefined : value;
  }

  /**
   * The leader: the oldest reachable member that is up or leaving, in this node's view.
   *
   * @returns The leader, or `undefined` while none can lead.
   */
  leader(): ClusterMember | undefined {
    return this.#driver.leader();
  }

  /**
   * Whether this node's view has converged: every live, reachable member has seen it.
   *
   * @returns Whether it has.
   */
  converged(): boolean {
    return this.#driver.converged();
  }

  /**
   * Leaves the cluster gracefully: this member goes `leaving`, then `exiting` and `removed` by
   * the leader's hand.
   *
   * @param signal Stops waiting (the leaving goes on).
   * @returns Once this member is exiting in a converged view (the others know it is leaving),
   * or removed or down.
   */
  leave(signal?: AbortSignal): Promise<void> {
    this.#driver.leave();
    const done = this.#driver.until(() => {
      const self = this.self.status;
      return self === "removed" || self === "down" ||
        (self === "exiting" && this.#driver.converged());
    });
    if (signal === undefined) return done;
    return Promise.race([
      done,
      new Promise<void>((_, reject) => {
        if (signal.aborted) reject(signal.reason);
        signal.addEventListener("abort", () => reject(signal.reason), {
          once: true,
        });
      }),
    ]);
  }

  /**
   * Declares every live incarnation of `node` down (an operator's decision): it is removed by
   * the leader, and, when it is this node, this node stops (`self-downed`).
   *
   * @param node A node's name.
   * @throws {TypeError} When no live member has that name.
   */
  down(node: string): void {
    if (this.#driver.down(node) === 0) {
      throw new TypeError(
        `Cannot down node "${node}": no live member has that name`,
      );
    }
  }

  /**
   * The membership events from now on, as an async iterable (read {@linkcode Cluster.members}
   * for the state at the start). It ends when `signal` aborts or the cluster closes.
   *
   * @param signal Ends the iteration.
   * @returns The events.
   */
  events(signal?: AbortSignal): AsyncIterable<MemberEvent> {
    const driver = this.#driver;
    return {
      [Symbol.asyncIterator](): AsyncIterator<MemberEvent> {
        const queue: MemberEvent[] = [];
        let wake: (() => void) | undefined;
        let done = false;
        const stop = driver.listen((event) => {
          queue.push(event);
          wake?.();
        });
        let unwatch = () => {};
        const end = () => {
          done = true;
          stop();
          unwatch();
          wake?.();
        };
        signal?.addEventListener("abort", end, { once: true });
        unwatch = driver.whenStopped(end);
        return {
          async next(): Promise<IteratorResult<MemberEvent>> {
            while (queue.length === 0 && !done && !signal?.aborted) {
              await new Promise<void>((resolve) => wake = resolve);
              wake = undefined;
            }
            if (queue.length > 0) return { value: queue.shift()!, done: false };
            end();
            return { value: undefined, done: true };
          },
          return(): Promise<IteratorResult<MemberEvent>> {
            end();
            signal?.removeEventListener("abort", end);
            return Promise.resolve({ value: undefined, done: true });
          },
        };
      },
    };
  }

  /**
   * Tells `ref` every membership event from now on (message `memberEvent`).
   *
   * @param ref The actor.
   */
  subscribe(ref: ActorRef<MemberEventProtocol>): void {
    const key = ref.toJSON();
    if (this.#subscribers.has(key)) return;
    this.#subscribers.set(
      key,
      this.#driver.listen((event) => {
        if (ref.stopped) return this.unsubscribe(ref);
        ref.tell("memberEvent", event);
      }),
    );
  }

  /**
   * Stops telling `ref` the events.
   *
   * @param ref The actor.
   */
  unsubscribe(ref: ActorRef<MemberEventProtocol>): void {
    const key = ref.toJSON();
    this.#subscribers.get(key)?.();
    this.#subscribers.delete(key);
  }

  /**
   * Stops this node's membership (gossip, heartbeats, downing) without leaving: the others see
   * it unreachable until it is downed. Call {@linkcode Cluster.leave} first to leave gracefully.
   * Idempotent.
   *
   * @returns Once stopped.
   */
  close(): Promise<void> {
    this.#driver.close();
    this.#subscribers.clear();
    return Promise.resolve();
  }

  /** Closes (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** An incarnation: 64 random bits in hex. */
function randomIncarnation(): string {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * {@linkcode Cluster.join} with internal options (a replaced failure detector, byte counts).
 */
export async function joinCluster(
  node: RemoteNode,
  options: ClusterOptions,
  internal: ClusterInternalOptions,
): Promise<Cluster> {
  if (!(options?.extensions instanceof ClusterExtensions)) {
    throw new TypeError(
      "Invalid cluster options: `extensions` must be the ClusterExtensions the node was started with",
    );
  }
  if (typeof options.discovery?.discover !== "function") {
    throw new TypeError(
      "Invalid cluster options: `discovery` must be a Discovery",
    );
  }
  try {
    node.extension(MEMBERSHIP_EXTENSION);
  } catch (error) {
    throw new TypeError(
      `Node "${node.node}" was not started with the cluster's extensions (pass extensions.remote to RemoteNode.start)`,
      { cause: error },
    );
  }
  const roles = options.roles ?? [];
  if (
    !Array.isArray(roles) ||
    roles.some((r) => typeof r !== "string" || r === "")
  ) {
    throw new TypeError("Invalid cluster roles: expected non-empty strings");
  }
  if (
    options.wallClock !== undefined && typeof options.wallClock !== "function"
  ) {
    throw new TypeError(
      "Invalid cluster options: `wallClock` must be a function that returns ms since the Unix epoch",
    );
  }
  const fanOut = positive("gossipFanOut", options.gossipFanOut, 1);
  if (!Number.isSafeInteger(fanOut)) {
    throw new RangeError(`Invalid gossipFanOut ${fanOut}: expected an integer`);
  }
  const detector = failureDetectorSettings(options.failureDetector);
  const driver = new ClusterDriver({
    node,
    extensions: options.extensions,
    discovery: options.discovery,
    incarnation: randomIncarnation(),
    roles,
    clock: options.clock ?? systemClock,
    gossipIntervalMs: positive(
      "gossipIntervalMs",
      options.gossipIntervalMs,
      1000,
    ),
    fanOut,
    joinRetryMs: positive("joinRetryMs", options.joinRetryMs, 1000),
    joinTimeoutMs: positive("joinTimeoutMs", options.joinTimeoutMs, 30_000),
    downing: options.downing,
    random: options.random ?? Math.random,
    logger: options.logger ?? CONSOLE_LOGGER,
    reachability: internal.reachability ?? heartbeatReachability(detector),
    monitoredBy: detector.monitoredBy,
    pruneTombstonesAfterMs: positive(
      "pruneTombstonesAfterMs",
      options.pruneTombstonesAfterMs,
      86_400_000,
    ),
    wallClock: options.wallClock ?? Date.now,
  });
  const signal = options.signal;
  const onAbort = () => driver.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    if (signal?.aborted) throw signal.reason;
    await driver.start();
  } catch (error) {
    driver.close();
    throw signal?.aborted ? signal.reason : error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
  return wrap(driver, node);
}
