// The errors of the testing tools, each with a stable code and a guard (an instanceof check
// fails when two copies of the package are loaded).

/**
 * An expectation of a {@linkcode TestProbe} was not met.
 *
 * @example Usage
 * ```ts
 * import { isProbeExpectationError } from "@troupe/troupe/testing";
 * console.log(isProbeExpectationError(new Error())); // false
 * ```
 */
export class ProbeExpectationError extends Error {
  /** Stable code. */
  readonly code = "PROBE_EXPECTATION_FAILED" as const;
  /**
   * Creates the error.
   *
   * @param message What was expected and what happened.
   */
  constructor(message: string) {
    super(message);
    this.name = "ProbeExpectationError";
  }
}

/**
 * Tells whether a value is a {@linkcode ProbeExpectationError}.
 *
 * @param value Anything.
 * @returns Whether it is one.
 *
 * @example Usage
 * ```ts
 * import { isProbeExpectationError } from "@troupe/troupe/testing";
 * console.log(isProbeExpectationError(null)); // false
 * ```
 */
export function isProbeExpectationError(
  value: unknown,
): value is ProbeExpectationError {
  return value instanceof Error &&
    (value as { code?: unknown }).code === "PROBE_EXPECTATION_FAILED";
}

/**
 * A {@linkcode TestCluster} wait did not end within its bound of virtual time:
 * {@linkcode TestCluster.settle} (the promise did not settle) or
 * {@linkcode TestCluster.until} (the condition did not hold).
 *
 * @example Usage
 * ```ts
 * import { isTestClusterTimeoutError, TestCluster } from "@troupe/troupe/testing";
 * await using cluster = await TestCluster.start({ nodes: [] });
 * const error = await cluster.until(() => false, { what: "never", maxMs: 1000 }).catch((e) => e);
 * console.log(isTestClusterTimeoutError(error)); // true
 * ```
 */
export class TestClusterTimeoutError extends Error {
  /** Stable code. */
  readonly code = "TEST_CLUSTER_TIMEOUT" as const;
  /**
   * Creates the error.
   *
   * @param message What was waited for, and for how long.
   */
  constructor(message: string) {
    super(message);
    this.name = "TestClusterTimeoutError";
  }
}

/**
 * Tells whether a value is a {@linkcode TestClusterTimeoutError}.
 *
 * @param value Anything.
 * @returns Whether it is one.
 *
 * @example Usage
 * ```ts
 * import { isTestClusterTimeoutError } from "@troupe/troupe/testing";
 * console.log(isTestClusterTimeoutError(new Error("late"))); // false
 * ```
 */
export function isTestClusterTimeoutError(
  value: unknown,
): value is TestClusterTimeoutError {
  return value instanceof Error &&
    (value as { code?: unknown }).code === "TEST_CLUSTER_TIMEOUT";
}
