/**
 * The cluster singleton: one instance of an actor cluster-wide, on the oldest up member (or the
 * oldest with a role), fenced by a lease with a fencing token, handed over when its host leaves
 * and started again elsewhere when its host is lost, and reached from any node through a proxy
 * ref that buffers while the instance moves.
 *
 * @example Usage
 * ```ts ignore
 * import { defineActor } from "@troupe/troupe";
 * import { ClusterSingleton, MemoryLease } from "@troupe/troupe/cluster";
 * const counter = defineActor({
 *   name: "counter",
 *   init: () => ({ n: 0 }),
 *   handlers: { next: (s) => ++s.n },
 * });
 * const singleton = await ClusterSingleton.start(cluster, {
 *   name: "counter",
 *   definition: counter,
 *   lease: new MemoryLease("singleton:counter"),
 * });
 * console.log(await singleton.ref.ask("next")); // 1
 * await singleton.close();
 * ```
 *
 * @module
 */
export { ClusterSingleton } from "./cluster_singleton.ts";
export type { ClusterSingletonOptions, SingletonFence } from "./options.ts";
export {
  isSingletonBufferFullError,
  isSingletonClosedError,
  SingletonBufferFullError,
  SingletonClosedError,
} from "./errors.ts";
