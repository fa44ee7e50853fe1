/**
 * Distributed publish/subscribe on a cluster: typed topics, subscriptions of actors, and
 * publications routed only to the nodes that have subscribers, with Troupe's own system topics
 * (membership events) through the same API.
 *
 * @example A topic and a keyed topic
 * ```ts
 * import { defineTopic } from "@troupe/troupe/cluster";
 * const chat = defineTopic<{ text: string }>("chat");
 * console.log(chat.withKey("room-1").key); // "room-1"
 * ```
 *
 * @module
 */
export {
  InvalidPubSubFrameError,
  isInvalidPubSubFrameError,
  isPubSubClosedError,
  PubSubClosedError,
} from "./errors.ts";
export { PubSub, type PubSubOptions } from "./pubsub.ts";
export { PubSubExtensions } from "./pubsub_extensions.ts";
export {
  MEMBER_EVENTS,
  SHARD_EVENTS,
  type ShardEvent,
  type ShardEventReason,
  type ShardEventType,
} from "./system_topics.ts";
export {
  defineTopic,
  type Publication,
  type Topic,
  type TopicSubscriber,
} from "./topic.ts";
export type { TopicMetrics } from "./topic_metrics.ts";
