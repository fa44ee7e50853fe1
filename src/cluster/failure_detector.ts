// The settings of the cluster's failure detector (φ-accrual over heartbeat request/response, each
// member watched by a few others on a hash ring) and their defaults. The logic lives in
// _phi_accrual.ts (the detector), _monitor_ring.ts (who watches whom) and _heartbeat_monitor.ts
// (the timer, the messages and the verdicts); this file is the public part.

/**
 * How the cluster decides that a member is unreachable. Every member sends a heartbeat to each
 * of its subjects every {@linkcode FailureDetectorSettings.heartbeatIntervalMs}; the subject
 * answers with an ack, and the ack arrivals feed a φ-accrual detector (Hayashibara et al.) per
 * subject. φ is the suspicion level: `φ = -log10(P(the next ack is still to come))`, under a
 * normal distribution of the gaps between acks whose mean is the observed mean gap plus
 * {@linkcode FailureDetectorSettings.acceptableHeartbeatPauseMs} and whose standard deviation is
 * at least {@linkcode FailureDetectorSettings.minStdDeviationMs}. A subject is suspected when
 * φ exceeds {@linkcode FailureDetectorSettings.threshold}.
 *
 * **Worst-case detection bound.** Let `I` be the heartbeat interval, `m` the observed mean gap
 * between acks (`≈ I` on a healthy link), `P` the acceptable pause, `σ = max(minStdDeviationMs,
 * observed standard deviation)`, `z(T)` the point where φ reaches the threshold `T`
 * (`z(T) = y` solving `y·(1.5976 + 0.070566·y²) = ln(10^T − 1)`, the logistic approximation of
 * the normal tail; `z(8) ≈ 5.22`) and `d` the one-way network delay. A member that dies (or
 * freezes: socket open, nothing read, so no acks) is suspected by each of its monitors within
 *
 * ```text
 * d + m + P + z(T)·σ + I
 * ```
 *
 * of its death: its last ack arrives at most `d` after it, φ crosses `T` after
 * `m + P + z(T)·σ` of silence, and verdicts are taken on the next heartbeat tick (at most `I`
 * later). With the defaults (`I = 250`, `P = 1000`, `σ = 100`, `T = 8`) that is
 * `250 + 1000 + 522 + 250 ≈ 2.02 s` plus `d` (tens of µs on loopback), which leaves about one
 * second of the 3 s target for confirming the verdict and spreading it by gossip. A member that
 * never answered since it became a subject is treated as if it had answered
 * {@linkcode FailureDetectorSettings.expectedResponseAfterMs} after that, so it is suspected within
 * `expectedResponseAfterMs + firstHeartbeatEstimateMs + P + z(T)·σ + I` of becoming a subject.
 *
 * **False suspicion.** A healthy member is suspected only when no ack from it is processed for
 * `m + P + z(T)·σ` (`≈ 1.77 s` at the defaults): seven missed heartbeats in a row, or an ack
 * delayed by more than `P + z(T)·σ ≈ 1.5 s` beyond its usual time. Troupe's scheduler gives the
 * event loop a turn at least every 20 ms even under a message storm (timer lateness stays near
 * 20 ms with both cores busy; see bench/README.md), so that is a margin of more than 50×; a link
 * that is jittery all the time raises the observed deviation and with it the tolerance. A monitor
 * whose own process stalled (its tick runs more than half an interval late) sends but takes no
 * verdict on that tick, so the acks that queued up during its own stall are read before it
 * judges. An interval of 500 ms with a 1500 ms pause would give
 * `500 + 1500 + 522 + 500 ≈ 3.02 s`, the whole 3 s budget before any confirmation or gossip, so
 * the defaults halve the interval and trim the pause instead (at the price of 20 heartbeats and
 * 20 acks per second per node with `k = 5`).
 */
export interface FailureDetectorSettings {
  /** How often a monitor sends a heartbeat to each subject, in ms (> 0). Default 250. */
  readonly heartbeatIntervalMs: number;
  /** φ above which the subject is suspected (> 0). Default 8 (a 10⁻⁸ chance of a mistake). */
  readonly threshold: number;
  /**
   * How much longer than the usual gap between acks is still normal, in ms (≥ 0): added to the
   * observed mean. Default 1000.
   */
  readonly acceptableHeartbeatPauseMs: number;
  /**
   * The least standard deviation of the gaps the detector assumes, in ms (> 0), so that a very
   * regular link does not make it suspect at the first late ack. Default 100.
   */
  readonly minStdDeviationMs: number;
  /** How many gaps between acks the detector remembers (an integer ≥ 1). Default 1000. */
  readonly maxSampleSize: number;
  /**
   * How many members monitor each member, `k` (an integer ≥ 1); in a cluster of `n` members each
   * one is monitored by `min(k, n − 1)` others. Default 5.
   */
  readonly monitoredBy: number;
  /**
   * The gap between acks assumed before any was observed, in ms (> 0); best equal to the
   * heartbeat interval. Default 250.
   */
  readonly firstHeartbeatEstimateMs: number;
  /**
   * How long a new subject may take to send its first ack, in ms (> 0): after that its silence
   * counts as missing heartbeats. Default 1000.
   */
  readonly expectedResponseAfterMs: number;
}

/**
 * The default failure detector settings: a dead or frozen member is suspected by its monitors
 * within about 2.02 s (see {@linkcode FailureDetectorSettings} for the bound and the reasoning).
 *
 * @example Usage
 * ```ts
 * import { DEFAULT_FAILURE_DETECTOR_SETTINGS } from "@troupe/troupe/cluster";
 * console.log(DEFAULT_FAILURE_DETECTOR_SETTINGS.threshold); // 8
 * ```
 */
export const DEFAULT_FAILURE_DETECTOR_SETTINGS: FailureDetectorSettings = Object
  .freeze({
    heartbeatIntervalMs: 250,
    threshold: 8,
    acceptableHeartbeatPauseMs: 1000,
    minStdDeviationMs: 100,
    maxSampleSize: 1000,
    monitoredBy: 5,
    firstHeartbeatEstimateMs: 250,
    expectedResponseAfterMs: 1000,
  });

type Rule = "positive" | "non-negative" | "positive-integer";

const RULES: Readonly<Record<keyof FailureDetectorSettings, Rule>> = {
  heartbeatIntervalMs: "positive",
  threshold: "positive",
  acceptableHeartbeatPauseMs: "non-negative",
  minStdDeviationMs: "positive",
  maxSampleSize: "positive-integer",
  monitoredBy: "positive-integer",
  firstHeartbeatEstimateMs: "positive",
  expectedResponseAfterMs: "positive",
};

const NAMES = Object.keys(RULES) as (keyof FailureDetectorSettings)[];

function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  return value === null ? "null" : typeof value;
}

/**
 * Builds failure detector settings: the defaults overridden by `partial`, checked and frozen.
 *
 * @param partial The settings to change; the others keep their defaults.
 * @returns Complete, frozen settings.
 * @throws {TypeError} When `partial` is not an object, names a setting that does not exist, or
 * gives a value that is not a number.
 * @throws {RangeError} When a value is out of its range (see each setting), or not finite.
 *
 * @example Usage
 * ```ts
 * import { failureDetectorSettings } from "@troupe/troupe/cluster";
 * const settings = failureDetectorSettings({ heartbeatIntervalMs: 500, firstHeartbeatEstimateMs: 500 });
 * console.log(settings.heartbeatIntervalMs, settings.threshold); // 500 8
 * ```
 */
export function failureDetectorSettings(
  partial: Partial<FailureDetectorSettings> = {},
): FailureDetectorSettings {
  if (
    typeof partial !== "object" || partial === null || Array.isArray(partial)
  ) {
    throw new TypeError(
      `Cannot build failure detector settings: expected an object, got ${
        Array.isArray(partial) ? "an array" : describe(partial)
      }`,
    );
  }
  for (const key of Object.keys(partial)) {
    if (!Object.hasOwn(RULES, key)) {
      throw new TypeError(
        `Cannot build failure detector settings: unknown setting "${key}" (known: ${
          NAMES.join(", ")
        })`,
      );
    }
  }
  const settings = { ...DEFAULT_FAILURE_DETECTOR_SETTINGS };
  for (const name of NAMES) {
    const value: unknown = partial[name];
    if (value === undefined) continue;
    if (typeof value !== "number") {
      throw new TypeError(
        `Cannot build failure detector settings: ${name} must be a number, got ${
          describe(value)
        }`,
      );
    }
    const rule = RULES[name];
    const ok = Number.isFinite(value) &&
      (rule === "non-negative"
        ? value >= 0
        : rule === "positive"
        ? value > 0
        : Number.isSafeInteger(value) && value >= 1);
    if (!ok) {
      const wanted = rule === "non-negative"
        ? "a finite number ≥ 0"
        : rule === "positive"
        ? "a finite number > 0"
        : "an integer ≥ 1";
      throw new RangeError(
        `Cannot build failure detector settings: ${name} must be ${wanted}, got ${value}`,
      );
    }
    settings[name] = value;
  }
  return Object.freeze(settings);
}
