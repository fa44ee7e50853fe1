// Distributed publish/subscribe on a cluster member: local subscriptions, the replicated
// registry of which nodes have subscribers for which topics (gossiped), publications sent once
// to each node that has subscribers and fanned out there, and the system topics.
import {
  type ActorRef,
  type ActorSystem,
  type DeadLetter,
  isMailboxFullError,
} from "../../actor/mod.ts";
import type { ExtensionChannel, RemoteNode } from "../../remote/mod.ts";
import type { Cluster } from "../cluster.ts";
import type { MemberEvent } from "../member_event.ts";
import { InvalidPubSubFrameError, PubSubClosedError } from "./errors.ts";
import { LocalTopics } from "./_local_topics.ts";
import { RegistryGossip } from "./_gossip.ts";
import { TopicRegistry } from "./_registry.ts";
import { FrameSender } from "./_sender.ts";
import { PUBSUB_EXTENSION, type PubSubFrame } from "./_wire.ts";
import { bindPubSubEndpoint, PubSubExtensions } from "./pubsub_extensions.ts";
import { bindSystemTopics } from "./system_publisher.ts";
import { MEMBER_EVENTS } from "./system_topics.ts";
import {
  checkTopic,
  checkTopicPart,
  PUBLICATION,
  type Publication,
  splitTopicId,
  SYSTEM_TOPIC_PREFIX,
  type Topic,
  topicId,
  type TopicSubscriber,
} from "./topic.ts";
import { TopicCounters, type TopicMetrics } from "./topic_metrics.ts";

/** Options of {@linkcode PubSub.start}. */
export interface PubSubOptions {
  /** The extension the node was started with (`extensions: [..., ...pubsub.remote]`). */
  readonly extensions: PubSubExtensions;
  /**
   * How often this node gossips its registry, in ms (default 1000): each round it sends the
   * versions it holds to one random reachable member, which answers with the buckets that are
   * newer there (and its own versions, when this node's are newer).
   */
  readonly gossipIntervalMs?: number;
  /** The random source of gossip's choice of member (default `Math.random`). */
  readonly random?: () => number;
  /** Where pub/sub reports problems (default: the console). */
  readonly logger?: { error(message: string, error: unknown): void };
}

class PublicationImpl<T> implements Publication<T> {
  readonly topic: string;
  readonly key: string | undefined;
  readonly message: T;
  readonly publisher: string;
  constructor(
    topic: string,
    key: string | undefined,
    message: T,
    publisher: string,
  ) {
    this.topic = topic;
    this.key = key;
    this.message = message;
    this.publisher = publisher;
  }
}

/** How many checked topic ids from other nodes are remembered. */
const MAX_REMOTE_IDS = 10_000;

const CONSOLE_LOGGER = Object.freeze({
  error: (message: string, error: unknown): void =>
    console.error(`[troupe pubsub] ${message}`, error),
});

/**
 * Publish/subscribe across a cluster, on one member node. Actors subscribe to typed topics on
 * the node where they run; a publication made on any node reaches the subscribers of its
 * topic on every node.
 *
 * - **Routed, not flooded**: each node owns a versioned bucket of the topics it has
 *   subscribers for; buckets are gossiped (a random member per round), so every node learns
 *   which nodes to send a topic's publications to. A publication goes once to each such node
 *   and is fanned out there; a node without subscribers for a topic receives none of its
 *   frames (once the registry has converged: a node that has just lost its last subscriber may
 *   still receive a few, which it counts as `received` and drops).
 * - **Clean-up**: a subscriber that stops leaves its topics (it is watched); the buckets of
 *   members that are down or removed are dropped.
 * - **Delivery**: at most once, in publication order per publishing node and subscriber. A
 *   delivery the subscriber's mailbox refuses or drops is a dead letter (reason
 *   `mailbox-full`, `dropped-oldest` or `actor-stopped`), and a publication that cannot be sent
 *   to a node is one too (`node-unreachable`); both count in the topic's `dropped`. A frame lost
 *   with a broken connection is lost (at most once).
 * - **System topics**: {@linkcode MEMBER_EVENTS} carries this node's membership events, and
 *   `SHARD_EVENTS` its shard moves (when sharding is given this pub/sub), through the same API
 *   (only Troupe publishes on them; subscriptions to them stay on the node).
 *
 * Messages cross nodes as JSON (encoded once per publication); on the publishing node, local
 * subscribers share the message object.
 *
 * @example A subscriber on every node, publications from any
 * ```ts ignore
 * import { defineActor } from "@troupe/troupe";
 * import { defineTopic, PubSub, type Publication } from "@troupe/troupe/cluster";
 * const news = defineTopic<string>("news");
 * const reader = defineActor({
 *   name: "reader",
 *   init: () => ({}),
 *   handlers: { publication: (_s, p: Publication<string>) => console.log(p.message) },
 * });
 * const pubsub = await PubSub.start(node, cluster, { extensions: pubsubExtensions });
 * pubsub.subscribe(news, await system.spawn(reader, undefined));
 * pubsub.publish(news, "hello, cluster");
 * ```
 */
export class PubSub implements AsyncDisposable {
  readonly #node: RemoteNode;
  readonly #system: ActorSystem;
  readonly #cluster: Cluster;
  readonly #registry: TopicRegistry;
  readonly #local: LocalTopics;
  readonly #sender: FrameSender;
  readonly #gossip: RegistryGossip;
  readonly #logger: { error(message: string, error: unknown): void };
  readonly #counters = new Map<string, TopicCounters>();
  /** Checked topic ids from other nodes (bounded), to their name and key. */
  readonly #remoteIds = new Map<
    string,
    { name: string; key: string | undefined }
  >();
  readonly #events = new AbortController();
  #unbind: () => void = () => {};
  #unlistenDeadLetters: () => void = () => {};
  #closed = false;

  private constructor(
    node: RemoteNode,
    cluster: Cluster,
    channel: ExtensionChannel<PubSubFrame, void>,
    options: PubSubOptions,
    intervalMs: number,
  ) {
    this.#node = node;
    this.#system = node.system;
    this.#cluster = cluster;
    this.#logger = options.logger ?? CONSOLE_LOGGER;
    this.#registry = new TopicRegistry(node.node, cluster.self.incarnation);
    this.#local = new LocalTopics({
      first: (topic) => {
        // System topics are published on each node by the node itself: never routed.
        if (!topic.name.startsWith(SYSTEM_TOPIC_PREFIX)) {
          this.#registry.addLocal(topic.id);
        }
      },
      empty: (topic) => void this.#registry.removeLocal(topic.id),
    });
    this.#sender = new FrameSender(
      node,
      channel,
      (frame, to) => this.#undelivered(frame, to),
    );
    this.#gossip = new RegistryGossip({
      self: node.node,
      cluster,
      registry: this.#registry,
      sender: this.#sender,
      clock: node.system.clock,
      intervalMs,
      random: options.random ?? Math.random,
    });
    // Sharding publishes its shard events here (see system_publisher.ts).
    bindSystemTopics(this, {
      subscribed: (id) => !this.#closed && this.#local.get(id) !== undefined,
      publish: (topic, message) => {
        if (!this.#closed) this.#publishHere(topic, message);
      },
    });
  }

  /**
   * Starts pub/sub on a member: binds the extension, follows membership, and gossips the
   * registry every `gossipIntervalMs` on the actor system's clock.
   *
   * @param node This node, started with `extensions` including `options.extensions.remote`.
   * @param cluster This node's membership (from `Cluster.join`).
   * @param options The extension and the gossip's timing.
   * @returns The node's pub/sub.
   * @throws {TypeError} When the node lacks the extension, or pub/sub runs on it already.
   * @throws {RangeError} When `gossipIntervalMs` is not a finite number > 0.
   */
  static start(
    node: RemoteNode,
    cluster: Cluster,
    options: PubSubOptions,
  ): Promise<PubSub> {
    if (!(options?.extensions instanceof PubSubExtensions)) {
      throw new TypeError(
        "Invalid pub/sub options: `extensions` must be the PubSubExtensions the node was started with",
      );
    }
    const intervalMs = options.gossipIntervalMs ?? 1000;
    if (!(intervalMs > 0) || !Number.isFinite(intervalMs)) {
      throw new RangeError(
        `Invalid gossipIntervalMs ${intervalMs}: expected a finite number > 0`,
      );
    }
    let channel: ExtensionChannel<PubSubFrame, void>;
    try {
      channel = node.extension<PubSubFrame, void>(PUBSUB_EXTENSION);
    } catch (error) {
      throw new TypeError(
        `Node "${node.node}" was not started with the pub/sub extension (pass pubsubExtensions.remote to RemoteNode.start)`,
        { cause: error },
      );
    }
    const pubsub = new PubSub(node, cluster, channel, options, intervalMs);
    pubsub.#unbind = bindPubSubEndpoint(options.extensions, node.node, {
      receive: (frame, from) => pubsub.#receive(frame, from),
    });
    pubsub.#unlistenDeadLetters = node.system.deadLetters.subscribe((letter) =>
      pubsub.#deadLetter(letter)
    );
    pubsub.#gossip.start();
    void pubsub.#followMembership();
    return Promise.resolve(pubsub);
  }

  /** This node's name. */
  get node(): string {
    return this.#node.node;
  }

  /**
   * Subscribes an actor of this node to a topic (once: subscribing again changes nothing). The
   * subscription ends with {@linkcode PubSub.unsubscribe}, when the actor stops, or when this
   * pub/sub closes.
   *
   * @example Usage
   * ```ts ignore
   * pubsub.subscribe(defineTopic<string>("news"), readerRef);
   * ```
   *
   * @typeParam T The topic's message type.
   * @param topic The topic (and key).
   * @param ref An actor of this node that handles `publication`.
   * @returns Whether it was not subscribed yet.
   * @throws {TypeError} When the topic or ref is invalid, or the actor runs on another node.
   * @throws {PubSubClosedError} When this pub/sub is closed.
   */
  subscribe<T>(topic: Topic<T>, ref: ActorRef<TopicSubscriber<T>>): boolean {
    const t = this.#open(topic);
    this.#checkLocal(ref);
    return this.#local.add(
      topicId(t.name, t.key),
      t.name,
      t.key,
      ref as ActorRef<object>,
    );
  }

  /**
   * Ends an actor's subscription to a topic.
   *
   * @example Usage
   * ```ts ignore
   * pubsub.unsubscribe(news, readerRef);
   * ```
   *
   * @typeParam T The topic's message type.
   * @param topic The topic (and key).
   * @param ref The actor.
   * @returns Whether it was subscribed.
   * @throws {TypeError} When the topic is invalid.
   * @throws {PubSubClosedError} When this pub/sub is closed.
   */
  unsubscribe<T>(topic: Topic<T>, ref: ActorRef<TopicSubscriber<T>>): boolean {
    const t = this.#open(topic);
    return this.#local.remove(topicId(t.name, t.key), ref as ActorRef<object>);
  }

  /**
   * Publishes a message to every subscriber of the topic in the cluster: delivered here to
   * this node's subscribers, and sent once to each other node that has subscribers.
   *
   * @example Usage
   * ```ts ignore
   * pubsub.publish(defineTopic<string>("news"), "hello");
   * ```
   *
   * @typeParam T The topic's message type.
   * @param topic The topic (and key); not a system topic.
   * @param message The message (JSON-serializable when other nodes have subscribers).
   * @throws {TypeError} When the topic is invalid or a system topic, or the message cannot be
   * encoded as JSON (nothing is delivered then).
   * @throws {PubSubClosedError} When this pub/sub is closed.
   */
  publish<T>(topic: Topic<T>, message: T): void {
    const t = this.#userTopic(topic);
    const id = topicId(t.name, t.key);
    const nodes = this.#registry.nodesFor(id);
    let json = "";
    if (nodes.length > 0) {
      json = JSON.stringify(message);
      if (json === undefined) {
        throw new TypeError(
          `Cannot publish on topic "${t.name}": the message is not JSON-serializable`,
        );
      }
    }
    const counters = this.#countersOf(t.name);
    counters.publishes.inc();
    this.#deliver(
      id,
      new PublicationImpl(t.name, t.key, message, this.#node.node),
      counters,
    );
    for (const node of nodes) {
      const member = this.#gossip.member(node);
      if (member === undefined) {
        this.#undelivered({ t: "pub", to: node, items: [id, json] }, node);
      } else this.#sender.publish(node, member.address, id, json);
    }
  }

  /**
   * Publishes a message to the subscribers of the topic on this node only.
   *
   * @example Usage
   * ```ts ignore
   * pubsub.publishLocal(defineTopic<string>("news"), "local news");
   * ```
   *
   * @typeParam T The topic's message type.
   * @param topic The topic (and key); not a system topic.
   * @param message The message.
   * @throws {TypeError} When the topic is invalid or a system topic.
   * @throws {PubSubClosedError} When this pub/sub is closed.
   */
  publishLocal<T>(topic: Topic<T>, message: T): void {
    const t = this.#userTopic(topic);
    this.#publishHere(t, message);
  }

  /**
   * The other nodes this node sends the topic's publications to (those that have subscribers
   * for it, as far as this node's registry knows): a diagnostic.
   *
   * @param topic The topic (and key).
   * @returns Their names.
   * @throws {TypeError} When the topic is invalid.
   */
  nodesFor(topic: Topic<unknown>): string[] {
    const t = checkTopic(topic);
    return [...this.#registry.nodesFor(topicId(t.name, t.key))];
  }

  /**
   * How many actors of this node subscribe to the topic.
   *
   * @param topic The topic (and key).
   * @returns The number.
   * @throws {TypeError} When the topic is invalid.
   */
  subscriberCount(topic: Topic<unknown>): number {
    const t = checkTopic(topic);
    return this.#local.get(topicId(t.name, t.key))?.subscribers.length ?? 0;
  }

  /**
   * The topic's counts on this node (all its keys together). They are also in the actor
   * system's metrics, as `troupe_pubsub_{publishes,deliveries,dropped,received}_total{topic}`.
   *
   * @param topic The topic.
   * @returns Its counts.
   * @throws {TypeError} When the topic is invalid.
   */
  metrics(topic: Topic<unknown>): TopicMetrics {
    return this.#countersOf(checkTopic(topic).name).snapshot();
  }

  /**
   * Stops pub/sub on this node: its subscriptions end, the other members are told it has no
   * subscribers any more, and frames for it are dropped. Idempotent.
   *
   * @returns Once stopped.
   */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#gossip.stop(this.#registry.clearLocal());
    this.#closed = true;
    this.#events.abort();
    this.#unbind();
    this.#unlistenDeadLetters();
    this.#local.close();
    this.#sender.close();
    return Promise.resolve();
  }

  /** Closes (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---- publishing ---------------------------------------------------------------------------

  #publishHere<T>(t: Topic<unknown>, message: T): void {
    const counters = this.#countersOf(t.name);
    counters.publishes.inc();
    this.#deliver(
      topicId(t.name, t.key),
      new PublicationImpl(t.name, t.key, message, this.#node.node),
      counters,
    );
  }

  /** The hot path: one tell per local subscriber of the topic id. */
  #deliver(
    id: string,
    publication: PublicationImpl<unknown>,
    counters: TopicCounters,
  ): void {
    const topic = this.#local.get(id);
    if (topic === undefined) return;
    const subscribers = topic.subscribers as ActorRef<
      TopicSubscriber<unknown>
    >[];
    const n = subscribers.length;
    topic.iterating++;
    try {
      for (let i = 0; i < n; i++) {
        try {
          subscribers[i].tell(PUBLICATION, publication);
        } catch (error) {
          // A mailbox with the "reject" policy throws, after making the message a dead letter.
          if (!isMailboxFullError(error)) {
            this.#logger.error(
              `Cannot deliver a publication of topic "${topic.name}"`,
              error,
            );
          }
        }
      }
    } finally {
      topic.iterating--;
    }
    counters.deliveries.inc(n);
  }

  #undelivered(frame: PubSubFrame, node: string): void {
    if (frame.t !== "pub") return; // gossip is repeated anyway
    const items = frame.items;
    for (let i = 0; i < items.length; i += 2) {
      const { name, key } = splitTopicId(items[i]);
      let message: unknown;
      try {
        message = JSON.parse(items[i + 1]);
      } catch {
        message = items[i + 1];
      }
      this.#system.deadLetters.publish({
        recipient: `${node}/${PUBSUB_EXTENSION}`,
        messageType: PUBLICATION,
        payload: new PublicationImpl(name, key, message, this.#node.node),
        reason: "node-unreachable",
      });
    }
  }

  #deadLetter(letter: DeadLetter): void {
    if (
      letter.messageType === PUBLICATION &&
      letter.payload instanceof PublicationImpl
    ) this.#countersOf(letter.payload.topic).dropped.inc();
  }

  // ---- frames from other nodes ---------------------------------------------------------------

  #receive(frame: PubSubFrame, from: string): void {
    if (this.#closed) return;
    switch (frame.t) {
      case "pub":
        return this.#receivePublications(frame.items, from);
      case "status":
        return this.#gossip.onStatus(frame.versions, frame.reply, from);
      case "delta":
        return this.#gossip.onDelta(frame.buckets);
    }
  }

  /** Delivers each publication of a frame; a bad one is reported after the others went. */
  #receivePublications(items: readonly string[], from: string): void {
    let failure: InvalidPubSubFrameError | undefined;
    for (let i = 0; i < items.length; i += 2) {
      try {
        this.#receivePublication(items[i], items[i + 1], from);
      } catch (error) {
        failure ??= error as InvalidPubSubFrameError;
      }
    }
    if (failure !== undefined) throw failure;
  }

  #receivePublication(id: string, json: string, from: string): void {
    const { name, key } = this.#remoteTopic(id, from);
    const counters = this.#countersOf(name);
    counters.received.inc();
    if (this.#local.get(id) === undefined) return;
    let message: unknown;
    try {
      message = JSON.parse(json);
    } catch (error) {
      throw new InvalidPubSubFrameError(
        `Invalid pub/sub frame from node "${from}": the message of topic "${name}" is not JSON`,
        { cause: error },
      );
    }
    this.#deliver(id, new PublicationImpl(name, key, message, from), counters);
  }

  /** The name and key of a topic id from another node, checked. */
  #remoteTopic(
    id: string,
    from: string,
  ): { name: string; key: string | undefined } {
    const known = this.#remoteIds.get(id);
    if (known !== undefined) return known;
    const topic = splitTopicId(id);
    try {
      checkTopicPart("name", topic.name);
      if (topic.key !== undefined) checkTopicPart("key", topic.key);
    } catch (error) {
      throw new InvalidPubSubFrameError(
        `Invalid pub/sub frame from node "${from}": bad topic`,
        { cause: error },
      );
    }
    if (this.#remoteIds.size >= MAX_REMOTE_IDS) this.#remoteIds.clear();
    this.#remoteIds.set(id, topic);
    return topic;
  }

  // ---- membership and gossip -----------------------------------------------------------------

  async #followMembership(): Promise<void> {
    try {
      for await (const event of this.#cluster.events(this.#events.signal)) {
        if (this.#closed) return;
        if (event.type !== "leader-changed" && event.type !== "self-downed") {
          this.#gossip.refresh();
        }
        this.#publishHere<MemberEvent>(MEMBER_EVENTS, event);
      }
    } catch (error) {
      this.#logger.error("Membership events ended", error);
    }
  }

  // ---- checks --------------------------------------------------------------------------------

  #open(topic: Topic<unknown>): Topic<unknown> {
    if (this.#closed) throw new PubSubClosedError(this.#node.node);
    return checkTopic(topic);
  }

  #userTopic(topic: Topic<unknown>): Topic<unknown> {
    const t = this.#open(topic);
    if (t.system) {
      throw new TypeError(
        `Cannot publish on system topic "${t.name}": only Troupe publishes there`,
      );
    }
    return t;
  }

  #checkLocal(ref: unknown): void {
    const node = (ref as ActorRef<object> | null)?.address?.node;
    if (node !== this.#system.node) {
      throw new TypeError(
        `Cannot subscribe ${
          typeof node === "string"
            ? `an actor of node "${node}"`
            : "a non-actor"
        } on node "${this.#system.node}": subscribe on the node where the actor runs`,
      );
    }
  }

  #countersOf(name: string): TopicCounters {
    let counters = this.#counters.get(name);
    if (counters === undefined) {
      counters = new TopicCounters(this.#system.metrics, name);
      this.#counters.set(name, counters);
    }
    return counters;
  }
}
