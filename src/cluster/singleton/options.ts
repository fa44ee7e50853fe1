// The options of a cluster singleton, and the fence its instance is started with.
import type { ActorDefinition, Handlers } from "../../actor/mod.ts";
import type { Lease } from "../lease.ts";

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
