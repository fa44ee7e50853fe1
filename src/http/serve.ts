// Serving the HTTP API on a port, through the platform layer (Deno.serve or node:http).
import {
  type HttpServer,
  platform,
  type ServeOptions,
} from "../platform/mod.ts";
import type { HttpApi } from "./http_api.ts";

export type { HttpServer, ServeOptions };

/**
 * Serves an {@linkcode HttpApi} over HTTP/1.1 (`Deno.serve` on Deno, `node:http` on Node).
 * Closing the server does not close the API; close both (the API first, so that dashboards'
 * event streams end).
 *
 * @param api The handler.
 * @param options Where to listen (default `127.0.0.1`, a free port).
 * @returns The server, once listening.
 * @throws {Error} (as a rejection) When the port cannot be bound.
 *
 * @example Serve the API of a node
 * ```ts
 * import { ActorSystem } from "@troupe/troupe";
 * import { HttpApi, serveHttpApi } from "@troupe/troupe/http";
 *
 * await using system = new ActorSystem({ node: "a" });
 * await using api = new HttpApi({ system });
 * await using server = await serveHttpApi(api, { port: 0 });
 * const response = await fetch(`http://127.0.0.1:${server.addr.port}/health/ready`);
 * console.log(response.status, await response.text());
 * ```
 */
export function serveHttpApi(
  api: HttpApi,
  options?: ServeOptions,
): Promise<HttpServer> {
  return platform.serve((request) => api.fetch(request), options);
}
