// Rendered answers kept for a short time, so that a burst of requests (a scraper storm, a load
// test, many dashboards) renders the Prometheus text or the members' JSON once per interval
// instead of once per request; and the fixed parts of responses, made once.
import { PROMETHEUS_CONTENT_TYPE } from "../../mod.ts";
import { platform } from "../platform/mod.ts";

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
