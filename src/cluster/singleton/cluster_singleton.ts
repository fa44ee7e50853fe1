// The cluster singleton: one instance of an actor cluster-wide, on the oldest up member (with a
// role, if given), fenced by a lease when one is given, and reached from every node through a
// proxy ref that buffers while the instance moves.
//
// Every node that calls ClusterSingleton.start runs a manager (an actor at a well-known id, so
// that the managers of other nodes can reach it) and a proxy. A node takes over when its own
// view makes it the host: it first asks every other live member's manager to relinquish (stop
// its instance, release the lease, and promise not to start while it is not the host), then
// takes the lease, then starts the instance. A host that stops being the host (it leaves, is
// downed, or its membership ends) stops its instance before it releases the lease. The lease is renewed while the instance runs; an instance whose lease is lost or
// cannot be confirmed is stopped a safety margin BEFORE the lease may lapse, so that a new
// holder (which can take the lease only once it lapsed) never overlaps it.
import type { ActorRef, Handlers, ProtocolOf } from "../../actor/mod.ts";
import type { Cluster } from "../cluster.ts";
import { SingletonManager } from "./_manager.ts";
import type { ClusterSingletonOptions, SingletonFence } from "./options.ts";

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
 * Guarantees. With a `lease`, at most one instance runs at any time, also across partitions:
 * an instance runs only while its node holds the lease, and stops a safety margin
 * (`leaseSafetyMarginMs`) before a lease it could not renew may lapse, and another node can take
 * the lease only once it lapsed or was released. This holds while clocks run at the same rate
 * and no process is paused for longer than the margin; a process that resumes from such a pause
 * may hold a stale instance for a moment, and its fencing token (see {@linkcode SingletonFence}
 * and `argsFor`) lets the resources it writes refuse it. Without a lease, the members take over
 * only from members that relinquished or were downed, so a split brain (a member downed while it
 * still runs, for example by an operator or a downing provider that decides differently on each
 * side) may run two instances until the downed member learns it is down.
 *
 * Delivery. The proxy buffers while it knows the instance is moving, and sends what it buffered
 * in order. An ask that reaches a stopped instance (it was not handled) waits for the next one,
 * until its timeout, behind what was buffered meanwhile. A tell that reaches an instance that
 * stops before handling it is a dead letter there: tells are at most once across a move.
 *
 * An instance that stops on its own (or through `ref.stop()`) is started again.
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
 * const lease = await RedisLease.connect("singleton:counter", { url: "redis://127.0.0.1:6379" });
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
   * reject with `SingletonClosedError`. Call it when this node leaves the cluster (before or
   * after `leave()`): while a member that closed its part stays the oldest up member, the others
   * do not start an instance. Idempotent.
   *
   * @returns Once stopped.
   */
  close(): Promise<void> {
    return this.#manager.close();
  }
}
