/**
 * Troupe's metrics: counters, gauges and histograms with labels, kept in a
 * {@linkcode MetricsRegistry} and exposed as Prometheus text (format 0.0.4) or as structured
 * snapshots. Runs on any JavaScript runtime; it uses no runtime API.
 *
 * A metric's `labels(...)` returns one child per combination of label values, the same object
 * each time: keep it, and recording is a check and an addition.
 *
 * @example Usage
 * ```ts
 * import { MetricsRegistry } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new MetricsRegistry({ prefix: "troupe_", constLabels: { node: "a" } });
 * const delivered = registry.counter("delivered_total", "Messages delivered.", ["actor"]);
 * const handling = registry.histogram("handle_seconds", "Time to handle a message.", {
 *   buckets: [0.001, 0.01],
 * });
 *
 * delivered.labels("orders").inc();
 * handling.observe(0.004);
 *
 * assert.equal(
 *   registry.prometheusText(),
 *   [
 *     "# HELP troupe_delivered_total Messages delivered.",
 *     "# TYPE troupe_delivered_total counter",
 *     'troupe_delivered_total{node="a",actor="orders"} 1',
 *     "# HELP troupe_handle_seconds Time to handle a message.",
 *     "# TYPE troupe_handle_seconds histogram",
 *     'troupe_handle_seconds_bucket{node="a",le="0.001"} 0',
 *     'troupe_handle_seconds_bucket{node="a",le="0.01"} 1',
 *     'troupe_handle_seconds_bucket{node="a",le="+Inf"} 1',
 *     'troupe_handle_seconds_sum{node="a"} 0.004',
 *     'troupe_handle_seconds_count{node="a"} 1',
 *     "",
 *   ].join("\n"),
 * );
 * ```
 *
 * @module
 */
export { Counter, type CounterChild, type MetricOptions } from "./counter.ts";
export { Gauge, type GaugeChild } from "./gauge.ts";
export {
  DEFAULT_TIME_BUCKETS,
  Histogram,
  type HistogramChild,
  type HistogramOptions,
} from "./histogram.ts";
export { isValidLabelName, isValidMetricName } from "./names.ts";
export {
  type Metric,
  MetricsRegistry,
  type MetricsRegistryOptions,
  PROMETHEUS_CONTENT_TYPE,
} from "./registry.ts";
export type {
  CounterSnapshot,
  GaugeSnapshot,
  HistogramSampleSnapshot,
  HistogramSnapshot,
  MetricKind,
  MetricSnapshot,
  SampleSnapshot,
} from "./snapshot.ts";
