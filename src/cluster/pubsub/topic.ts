// Topics: a name, a message type, and optionally a key within the topic; what a subscriber is
// told for each publication.

/** The prefix of system topics (only Troupe publishes on them). */
export const SYSTEM_TOPIC_PREFIX = "troupe.";

/**
 * A topic: a name, the type of its messages, and optionally a key within it (one chat room of
 * the topic `"chat"`, say). A subscription is to one exact topic and key: a subscriber of
 * `chat` without a key does not receive publications to `chat` with the key `"room-1"`.
 *
 * @typeParam T The type of the messages (JSON-serializable, to cross nodes).
 */
export interface Topic<T> {
  /** The topic's name. */
  readonly name: string;
  /** The key within the topic, if any. */
  readonly key: string | undefined;
  /** Whether Troupe itself publishes on it (membership events, say); users cannot publish. */
  readonly system: boolean;
  /**
   * The same topic with a key (`chat` → `chat` for the room `"room-1"`).
   *
   * @param key 1 to 200 characters, no control characters.
   * @returns The keyed topic.
   * @throws {TypeError} When the key is invalid, or this topic has a key already.
   */
  withKey(key: string): Topic<T>;
  /** Type-level only (the message type); always `undefined`. */
  readonly messageType?: T;
}

/**
 * What a subscriber is told for each message published on its topic (message
 * `"publication"`). The object is shared by every subscriber on a node: do not change it.
 *
 * @typeParam T The type of the messages.
 */
export interface Publication<T> {
  /** The topic's name. */
  readonly topic: string;
  /** The key within the topic, if any. */
  readonly key: string | undefined;
  /** The message. */
  readonly message: T;
  /** The node it was published on. */
  readonly publisher: string;
}

/**
 * The protocol of an actor that subscribes to a topic of `T`.
 *
 * @typeParam T The type of the messages.
 */
export interface TopicSubscriber<T> {
  /** One publication on a topic the actor subscribed to. */
  publication(publication: Publication<T>): void;
}

/** The message type a subscriber is told. */
export const PUBLICATION = "publication";

const MAX_LENGTH = 200;
// deno-lint-ignore no-control-regex -- the separator of topic ids must not appear in names
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Throws a TypeError when `text` cannot be a topic's name or key. */
export function checkTopicPart(what: string, text: unknown): string {
  if (
    typeof text !== "string" || text.length === 0 ||
    text.length > MAX_LENGTH || CONTROL.test(text)
  ) {
    throw new TypeError(
      `Invalid topic ${what} ${
        JSON.stringify(text)
      }: expected 1 to ${MAX_LENGTH} characters, no control characters`,
    );
  }
  return text;
}

class TopicImpl<T> implements Topic<T> {
  readonly name: string;
  readonly key: string | undefined;
  readonly system: boolean;

  constructor(name: string, key: string | undefined, system: boolean) {
    this.name = name;
    this.key = key;
    this.system = system;
    Object.freeze(this);
  }

  withKey(key: string): Topic<T> {
    if (this.key !== undefined) {
      throw new TypeError(
        `Topic "${this.name}" has the key ${JSON.stringify(this.key)} already`,
      );
    }
    return new TopicImpl<T>(this.name, checkTopicPart("key", key), this.system);
  }
}

/**
 * Defines a topic.
 *
 * @example A chat topic, with one key per room
 * ```ts
 * import { defineTopic } from "@troupe/troupe/cluster";
 * const chat = defineTopic<{ from: string; text: string }>("chat");
 * const room = chat.withKey("room-1");
 * console.log(room.name, room.key); // "chat" "room-1"
 * ```
 *
 * @typeParam T The type of its messages (JSON-serializable, to cross nodes).
 * @param name 1 to 200 characters, no control characters, not starting with `troupe.`.
 * @returns The topic.
 * @throws {TypeError} When the name is invalid or reserved.
 */
export function defineTopic<T>(name: string): Topic<T> {
  checkTopicPart("name", name);
  if (name.startsWith(SYSTEM_TOPIC_PREFIX)) {
    throw new TypeError(
      `Invalid topic name "${name}": names starting with "${SYSTEM_TOPIC_PREFIX}" are reserved for system topics`,
    );
  }
  return new TopicImpl<T>(name, undefined, false);
}

/** A system topic (for Troupe's own modules). */
export function systemTopic<T>(name: string): Topic<T> {
  return new TopicImpl<T>(
    checkTopicPart("name", SYSTEM_TOPIC_PREFIX + name),
    undefined,
    true,
  );
}

/** Throws a TypeError unless `topic` was made by {@linkcode defineTopic} or `systemTopic`. */
export function checkTopic(topic: unknown): Topic<unknown> {
  if (!(topic instanceof TopicImpl)) {
    throw new TypeError(
      "Invalid topic: expected a topic from defineTopic() (or a system topic)",
    );
  }
  return topic;
}

/** The id of a topic and key in the registry and on the wire. */
export function topicId(name: string, key: string | undefined): string {
  return key === undefined ? name : `${name}\u001f${key}`;
}

/** The name and key of a topic id. */
export function splitTopicId(
  id: string,
): { name: string; key: string | undefined } {
  const at = id.indexOf("\u001f");
  return at < 0
    ? { name: id, key: undefined }
    : { name: id.slice(0, at), key: id.slice(at + 1) };
}
