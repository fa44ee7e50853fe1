// The system topics: what Troupe itself publishes, through the same API as users' topics.
import type { MemberEvent } from "../member_event.ts";
import { systemTopic, type Topic } from "./topic.ts";

/**
 * This node's membership events (member joined, up, leaving, exited, downed, removed,
 * unreachable, reachable, leader changed, self-downed), as its `Cluster` sees them. Each node
 * publishes its own events on it; subscriptions to it are never routed to other nodes. Shard
 * moves will follow once sharding exists.
 *
 * @example Usage
 * ```ts ignore
 * import { MEMBER_EVENTS } from "@troupe/troupe/cluster";
 * pubsub.subscribe(MEMBER_EVENTS, watcherRef); // told { publication: { message: MemberEvent } }
 * ```
 */
export const MEMBER_EVENTS: Topic<MemberEvent> = systemTopic<MemberEvent>(
  "members",
);
