import { assertHelp, assertMetricName, checkLabelNames } from "./_checks.ts";
import { ChildTable } from "./_child_table.ts";
import type { CounterSnapshot, SampleSnapshot } from "./snapshot.ts";

/** Options for {@linkcode Counter} and {@linkcode Gauge}. */
export interface MetricOptions {
  /** The names of the metric's labels, in the order `labels()` takes their values. Default: none. */
  readonly labelNames?: readonly string[];
}

/**
 * One child of a {@linkcode Counter}: the counter for one combination of label values. Keep it
 * and call {@linkcode CounterChild.inc} on hot paths; that is a check and an addition.
 */
export interface CounterChild {
  /**
   * Adds to the counter.
   *
   * @param by How much to add, `>= 0`. Default: 1.
   * @throws {RangeError} If `by` is negative or NaN.
   */
  inc(by?: number): void;
  /** The current value. */
  readonly value: number;
}

class CounterCell implements CounterChild {
  readonly #name: string;
  #value = 0;

  constructor(name: string) {
    this.#name = name;
  }

  inc(by = 1): void {
    // Written so that NaN fails too.
    if (!(by >= 0)) {
      throw new RangeError(
        `Cannot increment counter "${this.#name}": the increment must be >= 0, got ${by}`,
      );
    }
    this.#value += by;
  }

  get value(): number {
    return this.#value;
  }
}

/**
 * A value that only goes up, such as messages delivered or restarts, optionally split by labels.
 * Its name must end in `_total`. Usually made by {@linkcode MetricsRegistry.counter}, which also
 * puts it in the exposition.
 *
 * @example Usage
 * ```ts
 * import { MetricsRegistry } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const registry = new MetricsRegistry();
 * const delivered = registry.counter("delivered_total", "Messages delivered.", ["actor"]);
 * const orders = delivered.labels("orders");
 * orders.inc();
 * orders.inc(2);
 * assert.equal(delivered.value("orders"), 3);
 * ```
 */
export class Counter {
  /** The full name, ending in `_total`. */
  readonly name: string;
  /** The help text. */
  readonly help: string;
  /** The label names, in the order {@linkcode Counter.labels} takes their values. */
  readonly labelNames: readonly string[];
  readonly #table: ChildTable<CounterCell>;
  readonly #unlabelled: CounterCell | undefined;

  /**
   * Creates a counter outside any registry (use {@linkcode MetricsRegistry.counter} to have it
   * exposed).
   *
   * @param name The metric name; it must be valid and end in `_total`.
   * @param help What the counter counts.
   * @param options The label names.
   * @throws {TypeError} If the name or a label name is invalid or the name does not end in
   * `_total`.
   */
  constructor(name: string, help: string, options: MetricOptions = {}) {
    assertMetricName(name, "counter");
    if (!name.endsWith("_total")) {
      throw new TypeError(
        `Cannot create counter "${name}": a counter's name must end in "_total"`,
      );
    }
    assertHelp(help, "counter", name);
    this.name = name;
    this.help = help;
    this.labelNames = checkLabelNames(
      options.labelNames ?? [],
      "counter",
      name,
    );
    this.#table = new ChildTable(
      `counter "${name}"`,
      this.labelNames,
      () => new CounterCell(name),
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
   * import { Counter } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const sent = new Counter("sent_total", "Messages sent.", { labelNames: ["to"] });
   * assert.equal(sent.labels("a"), sent.labels("a"));
   * ```
   */
  labels(...values: string[]): CounterChild {
    return this.#table.get(values);
  }

  /**
   * Adds to a counter without labels.
   *
   * @param by How much to add, `>= 0`. Default: 1.
   * @throws {TypeError} If the counter has labels (use {@linkcode Counter.labels}).
   * @throws {RangeError} If `by` is negative or NaN.
   *
   * @example Usage
   * ```ts
   * import { Counter } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const started = new Counter("started_total", "Actors started.");
   * started.inc();
   * assert.equal(started.value(), 1);
   * ```
   */
  inc(by = 1): void {
    if (this.#unlabelled === undefined) {
      throw new TypeError(
        `Cannot increment counter "${this.name}" without label values: call labels(${
          this.labelNames.join(", ")
        }) first`,
      );
    }
    this.#unlabelled.inc(by);
  }

  /**
   * Reads the value of one child without creating it.
   *
   * @param labelValues One value per label name, in order (none for a counter without labels).
   * @returns The child's value, or 0 if it has not been created.
   * @throws {TypeError} If the number of values differs from the number of label names.
   *
   * @example Usage
   * ```ts
   * import { Counter } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const failed = new Counter("failed_total", "Failures.", { labelNames: ["reason"] });
   * failed.labels("timeout").inc();
   * assert.equal(failed.value("timeout"), 1);
   * assert.equal(failed.value("crash"), 0);
   * ```
   */
  value(...labelValues: string[]): number {
    return this.#table.find(labelValues)?.value ?? 0;
  }

  /**
   * Reads the values of all children.
   *
   * @returns The counter's name, help and one sample per child, in creation order.
   *
   * @example Usage
   * ```ts
   * import { Counter } from "./mod.ts";
   * import assert from "node:assert/strict";
   *
   * const sent = new Counter("sent_total", "Messages sent.", { labelNames: ["to"] });
   * sent.labels("a").inc(4);
   * assert.deepEqual(sent.snapshot().samples, [{ labels: { to: "a" }, value: 4 }]);
   * ```
   */
  snapshot(): CounterSnapshot {
    const samples: SampleSnapshot[] = [];
    this.#table.forEach((child, labels) => {
      samples.push({ labels, value: child.value });
    });
    return { kind: "counter", name: this.name, help: this.help, samples };
  }
}
