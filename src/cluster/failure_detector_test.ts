import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import {
  DEFAULT_FAILURE_DETECTOR_SETTINGS,
  type FailureDetectorSettings,
  failureDetectorSettings,
} from "./failure_detector.ts";
import { standardGapAtPhi } from "./_phi_accrual.ts";

const NAMES = Object.keys(
  DEFAULT_FAILURE_DETECTOR_SETTINGS,
) as (keyof FailureDetectorSettings)[];

test("failureDetectorSettings() returns the frozen defaults when given nothing", () => {
  const settings = failureDetectorSettings();
  assert.deepEqual(settings, DEFAULT_FAILURE_DETECTOR_SETTINGS);
  assert.equal(Object.isFrozen(settings), true);
  assert.equal(Object.isFrozen(DEFAULT_FAILURE_DETECTOR_SETTINGS), true);
});

test("failureDetectorSettings() overrides only the settings given", () => {
  const settings = failureDetectorSettings({
    heartbeatIntervalMs: 500,
    acceptableHeartbeatPauseMs: 0,
    monitoredBy: 9,
  });
  assert.equal(settings.heartbeatIntervalMs, 500);
  assert.equal(settings.acceptableHeartbeatPauseMs, 0);
  assert.equal(settings.monitoredBy, 9);
  assert.equal(settings.threshold, DEFAULT_FAILURE_DETECTOR_SETTINGS.threshold);
});

test("failureDetectorSettings() throws TypeError for a non-object, an unknown setting or a non-number", () => {
  assert.throws(
    () =>
      failureDetectorSettings(
        null as unknown as Partial<FailureDetectorSettings>,
      ),
    { name: "TypeError", message: /expected an object, got null/ },
  );
  assert.throws(
    () =>
      failureDetectorSettings(
        [] as unknown as Partial<FailureDetectorSettings>,
      ),
    { name: "TypeError", message: /got an array/ },
  );
  assert.throws(
    () =>
      failureDetectorSettings({ heartbeatInterval: 5 } as unknown as Partial<
        FailureDetectorSettings
      >),
    { name: "TypeError", message: /unknown setting "heartbeatInterval"/ },
  );
  assert.throws(
    () =>
      failureDetectorSettings({ threshold: "8" } as unknown as Partial<
        FailureDetectorSettings
      >),
    { name: "TypeError", message: /threshold must be a number, got "8"/ },
  );
});

test("failureDetectorSettings() throws RangeError for values out of range", () => {
  const bad: [keyof FailureDetectorSettings, number, RegExp][] = [
    [
      "heartbeatIntervalMs",
      0,
      /heartbeatIntervalMs must be a finite number > 0, got 0/,
    ],
    ["threshold", -1, /threshold must be a finite number > 0/],
    ["acceptableHeartbeatPauseMs", -1, /must be a finite number ≥ 0, got -1/],
    [
      "minStdDeviationMs",
      NaN,
      /minStdDeviationMs must be a finite number > 0, got NaN/,
    ],
    ["maxSampleSize", 1.5, /maxSampleSize must be an integer ≥ 1, got 1.5/],
    ["monitoredBy", 0, /monitoredBy must be an integer ≥ 1, got 0/],
    ["firstHeartbeatEstimateMs", Infinity, /got Infinity/],
    ["expectedResponseAfterMs", 0, /expectedResponseAfterMs must be/],
  ];
  for (const [name, value, message] of bad) {
    assert.throws(() => failureDetectorSettings({ [name]: value }), {
      name: "RangeError",
      message,
    });
  }
});

test("failureDetectorSettings() either throws a TypeError/RangeError or returns valid settings, for any input", () => {
  const value = fc.oneof(
    fc.double(),
    fc.integer({ min: -10, max: 10_000 }),
    fc.string(),
    fc.constant(undefined),
    fc.constant(null),
    fc.boolean(),
  );
  const partial = fc.dictionary(
    fc.oneof(fc.constantFrom(...NAMES), fc.string()),
    value,
  );
  fc.assert(
    fc.property(partial, (given) => {
      let settings: FailureDetectorSettings;
      try {
        settings = failureDetectorSettings(
          given as Partial<FailureDetectorSettings>,
        );
      } catch (error) {
        assert.ok(error instanceof TypeError || error instanceof RangeError);
        return;
      }
      for (const name of NAMES) {
        const v = settings[name];
        assert.ok(Number.isFinite(v), `${name} is finite`);
        if (name === "acceptableHeartbeatPauseMs") assert.ok(v >= 0);
        else assert.ok(v > 0, `${name} > 0`);
        if (name === "maxSampleSize" || name === "monitoredBy") {
          assert.ok(Number.isInteger(v));
        }
        if (given[name] !== undefined) assert.equal(v, given[name]);
      }
    }),
    { numRuns: 500 },
  );
});

test("DEFAULT_FAILURE_DETECTOR_SETTINGS detect a dead member within 3 s with a second to spare, as documented", () => {
  const d = DEFAULT_FAILURE_DETECTOR_SETTINGS;
  const z = standardGapAtPhi(d.threshold);
  assert.ok(Math.abs(z - 5.22) < 0.01, `z(8) = ${z}`);
  // d + m + P + z·σ + I with m = I, σ = minStdDeviationMs and d = 0.
  const bound = d.heartbeatIntervalMs + d.acceptableHeartbeatPauseMs +
    z * d.minStdDeviationMs + d.heartbeatIntervalMs;
  assert.ok(bound > 2000 && bound < 2030, `bound ${bound}`);
  // The seeded history's deviation (a quarter of the estimate) stays below the minimum.
  assert.ok(d.firstHeartbeatEstimateMs / 4 <= d.minStdDeviationMs);
});
