import { assertHelp, assertMetricName, checkLabelNames } from "./_checks.ts";
import { ChildTable } from "./_child_table.ts";
import type { HistogramSampleSnapshot, HistogramSnapshot } from "./snapshot.ts";

/**
 * Bucket bounds for durations in seconds, from 1 µs to 10 s, alternating steps of 2.5 and 4
 * (1, 2.5, 10, 25, 100, ...): fine enough for message handling times and long enough for asks.
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_TIME_BUCKETS } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * assert.equal(DEFAULT_TIME_BUCKETS[0], 0.000001);
 * assert.equal(DEFAULT_TIME_BUCKETS.at(-1), 10);
 * ```
 */
export const DEFAULT_TIME_BUCKETS: readonly number[] = Object.freeze([
  0.000001,
  0.0000025,
  0.00001,
  0.000025,
  0.0001,
  0.00025,
  0.001,
  0.0025,
  0.01,
  0.025,
  0.1,
  0.25,
  1,
  2.5,
  10,
]);

/** Options for {@linkcode Histogram} and {@linkcode MetricsRegistry.histogram}. */
export interface HistogramOptions {
  /** The names of the metric's labels, in the order `labels()` takes their values. Default: none. */
  readonly labelNames?: readonly string[];
  /**
   * The upper bounds of the buckets, strictly ascending and finite; a trailing `Infinity` is
   * dropped, since the `+Inf` bucket is always there. Default: {@linkcode DEFAULT_TIME_BUCKETS}.
   */
  readonly buckets?: readonly number[];
}

/**
 * One child of a {@linkcode Histogram}: the histogram for one combination of label values. Keep it
 * and call {@linkcode HistogramChild.observe} on hot paths; that scans the bucket bounds once.
 */
export interface HistogramChild {
  /**
   * Records one value. It counts in the first bucket whose bound it is less than or equal to
   * (`NaN` counts only in `+Inf`, as in the Go client).
   *
   * @param value The observed value, e.g. a duration in seconds.
   */
  observe(value: number): void;
  /** How many values were observed. */
  readonly count: number;
  /** The sum of the observed values. */
  readonly sum: number;
  /** The finite upper bounds of the buckets, ascending (shared by all children). */
  readonly buckets: readonly number[];
  /**
   * Reads the cumulative bucket counts, as Prometheus exposes them.
   *
   * @returns One count per bound of {@linkcode HistogramChild.buckets}, then the `+Inf` count
   * (equal to `count`): element `i` counts the values `<= buckets[i]`.
   */
  bucketCounts(): number[];
}

class HistogramCell implements HistogramChild {
  readonly buckets: readonly number[];
  readonly #bounds: Float64Array;
  // Per-bucket (not cumulative) counts, the last one for +Inf; summed up when read.
  readonly #counts: Float64Array;
  #count = 0;
  #sum = 0;

  constructor(buckets: readonly number[], bounds: Float64Array) {
    this.buckets = buckets;
    this.#bounds = bounds;
    this.#counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    const bounds = this.#bounds;
    const n = bounds.length;
    let i = 0;
    // `!(value <= bound)` rather than `value > bound` so that NaN lands in +Inf.
    while (i < n && !(value <= bounds[i])) i++;
    this.#counts[i]++;
    this.#count++;
    this.#sum += value;
  }

  get count(): number {
    return this.#count;
  }

  get sum(): number {
    return this.#sum;
  }

  bucketCounts(): number[] {
    const cumulative: number[] = new Array(this.#counts.length);
    let total = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      total += this.#counts[i];
      cumulative[i] = total;
    }
    return cumulative;
  }
}

/** Checks bucket bounds and returns a frozen copy without a trailing `Infinity`. */
function checkBuckets(
  buckets: readonly number[],
  name: string,
): readonly number[] {
  if (!Array.isArray(buckets)) {
    throw new TypeError(
      `Cannot create histogram "${name}": buckets must be an array of numbers`,
    );
  }
  const bounds = buckets.at(-1) === Infinity ? buckets.slice(0, -1) : buckets;
  for (let i = 0; i < bounds.length; i++) {
    const bound = bounds[i];
    if (typeof bound !== "number") {
      throw new TypeError(
        `Cannot create histogram "${name}": bucket bounds must be numbers, got ${typeof bound}`,
      );
    }
    if (!Number.isFinite(bound)) {
      throw new RangeError(
        `Cannot create histogram "${name}": bucket bounds must be finite (apart from a last Infinity), got ${bound}`,
      );
    }
    if (i > 0 && !(bound > bounds[i - 1])) {
      throw new RangeError(
        `Cannot create histogram "${name}": bucket bounds must be strictly ascending, got ${
          bounds[i - 1]
        } then ${bound}`,
      );
    }
  }
  return Object.freeze([...bounds]);
}

/**
 * A distribution of observed values, such as handling times, counted into buckets and optionally
 * split by labels. Exposed as cumulative `_bucket{le="..."}` series plus `_sum` and `_count`.
 * Usually made by {@linkcode MetricsRegistry.histogram}, which also puts it in the exposition.
 *
 * @example Usage
 * ```ts
 * import { MetricsRegistry } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new MetricsRegistry();
 * const handling = registry.histogram("handle_seconds", "Time to handle a message.", {
 *   buckets: [0.01, 0.1, 1],
 * });
 * handling.observe(0.05);
 * handling.observe(0.1);
 * handling.observe(3);
 * assert.deepEqual(handling.labels().bucketCounts(), [0, 2, 2, 3]);
 * ```
 */
export class Histogram {
  /** The full name (the exposition adds `_bucket`, `_sum` and `_count`). */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The label names, in the order {@linkcode Histogram.labels} takes their values. */
  readonly labelNames: readonly string[];
  /** The finite upper bounds of the buckets, ascending (the `+Inf` bucket is implied). */
  readonly buckets: readonly number[];
  readonly #table: ChildTable<HistogramCell>;
  readonly #unlabelled: HistogramCell | undefined;

  /**
   * Creates a histogram outside any registry (use {@linkcode MetricsRegistry.histogram} to have
   * it exposed).
   *
   * @param name The metric name.
   * @param help What the histogram measures.
   * @param options The label names and bucket bounds.
   * @throws {TypeError} If the name or a label name is invalid, or a label is named `le`.
   * @throws {RangeError} If the bucket bounds are not finite and strictly ascending.
   */
  constructor(name: string, help: string, options: HistogramOptions = {}) {
    assertMetricName(name, "histogram");
    assertHelp(help, "histogram", name);
    this.name = name;
    this.help = help;
    this.labelNames = checkLabelNames(
      options.labelNames ?? [],
      "histogram",
      name,
      ["le"],
    );
    const buckets = checkBuckets(options.buckets ?? DEFAULT_TIME_BUCKETS, name);
    this.buckets = buckets;
    const bounds = Float64Array.from(buckets);
    this.#table = new ChildTable(
      `histogram "${name}"`,
      this.labelNames,
      () => new HistogramCell(buckets, bounds),
    );
    this.#unlabelled = this.#table.unlabelled;
  }

  /**
   * Returns the child for a combination of label values, the same object each time.
   *
   * @param values One value per label name, in order.
   * @returns The child, created on first use.
   * @throws {TypeError} If the number of values differs from the number of label names, or a
   * value is not a string.
   *
   * @example Usage
   * ```ts
   * import { Histogram } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const handling = new Histogram("handle_seconds", "Handling time.", { labelNames: ["actor"] });
   * const orders = handling.labels("orders");
   * orders.observe(0.002);
   * assert.equal(orders.count, 1);
   * assert.equal(handling.labels("orders"), orders);
   * ```
   */
  labels(...values: string[]): HistogramChild {
    return this.#table.get(values);
  }

  /**
   * Records one value in a histogram without labels.
   *
   * @param value The observed value.
   * @throws {TypeError} If the histogram has labels (use {@linkcode Histogram.labels}).
   *
   * @example Usage
   * ```ts
   * import { Histogram } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const handling = new Histogram("handle_seconds", "Handling time.");
   * handling.observe(0.25);
   * assert.equal(handling.labels().sum, 0.25);
   * ```
   */
  observe(value: number): void {
    if (this.#unlabelled === undefined) {
      throw new TypeError(
        `Cannot observe histogram "${this.name}" without label values: call labels(${
          this.labelNames.join(", ")
        }) first`,
      );
    }
    this.#unlabelled.observe(value);
  }

  /**
   * Reads the values of all children.
   *
   * @returns The histogram's name, help, bucket bounds and one sample per child, in creation
   * order, with cumulative bucket counts.
   *
   * @example Usage
   * ```ts
   * import { Histogram } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const size = new Histogram("batch_size", "Messages per batch.", { buckets: [1, 10] });
   * size.observe(4);
   * assert.deepEqual(size.snapshot().samples, [
   *   { labels: {}, count: 1, sum: 4, bucketCounts: [0, 1, 1] },
   * ]);
   * ```
   */
  snapshot(): HistogramSnapshot {
    const samples: HistogramSampleSnapshot[] = [];
    this.#table.forEach((child, labels) => {
      samples.push({
        labels,
        count: child.count,
        sum: child.sum,
        bucketCounts: child.bucketCounts(),
      });
    });
    return {
      kind: "histogram",
      name: this.name,
      help: this.help,
      buckets: this.buckets,
      samples,
    };
  }
}
