/** The kinds of metric Troupe records, as named in the Prometheus `# TYPE` line. */
export type MetricKind = "counter" | "gauge" | "histogram";

/** The value of one counter or gauge child. */
export interface SampleSnapshot {
  /** The child's labels by name: the registry's const labels first, then the metric's own. */
  readonly labels: Readonly<Record<string, string>>;
  /** The child's value. */
  readonly value: number;
}

/** The values of one histogram child. */
export interface HistogramSampleSnapshot {
  /** The child's labels by name: the registry's const labels first, then the metric's own. */
  readonly labels: Readonly<Record<string, string>>;
  /** How many values were observed. */
  readonly count: number;
  /** The sum of the observed values. */
  readonly sum: number;
  /**
   * Cumulative counts, one per bucket of {@linkcode HistogramSnapshot.buckets} and a last one for
   * `+Inf` (equal to `count`): `bucketCounts[i]` values were less than or equal to `buckets[i]`.
   */
  readonly bucketCounts: readonly number[];
}

/** A counter and the values of its children. */
export interface CounterSnapshot {
  /** Always `"counter"`. */
  readonly kind: "counter";
  /** The metric's full name (with the registry's prefix). */
  readonly name: string;
  /** The metric's help text. */
  readonly help: string;
  /** One sample per child, in creation order. */
  readonly samples: readonly SampleSnapshot[];
}

/** A gauge and the values of its children. */
export interface GaugeSnapshot {
  /** Always `"gauge"`. */
  readonly kind: "gauge";
  /** The metric's full name (with the registry's prefix). */
  readonly name: string;
  /** The metric's help text. */
  readonly help: string;
  /** One sample per child, in creation order. */
  readonly samples: readonly SampleSnapshot[];
}

/** A histogram and the values of its children. */
export interface HistogramSnapshot {
  /** Always `"histogram"`. */
  readonly kind: "histogram";
  /** The metric's full name (with the registry's prefix). */
  readonly name: string;
  /** The metric's help text. */
  readonly help: string;
  /** The finite upper bounds of the buckets, ascending (the `+Inf` bucket is implied). */
  readonly buckets: readonly number[];
  /** One sample per child, in creation order. */
  readonly samples: readonly HistogramSampleSnapshot[];
}

/** The values of one metric, as `MetricsRegistry.snapshot()` returns them. */
export type MetricSnapshot =
  | CounterSnapshot
  | GaugeSnapshot
  | HistogramSnapshot;
