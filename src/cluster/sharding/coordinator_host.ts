// Where the coordinator of an entity type runs. The seam is small on purpose: `ref()` gives the
// coordinator to talk to, wherever it is. This host runs it on the oldest up member (by up
// number, then name): every node computes the same choice from membership, the oldest spawns
// the coordinator, the others address it there. A cluster singleton with a fencing lease can
// take its place without changing the coordinator or the regions.
import type { ActorRef, ActorSystem } from "../../actor/mod.ts";
import type { RemoteNode } from "../../remote/mod.ts";
import type { Cluster } from "../cluster.ts";
import { type CoordinatorArgs, shardCoordinator } from "./coordinator.ts";
import type { CoordinatorProtocol } from "./region.ts";

/** Hosts the coordinator of one entity type. */
export interface CoordinatorHost {
  /** The coordinator to talk to now, if one is known. */
  ref(): ActorRef<CoordinatorProtocol> | undefined;
  /** Stops a coordinator this node runs. */
  close(): Promise<void>;
}

/** The actor id of the coordinator of `entityType`. */
export function coordinatorActorId(entityType: string): string {
  return `troupe.sharding.coordinator.${entityType}`;
}

/** The oldest up member's name (lowest up number, then name). */
export function oldestUpMember(cluster: Cluster): string | undefined {
  let oldest: { node: string; upNumber: number } | undefined;
  for (const member of cluster.members()) {
    if (member.status !== "up") continue;
    if (
      oldest === undefined || member.upNumber < oldest.upNumber ||
      (member.upNumber === oldest.upNumber && member.node < oldest.node)
    ) {
      oldest = member;
    }
  }
  return oldest?.node;
}

/**
 * Runs the coordinator on the oldest up member.
 *
 * @param cluster This node's cluster.
 * @param node This node.
 * @param args The coordinator's start arguments.
 * @returns The host.
 */
export function hostOnOldestMember(
  cluster: Cluster,
  node: RemoteNode,
  args: CoordinatorArgs,
): CoordinatorHost {
  const system: ActorSystem = node.system;
  const id = coordinatorActorId(args.entityType);
  let local: ActorRef<CoordinatorProtocol> | undefined;
  let starting = false;
  let closed = false;
  const stopLocal = async (): Promise<void> => {
    const ref = local;
    local = undefined;
    await ref?.stop();
  };
  return {
    ref(): ActorRef<CoordinatorProtocol> | undefined {
      if (closed) return undefined;
      const oldest = oldestUpMember(cluster);
      if (oldest === undefined) return undefined;
      if (oldest !== node.node) {
        if (local !== undefined) void stopLocal();
        try {
          return node.ref<CoordinatorProtocol>(oldest, id);
        } catch {
          return undefined;
        }
      }
      if (local === undefined && !starting) {
        starting = true;
        system.spawn(shardCoordinator, args, { id }).then((ref) => {
          starting = false;
          if (closed) return void ref.stop();
          local = ref;
          system.whenStopped(ref).then(() => {
            if (local === ref) local = undefined;
          });
        }, () => {
          // A previous incarnation is still stopping: the next call tries again.
          starting = false;
        });
      }
      return local;
    },
    close(): Promise<void> {
      closed = true;
      return stopLocal();
    },
  };
}
