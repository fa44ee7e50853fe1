// Pub/sub's counters, per topic name (keys are not labels: their number is unbounded), in the
// actor system's metrics registry.
import type { CounterChild, MetricsRegistry } from "../../metrics/mod.ts";

/** The counts of one topic on one node ({@linkcode PubSub.metrics}). */
export interface TopicMetrics {
  /** Publications made on this node (cluster-wide and local). */
  readonly publishes: number;
  /** Publications handed to a subscriber's mailbox on this node. */
  readonly deliveries: number;
  /**
   * Deliveries that became dead letters (a full mailbox, a stopped subscriber; these are
   * counted in `deliveries` too), and publications this node could not send to a node that
   * has subscribers (reason `node-unreachable`).
   */
  readonly dropped: number;
  /**
   * Publications received from other nodes (a node without subscribers for the topic receives
   * none once the registry has converged).
   */
  readonly received: number;
}

/** The counters of one topic name. */
export class TopicCounters {
  readonly publishes: CounterChild;
  readonly deliveries: CounterChild;
  readonly dropped: CounterChild;
  readonly received: CounterChild;

  constructor(registry: MetricsRegistry, topic: string) {
    this.publishes = registry.counter(
      "troupe_pubsub_publishes_total",
      "Pub/sub publications made on this node, by topic.",
      ["topic"],
    ).labels(topic);
    this.deliveries = registry.counter(
      "troupe_pubsub_deliveries_total",
      "Pub/sub publications handed to a subscriber's mailbox, by topic.",
      ["topic"],
    ).labels(topic);
    this.dropped = registry.counter(
      "troupe_pubsub_dropped_total",
      "Pub/sub deliveries that became dead letters, and publications not sent to a node, by topic.",
      ["topic"],
    ).labels(topic);
    this.received = registry.counter(
      "troupe_pubsub_received_total",
      "Pub/sub publications received from other nodes, by topic.",
      ["topic"],
    ).labels(topic);
  }

  snapshot(): TopicMetrics {
    return {
      publishes: this.publishes.value,
      deliveries: this.deliveries.value,
      dropped: this.dropped.value,
      received: this.received.value,
    };
  }
}
