// The φ-accrual failure detector of one subject (Hayashibara et al., "The φ Accrual Failure
// Detector", 2004), as Akka/Pekko compute it: a sliding window of the gaps between heartbeats,
// a normal distribution whose mean is the observed mean plus the acceptable pause, and a logistic
// approximation of its tail. Pure: time comes in as arguments, nothing is scheduled here.

import type { FailureDetectorSettings } from "./failure_detector.ts";

/** `y ↦ y·(1.5976 + 0.070566·y²)`: the exponent of the logistic approximation of Φ(y). */
function logisticExponent(y: number): number {
  return y * (1.5976 + 0.070566 * y * y);
}

/**
 * φ for a standardised gap `y`: `-log10(1 − Φ(y)) ≈ log10(1 + e^f)` with `f` the logistic
 * exponent. Written so it stays finite and increasing for every finite `y` (no overflow of `e^f`).
 */
export function phiOfStandardGap(y: number): number {
  const f = logisticExponent(y);
  return f > 0
    ? (f + Math.log1p(Math.exp(-f))) / Math.LN10
    : Math.log1p(Math.exp(f)) / Math.LN10;
}

/**
 * The standardised gap at which φ reaches `threshold`: the `z(T)` of the documented detection
 * bound (`z(8) ≈ 5.22`).
 */
export function standardGapAtPhi(threshold: number): number {
  // φ(y) is increasing, so bisect; 200 halvings reach the precision of a double.
  let lo = -100;
  let hi = 100;
  for (let i = 0; i < 200; i++) {
    const mid = (lo + hi) / 2;
    if (phiOfStandardGap(mid) < threshold) lo = mid;
    else hi = mid;
  }
  return hi;
}

/**
 * The φ-accrual detector of one subject. Feed it the arrival time of each heartbeat (here: each
 * heartbeat ack) with {@linkcode PhiAccrualDetector.heartbeat}; ask it how suspicious the
 * silence since the last one is with {@linkcode PhiAccrualDetector.phi}. Before the first
 * heartbeat φ is 0: a subject is not suspected before it was ever heard (the heartbeat monitor
 * starts the detector itself when a new subject stays silent too long).
 *
 * The window is seeded, as in Akka, with two gaps of `firstHeartbeatEstimateMs ± a quarter`, so
 * the first real gaps are judged against the estimate; the seeds leave the window once
 * `maxSampleSize` real gaps came in. A gap is recorded only when the subject was available at
 * its end, so a long outage does not teach the detector to tolerate long outages.
 */
export class PhiAccrualDetector {
  readonly #threshold: number;
  readonly #pause: number;
  readonly #minStd: number;
  readonly #capacity: number;
  // The window: a ring buffer of gaps with their running sum and sum of squares.
  readonly #gaps: Float64Array;
  #start = 0;
  #count = 0;
  #sum = 0;
  #squares = 0;
  #last: number | undefined;

  /**
   * Creates a detector that has heard nothing yet.
   *
   * @param settings The settings to use (validated with `failureDetectorSettings`).
   */
  constructor(settings: FailureDetectorSettings) {
    this.#threshold = settings.threshold;
    this.#pause = settings.acceptableHeartbeatPauseMs;
    this.#minStd = settings.minStdDeviationMs;
    this.#capacity = settings.maxSampleSize;
    this.#gaps = new Float64Array(this.#capacity);
    const estimate = settings.firstHeartbeatEstimateMs;
    const deviation = estimate / 4;
    this.#record(estimate - deviation);
    this.#record(estimate + deviation);
  }

  /**
   * Records a heartbeat that arrived at `nowMs`.
   *
   * @param nowMs The arrival time, on the same monotonic scale as every other call.
   * @throws {RangeError} When `nowMs` is not finite or is earlier than the previous heartbeat.
   */
  heartbeat(nowMs: number): void {
    checkTime(nowMs, "heartbeat");
    const last = this.#last;
    if (last !== undefined) {
      if (nowMs < last) {
        throw new RangeError(
          `Cannot record heartbeat at ${nowMs} ms: it is before the previous one at ${last} ms`,
        );
      }
      if (this.isAvailable(nowMs)) this.#record(nowMs - last);
    }
    this.#last = nowMs;
  }

  /**
   * The suspicion level at `nowMs`: 0 before the first heartbeat, then growing with the silence
   * since the last one (never decreasing while no heartbeat comes). Always finite.
   *
   * @param nowMs The time to judge at (a time before the last heartbeat counts as no silence).
   * @returns φ ≥ 0.
   * @throws {RangeError} When `nowMs` is not finite.
   */
  phi(nowMs: number): number {
    checkTime(nowMs, "phi");
    const last = this.#last;
    if (last === undefined) return 0;
    const silence = Math.max(0, nowMs - last);
    const mean = this.#sum / this.#count;
    const variance = Math.max(0, this.#squares / this.#count - mean * mean);
    const std = Math.max(Math.sqrt(variance), this.#minStd);
    return phiOfStandardGap((silence - (mean + this.#pause)) / std);
  }

  /**
   * Whether the subject is trusted at `nowMs`: φ below the threshold.
   *
   * @param nowMs The time to judge at.
   * @returns `true` while φ < threshold.
   * @throws {RangeError} When `nowMs` is not finite.
   */
  isAvailable(nowMs: number): boolean {
    return this.phi(nowMs) < this.#threshold;
  }

  #record(gap: number): void {
    if (this.#count === this.#capacity) {
      const old = this.#gaps[this.#start];
      this.#sum -= old;
      this.#squares -= old * old;
      this.#start = (this.#start + 1) % this.#capacity;
      this.#count--;
      // Once per pass over the window, recompute the sums exactly so rounding cannot drift.
      if (this.#start === 0) this.#resum();
    }
    this.#gaps[(this.#start + this.#count) % this.#capacity] = gap;
    this.#count++;
    this.#sum += gap;
    this.#squares += gap * gap;
  }

  #resum(): void {
    let sum = 0;
    let squares = 0;
    for (let i = 0; i < this.#count; i++) {
      const gap = this.#gaps[(this.#start + i) % this.#capacity];
      sum += gap;
      squares += gap * gap;
    }
    this.#sum = sum;
    this.#squares = squares;
  }
}

function checkTime(nowMs: number, what: string): void {
  if (typeof nowMs !== "number" || !Number.isFinite(nowMs)) {
    throw new RangeError(
      `Cannot compute ${what}: the time must be a finite number of ms, got ${
        String(nowMs)
      }`,
    );
  }
}
