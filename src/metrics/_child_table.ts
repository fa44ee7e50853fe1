// The children of one metric, one per combination of label values.
//
// Children are found through nested Maps, one level per label, rather than through one Map keyed
// by the joined values: no separator can be confused with a value, and a lookup allocates no key.

/** One level of the lookup tree: the last level maps to children, the others to deeper levels. */
type Level = Map<string, unknown>;

/** The children of one metric, found by label values and listed in creation order. */
export class ChildTable<T> {
  readonly #description: string;
  readonly #labelNames: readonly string[];
  readonly #create: () => T;
  readonly #root: Level = new Map();
  readonly #children: T[] = [];
  readonly #labelValues: (readonly string[])[] = [];

  /**
   * @param description The metric, for error messages, e.g. `counter "x_total"`.
   * @param labelNames The metric's label names (already checked).
   * @param create Makes the child for a new combination of label values.
   */
  constructor(
    description: string,
    labelNames: readonly string[],
    create: () => T,
  ) {
    this.#description = description;
    this.#labelNames = labelNames;
    this.#create = create;
    if (labelNames.length === 0) this.#add([]);
  }

  /** The child for the values, created on first use. */
  get(values: readonly string[]): T {
    const found = this.find(values);
    if (found !== undefined) return found;
    for (const value of values) {
      if (typeof value !== "string") {
        throw new TypeError(
          `Cannot get the labels of ${this.#description}: label values must be strings, got ${typeof value}`,
        );
      }
    }
    const child = this.#add(Object.freeze([...values]));
    let level = this.#root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      let next = level.get(values[i]) as Level | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(values[i], next);
      }
      level = next;
    }
    level.set(values[last], child);
    return child;
  }

  /** The child for the values, or `undefined` if none was made. */
  find(values: readonly string[]): T | undefined {
    const names = this.#labelNames;
    if (values.length !== names.length) {
      throw new TypeError(
        `Cannot get the labels of ${this.#description}: expected ${names.length} label value(s) (${
          names.join(", ")
        }), got ${values.length}`,
      );
    }
    if (values.length === 0) return this.#children[0];
    let level = this.#root;
    const last = values.length - 1;
    for (let i = 0; i < last; i++) {
      const next = level.get(values[i]);
      if (next === undefined) return undefined;
      level = next as Level;
    }
    return level.get(values[last]) as T | undefined;
  }

  /** The child of an unlabelled metric, `undefined` for a labelled one. */
  get unlabelled(): T | undefined {
    return this.#labelNames.length === 0 ? this.#children[0] : undefined;
  }

  /** Calls `visit` with each child and its labels, in creation order. */
  forEach(visit: (child: T, labels: Record<string, string>) => void): void {
    const names = this.#labelNames;
    for (let i = 0; i < this.#children.length; i++) {
      const values = this.#labelValues[i];
      const labels: Record<string, string> = {};
      for (let j = 0; j < names.length; j++) labels[names[j]] = values[j];
      visit(this.#children[i], labels);
    }
  }

  #add(values: readonly string[]): T {
    const child = this.#create();
    this.#children.push(child);
    this.#labelValues.push(values);
    return child;
  }
}
