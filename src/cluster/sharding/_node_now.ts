// What a node name is worth to sharding now. Messages go to a node by name, but membership is
// about incarnations: a restarted node (a new incarnation under the same name) may be up before
// its previous incarnation is removed, so an event about one incarnation says nothing of the
// name. The answer is read from all the members at once.
import type { ClusterMember } from "../member_event.ts";

/** Whether a node name has a live member, and a live member this node finds reachable. */
export interface NodeNow {
  /** A member of that name is neither down nor removed. */
  readonly live: boolean;
  /** Such a member is reachable from this node. */
  readonly reachable: boolean;
}

/**
 * What the node name `node` is worth now, from the members this node knows.
 *
 * @param members The members (every incarnation this node knows).
 * @param node A node name.
 * @returns Whether it is live, and reachable.
 */
export function nodeNow(
  members: Iterable<ClusterMember>,
  node: string,
): NodeNow {
  let live = false;
  let reachable = false;
  for (const member of members) {
    if (
      member.node !== node || member.status === "down" ||
      member.status === "removed"
    ) continue;
    live = true;
    if (member.reachable) reachable = true;
  }
  return { live, reachable };
}
