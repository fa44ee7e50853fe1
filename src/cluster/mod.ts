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
// Membership tables, leases and discovery providers (memory, static, table, Kubernetes) and
// their conformance suites.
export {
  ClusterClosedError,
  ClusterStoreUnavailableError,
  type ClusterStoreUnavailableErrorOptions,
  CorruptClusterDataError,
  DiscoveryForbiddenError,
  DiscoveryResponseError,
  DiscoveryUnavailableError,
  isClusterClosedError,
  isClusterStoreUnavailableError,
  isCorruptClusterDataError,
  isDiscoveryForbiddenError,
  isDiscoveryResponseError,
  isDiscoveryUnavailableError,
} from "./errors.ts";
export {
  checkExpectedVersion,
  checkMemberRow,
  checkMemberRows,
  checkStatusMove,
  memberKey,
  MemoryMembershipTable,
} from "./memory_membership_table.ts";
export {
  type ConformanceCase,
  type ConformanceOptions,
  membershipTableConformance,
  type MembershipTableFixture,
} from "./membership_table_conformance.ts";
export {
  formatNodeAddress,
  type NodeAddress,
  parseNodeAddress,
  StaticSeeds,
} from "./discovery/static_seeds.ts";
export {
  checkLeaseAcquire,
  checkLeaseName,
  checkLeaseOwner,
  MemoryLease,
  type MemoryLeaseOptions,
} from "./memory_lease.ts";
export { leaseConformance, type LeaseFixture } from "./lease_conformance.ts";
// The clock MemoryLease takes, so this entry point documents itself completely.
export type { Clock, TimerHandle } from "../timer/mod.ts";
export { TableDiscovery } from "./discovery/table_discovery.ts";
export {
  KubernetesDiscovery,
  type KubernetesDiscoveryOptions,
} from "./discovery/kubernetes.ts";
export {
  discoveryConformance,
  type DiscoveryFixture,
} from "./discovery/discovery_conformance.ts";
