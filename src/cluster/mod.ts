/**
 * Troupe's cluster: membership, discovery and failure detection on top of the remoting layer.
 *
 * @module
 */
export {
  MEMBER_STATUSES,
  type MemberId,
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
  checkDefunctDelete,
  checkExpectedVersion,
  checkMemberIds,
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
// Membership (h-member): joining, members, leader, leaving, downing and events.
export { Cluster, type ClusterOptions } from "./cluster.ts";
export { ClusterExtensions } from "./cluster_extensions.ts";
export {
  DEFAULT_FAILURE_DETECTOR_SETTINGS,
  type FailureDetectorSettings,
  failureDetectorSettings,
} from "./failure_detector.ts";
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
// Membership through a table: partitions decided in the table, members kept in step with it.
export {
  tableDowning,
  type TableDowningOptions,
  type TableUnavailablePolicy,
} from "./table_downing.ts";
export {
  DEFAULT_DELETE_DEFUNCT_AFTER_MS,
  DEFAULT_TABLE_POLL_MS,
  syncWithTable,
  TableMembership,
  type TableMembershipOptions,
} from "./table_membership.ts";
// The core types membership names in its signatures, so this entry point documents itself.
export type * from "../../mod.ts";
// Pub/sub (h2-pubsub): typed topics routed to the nodes that have subscribers, system topics.
export {
  defineTopic,
  InvalidPubSubFrameError,
  isInvalidPubSubFrameError,
  isPubSubClosedError,
  MEMBER_EVENTS,
  type Publication,
  PubSub,
  PubSubClosedError,
  PubSubExtensions,
  type PubSubOptions,
  SHARD_EVENTS,
  type ShardEvent,
  type ShardEventReason,
  type ShardEventType,
  type Topic,
  type TopicMetrics,
  type TopicSubscriber,
} from "./pubsub/mod.ts";
// The cluster singleton (h2-singleton): one fenced instance cluster-wide, reached through a proxy.
export {
  ClusterSingleton,
  type ClusterSingletonOptions,
  isSingletonBufferFullError,
  isSingletonClosedError,
  SingletonBufferFullError,
  SingletonClosedError,
  type SingletonFence,
} from "./singleton/mod.ts";
// Sharding (h2-sharding): entities by (type, id), shards, coordinator, passivation; shard
// events on SHARD_EVENTS (h3-shardevents).
export {
  type AllocationStrategy,
  type CoordinatorOptions,
  defaultShardOf,
  EntityType,
  type EntityTypeOptions,
  fnv1a32,
  InvalidShardingMessageError,
  isInvalidShardingMessageError,
  isShardBufferFullError,
  isShardCoordinatorUnavailableError,
  isShardingClosedError,
  type LeastShardsOptions,
  leastShardsStrategy,
  type NodeShardStats,
  type PassivationOptions,
  type RegionStats,
  type ShardAllocations,
  ShardBufferFullError,
  ShardCoordinatorUnavailableError,
  type ShardExtractor,
  Sharding,
  ShardingClosedError,
  type ShardingCloseOptions,
  ShardingExtensions,
  type ShardingOptions,
} from "./sharding/mod.ts";
