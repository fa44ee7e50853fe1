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
// Membership (h-member): joining, members, leader, leaving, downing and events.
export { Cluster, type ClusterOptions } from "./cluster.ts";
export { ClusterExtensions } from "./cluster_extensions.ts";
export type {
  ClusterMember,
  MemberEvent,
  MemberEventProtocol,
} from "./member_event.ts";
export {
  DEFAULT_STABLE_AFTER_MS,
  type DowningContext,
  type DowningDecision,
  type DowningOptions,
  type DowningSides,
  downingSides,
  type DowningStrategy,
  keepMajority,
  leaseMajority,
  type LeaseMajorityOptions,
  staticQuorum,
} from "./downing.ts";
export {
  ClusterJoinError,
  InvalidGossipError,
  isClusterJoinError,
  isInvalidGossipError,
} from "./errors.ts";
// The core types membership names in its signatures, so this entry point documents itself.
export type * from "../../mod.ts";
