// Where a singleton runs, as every node derives it from its own view of the members: the
// oldest member that is up (and has the role, if one is asked for). Leaving, exiting, down and
// removed members are no candidates, so a member that leaves hands over to the next oldest.
import type { ClusterMember } from "../member_event.ts";

/** Orders members by age: up number, then node, then incarnation (as the leader does). */
function byAge(a: ClusterMember, b: ClusterMember): number {
  if (a.upNumber !== b.upNumber) return a.upNumber - b.upNumber;
  if (a.node !== b.node) return a.node < b.node ? -1 : 1;
  return a.incarnation < b.incarnation
    ? -1
    : a.incarnation > b.incarnation
    ? 1
    : 0;
}

/**
 * The member that should run the singleton: the oldest up member (with `role`, if given),
 * reachable or not (an unreachable member stays the host until it is downed).
 *
 * @param members A node's view of the members.
 * @param role The role a host must have, if any.
 * @returns The host, or `undefined` when no member qualifies.
 */
export function singletonHost(
  members: readonly ClusterMember[],
  role: string | undefined,
): ClusterMember | undefined {
  let host: ClusterMember | undefined;
  for (const member of members) {
    if (member.status !== "up") continue;
    if (role !== undefined && !member.roles.includes(role)) continue;
    if (host === undefined || byAge(member, host) < 0) host = member;
  }
  return host;
}

/** Whether a member is alive in the membership sense (not down, not removed). */
export function isLiveMember(member: ClusterMember): boolean {
  return member.status !== "down" && member.status !== "removed";
}

/** A member's lease owner id and identity: `node#incarnation`. */
export function memberId(member: ClusterMember): string {
  return `${member.node}#${member.incarnation}`;
}
