// The subscribers on this node, by topic id, each watched through the backplane so that a
// stopped subscriber leaves every topic it was in.
import {
  Device,
  type DeviceId,
  type DeviceMessage,
  type Line,
  LinkMode,
} from "../../backplane/mod.ts";
import { type ActorRef, watchLineOf } from "../../actor/mod.ts";

/** The subscribers of one topic id on this node. */
export class LocalTopic {
  readonly id: string;
  readonly name: string;
  readonly key: string | undefined;
  /** Iterated by publishes; copied before a change while one iterates (copy on write). */
  subscribers: ActorRef<object>[] = [];
  /** Position of each subscriber (by ref key) in `subscribers`. */
  readonly index = new Map<string, number>();
  /** How many publishes are iterating `subscribers` now. */
  iterating = 0;

  constructor(id: string, name: string, key: string | undefined) {
    this.id = id;
    this.name = name;
    this.key = key;
  }

  add(refKey: string, ref: ActorRef<object>): boolean {
    if (this.index.has(refKey)) return false;
    if (this.iterating > 0) this.subscribers = this.subscribers.slice();
    this.index.set(refKey, this.subscribers.length);
    this.subscribers.push(ref);
    return true;
  }

  remove(refKey: string): boolean {
    const at = this.index.get(refKey);
    if (at === undefined) return false;
    if (this.iterating > 0) this.subscribers = this.subscribers.slice();
    const subscribers = this.subscribers;
    const last = subscribers.pop()!;
    this.index.delete(refKey);
    if (at < subscribers.length) {
      subscribers[at] = last;
      this.index.set(last.toJSON(), at);
    }
    return true;
  }
}

interface Watched {
  readonly key: string;
  readonly line: Line;
  readonly topics: Set<string>;
}

/** What the owner is told when a topic id gets its first or loses its last subscriber. */
export interface LocalTopicsListener {
  first(topic: LocalTopic): void;
  empty(topic: LocalTopic): void;
}

export class LocalTopics {
  readonly #topics = new Map<string, LocalTopic>();
  readonly #byKey = new Map<string, Watched>();
  readonly #byLine = new Map<DeviceId, Watched>();
  readonly #listener: LocalTopicsListener;
  readonly #watcher: Device;

  constructor(listener: LocalTopicsListener) {
    this.#listener = listener;
    this.#watcher = new Device({
      onMessage: (message: DeviceMessage) => {
        if (message.kind === "disconnected") this.#stopped(message.id);
      },
    });
  }

  /** The subscribers of a topic id, if any. */
  get(id: string): LocalTopic | undefined {
    return this.#topics.get(id);
  }

  /** How many topic ids have subscribers here. */
  get size(): number {
    return this.#topics.size;
  }

  /**
   * Adds `ref` to a topic id; returns whether it was not in it already.
   *
   * @throws {TypeError} When `ref` is not an actor ref.
   */
  add(
    id: string,
    name: string,
    key: string | undefined,
    ref: ActorRef<object>,
  ): boolean {
    const line = watchLineOf(ref);
    const refKey = ref.toJSON();
    let topic = this.#topics.get(id);
    if (topic?.index.has(refKey)) return false;
    let watched = this.#byKey.get(refKey);
    if (watched === undefined) {
      watched = { key: refKey, line, topics: new Set() };
      this.#byKey.set(refKey, watched);
      this.#byLine.set(line.id, watched);
      // An actor stopped already is reported at once, by #stopped, which removes it again.
      this.#watcher.linkLine(line, LinkMode.Monitor);
      if (!this.#byKey.has(refKey)) return false;
    }
    watched.topics.add(id);
    if (topic === undefined) {
      topic = new LocalTopic(id, name, key);
      this.#topics.set(id, topic);
      topic.add(refKey, ref);
      this.#listener.first(topic);
    } else topic.add(refKey, ref);
    return true;
  }

  /** Removes `ref` from a topic id; returns whether it was in it. */
  remove(id: string, ref: ActorRef<object>): boolean {
    const refKey = ref.toJSON();
    const watched = this.#byKey.get(refKey);
    if (watched === undefined || !watched.topics.delete(id)) return false;
    this.#leave(id, refKey);
    if (watched.topics.size === 0) this.#forget(watched);
    return true;
  }

  /** Stops watching; forgets every subscriber (no listener calls). */
  close(): void {
    this.#watcher.disconnect();
    this.#topics.clear();
    this.#byKey.clear();
    this.#byLine.clear();
  }

  #stopped(line: DeviceId): void {
    const watched = this.#byLine.get(line);
    if (watched === undefined) return;
    this.#forget(watched);
    for (const id of watched.topics) this.#leave(id, watched.key);
    watched.topics.clear();
  }

  #leave(id: string, refKey: string): void {
    const topic = this.#topics.get(id);
    if (topic === undefined || !topic.remove(refKey)) return;
    if (topic.index.size === 0) {
      this.#topics.delete(id);
      this.#listener.empty(topic);
    }
  }

  #forget(watched: Watched): void {
    this.#byKey.delete(watched.key);
    this.#byLine.delete(watched.line.id);
    if (this.#watcher.connected) {
      this.#watcher.unlinkLine(watched.line, LinkMode.Monitor);
    }
  }
}
