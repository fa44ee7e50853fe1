const METRIC_NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME_PATTERN = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Tells whether a string is a valid Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
 *
 * @param name The name to check.
 * @returns `true` when Prometheus accepts `name` as a metric name.
 *
 * @example Usage
 * ```ts
 * import { isValidMetricName } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidMetricName("troupe_messages_total"), true);
 * assert.equal(isValidMetricName("2xx_total"), false);
 * ```
 */
export function isValidMetricName(name: string): boolean {
  return typeof name === "string" && METRIC_NAME_PATTERN.test(name);
}

/**
 * Tells whether a string is a valid Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`, not starting
 * with `__` (Prometheus reserves those for its own use).
 *
 * @param name The name to check.
 * @returns `true` when `name` may be used as a label name.
 *
 * @example Usage
 * ```ts
 * import { isValidLabelName } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(isValidLabelName("actor"), true);
 * assert.equal(isValidLabelName("__name__"), false);
 * assert.equal(isValidLabelName("a:b"), false);
 * ```
 */
export function isValidLabelName(name: string): boolean {
  return typeof name === "string" && LABEL_NAME_PATTERN.test(name) &&
    !name.startsWith("__");
}
