import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { failureDetectorSettings } from "./failure_detector.ts";
import {
  PhiAccrualDetector,
  phiOfStandardGap,
  standardGapAtPhi,
} from "./_phi_accrual.ts";

/** Settings where the first estimate equals the interval, as the defaults have it. */
const settingsArb = fc.record({
  heartbeatIntervalMs: fc.integer({ min: 10, max: 2000 }),
  acceptableHeartbeatPauseMs: fc.integer({ min: 0, max: 5000 }),
  minStdDeviationMs: fc.integer({ min: 10, max: 500 }),
  threshold: fc.double({ min: 1, max: 16, noNaN: true }),
  maxSampleSize: fc.integer({ min: 1, max: 200 }),
}).map((s) =>
  failureDetectorSettings({
    ...s,
    firstHeartbeatEstimateMs: s.heartbeatIntervalMs,
  })
);

test("phiOfStandardGap() is finite, non-negative and increasing", () => {
  fc.assert(
    fc.property(
      fc.double({ min: -1e6, max: 1e6, noNaN: true }),
      fc.double({ min: 0, max: 1e6, noNaN: true }),
      (y, step) => {
        const a = phiOfStandardGap(y);
        const b = phiOfStandardGap(y + step);
        assert.ok(Number.isFinite(a) && Number.isFinite(b));
        assert.ok(a >= 0);
        assert.ok(b >= a, `φ(${y}) = ${a} > φ(${y + step}) = ${b}`);
      },
    ),
    { numRuns: 1000 },
  );
  assert.ok(Math.abs(phiOfStandardGap(0) - Math.log10(2)) < 1e-12);
  assert.ok(Math.abs(phiOfStandardGap(standardGapAtPhi(8)) - 8) < 1e-9);
});

test("PhiAccrualDetector.phi() is 0 and the subject available before the first heartbeat", () => {
  const detector = new PhiAccrualDetector(failureDetectorSettings());
  assert.equal(detector.phi(1e9), 0);
  assert.equal(detector.isAvailable(1e9), true);
});

test("PhiAccrualDetector.phi() grows monotonically with silence, whatever the history", () => {
  fc.assert(
    fc.property(
      settingsArb,
      fc.array(fc.integer({ min: 0, max: 5000 }), {
        minLength: 0,
        maxLength: 60,
      }),
      fc.array(fc.double({ min: 0, max: 20_000, noNaN: true }), {
        minLength: 2,
        maxLength: 30,
      }),
      (settings, gaps, offsets) => {
        const detector = new PhiAccrualDetector(settings);
        let now = 1000;
        detector.heartbeat(now);
        for (const gap of gaps) detector.heartbeat(now += gap);
        let previous = -Infinity;
        for (const offset of [...offsets].sort((a, b) => a - b)) {
          const phi = detector.phi(now + offset);
          assert.ok(Number.isFinite(phi));
          assert.ok(phi >= previous, `φ fell from ${previous} to ${phi}`);
          previous = phi;
        }
      },
    ),
    { numRuns: 300 },
  );
});

test("PhiAccrualDetector never suspects regular heartbeats", () => {
  fc.assert(
    fc.property(
      settingsArb,
      fc.integer({ min: 1, max: 500 }),
      (settings, count) => {
        const detector = new PhiAccrualDetector(settings);
        const interval = settings.heartbeatIntervalMs;
        let now = 0;
        for (let i = 0; i < count; i++) {
          detector.heartbeat(now);
          // Judge just before the next heartbeat, where φ is highest.
          assert.equal(detector.isAvailable(now + interval - 0.001), true);
          now += interval;
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("PhiAccrualDetector never suspects gaps within the acceptable pause", () => {
  // Gaps anywhere in [I/2, I + P]: the observed mean stays ≥ I/2, so the standardised gap stays
  // ≤ I/(2σ) ≤ 3 (with σ ≥ I/6 here), far below z(T) ≈ 5 for T ≥ 8.
  fc.assert(
    fc.property(
      settingsArb.map((s) =>
        failureDetectorSettings({
          ...s,
          threshold: Math.max(8, s.threshold),
          minStdDeviationMs: Math.max(
            s.minStdDeviationMs,
            s.heartbeatIntervalMs / 6,
          ),
        })
      ),
      fc.array(fc.double({ min: 0, max: 1, noNaN: true }), {
        minLength: 1,
        maxLength: 300,
      }),
      (settings, fractions) => {
        const detector = new PhiAccrualDetector(settings);
        const low = settings.heartbeatIntervalMs / 2;
        const high = settings.heartbeatIntervalMs +
          settings.acceptableHeartbeatPauseMs;
        let now = 0;
        detector.heartbeat(now);
        for (const f of fractions) {
          const gap = low + f * (high - low);
          assert.equal(
            detector.isAvailable(now + gap),
            true,
            `suspected after a gap of ${gap} ms (φ = ${
              detector.phi(now + gap)
            })`,
          );
          detector.heartbeat(now += gap);
        }
      },
    ),
    { numRuns: 200 },
  );
});

test("PhiAccrualDetector suspects silence within m + P + z(T)·σ, and not before m + P", () => {
  fc.assert(
    fc.property(
      settingsArb,
      fc.integer({ min: 1, max: 300 }),
      (settings, count) => {
        // The window holds both seeds (mean I) or neither; one seed alone would lift the mean.
        fc.pre(settings.maxSampleSize !== count + 1);
        const detector = new PhiAccrualDetector(settings);
        const interval = settings.heartbeatIntervalMs;
        let now = 0;
        detector.heartbeat(now);
        for (let i = 0; i < count; i++) detector.heartbeat(now += interval);
        // Regular gaps: the mean is I; the deviation is at most the seeds' I/4.
        const sigma = Math.max(settings.minStdDeviationMs, interval / 4);
        const z = standardGapAtPhi(settings.threshold);
        const pause = settings.acceptableHeartbeatPauseMs;
        assert.equal(detector.isAvailable(now + interval + pause), true);
        assert.equal(
          detector.isAvailable(now + interval + pause + z * sigma + 1e-6),
          false,
        );
      },
    ),
    { numRuns: 300 },
  );
});

test("PhiAccrualDetector does not learn an outage: gaps that end while suspected are not recorded", () => {
  const settings = failureDetectorSettings();
  const a = new PhiAccrualDetector(settings);
  const b = new PhiAccrualDetector(settings);
  let now = 0;
  for (let i = 0; i < 50; i++) {
    a.heartbeat(now);
    b.heartbeat(now);
    now += 250;
  }
  // `a` is silent for a minute; `b` is not.
  a.heartbeat(now + 60_000);
  b.heartbeat(now);
  assert.equal(a.phi(now + 60_000 + 2000), b.phi(now + 2000));
});

test("PhiAccrualDetector keeps only the last maxSampleSize gaps", () => {
  const settings = failureDetectorSettings({ maxSampleSize: 8 });
  const old = new PhiAccrualDetector(settings);
  const fresh = new PhiAccrualDetector(settings);
  let now = 0;
  old.heartbeat(now);
  for (let i = 0; i < 100; i++) old.heartbeat(now += 400);
  let t = 0;
  fresh.heartbeat(t);
  for (let i = 0; i < 8; i++) {
    old.heartbeat(now += 250);
    fresh.heartbeat(t += 250);
  }
  for (const silence of [0, 500, 1500, 1800, 2200]) {
    assert.ok(Math.abs(old.phi(now + silence) - fresh.phi(t + silence)) < 1e-9);
  }
});

test("PhiAccrualDetector rejects times that are not finite or go back", () => {
  const detector = new PhiAccrualDetector(failureDetectorSettings());
  detector.heartbeat(100);
  assert.throws(() => detector.heartbeat(99), {
    name: "RangeError",
    message: /before the previous one at 100 ms/,
  });
  assert.throws(() => detector.heartbeat(NaN), { name: "RangeError" });
  assert.throws(() => detector.phi(Infinity), { name: "RangeError" });
  // A time before the last heartbeat is no silence at all.
  assert.equal(detector.phi(50), detector.phi(100));
});
