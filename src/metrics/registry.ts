import { checkLabelNames, sameList } from "./_checks.ts";
import { formatExposition } from "./_text.ts";
import { Counter } from "./counter.ts";
import { Gauge } from "./gauge.ts";
import {
  DEFAULT_TIME_BUCKETS,
  Histogram,
  type HistogramOptions,
} from "./histogram.ts";
import { isValidMetricName } from "./names.ts";
import type { MetricKind, MetricSnapshot } from "./snapshot.ts";

/**
 * The `Content-Type` of {@linkcode MetricsRegistry.prometheusText}: the Prometheus text format,
 * version 0.0.4.
 *
 * @example Usage
 * ```ts
 * import { MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new MetricsRegistry();
 * const response = new Response(registry.prometheusText(), {
 *   headers: { "content-type": PROMETHEUS_CONTENT_TYPE },
 * });
 * assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
 * ```
 */
export const PROMETHEUS_CONTENT_TYPE: string =
  "text/plain; version=0.0.4; charset=utf-8";

/** Any metric a {@linkcode MetricsRegistry} holds. */
export type Metric = Counter | Gauge | Histogram;

/** Options for {@linkcode MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /**
   * Put in front of every metric name, e.g. `"troupe_"`. It must itself be a valid start of a
   * metric name. Default: `""`.
   */
  readonly prefix?: string;
  /**
   * Labels added to every sample, before the metric's own labels, e.g. `{ node: "a" }`. No
   * metric may use these label names itself. Default: none.
   */
  readonly constLabels?: Readonly<Record<string, string>>;
}

function kindOf(metric: Metric): MetricKind {
  if (metric instanceof Counter) return "counter";
  if (metric instanceof Gauge) return "gauge";
  return "histogram";
}

/** The sample names a metric's exposition uses, which no other metric may use. */
function sampleNamesOf(metric: Metric): string[] {
  return metric instanceof Histogram
    ? [
      metric.name,
      `${metric.name}_bucket`,
      `${metric.name}_sum`,
      `${metric.name}_count`,
    ]
    : [metric.name];
}

function describe(
  kind: MetricKind,
  labelNames: readonly string[],
  buckets?: readonly number[],
): string {
  let text = `a ${kind} with labels (${labelNames.join(", ")})`;
  if (buckets !== undefined) text += ` and buckets [${buckets.join(", ")}]`;
  return text;
}

function prependLabels<
  S extends { readonly labels: Readonly<Record<string, string>> },
>(samples: readonly S[], labels: Readonly<Record<string, string>>): S[] {
  return samples.map((sample) => ({
    ...sample,
    labels: { ...labels, ...sample.labels },
  }));
}

/**
 * A set of metrics exposed together: it makes counters, gauges and histograms, returns the
 * existing metric when the same one is registered again, and renders all of them as Prometheus
 * text (format 0.0.4) or as structured snapshots.
 *
 * @example Usage
 * ```ts
 * import { MetricsRegistry } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new MetricsRegistry({ prefix: "troupe_", constLabels: { node: "a" } });
 * registry.counter("restarts_total", "Actor restarts.").inc();
 * assert.equal(
 *   registry.prometheusText(),
 *   '# HELP troupe_restarts_total Actor restarts.\n' +
 *     '# TYPE troupe_restarts_total counter\n' +
 *     'troupe_restarts_total{node="a"} 1\n',
 * );
 * ```
 */
export class MetricsRegistry {
  /** The prefix of every metric name. */
  readonly prefix: string;
  /** The labels added to every sample. */
  readonly constLabels: Readonly<Record<string, string>>;
  readonly #metrics = new Map<string, Metric>();
  /** Sample name → the metric whose exposition uses it. */
  readonly #sampleNames = new Map<string, Metric>();

  /**
   * Creates an empty registry.
   *
   * @param options A name prefix and const labels.
   * @throws {TypeError} If the prefix is not a valid start of a metric name, or a const label
   * name is invalid or its value is not a string.
   */
  constructor(options: MetricsRegistryOptions = {}) {
    const prefix = options.prefix ?? "";
    if (prefix !== "" && !isValidMetricName(prefix)) {
      throw new TypeError(
        `Cannot create a metrics registry: the prefix ${
          JSON.stringify(prefix)
        } must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
      );
    }
    const constLabels = options.constLabels ?? {};
    if (typeof constLabels !== "object" || constLabels === null) {
      throw new TypeError(
        "Cannot create a metrics registry: constLabels must be an object of strings",
      );
    }
    const names = checkLabelNames(
      Object.keys(constLabels),
      "metrics registry",
      "const labels",
    );
    const labels: Record<string, string> = {};
    for (const name of names) {
      const value = constLabels[name];
      if (typeof value !== "string") {
        throw new TypeError(
          `Cannot create a metrics registry: the value of const label "${name}" must be a string, got ${typeof value}`,
        );
      }
      labels[name] = value;
    }
    this.prefix = prefix;
    this.constLabels = Object.freeze(labels);
  }

  /**
   * Registers a counter, or returns the one already registered under this name.
   *
   * @param name The name without the prefix; it must end in `_total`.
   * @param help What the counter counts (ignored when the counter already exists).
   * @param labelNames The label names, in the order `labels()` takes their values.
   * @returns The counter.
   * @throws {TypeError} If a name is invalid, or the name is taken by a different metric (another
   * kind, other labels) or collides with a histogram's `_bucket`, `_sum` or `_count`.
   *
   * @example Usage
   * ```ts
   * import { MetricsRegistry } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const registry = new MetricsRegistry();
   * const sent = registry.counter("sent_total", "Messages sent.", ["to"]);
   * assert.equal(registry.counter("sent_total", "Messages sent.", ["to"]), sent);
   * assert.throws(() => registry.gauge("sent_total", "Oops."), TypeError);
   * ```
   */
  counter(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
  ): Counter {
    const fullName = this.#fullName(name, "counter");
    const existing = this.#metrics.get(fullName);
    if (existing !== undefined) {
      if (
        existing instanceof Counter &&
        sameList(existing.labelNames, labelNames)
      ) {
        return existing;
      }
      throw this.#conflict(existing, describe("counter", labelNames));
    }
    return this.#add(new Counter(fullName, help, { labelNames }));
  }

  /**
   * Registers a gauge, or returns the one already registered under this name.
   *
   * @param name The name without the prefix.
   * @param help What the gauge measures (ignored when the gauge already exists).
   * @param labelNames The label names, in the order `labels()` takes their values.
   * @returns The gauge.
   * @throws {TypeError} If a name is invalid, or the name is taken by a different metric (another
   * kind, other labels) or collides with a histogram's `_bucket`, `_sum` or `_count`.
   *
   * @example Usage
   * ```ts
   * import { MetricsRegistry } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const registry = new MetricsRegistry();
   * registry.gauge("mailbox_length", "Queued messages.", ["actor"]).labels("orders").set(3);
   * assert.equal(registry.gauge("mailbox_length", "", ["actor"]).value("orders"), 3);
   * ```
   */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    const fullName = this.#fullName(name, "gauge");
    const existing = this.#metrics.get(fullName);
    if (existing !== undefined) {
      if (
        existing instanceof Gauge && sameList(existing.labelNames, labelNames)
      ) {
        return existing;
      }
      throw this.#conflict(existing, describe("gauge", labelNames));
    }
    return this.#add(new Gauge(fullName, help, { labelNames }));
  }

  /**
   * Registers a histogram, or returns the one already registered under this name.
   *
   * @param name The name without the prefix.
   * @param help What the histogram measures (ignored when the histogram already exists).
   * @param options The label names and bucket bounds (default {@linkcode DEFAULT_TIME_BUCKETS}).
   * @returns The histogram.
   * @throws {TypeError} If a name is invalid, a label is named `le`, or the name is taken by a
   * different metric (another kind, other labels, other buckets) or collides with another
   * metric's samples.
   * @throws {RangeError} If the bucket bounds are not finite and strictly ascending.
   *
   * @example Usage
   * ```ts
   * import { MetricsRegistry } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const registry = new MetricsRegistry();
   * const ask = registry.histogram("ask_seconds", "Ask round trips.", { labelNames: ["actor"] });
   * ask.labels("orders").observe(0.003);
   * assert.equal(ask.labels("orders").count, 1);
   * ```
   */
  histogram(
    name: string,
    help: string,
    options: HistogramOptions = {},
  ): Histogram {
    const fullName = this.#fullName(name, "histogram");
    const existing = this.#metrics.get(fullName);
    if (existing !== undefined) {
      const labelNames = options.labelNames ?? [];
      const buckets = options.buckets ?? DEFAULT_TIME_BUCKETS;
      // Compare against the checked bounds, which drop a trailing Infinity.
      const wanted = buckets.at(-1) === Infinity
        ? buckets.slice(0, -1)
        : buckets;
      if (
        existing instanceof Histogram &&
        sameList(existing.labelNames, labelNames) &&
        sameList(existing.buckets, wanted)
      ) {
        return existing;
      }
      throw this.#conflict(
        existing,
        describe("histogram", labelNames, wanted),
      );
    }
    return this.#add(new Histogram(fullName, help, options));
  }

  /**
   * Finds a registered metric.
   *
   * @param name The name as given when registering it, without the prefix.
   * @returns The metric, or `undefined` if none is registered under that name.
   *
   * @example Usage
   * ```ts
   * import { Counter, MetricsRegistry } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const registry = new MetricsRegistry({ prefix: "troupe_" });
   * registry.counter("sent_total", "Messages sent.");
   * assert.ok(registry.get("sent_total") instanceof Counter);
   * assert.equal(registry.get("troupe_sent_total"), undefined);
   * ```
   */
  get(name: string): Counter | Gauge | Histogram | undefined {
    return this.#metrics.get(this.prefix + name);
  }

  /**
   * Renders every metric in the Prometheus text format 0.0.4 (serve it with
   * {@linkcode PROMETHEUS_CONTENT_TYPE}): metrics in registration order, each with its `# HELP`
   * and `# TYPE` lines, then its children in creation order, const labels first.
   *
   * @returns The exposition; every line ends with `\n`, and it is empty for an empty registry.
   *
   * @example Usage
   * ```ts
   * import { MetricsRegistry } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const registry = new MetricsRegistry();
   * registry.gauge("live_actors", "Actors alive now.").set(2);
   * assert.equal(
   *   registry.prometheusText(),
   *   "# HELP live_actors Actors alive now.\n# TYPE live_actors gauge\nlive_actors 2\n",
   * );
   * ```
   */
  prometheusText(): string {
    return formatExposition(this.snapshot());
  }

  /**
   * Reads every metric's values, for tests and JSON endpoints.
   *
   * @returns One snapshot per metric in registration order, children in creation order, with the
   * const labels in front of each child's labels.
   *
   * @example Usage
   * ```ts
   * import { MetricsRegistry } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const registry = new MetricsRegistry({ constLabels: { node: "a" } });
   * registry.counter("sent_total", "Messages sent.").inc(5);
   * assert.deepEqual(registry.snapshot(), [{
   *   kind: "counter",
   *   name: "sent_total",
   *   help: "Messages sent.",
   *   samples: [{ labels: { node: "a" }, value: 5 }],
   * }]);
   * ```
   */
  snapshot(): MetricSnapshot[] {
    const constLabels = this.constLabels;
    const withConstLabels = Object.keys(constLabels).length > 0;
    const snapshots: MetricSnapshot[] = [];
    for (const metric of this.#metrics.values()) {
      const snapshot = metric.snapshot();
      if (!withConstLabels) {
        snapshots.push(snapshot);
      } else if (snapshot.kind === "histogram") {
        snapshots.push({
          ...snapshot,
          samples: prependLabels(snapshot.samples, constLabels),
        });
      } else {
        snapshots.push({
          ...snapshot,
          samples: prependLabels(snapshot.samples, constLabels),
        });
      }
    }
    return snapshots;
  }

  #fullName(name: string, kind: MetricKind): string {
    if (!isValidMetricName(name)) {
      throw new TypeError(
        `Cannot register ${kind} ${
          JSON.stringify(name)
        }: a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*`,
      );
    }
    return this.prefix + name;
  }

  #conflict(existing: Metric, wanted: string): TypeError {
    const buckets = existing instanceof Histogram
      ? existing.buckets
      : undefined;
    return new TypeError(
      `Cannot register ${wanted} as "${existing.name}": it is already registered as ${
        describe(kindOf(existing), existing.labelNames, buckets)
      }`,
    );
  }

  #add<M extends Metric>(metric: M): M {
    for (const label of metric.labelNames) {
      if (Object.hasOwn(this.constLabels, label)) {
        throw new TypeError(
          `Cannot register ${
            kindOf(metric)
          } "${metric.name}": label "${label}" is a const label of the registry`,
        );
      }
    }
    if (metric instanceof Histogram && Object.hasOwn(this.constLabels, "le")) {
      throw new TypeError(
        `Cannot register histogram "${metric.name}": the registry has a const label "le", which histograms reserve`,
      );
    }
    const sampleNames = sampleNamesOf(metric);
    for (const sampleName of sampleNames) {
      const owner = this.#sampleNames.get(sampleName);
      if (owner !== undefined) {
        throw new TypeError(
          `Cannot register ${
            kindOf(metric)
          } "${metric.name}": its samples named "${sampleName}" would collide with ${
            kindOf(owner)
          } "${owner.name}"`,
        );
      }
    }
    this.#metrics.set(metric.name, metric);
    for (const sampleName of sampleNames) {
      this.#sampleNames.set(sampleName, metric);
    }
    return metric;
  }
}
