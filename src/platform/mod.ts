/**
 * Troupe's platform layer: TCP, HTTPS requests, monotonic time, timers, environment variables and
 * text files of the runtime
 * Troupe runs on, behind one {@linkcode Platform} interface. The rest of Troupe reaches the
 * runtime only through {@linkcode platform}, which is chosen when this module loads: the Deno
 * implementation when `globalThis.Deno` exists, the Node one (which also serves Bun) otherwise.
 * So the same sources (the JSR package) run on Deno, Node and Bun as ES modules; the npm build
 * keeps only the Node implementation.
 *
 * @example Measure a timer
 * ```ts
 * import { platform } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const started = platform.now();
 * await new Promise<void>((resolve) => platform.setTimer(resolve, 10));
 * assert.ok(platform.now() - started >= 5);
 * ```
 *
 * @module
 */
import type { Platform } from "./types.ts";

export type {
  ConnectOptions,
  HttpHandler,
  HttpServer,
  HttpsGetOptions,
  HttpsResponse,
  ListenOptions,
  NetAddr,
  Platform,
  ServeOptions,
  TcpConn,
  TcpListener,
  TimerHandle,
  WebRequest,
  WebResponse,
} from "./types.ts";

/**
 * The {@linkcode Platform} of the runtime running this copy of Troupe, chosen at load time the
 * way the Deno standard library branches on the runtime: the Deno implementation where the
 * `Deno` global exists, else the Node one (Node 20+ and Bun, whose `node:net`, `node:tls` and
 * `node:http` it uses). Only the chosen one is loaded (a dynamic import, awaited at the top
 * level): loading Node's on Deno too cost about 25 ms of every Deno process's start-up for
 * Deno's `node:` modules. The price is that CommonJS cannot `require()` these sources; the npm
 * build, which keeps only the Node implementation and imports it statically, can.
 *
 * @example Check which runtime this is
 * ```ts
 * import { platform } from "./mod.ts";
 *
 * console.log(`Troupe runs on ${platform.runtime}`);
 * ```
 */
export const platform: Platform = "Deno" in globalThis
  ? (await import("./deno.ts")).denoPlatform
  : (await import("./node.ts")).nodePlatform;
