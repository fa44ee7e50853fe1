// The manager of one singleton on one node (see cluster_singleton.ts for the protocol): it
// follows membership, takes over when this node becomes the host (the others relinquish, then
// the lease, then the instance), stops the instance when it no longer is (then releases the
// lease), answers the other managers, and keeps this node's proxy pointed at the instance.
import {
  type ActorRef,
  type ActorSystem,
  defineActor,
  type Handlers,
  isActorStoppedError,
} from "../../actor/mod.ts";
import { NodeUnreachableError, type RemoteNode } from "../../remote/mod.ts";
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import type { Cluster } from "../cluster.ts";
import type { ClusterMember } from "../member_event.ts";
import { isLiveMember, memberId, singletonHost } from "./_host.ts";
import { LeaseKeeper } from "./_lease_keeper.ts";
import {
  checkIdentity,
  type Identity,
  instanceId,
  managerId,
  type ManagerProtocol,
} from "./_messages.ts";
import { SingletonProxy } from "./_proxy.ts";
import type { ClusterSingletonOptions, SingletonFence } from "./options.ts";

const NAME = /^[A-Za-z0-9_.:@=+-]{1,120}$/;
const CONSOLE_LOGGER = Object.freeze({
  error: (message: string, error: unknown): void => {
    if (error === undefined) console.error(`[troupe singleton] ${message}`);
    else console.error(`[troupe singleton] ${message}`, error);
  },
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

/** The manager of one singleton on one node. */
export class SingletonManager<P> {
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
  /** The stop of the previous instance, while it runs: no new one starts before it ends. */
  #stopping: Promise<void> | undefined;
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
      const previous = this.#proxyHost;
      this.#proxyHost = key;
      this.proxy.retarget(undefined);
      // The old host is down or gone: nothing sent to its instance will be answered, so the
      // asks in flight there fail now rather than at their timeouts.
      const old = previous === undefined
        ? undefined
        : this.#cluster.members().find((m) => memberId(m) === previous);
      if (previous !== undefined && (old === undefined || !isLiveMember(old))) {
        const node = previous.slice(0, previous.lastIndexOf("#"));
        this.proxy.abandon(
          new NodeUnreachableError(
            node,
            `singleton "${this.name}" moved: its host was downed`,
          ),
        );
      }
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
      const answer = host.node === self.node ? this.#identity() : checkIdentity(
        await this.#node.ref<ManagerProtocol>(host.node, managerId(this.name))
          .ask("identify", undefined, { timeoutMs: this.#requestMs }),
        host.node,
      );
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
    // The previous instance here may still be stopping (its lease was lost, or it was asked
    // to relinquish): the next starts only after it has stopped.
    if (this.#stopping !== undefined) return;
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
        id: instanceId(this.name),
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
    if (this.#keeper !== undefined && this.#keeper.grant?.token !== token) {
      // The lease was lost while the instance started.
      await this.#stopInstance(false);
      return;
    }
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

  /**
   * Stops the instance (if any) and then releases the lease (`release`) or lets it lapse.
   * Concurrent calls wait for the same stop.
   */
  async #stopInstance(release: boolean): Promise<void> {
    const instance = this.#instance;
    if (instance !== undefined) {
      this.#instance = undefined;
      this.#fence = undefined;
      if (this.proxy.target === instance) this.proxy.retarget(undefined);
      const stopping = instance.stop().catch((error) =>
        this.#logger.error(
          `Singleton "${this.name}": stopping its instance failed`,
          error,
        )
      );
      this.#stopping = stopping;
      await stopping;
      if (this.#stopping === stopping) this.#stopping = undefined;
    } else if (this.#stopping !== undefined) {
      await this.#stopping;
    }
    if (release) await this.#keeper?.release();
    else this.#keeper?.abandon();
  }

  #wakeIdle(): void {
    for (const wake of this.#idleWaiters.splice(0)) wake();
  }
}
