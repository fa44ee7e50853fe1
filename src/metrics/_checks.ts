// Argument checks shared by the metric classes and the registry. Each throws TypeError or
// RangeError on a caller mistake.
import { isValidLabelName, isValidMetricName } from "./names.ts";

/** Throws a TypeError unless `name` is a valid metric name. */
export function assertMetricName(name: string, kind: string): void {
  if (!isValidMetricName(name)) {
    throw new TypeError(
      `Cannot create ${kind} ${
        JSON.stringify(name)
      }: a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
    );
  }
}

/** Throws a TypeError unless `help` is a string. */
export function assertHelp(help: string, kind: string, name: string): void {
  if (typeof help !== "string") {
    throw new TypeError(
      `Cannot create ${kind} "${name}": help must be a string, got ${typeof help}`,
    );
  }
}

/**
 * Checks label names (valid, not reserved, no duplicates) and returns a frozen copy.
 * `reserved` lists names this kind of metric keeps for itself (`le` for histograms).
 */
export function checkLabelNames(
  labelNames: readonly string[],
  kind: string,
  name: string,
  reserved: readonly string[] = [],
): readonly string[] {
  if (!Array.isArray(labelNames)) {
    throw new TypeError(
      `Cannot create ${kind} "${name}": label names must be an array of strings`,
    );
  }
  const seen = new Set<string>();
  for (const label of labelNames) {
    if (!isValidLabelName(label)) {
      throw new TypeError(
        `Cannot create ${kind} "${name}": label name ${
          JSON.stringify(label)
        } must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__"`,
      );
    }
    if (reserved.includes(label)) {
      throw new TypeError(
        `Cannot create ${kind} "${name}": label name "${label}" is reserved`,
      );
    }
    if (seen.has(label)) {
      throw new TypeError(
        `Cannot create ${kind} "${name}": label name "${label}" is repeated`,
      );
    }
    seen.add(label);
  }
  return Object.freeze([...labelNames]);
}

/** Tells whether two lists of label names (or bucket bounds) are the same, in the same order. */
export function sameList<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
