// The cluster singleton: one instance of an actor cluster-wide, on the oldest up member (with a
// role, if given), fenced by a lease when one is given, and reached from every node through a
// proxy ref that buffers while the instance moves.
//
// Every node that calls ClusterSingleton.start runs a manager (an actor at a well-known id, so
// that the managers of other nodes can reach it) and a proxy. A node takes over when its own
// view makes it the host: it first asks every other live member's manager to relinquish (stop
// its instance, release the lease, and promise not to start while it is not the host), then
// takes the lease, then starts the instance. The host that stops being the host (it leaves, is
// downed, or an older member is up again in its view) stops its instance before it releases the
// lease. The lease is renewed while the instance runs; an instance whose lease is lost or
// cannot be confirmed is stopped a safety margin BEFORE the lease may lapse, so that a new
// holder (which can take the lease only once it lapsed) never overlaps it.
import {
  type ActorDefinition,
  type ActorRef,
  type ActorSystem,
  defineActor,
  type Handlers,
  isActorStoppedError,
  type ProtocolOf,
} from "../../actor/mod.ts";
import type { RemoteNode } from "../../remote/mod.ts";
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import type { Cluster } from "../cluster.ts";
import type { Lease } from "../lease.ts";
import type { ClusterMember } from "../member_event.ts";
import { isLiveMember, memberId, singletonHost } from "./_host.ts";
import { LeaseKeeper } from "./_lease_keeper.ts";
import { SingletonProxy } from "./_proxy.ts";

/**
 * What an instance is told about its incarnation, so that the resources it writes to can refuse
 * a stale holder: the lease's fencing token grows with every new holder.
 */
export interface SingletonFence {
  /** The node the instance runs on. */
  readonly node: string;
  /** That member's incarnation. */
  readonly incarnation: string;
  /**
   * The lease's fencing token while this instance holds it; `undefined` when the singleton runs
   * without a lease (no fencing).
   */
  readonly token: number | undefined;
}

/** Options of {@linkcode ClusterSingleton.start}. */
export interface ClusterSingletonOptions<A, S, H extends Handlers<S>> {
  /** The singleton's name: 1 to 120 of `A-Z a-z 0-9 _ . : @ = + -`; the same on every node. */
  readonly name: string;
  /** The instance's actor type (from `defineActor`). */
  readonly definition: ActorDefinition<A, S, H>;
  /** The instance's start arguments (ignored when `argsFor` is given). */
  readonly args?: A;
  /**
   * Makes the start arguments of each new instance from its fence (the fencing token), so the
   * instance can hand the token to what it writes.
   */
  readonly argsFor?: (fence: SingletonFence) => A;
  /** Only members with this role host the instance (and take part in hand-over). */
  readonly role?: string;
  /**
   * The lease that fences the instance (a `RedisLease` in production; every node gives a handle
   * on the same lease). Without one, at most one instance runs only as long as membership
   * does not split: during a partition, both sides may run one until the downing strategy has
   * stopped one side.
   */
  readonly lease?: Lease;
  /** The lease's time to live, in ms (default 10 000). */
  readonly leaseTtlMs?: number;
  /** How often the held lease is renewed, in ms (default a quarter of `leaseTtlMs`). */
  readonly leaseRenewIntervalMs?: number;
  /**
   * How long before the lease may lapse an instance whose renewals failed is stopped, in ms
   * (default a fifth of `leaseTtlMs`); it must cover the instance's `stopped` hook.
   */
  readonly leaseSafetyMarginMs?: number;
  /** How many messages the proxy buffers while the instance moves (default 1000). */
  readonly bufferSize?: number;
  /**
   * How often the manager retries a take-over that could not finish (a member did not
   * relinquish yet, the lease is held) and the proxy looks for the instance, in ms (default 500).
   */
  readonly retryIntervalMs?: number;
  /** The timeout of the managers' requests to each other, in ms (default 2000). */
  readonly requestTimeoutMs?: number;
  /** Where problems go (default: the console). */
  readonly logger?: { error(message: string, error: unknown): void };
}

/** What a manager answers to `identify`. */
interface Identity {
  readonly node: string;
  readonly path: string;
  readonly token: number | null;
}

interface ManagerProtocol {
  identify(): Identity | null;
  relinquish(requester: string): boolean;
}

const NAME = /^[A-Za-z0-9_.:@=+-]{1,120}$/;
const CONSOLE_LOGGER = Object.freeze({
  error: (message: string, error: unknown): void =>
    console.error(`[troupe singleton] ${message}`, error),
});

function positiveInt(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new RangeError(
      `Invalid singleton option ${name} ${value}: expected a positive integer`,
    );
  }
  return v;
}

/** The manager's actor id for a singleton (the same on every node). */
function managerId(name: string): string {
  return `troupe.singleton.${name}`;
}

/**
 * This node's part of a cluster singleton: it runs the one instance of an actor while this
 * node is the oldest up member (with the role, if given) and holds the lease (if given), and
 * offers {@linkcode ClusterSingleton.ref}, which reaches the instance wherever it runs.
 *
 * Call {@linkcode ClusterSingleton.start} on every node that may host the instance or send to
 * it, with the same name and options. The instance moves when its host leaves (hand-over: the
 * old instance stops, then the new one starts, and the proxies buffer meanwhile), and starts
 * again on the next oldest member once a lost host is downed.
 *
 * Guarantees. With a `lease`, at most one instance runs at any time, also across partitions and
 * frozen processes: an instance runs only while its node holds the lease, and stops a safety
 * margin before a lease it could not renew may lapse; its fencing token (see
 * {@linkcode SingletonFence} and `argsFor`) lets the resources it writes refuse an older holder
 * that has not noticed yet (a paused process). Without a lease, a partition may run two
 * instances until the downing strategy stops one side. Messages are sent at most once: the
 * proxy buffers while it knows the instance is moving, but messages sent to an instance that
 * stops before they arrive are dead letters there, and an ask in flight then fails.
 *
 * @typeParam P The instance's protocol.
 *
 * @example Usage
 * ```ts ignore
 * import { defineActor } from "@troupe/troupe";
 * import { ClusterSingleton } from "@troupe/troupe/cluster";
 * import { RedisLease } from "@troupe/troupe/cluster/redis";
 * const counter = defineActor({
 *   name: "counter",
 *   init: () => ({ n: 0 }),
 *   handlers: { next: (s) => ++s.n },
 * });
 * const lease = await RedisLease.open("singleton:counter", { url: "redis://127.0.0.1:6379" });
 * const singleton = await ClusterSingleton.start(cluster, { name: "counter", definition: counter, lease });
 * console.log(await singleton.ref.ask("next"));
 * await singleton.close();
 * ```
 */
export class ClusterSingleton<P> {
  readonly #manager: SingletonManager<P>;

  private constructor(manager: SingletonManager<P>) {
    this.#manager = manager;
  }

  /**
   * Starts this node's part of the singleton `options.name`: it runs the instance while this
   * node is the oldest up member (with the role, if given) and holds the lease; otherwise it
   * only proxies.
   *
   * @param cluster This node's membership.
   * @param options The name, the actor, the lease and the timing.
   * @returns This node's part, once its manager runs (the instance may start later).
   * @throws {TypeError} When the name, definition, role, lease or logger is invalid, or the
   * singleton is started twice on this node.
   * @throws {RangeError} When a number is out of range.
   */
  static async start<A, S, H extends Handlers<S>>(
    cluster: Cluster,
    options: ClusterSingletonOptions<A, S, H>,
  ): Promise<ClusterSingleton<ProtocolOf<H>>> {
    const manager = new SingletonManager<ProtocolOf<H>>(
      cluster,
      options as unknown as ClusterSingletonOptions<
        unknown,
        unknown,
        Handlers<unknown>
      >,
    );
    await manager.start();
    return new ClusterSingleton(manager);
  }

  /** The singleton's name. */
  get name(): string {
    return this.#manager.name;
  }

  /**
   * A proxy ref: the same tell and ask as the instance's `ActorRef`, from any node. It sends
   * straight to the instance once it has found it, and buffers (in order, at most `bufferSize`
   * messages; asks keep their timeout) while the instance moves. A tell that does not fit is a
   * dead letter (reason `mailbox-full`); an ask that does not fit rejects with
   * `SingletonBufferFullError`. Its `toJSON` names a forwarding actor on this node, so a copy
   * sent to another node also reaches the instance (that actor forwards one message at a time).
   */
  get ref(): ActorRef<P> {
    return this.#manager.proxy;
  }

  /**
   * The fence of the instance running on this node, or `undefined` when none runs here.
   *
   * @returns The fence.
   */
  runningHere(): SingletonFence | undefined {
    return this.#manager.fence;
  }

  /**
   * Stops this node's part: when the instance runs here it is stopped and the lease released
   * (so the next oldest member takes over at once, if it has its part started); buffered asks
   * reject with `SingletonClosedError`. Call it before leaving the cluster, or after leave()
   * resolved. Idempotent.
   *
   * @returns Once stopped.
   */
  close(): Promise<void> {
    return this.#manager.close();
  }
}

/** The manager of one singleton on one node. */
class SingletonManager<P> {
  readonly name: string;
  readonly proxy: SingletonProxy<P>;
  readonly #cluster: Cluster;
  readonly #node: RemoteNode;
  readonly #system: ActorSystem;
  readonly #clock: Clock;
  readonly #options: ClusterSingletonOptions<
    unknown,
    unknown,
    Handlers<unknown>
  >;
  readonly #role: string | undefined;
  readonly #retryMs: number;
  readonly #requestMs: number;
  readonly #logger: { error(message: string, error: unknown): void };
  readonly #keeper: LeaseKeeper | undefined;
  readonly #events = new AbortController();
  #managerRef: ActorRef<ManagerProtocol> | undefined;
  #forwarderRef: ActorRef<Record<string, never>> | undefined;
  #instance: ActorRef<P> | undefined;
  #fence: SingletonFence | undefined;
  #tick: TimerHandle | undefined;
  #busy = false;
  #again = false;
  #closed: Promise<void> | undefined;
  #membershipEnded = false;
  #proxyHost: string | undefined;
  #identifying = false;
  readonly #idleWaiters: (() => void)[] = [];

  constructor(
    cluster: Cluster,
    options: ClusterSingletonOptions<unknown, unknown, Handlers<unknown>>,
  ) {
    if (typeof options?.name !== "string" || !NAME.test(options.name)) {
      throw new TypeError(
        `Invalid singleton name ${
          JSON.stringify(options?.name)
        }: use 1-120 of A-Z a-z 0-9 _ . : @ = + -`,
      );
    }
    if (options.definition?.kind !== "troupe.actor") {
      throw new TypeError(
        `Invalid singleton "${options.name}": definition must come from defineActor()`,
      );
    }
    if (
      options.role !== undefined &&
      (typeof options.role !== "string" || options.role === "")
    ) {
      throw new TypeError(
        `Invalid singleton "${options.name}": role must be a non-empty string`,
      );
    }
    if (
      options.argsFor !== undefined && typeof options.argsFor !== "function"
    ) {
      throw new TypeError(
        `Invalid singleton "${options.name}": argsFor must be a function`,
      );
    }
    const lease = options.lease;
    if (
      lease !== undefined &&
      (typeof lease?.acquire !== "function" ||
        typeof lease.release !== "function")
    ) {
      throw new TypeError(
        `Invalid singleton "${options.name}": lease must be a Lease`,
      );
    }
    this.name = options.name;
    this.#cluster = cluster;
    this.#node = cluster.node;
    this.#system = this.#node.system;
    this.#clock = this.#system.clock;
    this.#options = options;
    this.#role = options.role;
    this.#logger = options.logger ?? CONSOLE_LOGGER;
    this.#retryMs = positiveInt(
      "retryIntervalMs",
      options.retryIntervalMs,
      500,
    );
    this.#requestMs = positiveInt(
      "requestTimeoutMs",
      options.requestTimeoutMs,
      2000,
    );
    const ttlMs = positiveInt("leaseTtlMs", options.leaseTtlMs, 10_000);
    const renewMs = positiveInt(
      "leaseRenewIntervalMs",
      options.leaseRenewIntervalMs,
      Math.max(1, Math.floor(ttlMs / 4)),
    );
    const marginMs = positiveInt(
      "leaseSafetyMarginMs",
      options.leaseSafetyMarginMs,
      Math.max(1, Math.floor(ttlMs / 5)),
    );
    if (renewMs + marginMs >= ttlMs) {
      throw new RangeError(
        `Invalid singleton "${this.name}" lease timing: leaseRenewIntervalMs (${renewMs}) + leaseSafetyMarginMs (${marginMs}) must be below leaseTtlMs (${ttlMs})`,
      );
    }
    const bufferSize = positiveInt("bufferSize", options.bufferSize, 1000);
    this.#keeper = lease === undefined ? undefined : new LeaseKeeper({
      lease,
      owner: memberId(cluster.self),
      ttlMs,
      renewIntervalMs: renewMs,
      safetyMarginMs: marginMs,
      clock: this.#clock,
      onLost: (reason) => {
        this.#logger.error(
          `Singleton "${this.name}" stops its instance on node "${this.#node.node}": ${reason}`,
          undefined,
        );
        void this.#stopInstance(false).finally(() => this.#kick());
      },
      logError: (message, error) =>
        this.#logger.error(`Singleton "${this.name}": ${message}`, error),
    });
    this.proxy = new SingletonProxy<P>({
      name: this.name,
      system: this.#system,
      clock: this.#clock,
      address: { node: this.#node.node, path: `${managerId(this.name)}.proxy` },
      bufferSize,
      onStale: () => this.#kick(),
    });
  }

  get fence(): SingletonFence | undefined {
    return this.#instance === undefined ? undefined : this.#fence;
  }

  async start(): Promise<void> {
    const id = managerId(this.name);
    if (this.#system.lookup(id) !== undefined) {
      throw new TypeError(
        `Singleton "${this.name}" is started on node "${this.#node.node}" already`,
      );
    }
    const manager = defineActor({
      name: "troupe.singleton.manager",
      init: () => this,
      handlers: {
        identify: (m: SingletonManager<P>): Identity | null => m.#identity(),
        relinquish: (m: SingletonManager<P>, requester: string) =>
          m.#relinquish(requester),
      },
    });
    const proxy = this.proxy as unknown as ActorRef<
      Record<string, (payload: unknown) => unknown>
    >;
    const forwarder = defineActor({
      name: "troupe.singleton.proxy",
      init: () => ({}),
      handlers: {},
      // A message to a copy of the proxy ref from another node: forwarded as an ask, so a
      // failure reaches an asker (a tell's reply is dropped by the sender's node).
      unhandled: (_s, type, payload) => proxy.ask(type, payload),
    });
    this.#managerRef = await this.#system.spawn(manager, undefined, { id });
    this.#forwarderRef = await this.#system.spawn(forwarder, undefined, {
      id: `${id}.proxy`,
    }) as unknown as ActorRef<Record<string, never>>;
    void this.#follow();
    this.#schedule();
    this.#kick();
  }

  close(): Promise<void> {
    return this.#closed ??= this.#close();
  }

  async #close(): Promise<void> {
    this.#events.abort();
    if (this.#tick !== undefined) this.#clock.clearTimer(this.#tick);
    this.#tick = undefined;
    this.proxy.close();
    // A take-over in progress finishes first, so that it cannot start an instance afterwards.
    while (this.#busy) {
      await new Promise<void>((wake) => this.#idleWaiters.push(wake));
    }
    await this.#stopInstance(true);
    await this.#forwarderRef?.stop();
    await this.#managerRef?.stop();
  }

  /** Follows membership: every event re-evaluates; the end of membership stops the instance. */
  async #follow(): Promise<void> {
    try {
      for await (const event of this.#cluster.events(this.#events.signal)) {
        if (event.type === "self-downed") this.#membershipEnded = true;
        this.#kick();
      }
    } catch (error) {
      this.#logger.error(
        `Singleton "${this.name}": membership events failed`,
        error,
      );
    }
    if (this.#closed === undefined) {
      // The cluster closed under us: this node can no longer know it is the host.
      this.#membershipEnded = true;
      this.#kick();
    }
  }

  #schedule(): void {
    this.#tick = this.#clock.setTimer(() => {
      this.#tick = undefined;
      if (this.#closed !== undefined) return;
      this.#kick();
      this.#schedule();
    }, this.#retryMs);
  }

  /** Runs one evaluation at a time; a request during one runs another after it. */
  #kick(): void {
    if (this.#closed !== undefined) return;
    if (this.#busy) {
      this.#again = true;
      return;
    }
    this.#busy = true;
    this.#evaluate().catch((error) =>
      this.#logger.error(`Singleton "${this.name}" failed to evaluate`, error)
    ).finally(() => {
      this.#busy = false;
      this.#wakeIdle();
      if (this.#again) {
        this.#again = false;
        this.#kick();
      }
    });
  }

  #isHost(host: ClusterMember | undefined): boolean {
    if (host === undefined || this.#membershipEnded) return false;
    const self = this.#cluster.self;
    return host.node === self.node && host.incarnation === self.incarnation &&
      self.status === "up";
  }

  async #evaluate(): Promise<void> {
    const members = this.#cluster.members();
    const host = singletonHost(members, this.#role);
    this.#followHost(host);
    const isHost = this.#isHost(host);
    if (this.#instance !== undefined && !isHost) {
      await this.#stopInstance(true);
    } else if (this.#instance === undefined && isHost) {
      await this.#takeOver(members);
    }
  }

  /** Points the proxy at the host's instance; a new host means buffering until it is found. */
  #followHost(host: ClusterMember | undefined): void {
    const key = host === undefined || this.#membershipEnded
      ? undefined
      : memberId(host);
    if (key !== this.#proxyHost) {
      this.#proxyHost = key;
      this.proxy.retarget(undefined);
    }
    if (
      host !== undefined && key !== undefined && this.proxy.target === undefined
    ) {
      void this.#identify(host, key);
    }
  }

  async #identify(host: ClusterMember, key: string): Promise<void> {
    if (this.#identifying) return;
    this.#identifying = true;
    try {
      const self = this.#cluster.self;
      const answer = host.node === self.node
        ? this.#identity()
        : await this.#node.ref<ManagerProtocol>(host.node, managerId(this.name))
          .ask("identify", undefined, { timeoutMs: this.#requestMs });
      if (
        answer === null || this.#closed !== undefined ||
        this.#proxyHost !== key || this.proxy.target !== undefined
      ) return;
      const ref = answer.node === self.node
        ? this.#instance
        : this.#node.ref<P>(answer.node, answer.path);
      if (ref === undefined) return;
      this.proxy.retarget(ref);
      void this.#system.whenStopped(ref as ActorRef<object>).then(() => {
        if (this.proxy.target !== ref) return;
        this.proxy.retarget(undefined);
        this.#kick();
      });
    } catch {
      // Not there yet, or unreachable: the next evaluation asks again.
    } finally {
      this.#identifying = false;
    }
  }

  #identity(): Identity | null {
    const instance = this.#instance;
    if (instance === undefined || this.#fence === undefined) return null;
    return {
      node: this.#node.node,
      path: instance.path,
      token: this.#fence.token ?? null,
    };
  }

  /**
   * Another member takes over: stop the instance here, unless this node is the host in its
   * own view (then the requester's view is behind or ahead; it asks again later).
   */
  async #relinquish(_requester: string): Promise<boolean> {
    const host = singletonHost(this.#cluster.members(), this.#role);
    if (this.#isHost(host) && this.#closed === undefined) return false;
    await this.#stopInstance(true);
    return true;
  }

  async #takeOver(members: readonly ClusterMember[]): Promise<void> {
    const self = this.#cluster.self;
    for (const member of members) {
      if (member.node === self.node) continue;
      if (!isLiveMember(member)) continue;
      if (this.#role !== undefined && !member.roles.includes(this.#role)) {
        continue;
      }
      if (!member.reachable) {
        // With a lease, the lease fences an unreachable member's instance; without one, wait
        // until it is downed.
        if (this.#keeper !== undefined) continue;
        return;
      }
      if (!await this.#askRelinquish(member)) return;
    }
    let token: number | undefined;
    if (this.#keeper !== undefined) {
      const grant = await this.#keeper.acquire();
      if (grant === undefined) return;
      token = grant.token;
    }
    const host = singletonHost(this.#cluster.members(), this.#role);
    if (!this.#isHost(host) || this.#closed !== undefined) {
      await this.#keeper?.release();
      return;
    }
    const fence: SingletonFence = Object.freeze({
      node: self.node,
      incarnation: self.incarnation,
      token,
    });
    const options = this.#options;
    try {
      const args = options.argsFor === undefined
        ? options.args
        : options.argsFor(fence);
      this.#fence = fence;
      this.#instance = await this.#system.spawn(options.definition, args, {
        id: `${managerId(this.name)}.instance`,
      }) as unknown as ActorRef<P>;
    } catch (error) {
      this.#fence = undefined;
      this.#logger.error(
        `Singleton "${this.name}" could not start its instance on node "${self.node}"`,
        error,
      );
      await this.#keeper?.release();
      return;
    }
    const instance = this.#instance;
    // An instance that stops on its own is started again by the next evaluation.
    void this.#system.whenStopped(instance as ActorRef<object>).then(
      async () => {
        if (this.#instance !== instance) return;
        this.#instance = undefined;
        this.#fence = undefined;
        await this.#keeper?.release();
        this.#kick();
      },
    );
    this.#kick();
  }

  async #askRelinquish(member: ClusterMember): Promise<boolean> {
    try {
      return await this.#node.ref<ManagerProtocol>(
        member.node,
        managerId(this.name),
      ).ask("relinquish", memberId(this.#cluster.self), {
        timeoutMs: this.#requestMs,
      }) === true;
    } catch (error) {
      // No manager there: nothing runs there either (a manager stops its instance first).
      return isActorStoppedError(error);
    }
  }

  /** Stops the instance (if any) and then, if asked, releases the lease. */
  async #stopInstance(release: boolean): Promise<void> {
    const instance = this.#instance;
    if (instance !== undefined) {
      this.#instance = undefined;
      this.#fence = undefined;
      if (this.proxy.target === instance) this.proxy.retarget(undefined);
      try {
        await instance.stop();
      } catch (error) {
        this.#logger.error(
          `Singleton "${this.name}": stopping its instance failed`,
          error,
        );
      }
    }
    if (release) await this.#keeper?.release();
    else this.#keeper?.abandon();
  }

  #wakeIdle(): void {
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}
