// The diagnostics handler: hono routes over the views, problem bodies for every refusal, the
// bearer check of the write endpoints, and the dashboard with its live feed. It never listens.
import { Hono } from "hono";
import type { ActorSystem, RemoteNode } from "../../mod.ts";
import type { Cluster } from "../cluster/mod.ts";
import { HttpRequestError, isHttpRequestError } from "./errors.ts";
import { fromDependency, unavailable } from "./_dependency.ts";
import {
  json,
  JSON_HEADERS,
  METRICS_HEADERS,
  pathOf,
  problem,
  Rendered,
} from "./_rendered.ts";
import type { ShardingStatsProvider } from "./sharding.ts";
import { LiveFeed } from "./_live.ts";
import { DASHBOARD_HTML } from "./_dashboard.ts";
import { openApiDocument } from "./_openapi.ts";
import { readQuery, type Route, ROUTES, routesMatching } from "./_routes.ts";
import { checkBody, tokenMatches } from "./_guards.ts";
import * as views from "./_views.ts";

/** Options of an {@linkcode HttpApi}. */
export interface HttpApiOptions {
  /** The actor system to describe (actors, dead letters, metrics). */
  readonly system: ActorSystem;
  /** This node's remoting, for peer counts in `/system/stats`. */
  readonly node?: RemoteNode;
  /** This node's cluster membership: members, leader, readiness, the write endpoints. */
  readonly cluster?: Cluster;
  /**
   * Where sharding statistics come from. Without it the `/sharding/*` endpoints answer 404 with
   * the problem code `SHARDING_UNAVAILABLE` and the dashboard shows no shards.
   */
  readonly sharding?: ShardingStatsProvider;
  /**
   * The bearer token of the write endpoints (leave, down). Without one they are off: they
   * answer 403 `WRITES_DISABLED`. At least 16 characters.
   */
  readonly token?: string;
  /** The largest request body accepted, in bytes (default 16 KiB); larger ones get 413. */
  readonly maxBodyBytes?: number;
  /** The health check reports `degraded` when an actor has this many queued messages (default 1000). */
  readonly mailboxWarning?: number;
  /**
   * How often the dashboard's live feed samples, in ms (default 250), on the actor system's
   * clock (so a `ManualClock` system samples only when the clock is advanced).
   */
  readonly liveIntervalMs?: number;
  /**
   * How long the API waits for a dependency that answers asynchronously (the sharding
   * provider, which asks the shard coordinator), in ms (default 5000). Past it the request
   * gets a 503 `DEPENDENCY_TIMEOUT` with `Retry-After`.
   */
  readonly dependencyTimeoutMs?: number;
  /**
   * The longest time, in ms, a rendered `/metrics` text or `/cluster/members` view is reused
   * for further requests (default 100; 0 renders every request). A membership event drops the
   * members view at once, so a member's status, reachability or the leader shows on the next
   * request; φ, convergence and metric values may be up to this old. It bounds the cost of a
   * burst of requests (scrapers, load tests, many dashboards) to one rendering per interval.
   */
  readonly cacheMs?: number;
  /** The application's version, shown in the OpenAPI document (default `"0.0.0"`). */
  readonly version?: string;
  /**
   * Where unexpected failures are logged (default `console.error`); a dependency that keeps
   * failing (the sharding provider) is logged the first time, then at most once per 30 s.
   */
  readonly logger?: { error(message: string, error: unknown): void };
}

const MAX_URL_LENGTH = 4096;
/** A failure that repeats is logged at most once per this many ms (see HttpApi's #logRepeated). */
const REPEAT_LOG_MS = 30_000;
/** Distinct repeating messages tracked at once (they are few: one per dependency). */
const MAX_REPEATS_TRACKED = 64;
/** What answers one route: the request, its path parameters, its checked query. */
type Answer = (
  request: Request,
  params: Readonly<Record<string, string>>,
  query: Record<string, number>,
) => Response | Promise<Response>;

/** Ends an API's open event streams (for {@linkcode serveHttpApi}'s close). Internal. */
export let endStreamsOf: (api: HttpApi) => void;
/**
 * An API's handler that answers without a promise when it can (for
 * {@linkcode serveHttpApi}: servers handle those faster). Internal.
 */
export let handlerOf: (
  api: HttpApi,
) => (request: Request) => Response | Promise<Response>;

/**
 * The HTTP diagnostics and operations API of one node, as a web-standard handler
 * (`(Request) => Promise<Response>`): health, readiness and liveness, system stats, the actor
 * tree, cluster members (with φ) and leader, dead letters, pub/sub topics, sharding (through a
 * provider), `/metrics` in the Prometheus text format, an OpenAPI document (`/openapi.json`),
 * the live dashboard (`/dashboard`), and the operator's leave and down (bearer token).
 *
 * It does not listen: pass {@linkcode HttpApi.fetch} to any server, or use
 * {@linkcode serveHttpApi}. Every refused request gets a 4xx with an RFC 9457 problem body.
 *
 * @example Ask for the health of a node
 * ```ts
 * import { ActorSystem } from "@troupe/troupe";
 * import { HttpApi } from "@troupe/troupe/http";
 * import assert from "node:assert/strict";
 *
 * await using system = new ActorSystem({ node: "a" });
 * await using api = new HttpApi({ system });
 * const response = await api.fetch(new Request("http://localhost/health"));
 * assert.equal((await response.json()).status, "healthy");
 * ```
 */
export class HttpApi implements AsyncDisposable {
  static {
    endStreamsOf = (api) => api.#live.endStreams();
    handlerOf = (api) => (request) => api.#respond(request);
  }

  readonly #app: Hono;
  readonly #sources: views.Sources;
  readonly #options: HttpApiOptions;
  readonly #live: LiveFeed;
  readonly #maxBodyBytes: number;
  readonly #openApi: string;
  readonly #dependencyTimeoutMs: number;
  readonly #metrics: Rendered;
  readonly #members: Rendered;
  /** GET routes without path parameters, by path: answered without hono's routing. */
  readonly #direct = new Map<
    string,
    (request: Request) => Response | Promise<Response>
  >();
  readonly #logger: { error(message: string, error: unknown): void };
  readonly #stopEvents = new AbortController();
  /** Failures logged by #logRepeated: when last logged, and how many were left out since. */
  readonly #repeats = new Map<string, { at: number; left: number }>();

  /**
   * Creates the handler.
   *
   * @param options What to describe, the token and limits.
   * @throws {TypeError} When `system` is missing, or `token` is shorter than 16 characters.
   * @throws {RangeError} When a number is out of range.
   */
  constructor(options: HttpApiOptions) {
    if (typeof options?.system?.actors !== "function") {
      throw new TypeError(
        "Cannot create HttpApi: `system` must be an ActorSystem",
      );
    }
    if (
      options.token !== undefined &&
      (typeof options.token !== "string" || options.token.length < 16)
    ) {
      throw new TypeError(
        "Cannot create HttpApi: `token` must be a string of at least 16 characters",
      );
    }
    this.#maxBodyBytes = positive(
      options.maxBodyBytes,
      16 * 1024,
      "maxBodyBytes",
    );
    const mailboxWarning = positive(
      options.mailboxWarning,
      1000,
      "mailboxWarning",
    );
    const intervalMs = positive(options.liveIntervalMs, 250, "liveIntervalMs");
    this.#dependencyTimeoutMs = positive(
      options.dependencyTimeoutMs,
      5000,
      "dependencyTimeoutMs",
    );
    const cacheMs = options.cacheMs ?? 100;
    if (!(Number.isFinite(cacheMs) && cacheMs >= 0)) {
      throw new RangeError(
        `Invalid cacheMs ${options.cacheMs}: expected a finite number >= 0`,
      );
    }
    this.#options = options;
    this.#sources = {
      system: options.system,
      node: options.node,
      cluster: options.cluster,
      startedAt: Date.now(),
      mailboxWarning,
    };
    const logger = options.logger ?? console;
    this.#logger = logger;
    this.#metrics = new Rendered(
      () => options.system.prometheusText(),
      cacheMs,
    );
    this.#members = new Rendered(
      () => JSON.stringify(views.members(this.#cluster())),
      cacheMs,
    );
    if (options.cluster !== undefined && cacheMs > 0) {
      this.#followMembership(options.cluster);
    }
    this.#live = new LiveFeed({
      sources: this.#sources,
      sharding: options.sharding === undefined ? undefined : {
        types: () => this.#fromSharding((s) => s.types()),
        stats: (type) => this.#fromSharding((s) => s.stats(type)),
      },
      intervalMs,
      clock: options.system.clock,
      onError: (message, error) => logger.error(message, error),
    });
    this.#openApi = JSON.stringify(openApiDocument(options.version ?? "0.0.0"));
    this.#app = this.#build();
    this.fetch = this.fetch.bind(this);
  }

  /** Drops the rendered members view on every membership event, until closed. */
  #followMembership(cluster: Cluster): void {
    void (async () => {
      try {
        for await (const _ of cluster.events(this.#stopEvents.signal)) {
          this.#members.invalidate();
        }
      } catch (error) {
        this.#logger.error("The HTTP API stopped following membership", error);
      }
      // Without events (closed), every request renders.
      this.#members.invalidate();
    })();
  }

  /**
   * Answers one request.
   *
   * @param request The request.
   * @returns The response: 2xx, a 503 from a health check, or a 4xx problem.
   */
  fetch(request: Request): Promise<Response> {
    return Promise.resolve(this.#respond(request));
  }

  /** {@linkcode HttpApi.fetch} without the promise when the answer is ready at once. */
  #respond(request: Request): Response | Promise<Response> {
    const url = request.url;
    if (url.length > MAX_URL_LENGTH) {
      return problem(
        414,
        "URI_TOO_LONG",
        `The URL is longer than ${MAX_URL_LENGTH} characters`,
      );
    }
    // Requests without a body (nearly all: no endpoint takes one) skip the body check. (A
    // server gives a request that announces a Content-Length a body stream, even if empty.)
    if (request.body !== null) return this.#fetchWithBody(request);
    // The read endpoints without parameters or a query (what scrapers and dashboards poll) skip
    // hono's routing; a query, HEAD and everything else go through hono, which checks them.
    if (request.method === "GET") {
      const direct = this.#direct.get(pathOf(url));
      if (direct !== undefined) {
        try {
          const answer = direct(request);
          return answer instanceof Promise
            ? answer.catch((error) => this.#failed(error))
            : answer;
        } catch (error) {
          return this.#failed(error);
        }
      }
    }
    return this.#app.fetch(request);
  }

  /** The answer to a failure: its problem, or (a bug) a logged 500. */
  #failed(error: unknown): Response {
    if (isHttpRequestError(error)) {
      return problem(error.status, error.code, error.message);
    }
    this.#logger.error("The HTTP API failed to answer a request", error);
    return problem(500, "INTERNAL", "The node failed to answer; see its log");
  }

  async #fetchWithBody(request: Request): Promise<Response> {
    try {
      await checkBody(request, this.#maxBodyBytes);
    } catch (error) {
      if (isHttpRequestError(error)) {
        return problem(error.status, error.code, error.message);
      }
      throw error;
    }
    return await this.#app.fetch(request);
  }

  /** How many dashboards are connected to the live feed. */
  get liveListeners(): number {
    return this.#live.listeners;
  }

  /**
   * Ends the dashboards' event streams and stops sampling. Requests after it still work.
   *
   * @returns Once closed.
   */
  close(): Promise<void> {
    this.#stopEvents.abort();
    this.#live.close();
    return Promise.resolve();
  }

  /** Closes (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #build(): Hono {
    const app = new Hono();
    for (const route of ROUTES) {
      const answer = this.#answer(route);
      // Synchronous where the answer is (hono then answers without a promise, which servers
      // handle faster); hono turns a throw or a rejection into the onError answer alike.
      const run = (
        c: {
          req: { raw: Request; url: string; param(): Record<string, string> };
        },
      ): Response | Promise<Response> => {
        const query = readQuery(route, c.req.url);
        const request = c.req.raw;
        if (route.write) {
          return this.#authorize(request).then(() =>
            answer(request, c.req.param(), query)
          );
        }
        return answer(request, c.req.param(), query);
      };
      if (route.method === "GET") app.get(route.path, run);
      else app.post(route.path, run);
      if (route.method === "GET" && !route.path.includes(":")) {
        const defaults = readQuery(route, "");
        this.#direct.set(
          route.path,
          (request) => answer(request, {}, { ...defaults }),
        );
      }
    }
    app.get("/", (c) => c.redirect("dashboard"));
    app.notFound((c) => {
      const path = new URL(c.req.url).pathname;
      const routes = routesMatching(path);
      if (routes.length > 0) {
        const allow = [...new Set(routes.map((r) => r.method))].join(", ");
        return problem(
          405,
          "METHOD_NOT_ALLOWED",
          `${c.req.method} is not allowed here; use ${allow}`,
          {
            allow,
          },
        );
      }
      return problem(
        404,
        "NOT_FOUND",
        `No endpoint at ${
          JSON.stringify(path.slice(0, 200))
        }; see /openapi.json`,
      );
    });
    app.onError((error) => this.#failed(error));
    return app;
  }

  async #authorize(request: Request): Promise<void> {
    const token = this.#options.token;
    if (token === undefined) {
      throw new HttpRequestError(
        "WRITES_DISABLED",
        "Write endpoints are off: no token is configured on this node",
      );
    }
    const header = request.headers.get("authorization") ?? "";
    const given = /^Bearer ([\x21-\x7e]+)$/i.exec(header)?.[1] ?? "";
    if (!await tokenMatches(given, token)) {
      throw new HttpRequestError(
        "UNAUTHORIZED",
        "A valid bearer token is required",
      );
    }
  }

  #cluster(): Cluster {
    const cluster = this.#sources.cluster;
    if (cluster === undefined) {
      throw new HttpRequestError(
        "NO_CLUSTER",
        "This node has no cluster membership configured",
      );
    }
    return cluster;
  }

  #sharding(): ShardingStatsProvider {
    const sharding = this.#options.sharding;
    if (sharding === undefined) {
      throw new HttpRequestError(
        "SHARDING_UNAVAILABLE",
        "No sharding statistics on this node: no sharding provider was given to HttpApi",
      );
    }
    return sharding;
  }

  /**
   * Asks the sharding provider, bounded by `dependencyTimeoutMs`; its failures become 503
   * problems (the coordinator handing over, sharding closed, no answer in time).
   */
  #fromSharding<T>(
    ask: (provider: ShardingStatsProvider) => T | Promise<T>,
  ): Promise<T> {
    const provider = this.#sharding();
    return fromDependency(
      "The sharding statistics",
      () => ask(provider),
      this.#dependencyTimeoutMs,
      (message, error) => this.#logRepeated(message, error),
    );
  }

  /**
   * Logs a failure that may repeat on every request and every tick of the dashboard's feed
   * (a dependency that keeps failing): the first time, then at most once per
   * {@linkcode REPEAT_LOG_MS} with how many were left out since.
   */
  #logRepeated(message: string, error: unknown): void {
    const now = this.#options.system.clock.now();
    const last = this.#repeats.get(message);
    if (last !== undefined && now - last.at < REPEAT_LOG_MS) {
      last.left++;
      return;
    }
    if (this.#repeats.size >= MAX_REPEATS_TRACKED) this.#repeats.clear();
    this.#repeats.set(message, { at: now, left: 0 });
    this.#log(
      last === undefined || last.left === 0
        ? message
        : `${message} (and ${last.left} more times in the last ${
          Math.round((now - last.at) / 1000)
        } s)`,
      error,
    );
  }

  #answer(route: Route): Answer {
    const s = this.#sources;
    switch (route.operationId) {
      case "health":
        return () => {
          const view = views.health(s);
          return json(view, view.status === "unhealthy" ? 503 : 200);
        };
      case "readiness":
        return () => {
          const view = views.readiness(s);
          return json(view, view.ready ? 200 : 503);
        };
      case "liveness":
        return () => {
          const view = views.liveness(s);
          return json(view, view.alive ? 200 : 503);
        };
      case "systemStats":
        return () => json(views.systemStats(s));
      case "actorTree":
        return (_request, _params, q) =>
          json(views.actorTree(s.system.actors(), q.max_depth, q.max_children));
      case "clusterMembers":
        return () => {
          this.#cluster();
          return new Response(this.#members.get(), { headers: JSON_HEADERS });
        };
      case "clusterLeader":
        return () => {
          const leader = this.#cluster().leader();
          return json({
            leader: leader?.node ?? null,
            address: leader?.address ?? null,
          });
        };
      case "deadLetters":
        return () => json(views.deadLetters(s.system));
      case "pubsubTopics":
        return () => json({ topics: views.topics(s.system) });
      case "shardingTypes":
        return async () =>
          json({ types: await this.#fromSharding((s) => s.types()) });
      case "shardingStats":
        return async (_request, params) => {
          const type = params.type ?? "";
          const stats = await this.#fromSharding((s) => s.stats(type));
          if (stats === undefined) {
            throw new HttpRequestError(
              "UNKNOWN_SHARDING_TYPE",
              `No sharded type ${JSON.stringify(type.slice(0, 100))}`,
            );
          }
          return json(stats);
        };
      case "metrics":
        return () =>
          new Response(this.#metrics.get(), { headers: METRICS_HEADERS });
      case "openApi":
        return () =>
          new Response(this.#openApi, {
            headers: { "content-type": "application/json" },
          });
      case "dashboard":
        return () =>
          new Response(DASHBOARD_HTML, {
            headers: {
              "content-type": "text/html; charset=utf-8",
              "content-security-policy":
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
            },
          });
      case "dashboardEvents":
        return (request) =>
          // HEAD is answered from the GET route without a body: open no stream for it.
          new Response(
            request.method === "HEAD" ? null : this.#live.open(),
            {
              headers: {
                "content-type": "text/event-stream",
                "cache-control": "no-store",
                "x-accel-buffering": "no",
              },
            },
          );
      case "memberLeave":
        return (_request, params) => {
          const cluster = this.#cluster();
          const node = params.node ?? "";
          if (node !== cluster.self.node) {
            throw new HttpRequestError(
              "NOT_THIS_NODE",
              `Only this node ("${cluster.self.node}") can be made to leave here; ask ${
                JSON.stringify(node.slice(0, 100))
              }'s own API`,
            );
          }
          // Leaving completes in the background; the answer does not wait for it.
          let leaving: Promise<void>;
          try {
            leaving = cluster.leave();
          } catch (error) {
            this.#log("Leaving the cluster failed", error);
            throw unavailable("Leaving the cluster", error);
          }
          leaving.catch((error) =>
            this.#log("Leaving the cluster failed", error)
          );
          return json({ node, leaving: true }, 202);
        };
      case "memberDown":
        return (_request, params) => {
          const cluster = this.#cluster();
          const node = params.node ?? "";
          try {
            cluster.down(node);
          } catch (error) {
            // Cluster.down() throws a TypeError for a name no live member has; anything else
            // is the membership failing, not the operator's mistake.
            if (!(error instanceof TypeError)) {
              this.#log("Downing a member failed", error);
              throw unavailable("Downing a member", error);
            }
            throw new HttpRequestError(
              "UNKNOWN_MEMBER",
              `No live member named ${JSON.stringify(node.slice(0, 100))}`,
              { cause: error },
            );
          }
          return json({ node, downed: true }, 202);
        };
      default:
        throw new Error(`No answer for route ${route.operationId}`);
    }
  }

  #log(message: string, error: unknown): void {
    (this.#options.logger ?? console).error(message, error);
  }
}

function positive(
  value: number | undefined,
  fallback: number,
  name: string,
): number {
  const v = value ?? fallback;
  if (!(Number.isFinite(v) && v > 0)) {
    throw new RangeError(
      `Invalid ${name} ${value}: expected a finite number > 0`,
    );
  }
  return v;
}
