/**
 * The cluster's Redis providers: the membership table (the source of truth of who is in the
 * cluster, changed by versioned compare-and-set in Lua) and the lease (lease-majority downing,
 * the singleton's fencing), through the `redis` npm package (node-redis 5). It is its own
 * subpath export, `@troupe/troupe/cluster/redis`, so programs that do not use Redis never load a
 * Redis client; on npm, `redis` is an optional peer dependency.
 *
 * @example Share a membership table
 * ```ts ignore
 * import { RedisMembershipTable } from "@troupe/troupe/cluster/redis";
 *
 * const table = await RedisMembershipTable.connect({ url: "redis://127.0.0.1:6379", keyPrefix: "shop:" });
 * console.log((await table.read()).version);
 * await table.close();
 * ```
 *
 * @module
 */
export {
  RedisMembershipTable,
  type RedisMembershipTableOptions,
} from "./redis_membership_table.ts";
export { RedisLease, type RedisLeaseOptions } from "./redis_lease.ts";
// The contracts they implement, so this entry point documents itself completely.
export type {
  MemberId,
  MemberRow,
  MembershipTable,
  MembershipTableSnapshot,
  MemberStatus,
} from "../membership_table.ts";
export type { Lease, LeaseGrant } from "../lease.ts";
