/** What a supervisor does with a child that failed. */
export type Directive = "resume" | "restart" | "stop" | "escalate";

/** Exponential backoff between restarts. */
export interface BackoffOptions {
  /** The first delay, in milliseconds. */
  readonly minMs: number;
  /** The largest delay, in milliseconds. */
  readonly maxMs: number;
  /** Random extra delay as a fraction of the delay, 0 to 1 (default 0). */
  readonly jitter?: number;
}

/** How a supervisor handles failures of its children. */
export interface SupervisionStrategy {
  /**
   * Which children a directive applies to: only the one that failed (`"one-for-one"`), all
   * (`"all-for-one"`), or the failed one and those started after it (`"rest-for-one"`).
   */
  readonly kind: "one-for-one" | "all-for-one" | "rest-for-one";
  /** Decides per failure; the default restarts. */
  readonly decide?: (error: unknown, childPath: string) => Directive;
  /**
   * Restart intensity: at most this many restarts of one child within `withinMs`; one more
   * failure escalates to the supervisor's own supervisor. Default 10.
   */
  readonly maxRestarts?: number;
  /** The intensity window in milliseconds. Default 60 000. */
  readonly withinMs?: number;
  /** Delay restarts, doubling from `minMs` up to `maxMs` with each restart in the window. */
  readonly backoff?: BackoffOptions;
}

/** Options for the strategy helpers. */
export type StrategyOptions = Omit<SupervisionStrategy, "kind">;

/**
 * A one-for-one strategy: a directive applies to the failed child only.
 *
 * @param options Decider, intensity and backoff.
 * @returns The strategy.
 *
 * @example Usage
 * ```ts
 * import { oneForOne } from "@troupe/troupe";
 * const strategy = oneForOne({ maxRestarts: 3, withinMs: 1000 });
 * console.log(strategy.kind); // "one-for-one"
 * ```
 */
export function oneForOne(options: StrategyOptions = {}): SupervisionStrategy {
  return checkStrategy({ ...options, kind: "one-for-one" });
}

/**
 * An all-for-one strategy: a directive for one child applies to every child.
 *
 * @param options Decider, intensity and backoff.
 * @returns The strategy.
 *
 * @example Usage
 * ```ts
 * import { allForOne } from "@troupe/troupe";
 * console.log(allForOne().kind); // "all-for-one"
 * ```
 */
export function allForOne(options: StrategyOptions = {}): SupervisionStrategy {
  return checkStrategy({ ...options, kind: "all-for-one" });
}

/**
 * A rest-for-one strategy: a directive applies to the failed child and to every child started
 * after it.
 *
 * @param options Decider, intensity and backoff.
 * @returns The strategy.
 *
 * @example Usage
 * ```ts
 * import { restForOne } from "@troupe/troupe";
 * console.log(restForOne().kind); // "rest-for-one"
 * ```
 */
export function restForOne(options: StrategyOptions = {}): SupervisionStrategy {
  return checkStrategy({ ...options, kind: "rest-for-one" });
}

export const DEFAULT_STRATEGY: SupervisionStrategy = Object.freeze({
  kind: "one-for-one",
});

/** Validates a strategy; throws TypeError/RangeError on a caller mistake. */
export function checkStrategy(
  strategy: SupervisionStrategy,
): SupervisionStrategy {
  const { kind, decide, maxRestarts, withinMs, backoff } = strategy;
  if (
    kind !== "one-for-one" && kind !== "all-for-one" && kind !== "rest-for-one"
  ) {
    throw new TypeError(`Invalid supervision strategy kind ${String(kind)}`);
  }
  if (decide !== undefined && typeof decide !== "function") {
    throw new TypeError(
      "Invalid supervision strategy: decide must be a function",
    );
  }
  if (
    maxRestarts !== undefined &&
    (!Number.isInteger(maxRestarts) || maxRestarts < 0)
  ) {
    throw new RangeError(
      `Invalid maxRestarts ${String(maxRestarts)}: must be an integer ≥ 0`,
    );
  }
  if (withinMs !== undefined && !(withinMs > 0)) {
    throw new RangeError(`Invalid withinMs ${String(withinMs)}: must be > 0`);
  }
  if (backoff !== undefined) {
    const { minMs, maxMs, jitter = 0 } = backoff;
    if (!(minMs >= 0) || !(maxMs >= minMs) || !Number.isFinite(maxMs)) {
      throw new RangeError(
        `Invalid backoff ${minMs}..${maxMs} ms: need 0 ≤ minMs ≤ maxMs`,
      );
    }
    if (!(jitter >= 0 && jitter <= 1)) {
      throw new RangeError(
        `Invalid backoff jitter ${jitter}: must be between 0 and 1`,
      );
    }
  }
  return strategy;
}

/** Tracks the restarts of one child for intensity and backoff. */
export class RestartTracker {
  #times: number[] = [];

  /**
   * Records a restart at `now` if the intensity allows it.
   *
   * @returns The delay before the restart, or `undefined` when intensity is exceeded.
   */
  next(
    strategy: SupervisionStrategy,
    now: number,
    random: () => number,
  ): number | undefined {
    const max = strategy.maxRestarts ?? 10;
    const within = strategy.withinMs ?? 60_000;
    const times = this.#times;
    while (times.length > 0 && times[0] <= now - within) times.shift();
    if (times.length >= max) return undefined;
    times.push(now);
    const backoff = strategy.backoff;
    if (backoff === undefined) return 0;
    const base = Math.min(
      backoff.maxMs,
      backoff.minMs * 2 ** (times.length - 1),
    );
    return base * (1 + (backoff.jitter ?? 0) * random());
  }
}
