// Serving the HTTP API on a port, through the platform layer (Deno.serve or node:http).
import {
  type HttpServer,
  platform,
  type ServeOptions,
} from "../platform/mod.ts";
import { endStreamsOf, handlerOf, type HttpApi } from "./http_api.ts";

export type { HttpServer, ServeOptions };

/**
 * Serves an {@linkcode HttpApi} over HTTP/1.1 (`Deno.serve` on Deno, `node:http` on Node).
 * Closing the server ends the dashboards' event streams open at that moment, then waits for
 * the other responses in flight; it does not close the API (close it too).
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
export async function serveHttpApi(
  api: HttpApi,
  options?: ServeOptions,
): Promise<HttpServer> {
  const server = await platform.serve(handlerOf(api), options);
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    closed ??= (async () => {
      // Stop listening first, so that no dashboard reconnects in between, then end the streams
      // the shutdown would otherwise wait for.
      const stopping = server.close();
      endStreamsOf(api);
      await stopping;
    })();
  return { addr: server.addr, close, [Symbol.asyncDispose]: close };
}
