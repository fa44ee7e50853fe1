// Where the coordinator of an entity type runs: a cluster singleton (on the oldest up member,
// fenced by a lease when one is given), so every node reaches the one coordinator through the
// singleton's proxy ref, which buffers while the coordinator moves. The seam is small on
// purpose: regions only ever call `ref()`.
import type { ActorRef } from "../../actor/mod.ts";
import type { Cluster } from "../cluster.ts";
import type { Lease } from "../lease.ts";
import { ClusterSingleton } from "../singleton/mod.ts";
import { type CoordinatorArgs, shardCoordinator } from "./coordinator.ts";
import type { CoordinatorProtocol } from "./region.ts";

/** Hosts the coordinator of one entity type. */
export interface CoordinatorHost {
  /** The coordinator to talk to, once known. */
  ref(): ActorRef<CoordinatorProtocol> | undefined;
  /** Stops this node's part (and the coordinator, if it runs here). */
  close(): Promise<void>;
}

/** How the coordinator is hosted. */
export interface CoordinatorHostOptions {
  /** The lease that fences the coordinator (one per entity type; default: none). */
  readonly lease?: Lease;
  /** The lease's time to live, in ms. */
  readonly leaseTtlMs?: number;
  /** Only members with this role host the coordinator. */
  readonly role?: string;
  /** Where problems go. */
  readonly logger: { error(message: string, error: unknown): void };
}

/** The singleton name of the coordinator of `entityType`. */
export function coordinatorSingletonName(entityType: string): string {
  return `troupe.sharding.${entityType}`;
}

/**
 * Runs the coordinator as a cluster singleton.
 *
 * @param cluster This node's cluster.
 * @param args The coordinator's start arguments on this node.
 * @param options Lease, role and logger.
 * @returns The host (its `ref()` is undefined until this node's part of the singleton runs).
 */
export function hostAsSingleton(
  cluster: Cluster,
  args: CoordinatorArgs,
  options: CoordinatorHostOptions,
): CoordinatorHost {
  let singleton: ClusterSingleton<CoordinatorProtocol> | undefined;
  let closed = false;
  const started = ClusterSingleton.start(cluster, {
    name: coordinatorSingletonName(args.entityType),
    definition: shardCoordinator(args),
    args,
    lease: options.lease,
    leaseTtlMs: options.leaseTtlMs,
    role: options.role,
    logger: options.logger,
  }).then(async (s) => {
    if (closed) await s.close();
    else singleton = s;
  }, (error) => {
    options.logger.error(
      `Cannot start the shard coordinator of "${args.entityType}"`,
      error,
    );
  });
  return {
    ref: () => singleton?.ref,
    async close(): Promise<void> {
      closed = true;
      await started;
      await singleton?.close();
    },
  };
}
