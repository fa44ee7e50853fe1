// The HTTP API's endpoints in one table: the handler registers them with hono, answers 405 from
// it, checks query parameters against it, and the OpenAPI document is generated from it.
import { HttpRequestError } from "./errors.ts";

/** An integer query parameter with its range and default. */
export interface IntegerParam {
  readonly name: string;
  readonly description: string;
  readonly min: number;
  readonly max: number;
  readonly default: number;
}

export interface Route {
  readonly method: "GET" | "POST";
  /** hono's syntax: `/cluster/members/:node/down`. */
  readonly path: string;
  readonly operationId: string;
  readonly summary: string;
  /** Needs the bearer token. */
  readonly write?: boolean;
  readonly query?: readonly IntegerParam[];
  /** The media type of the 200 answer. */
  readonly produces: "json" | "text" | "html" | "events";
  /** Statuses besides 200 and the generic 4xx. */
  readonly also?: readonly number[];
  /**
   * Answers 503 with a problem body and `Retry-After` when something it depends on is not
   * available now (the shard coordinator during a hand-over, the membership failing).
   */
  readonly mayBeUnavailable?: boolean;
}

export const MAX_DEPTH: IntegerParam = {
  name: "max_depth",
  description:
    "How many levels of the actor tree to include (1 = top-level actors only).",
  min: 1,
  max: 64,
  default: 8,
};
export const MAX_CHILDREN: IntegerParam = {
  name: "max_children",
  description:
    "The most children listed per actor (the rest are counted in childCount).",
  min: 1,
  max: 10_000,
  default: 100,
};

export const ROUTES: readonly Route[] = [
  {
    method: "GET",
    path: "/health",
    operationId: "health",
    summary: "Health: healthy, degraded or unhealthy (503), with the reasons.",
    produces: "json",
    also: [503],
  },
  {
    method: "GET",
    path: "/health/ready",
    operationId: "readiness",
    summary:
      "Readiness: 200 only when this node is up in the cluster, else 503.",
    produces: "json",
    also: [503],
  },
  {
    method: "GET",
    path: "/health/alive",
    operationId: "liveness",
    summary: "Liveness: 503 once this node was downed or removed (restart it).",
    produces: "json",
    also: [503],
  },
  {
    method: "GET",
    path: "/system/stats",
    operationId: "systemStats",
    summary:
      "Node name, uptime, actor count, messages processed, dead letters, peers.",
    produces: "json",
  },
  {
    method: "GET",
    path: "/actors",
    operationId: "actorTree",
    summary: "The actor tree, limited in depth and in children per actor.",
    query: [MAX_DEPTH, MAX_CHILDREN],
    produces: "json",
  },
  {
    method: "GET",
    path: "/cluster/members",
    operationId: "clusterMembers",
    summary:
      "Members with status, roles, reachability, φ (where this node monitors them) and the leader.",
    produces: "json",
    also: [404],
  },
  {
    method: "GET",
    path: "/cluster/leader",
    operationId: "clusterLeader",
    summary: "The leader in this node's view (null while none can lead).",
    produces: "json",
    also: [404],
  },
  {
    method: "GET",
    path: "/dead-letters",
    operationId: "deadLetters",
    summary: "Dead-letter counts, in total and by reason.",
    produces: "json",
  },
  {
    method: "GET",
    path: "/pubsub/topics",
    operationId: "pubsubTopics",
    summary:
      "Pub/sub topics this node counted, with publishes, deliveries, dropped and received.",
    produces: "json",
  },
  {
    method: "GET",
    path: "/sharding/types",
    operationId: "shardingTypes",
    summary:
      "Sharded entity types (404 SHARDING_UNAVAILABLE without a sharding provider).",
    produces: "json",
    also: [404],
    mayBeUnavailable: true,
  },
  {
    method: "GET",
    path: "/sharding/stats/:type",
    operationId: "shardingStats",
    summary:
      "Shards and entities of one type, per node and per shard (503 while its coordinator is unavailable).",
    produces: "json",
    also: [404],
    mayBeUnavailable: true,
  },
  {
    method: "GET",
    path: "/metrics",
    operationId: "metrics",
    summary: "Every metric in the Prometheus text format 0.0.4.",
    produces: "text",
  },
  {
    method: "GET",
    path: "/openapi.json",
    operationId: "openApi",
    summary: "This document.",
    produces: "json",
  },
  {
    method: "GET",
    path: "/dashboard",
    operationId: "dashboard",
    summary: "The live dashboard (HTML).",
    produces: "html",
  },
  {
    method: "GET",
    path: "/dashboard/events",
    operationId: "dashboardEvents",
    summary:
      "The dashboard's live state as server-sent events (event `state`, JSON data).",
    produces: "events",
  },
  {
    method: "POST",
    path: "/cluster/members/:node/leave",
    operationId: "memberLeave",
    summary:
      "This node leaves the cluster gracefully (`node` must be this node; 409 otherwise).",
    write: true,
    produces: "json",
    also: [401, 403, 404, 409],
    mayBeUnavailable: true,
  },
  {
    method: "POST",
    path: "/cluster/members/:node/down",
    operationId: "memberDown",
    summary:
      "Declares a member down (an operator's decision); it is then removed.",
    write: true,
    produces: "json",
    also: [401, 403, 404],
    mayBeUnavailable: true,
  },
];

/** The routes whose path matches `path` (any method). */
export function routesMatching(path: string): Route[] {
  const parts = path.split("/");
  return ROUTES.filter((route) => {
    const want = route.path.split("/");
    return want.length === parts.length &&
      want.every((p, i) =>
        p.startsWith(":") ? parts[i] !== "" : p === parts[i]
      );
  });
}

/**
 * Reads the route's integer query parameters from `url`, refusing unknown names, repeats and
 * values that are not integers in range.
 */
export function readQuery(
  route: Route,
  url: string,
): Record<string, number> {
  const params = route.query ?? [];
  const values: Record<string, number> = {};
  for (const param of params) values[param.name] = param.default;
  // Most requests have no query: skip parsing the URL for them.
  if (!url.includes("?")) return values;
  const seen = new Set<string>();
  for (const [name, raw] of new URL(url).searchParams) {
    const param = params.find((p) => p.name === name);
    if (param === undefined) {
      throw new HttpRequestError(
        "BAD_QUERY",
        `Unknown query parameter ${JSON.stringify(name.slice(0, 64))}${
          params.length === 0
            ? ": this endpoint takes none"
            : `: expected ${params.map((p) => p.name).join(" or ")}`
        }`,
      );
    }
    if (seen.has(name)) {
      throw new HttpRequestError(
        "BAD_QUERY",
        `Query parameter ${name} is repeated`,
      );
    }
    seen.add(name);
    const value = /^[0-9]{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!(value >= param.min && value <= param.max)) {
      throw new HttpRequestError(
        "BAD_QUERY",
        `Invalid ${name} ${
          JSON.stringify(raw.slice(0, 64))
        }: expected an integer from ${param.min} to ${param.max}`,
      );
    }
    values[name] = value;
  }
  return values;
}
