/**
 * Diagnostics and operations over HTTP, as its own entry point (`@troupe/troupe/http`) so
 * that core users never load it: {@linkcode HttpApi}, a web-standard handler built with hono
 * that serves health, readiness and liveness, system stats, the actor tree, cluster members
 * (status, roles, reachability, φ) and leader, dead letters, pub/sub topics, sharding
 * statistics (from a {@linkcode ShardingStatsProvider}, when one is given:
 * {@linkcode shardingStatsProvider} makes one from a running `Sharding`), Prometheus
 * metrics, an OpenAPI document, a live dashboard (server-sent events), and the operator's
 * leave and down behind a bearer token; {@linkcode serveHttpApi} puts it on a port.
 *
 * Tracing (W3C trace context through OpenTelemetry) is in `@troupe/troupe/otel`.
 *
 * @example Serve a node's dashboard
 * ```ts
 * import { ActorSystem } from "@troupe/troupe";
 * import { HttpApi, serveHttpApi } from "@troupe/troupe/http";
 *
 * await using system = new ActorSystem({ node: "a" });
 * await using api = new HttpApi({ system });
 * await using server = await serveHttpApi(api);
 * console.log(`dashboard: http://127.0.0.1:${server.addr.port}/dashboard`);
 * ```
 *
 * @module
 */
export { HttpApi, type HttpApiOptions } from "./http_api.ts";
export { type HttpServer, serveHttpApi, type ServeOptions } from "./serve.ts";
export {
  HTTP_REQUEST_ERROR_STATUS,
  HttpRequestError,
  type HttpRequestErrorCode,
  isHttpRequestError,
} from "./errors.ts";
export type {
  ShardingNodeStats,
  ShardingShardStats,
  ShardingStatsProvider,
  ShardingTypeStats,
} from "./sharding.ts";
export {
  shardingStatsProvider,
  type ShardingStatsProviderOptions,
} from "./sharding_stats.ts";
// The core and cluster types the API names in its signatures, so this entry point documents
// itself (the cluster's entry point re-exports the core's types).
export type * from "../cluster/mod.ts";
export type { NetAddr } from "../platform/mod.ts";
