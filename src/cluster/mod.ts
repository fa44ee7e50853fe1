/**
 * Troupe's cluster: membership, discovery and failure detection on top of the remoting layer.
 *
 * @module
 */
export {
  MEMBER_STATUSES,
  type MemberRow,
  type MembershipTable,
  type MembershipTableSnapshot,
  type MemberStatus,
} from "./membership_table.ts";
export { type DiscoveredNode, type Discovery } from "./discovery.ts";
export { type Lease, type LeaseGrant } from "./lease.ts";
