// Calls into what the HTTP API depends on and may find unavailable (the sharding provider, which
// asks the shard coordinator): bounded in time, and every failure classified as a 503 problem
// with Retry-After, never a 500. A coordinator in hand-over, or not started yet, is an ordinary
// state of a cluster, not a fault of the node answering.
import { platform } from "../platform/mod.ts";
import { HttpRequestError } from "./errors.ts";

function codeOf(error: unknown): unknown {
  return typeof error === "object" && error !== null
    ? (error as { code?: unknown }).code
    : undefined;
}

/**
 * The 503 for a dependency's failure. The shard coordinator's and closed sharding's own errors
 * keep their meaning in the code; anything else is `DEPENDENCY_UNAVAILABLE` (the caller logs it:
 * it was not expected).
 */
export function unavailable(what: string, error: unknown): HttpRequestError {
  const code = codeOf(error);
  const reason = error instanceof Error ? error.message : String(error);
  if (code === "SHARD_COORDINATOR_UNAVAILABLE") {
    return new HttpRequestError(
      "SHARD_COORDINATOR_UNAVAILABLE",
      `${reason} (it may be handing over or starting); retry shortly`,
      { cause: error },
    );
  }
  if (code === "SHARDING_CLOSED") {
    return new HttpRequestError(
      "SHARDING_CLOSED",
      `${reason}; ask another node`,
      { cause: error },
    );
  }
  return new HttpRequestError(
    "DEPENDENCY_UNAVAILABLE",
    `${what} failed: ${reason.slice(0, 300)}`,
    { cause: error },
  );
}

/**
 * Runs `work` and waits for it at most `timeoutMs` (real time).
 *
 * @throws {HttpRequestError} A 503: `DEPENDENCY_TIMEOUT` when it did not answer in time, or
 * what {@linkcode unavailable} makes of its failure (logged through `log` when unexpected).
 */
export function fromDependency<T>(
  what: string,
  work: () => T | Promise<T>,
  timeoutMs: number,
  log: (message: string, error: unknown) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const timer = platform.setTimer(() => {
      if (settled) return;
      settled = true;
      reject(
        new HttpRequestError(
          "DEPENDENCY_TIMEOUT",
          `${what} did not answer within ${timeoutMs} ms; retry shortly`,
        ),
      );
    }, timeoutMs);
    const fail = (error: unknown) => {
      if (settled) return;
      settled = true;
      platform.clearTimer(timer);
      const problem = unavailable(what, error);
      if (problem.code === "DEPENDENCY_UNAVAILABLE") {
        log(`${what} failed`, error);
      }
      reject(problem);
    };
    try {
      Promise.resolve(work()).then((value) => {
        if (settled) return;
        settled = true;
        platform.clearTimer(timer);
        resolve(value);
      }, fail);
    } catch (error) {
      fail(error);
    }
  });
}
