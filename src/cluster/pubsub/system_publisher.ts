// How Troupe's own modules (sharding) publish on a system topic of one node's pub/sub: only to
// that node's subscribers, and with a check that costs one map lookup, so that an event nobody
// subscribed to is never built.
import type { PubSub } from "./pubsub.ts";
import { checkTopic, type Topic, topicId } from "./topic.ts";

/** What a {@linkcode PubSub} lends the publishers of its system topics. */
export interface SystemTopicsHook {
  /** Whether the topic id has subscribers on this node (false once pub/sub is closed). */
  subscribed(id: string): boolean;
  /** Delivers a message to this node's subscribers of a system topic (nothing once closed). */
  publish(topic: Topic<unknown>, message: unknown): void;
}

const HOOKS = new WeakMap<object, SystemTopicsHook>();

/** Registers a PubSub's hook (each PubSub does, once, as it starts). */
export function bindSystemTopics(pubsub: object, hook: SystemTopicsHook): void {
  HOOKS.set(pubsub, hook);
}

/** Publishes on one system topic of one node's pub/sub. */
export interface SystemPublisher<T> {
  /** Whether anyone on this node subscribes (one map lookup): build the message only then. */
  subscribed(): boolean;
  /** Delivers the message to this node's subscribers of the topic. */
  publish(message: T): void;
}

/**
 * The publisher of a system topic on `pubsub`'s node.
 *
 * @param pubsub A PubSub (from `PubSub.start`).
 * @param topic A system topic.
 * @returns Its publisher.
 * @throws {TypeError} When `pubsub` is not a PubSub, or the topic is not a system topic.
 */
export function systemPublisher<T>(
  pubsub: PubSub,
  topic: Topic<T>,
): SystemPublisher<T> {
  const hook = HOOKS.get(pubsub as object);
  if (hook === undefined) {
    throw new TypeError(
      "Invalid pubsub: expected a PubSub from PubSub.start()",
    );
  }
  const t = checkTopic(topic);
  if (!t.system) {
    throw new TypeError(`Topic "${t.name}" is not a system topic`);
  }
  const id = topicId(t.name, t.key);
  return {
    subscribed: () => hook.subscribed(id),
    publish: (message: T) => hook.publish(t, message),
  };
}
