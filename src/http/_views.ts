// The JSON views of the HTTP API and the dashboard, read from public APIs only: the actor
// system (actors, dead letters, metrics), the remote node (peers) and the cluster (members,
// leader, φ). Pure functions of what they are given, so the endpoints and the live feed share them.
import type { ActorSummary, ActorSystem, RemoteNode } from "../../mod.ts";
import type { Cluster, ClusterMember } from "../cluster/mod.ts";
import type { MetricSnapshot } from "../metrics/mod.ts";

/** The sources an HTTP API reads. */
export interface Sources {
  readonly system: ActorSystem;
  readonly node?: RemoteNode;
  readonly cluster?: Cluster;
  readonly startedAt: number;
  readonly mailboxWarning: number;
}

export type HealthStatus = "healthy" | "degraded" | "unhealthy";

export interface HealthView {
  readonly status: HealthStatus;
  readonly reasons: string[];
  readonly node: string;
  readonly startedAt: string;
  readonly leader: string | null;
}

/** Live members of the cluster as this node sees them, or none without a cluster. */
function selfMember(cluster: Cluster): ClusterMember | undefined {
  try {
    return cluster.self;
  } catch {
    return undefined;
  }
}

/** healthy, degraded (with why) or unhealthy (with why). */
export function health(sources: Sources): HealthView {
  const { system, cluster } = sources;
  const unhealthy: string[] = [];
  const degraded: string[] = [];
  let leader: string | null = null;
  if (cluster !== undefined) {
    const self = selfMember(cluster);
    if (self === undefined || self.status !== "up") {
      const status = self?.status ?? "unknown";
      // On its way in or out (joining, leaving, exiting): degraded; down, removed: unhealthy.
      (status === "joining" || status === "leaving" || status === "exiting"
        ? degraded
        : unhealthy)
        .push(`this node is ${status} in the cluster, not up`);
    }
    leader = cluster.leader()?.node ?? null;
    if (leader === null) degraded.push("the cluster has no leader");
    const unreachable = cluster.members().filter((m) => !m.reachable);
    if (unreachable.length > 0) {
      degraded.push(
        `unreachable members: ${unreachable.map((m) => m.node).join(", ")}`,
      );
    }
    if (!cluster.converged()) {
      degraded.push("the membership view has not converged");
    }
  }
  const busy = system.actors().filter((a) =>
    a.mailboxSize >= sources.mailboxWarning
  );
  if (busy.length > 0) {
    degraded.push(
      `${busy.length} actor(s) with ${sources.mailboxWarning}+ queued messages (e.g. "${
        busy[0].path
      }")`,
    );
  }
  return {
    status: unhealthy.length > 0
      ? "unhealthy"
      : degraded.length > 0
      ? "degraded"
      : "healthy",
    reasons: [...unhealthy, ...degraded],
    node: system.node,
    startedAt: new Date(sources.startedAt).toISOString(),
    leader,
  };
}

/** Ready: up in the cluster (or no cluster configured). */
export function readiness(
  sources: Sources,
): { ready: boolean; reason: string } {
  if (sources.cluster === undefined) {
    return { ready: true, reason: "no cluster configured: ready once started" };
  }
  const status = selfMember(sources.cluster)?.status ?? "unknown";
  return status === "up"
    ? { ready: true, reason: "this node is up in the cluster" }
    : { ready: false, reason: `this node is ${status} in the cluster, not up` };
}

/** Alive: not downed or removed (a downed node should be restarted). */
export function liveness(
  sources: Sources,
): { alive: boolean; reason: string } {
  if (sources.cluster === undefined) {
    return { alive: true, reason: "the actor system answers" };
  }
  const status = selfMember(sources.cluster)?.status ?? "unknown";
  return status === "down" || status === "removed"
    ? { alive: false, reason: `this node is ${status}: restart it` }
    : { alive: true, reason: `this node is ${status} in the cluster` };
}

/** Sum of a counter's samples, or per value of one label. */
export function counterTotals(
  metrics: readonly MetricSnapshot[],
  name: string,
  label?: string,
): { total: number; by: Record<string, number> } {
  const by: Record<string, number> = {};
  let total = 0;
  for (const metric of metrics) {
    if (metric.name !== name || metric.kind === "histogram") continue;
    for (const sample of metric.samples) {
      total += sample.value;
      if (label !== undefined) {
        const key = sample.labels[label] ?? "";
        by[key] = (by[key] ?? 0) + sample.value;
      }
    }
  }
  return { total, by };
}

/** The metric names the views read, prefixed as the system's registry prefixes them. */
export function metricName(system: ActorSystem, base: string): string {
  return `${system.metrics.prefix}${base}`;
}

export function systemStats(sources: Sources): Record<string, unknown> {
  const { system, node } = sources;
  const metrics = system.metrics.snapshot();
  const peers = node?.peers() ?? [];
  return {
    node: system.node,
    startedAt: new Date(sources.startedAt).toISOString(),
    uptimeSeconds: Math.max(0, (Date.now() - sources.startedAt) / 1000),
    actors: system.size,
    messagesProcessed: counterTotals(
      metrics,
      metricName(system, "troupe_actor_messages_processed_total"),
    ).total,
    deadLetters: system.deadLetters.count,
    remote: node === undefined ? null : {
      address: node.address,
      peers: peers.length,
      connectedPeers: peers.filter((p) => p.connected).length,
    },
  };
}

export interface ActorTreeNode {
  readonly id: string;
  readonly path: string;
  readonly type: string | null;
  readonly mailboxSize: number;
  readonly childCount: number;
  readonly children: ActorTreeNode[];
  readonly truncated: boolean;
}

interface Branch {
  summary?: ActorSummary;
  readonly children: Map<string, Branch>;
}

/** The actor tree, `maxDepth` levels deep with at most `maxChildren` children per node. */
export function actorTree(
  actors: readonly ActorSummary[],
  maxDepth: number,
  maxChildren: number,
): { total: number; roots: ActorTreeNode[]; truncated: boolean } {
  const root: Branch = { children: new Map() };
  for (const actor of actors) {
    let at = root;
    for (const id of actor.path.split("/")) {
      let next = at.children.get(id);
      if (next === undefined) {
        next = { children: new Map() };
        at.children.set(id, next);
      }
      at = next;
    }
    at.summary = actor;
  }
  let truncated = false;
  const render = (
    branch: Branch,
    prefix: string,
    depth: number,
  ): ActorTreeNode[] => {
    const ids = [...branch.children.keys()].sort();
    if (ids.length > maxChildren) truncated = true;
    return ids.slice(0, maxChildren).map((id) => {
      const child = branch.children.get(id)!;
      const path = prefix === "" ? id : `${prefix}/${id}`;
      const deeper = depth < maxDepth;
      if (!deeper && child.children.size > 0) truncated = true;
      return {
        id,
        path,
        type: child.summary?.type ?? null,
        mailboxSize: child.summary?.mailboxSize ?? 0,
        childCount: child.children.size,
        children: deeper ? render(child, path, depth + 1) : [],
        truncated: child.children.size > maxChildren ||
          (!deeper && child.children.size > 0),
      };
    });
  };
  const roots = render(root, "", 1);
  return { total: actors.length, roots, truncated };
}

export interface MemberView {
  readonly node: string;
  readonly address: string;
  readonly incarnation: string;
  readonly status: string;
  readonly roles: readonly string[];
  readonly reachable: boolean;
  readonly upNumber: number;
  readonly phi: number | null;
  readonly leader: boolean;
  readonly self: boolean;
}

export function members(cluster: Cluster): {
  self: string;
  leader: string | null;
  converged: boolean;
  members: MemberView[];
} {
  const leader = cluster.leader()?.node ?? null;
  const self = selfMember(cluster)?.node ?? "";
  return {
    self,
    leader,
    converged: cluster.converged(),
    members: cluster.members().map((m) => {
      const phi = cluster.phi(m.node);
      return {
        node: m.node,
        address: m.address,
        incarnation: m.incarnation,
        status: m.status,
        roles: m.roles,
        reachable: m.reachable,
        upNumber: m.upNumber,
        phi: phi === undefined || !Number.isFinite(phi)
          ? null
          : Math.round(phi * 1000) / 1000,
        leader: m.node === leader,
        self: m.node === self,
      };
    }),
  };
}

export function deadLetters(
  system: ActorSystem,
): { total: number; byReason: Record<string, number> } {
  const { by } = counterTotals(
    system.metrics.snapshot(),
    metricName(system, "troupe_dead_letters_total"),
    "reason",
  );
  return { total: system.deadLetters.count, byReason: by };
}

const TOPIC_COUNTERS = [
  ["publishes", "troupe_pubsub_publishes_total"],
  ["deliveries", "troupe_pubsub_deliveries_total"],
  ["dropped", "troupe_pubsub_dropped_total"],
  ["received", "troupe_pubsub_received_total"],
] as const;

/** The pub/sub topics this node has counted (from its metrics), with their counters. */
export function topics(
  system: ActorSystem,
): Array<{ topic: string } & Record<string, number | string>> {
  const metrics = system.metrics.snapshot();
  const byTopic = new Map<string, Record<string, number>>();
  for (const [field, name] of TOPIC_COUNTERS) {
    const { by } = counterTotals(metrics, metricName(system, name), "topic");
    for (const [topic, value] of Object.entries(by)) {
      let row = byTopic.get(topic);
      if (row === undefined) {
        row = { publishes: 0, deliveries: 0, dropped: 0, received: 0 };
        byTopic.set(topic, row);
      }
      row[field] = value;
    }
  }
  return [...byTopic.entries()].sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
    .map(([topic, counters]) => ({ topic, ...counters }));
}
