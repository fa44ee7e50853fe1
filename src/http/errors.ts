// All errors of the HTTP API, each with a stable `code` and an `isXxx()` guard.

/** What went wrong with a request, as the `code` of an {@linkcode HttpRequestError}. */
export type HttpRequestErrorCode =
  | "NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "BAD_QUERY"
  | "PAYLOAD_TOO_LARGE"
  | "URI_TOO_LONG"
  | "UNAUTHORIZED"
  | "WRITES_DISABLED"
  | "NO_CLUSTER"
  | "UNKNOWN_MEMBER"
  | "NOT_THIS_NODE"
  | "SHARDING_UNAVAILABLE"
  | "UNKNOWN_SHARDING_TYPE"
  | "SHARD_COORDINATOR_UNAVAILABLE"
  | "SHARDING_CLOSED"
  | "DEPENDENCY_TIMEOUT"
  | "DEPENDENCY_UNAVAILABLE";

/** The HTTP status of each {@linkcode HttpRequestErrorCode}. */
export const HTTP_REQUEST_ERROR_STATUS: Readonly<
  Record<HttpRequestErrorCode, number>
> = Object.freeze({
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  BAD_QUERY: 400,
  PAYLOAD_TOO_LARGE: 413,
  URI_TOO_LONG: 414,
  UNAUTHORIZED: 401,
  WRITES_DISABLED: 403,
  NO_CLUSTER: 404,
  UNKNOWN_MEMBER: 404,
  NOT_THIS_NODE: 409,
  SHARDING_UNAVAILABLE: 404,
  UNKNOWN_SHARDING_TYPE: 404,
  SHARD_COORDINATOR_UNAVAILABLE: 503,
  SHARDING_CLOSED: 503,
  DEPENDENCY_TIMEOUT: 503,
  DEPENDENCY_UNAVAILABLE: 503,
});

/** The `Retry-After` (seconds) of a 503 answer: a coordinator's hand-over takes about that long. */
export const RETRY_AFTER_SECONDS = 2;

/**
 * A request the HTTP API refuses (an unknown path, a bad query value, an oversized body, a
 * missing token...), or cannot answer now because something it depends on is unavailable or
 * did not answer in time (the shard coordinator during a hand-over: status 503, with a
 * `Retry-After` header). The handler answers it with its {@linkcode HttpRequestError.status}
 * and a JSON problem body (RFC 9457) carrying the `code`; it never becomes a 500.
 *
 * @example Usage
 * ```ts
 * import { HttpRequestError } from "@troupe/troupe/http";
 * const error = new HttpRequestError("BAD_QUERY", "max_depth must be an integer");
 * console.log(error.status); // 400
 * ```
 */
export class HttpRequestError extends Error {
  /** Stable code. */
  readonly code: HttpRequestErrorCode;
  /** The HTTP status it is answered with. */
  readonly status: number;
  /**
   * Creates the error.
   *
   * @param code What went wrong.
   * @param message The problem's detail, for the operator.
   * @param options The underlying error.
   */
  constructor(
    code: HttpRequestErrorCode,
    message: string,
    options?: { readonly cause?: unknown },
  ) {
    super(message, options);
    this.name = "HttpRequestError";
    this.code = code;
    this.status = HTTP_REQUEST_ERROR_STATUS[code];
  }
}

/**
 * Whether `value` is an {@linkcode HttpRequestError} (also across copies of the package).
 *
 * @param value Anything.
 * @returns Whether it is one.
 *
 * @example Usage
 * ```ts
 * import { isHttpRequestError } from "@troupe/troupe/http";
 * console.log(isHttpRequestError(new Error("x"))); // false
 * ```
 */
export function isHttpRequestError(value: unknown): value is HttpRequestError {
  return value instanceof Error && value.name === "HttpRequestError" &&
    typeof (value as { code?: unknown }).code === "string" &&
    Object.hasOwn(
      HTTP_REQUEST_ERROR_STATUS,
      (value as unknown as { code: string }).code,
    );
}
