/**
 * Troupe's platform layer: TCP, HTTPS requests, monotonic time, timers, environment variables and
 * text files of the runtime
 * Troupe runs on, behind one {@linkcode Platform} interface. The rest of Troupe reaches the
 * runtime only through {@linkcode platform}; the npm build points it at the Node implementation.
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
import { denoPlatform } from "./deno.ts";
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
 * The {@linkcode Platform} of the runtime this copy of Troupe was built for: the Deno
 * implementation in the JSR package, the Node one in the npm package.
 *
 * @example Check which runtime this is
 * ```ts
 * import { platform } from "./mod.ts";
 *
 * console.log(`Troupe runs on ${platform.runtime}`);
 * ```
 */
export const platform: Platform = denoPlatform;
