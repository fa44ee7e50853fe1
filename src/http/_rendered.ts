// How the HTTP API's answers are made: rendered bodies kept for a short time, so that a burst of
// requests (a scraper storm, a load test, many dashboards) renders the Prometheus text or the
// members' JSON once per interval instead of once per request; the fixed parts of responses,
// made once; JSON and problem answers.
import { PROMETHEUS_CONTENT_TYPE } from "../../mod.ts";
import { platform } from "../platform/mod.ts";
import { RETRY_AFTER_SECONDS } from "./errors.ts";

/**
 * A body rendered at most once per `maxAgeMs` (0: on every call), and dropped at once by
 * {@linkcode Rendered.invalidate} when its source announces a change.
 */
export class Rendered {
  readonly #render: () => string;
  readonly #maxAgeMs: number;
  #body: string | undefined;
  #at = 0;

  constructor(render: () => string, maxAgeMs: number) {
    this.#render = render;
    this.#maxAgeMs = maxAgeMs;
  }

  /** The body, rendered now if the kept one is older than the bound or was invalidated. */
  get(): string {
    if (this.#maxAgeMs === 0) return this.#render();
    const now = platform.now();
    if (this.#body === undefined || now - this.#at >= this.#maxAgeMs) {
      // Render first: a render that throws leaves nothing kept.
      this.#body = this.#render();
      this.#at = now;
    }
    return this.#body;
  }

  /** Drops the kept body: the next request renders. */
  invalidate(): void {
    this.#body = undefined;
  }
}

/** The headers of a JSON view (never cached by clients: it is live state). */
export const JSON_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": "application/json",
  "cache-control": "no-store",
});

/** The headers of the Prometheus exposition. */
export const METRICS_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  "content-type": PROMETHEUS_CONTENT_TYPE,
  "cache-control": "no-store",
});

/** Where the path of a request's URL starts (the URL of a server's request is absolute). */
export function pathOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("//") + 2);
  return start < 0 ? "/" : url.slice(start);
}

/** Problem types are URNs: stable names, not links to pages that might not exist. */
const PROBLEM_TYPE = "urn:troupe:problem:";

/** A problem answer (RFC 9457), with Retry-After when it is a 503. */
export function problem(
  status: number,
  code: string,
  detail: string,
  headers: Record<string, string> = {},
): Response {
  const title = code.toLowerCase().replaceAll("_", " ");
  // Every 503 says when to come back: what it waits for (a coordinator's hand-over, a node
  // joining) is expected to pass.
  if (status === 503) {
    headers = { "retry-after": `${RETRY_AFTER_SECONDS}`, ...headers };
  }
  return new Response(
    JSON.stringify({
      type: PROBLEM_TYPE + code.toLowerCase(),
      title,
      status,
      detail,
      code,
    }),
    {
      status,
      headers: { "content-type": "application/problem+json", ...headers },
    },
  );
}

/** A JSON view's answer. */
export function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: JSON_HEADERS });
}
