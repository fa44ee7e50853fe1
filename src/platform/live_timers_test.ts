// Platform.liveTimers(): the live-timer count that the reliability soak reads for its leak check,
// run against the current runtime's platform (deno.ts under `deno test`, node.ts under
// `node --test` in the npm build).
import assert from "node:assert/strict";
import { test } from "./test_harness.ts";
import { platform } from "./mod.ts";

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, ms));
}

test("platform.liveTimers() counts a timer until it runs", async () => {
  const before = platform.liveTimers();
  let fired = false;
  platform.setTimer(() => {
    fired = true;
  }, 5);
  assert.equal(platform.liveTimers(), before + 1);
  await delay(30);
  assert.equal(fired, true);
  assert.equal(platform.liveTimers(), before);
});

test("platform.liveTimers() counts a timer until it is cancelled, once", async () => {
  const before = platform.liveTimers();
  const handles = Array.from(
    { length: 10 },
    () => platform.setTimer(() => {}, 60_000),
  );
  assert.equal(platform.liveTimers(), before + 10);
  for (const handle of handles) platform.clearTimer(handle);
  assert.equal(platform.liveTimers(), before);
  // Cancelling again, or cancelling one that already ran, changes nothing.
  platform.clearTimer(handles[0]);
  const ran = platform.setTimer(() => {}, 1);
  await delay(20);
  platform.clearTimer(ran);
  assert.equal(platform.liveTimers(), before);
});

test("platform.liveTimers() counts an immediate until it runs or is cancelled", async () => {
  const before = platform.liveTimers();
  let ran = 0;
  platform.setImmediate(() => ran++);
  const cancelled = platform.setImmediate(() => ran++);
  assert.equal(platform.liveTimers(), before + 2);
  platform.clearTimer(cancelled);
  assert.equal(platform.liveTimers(), before + 1);
  await new Promise<void>((resolve) => platform.setImmediate(resolve));
  assert.equal(ran, 1);
  assert.equal(platform.liveTimers(), before);
});
