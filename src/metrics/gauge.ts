import { assertHelp, assertMetricName, checkLabelNames } from "./_checks.ts";
import { ChildTable } from "./_child_table.ts";
import type { MetricOptions } from "./counter.ts";
import type { GaugeSnapshot, SampleSnapshot } from "./snapshot.ts";

/**
 * One child of a {@linkcode Gauge}: the gauge for one combination of label values. Keep it and
 * call its methods on hot paths; each is one assignment.
 */
export interface GaugeChild {
  /**
   * Sets the value.
   *
   * @param value The new value (any number, including `NaN` and infinities).
   */
  set(value: number): void;
  /**
   * Adds to the value.
   *
   * @param by How much to add (may be negative). Default: 1.
   */
  inc(by?: number): void;
  /**
   * Subtracts from the value.
   *
   * @param by How much to subtract (may be negative). Default: 1.
   */
  dec(by?: number): void;
  /** The current value. */
  readonly value: number;
}

class GaugeCell implements GaugeChild {
  #value = 0;

  set(value: number): void {
    this.#value = value;
  }

  inc(by = 1): void {
    this.#value += by;
  }

  dec(by = 1): void {
    this.#value -= by;
  }

  get value(): number {
    return this.#value;
  }
}

/**
 * A value that goes up and down, such as mailbox length or live actors, optionally split by
 * labels. Usually made by {@linkcode MetricsRegistry.gauge}, which also puts it in the exposition.
 *
 * @example Usage
 * ```ts
 * import { MetricsRegistry } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new MetricsRegistry();
 * const live = registry.gauge("live_actors", "Actors alive now.");
 * live.inc();
 * live.inc();
 * live.dec();
 * assert.equal(live.value(), 1);
 * ```
 */
export class Gauge {
  /** The full name. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The label names, in the order {@linkcode Gauge.labels} takes their values. */
  readonly labelNames: readonly string[];
  readonly #table: ChildTable<GaugeCell>;
  readonly #unlabelled: GaugeCell | undefined;

  /**
   * Creates a gauge outside any registry (use {@linkcode MetricsRegistry.gauge} to have it
   * exposed).
   *
   * @param name The metric name.
   * @param help What the gauge measures.
   * @param options The label names.
   * @throws {TypeError} If the name or a label name is invalid.
   */
  constructor(name: string, help: string, options: MetricOptions = {}) {
    assertMetricName(name, "gauge");
    assertHelp(help, "gauge", name);
    this.name = name;
    this.help = help;
    this.labelNames = checkLabelNames(options.labelNames ?? [], "gauge", name);
    this.#table = new ChildTable(
      `gauge "${name}"`,
      this.labelNames,
      () => new GaugeCell(),
    );
    this.#unlabelled = this.#table.unlabelled;
  }

  /**
   * Returns the child for a combination of label values, the same object each time.
   *
   * @param values One value per label name, in order.
   * @returns The child, created on first use with the value 0.
   * @throws {TypeError} If the number of values differs from the number of label names, or a
   * value is not a string.
   *
   * @example Usage
   * ```ts
   * import { Gauge } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const queued = new Gauge("mailbox_length", "Queued messages.", { labelNames: ["actor"] });
   * queued.labels("orders").set(12);
   * assert.equal(queued.labels("orders").value, 12);
   * ```
   */
  labels(...values: string[]): GaugeChild {
    return this.#table.get(values);
  }

  /**
   * Sets a gauge without labels.
   *
   * @param value The new value.
   * @throws {TypeError} If the gauge has labels (use {@linkcode Gauge.labels}).
   *
   * @example Usage
   * ```ts
   * import { Gauge } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const heap = new Gauge("heap_bytes", "Heap in use.");
   * heap.set(1024);
   * assert.equal(heap.value(), 1024);
   * ```
   */
  set(value: number): void {
    this.#single("set").set(value);
  }

  /**
   * Adds to a gauge without labels.
   *
   * @param by How much to add. Default: 1.
   * @throws {TypeError} If the gauge has labels (use {@linkcode Gauge.labels}).
   *
   * @example Usage
   * ```ts
   * import { Gauge } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const live = new Gauge("live_actors", "Actors alive now.");
   * live.inc(3);
   * assert.equal(live.value(), 3);
   * ```
   */
  inc(by = 1): void {
    this.#single("increment").inc(by);
  }

  /**
   * Subtracts from a gauge without labels.
   *
   * @param by How much to subtract. Default: 1.
   * @throws {TypeError} If the gauge has labels (use {@linkcode Gauge.labels}).
   *
   * @example Usage
   * ```ts
   * import { Gauge } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const live = new Gauge("live_actors", "Actors alive now.");
   * live.dec();
   * assert.equal(live.value(), -1);
   * ```
   */
  dec(by = 1): void {
    this.#single("decrement").dec(by);
  }

  /**
   * Reads the value of one child without creating it.
   *
   * @param labelValues One value per label name, in order (none for a gauge without labels).
   * @returns The child's value, or 0 if it has not been created.
   * @throws {TypeError} If the number of values differs from the number of label names.
   *
   * @example Usage
   * ```ts
   * import { Gauge } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const queued = new Gauge("mailbox_length", "Queued messages.", { labelNames: ["actor"] });
   * assert.equal(queued.value("orders"), 0);
   * ```
   */
  value(...labelValues: string[]): number {
    return this.#table.find(labelValues)?.value ?? 0;
  }

  /**
   * Reads the values of all children.
   *
   * @returns The gauge's name, help and one sample per child, in creation order.
   *
   * @example Usage
   * ```ts
   * import { Gauge } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const heap = new Gauge("heap_bytes", "Heap in use.");
   * heap.set(7);
   * assert.deepEqual(heap.snapshot().samples, [{ labels: {}, value: 7 }]);
   * ```
   */
  snapshot(): GaugeSnapshot {
    const samples: SampleSnapshot[] = [];
    this.#table.forEach((child, labels) => {
      samples.push({ labels, value: child.value });
    });
    return { kind: "gauge", name: this.name, help: this.help, samples };
  }

  #single(action: string): GaugeCell {
    if (this.#unlabelled === undefined) {
      throw new TypeError(
        `Cannot ${action} gauge "${this.name}" without label values: call labels(${
          this.labelNames.join(", ")
        }) first`,
      );
    }
    return this.#unlabelled;
  }
}
