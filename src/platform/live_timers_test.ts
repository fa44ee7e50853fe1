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

test("platform.liveTimers() stops counting a timer whose callback throws", async () => {
  const before = platform.liveTimers();
  const errors: unknown[] = [];
  const onError = (event: Event): void => {
    event.preventDefault();
    errors.push((event as ErrorEvent).error);
  };
  const isNode = platform.runtime !== "deno";
  const process = (globalThis as {
    process?: {
      on(e: string, f: (error: unknown) => void): void;
      off(e: string, f: (error: unknown) => void): void;
    };
  }).process;
  const onNodeError = (error: unknown): void => {
    errors.push(error);
  };
  if (isNode) process!.on("uncaughtException", onNodeError);
  else globalThis.addEventListener("error", onError);
  try {
    platform.setTimer(() => {
      throw new Error("boom");
    }, 1);
    await delay(30);
  } finally {
    if (isNode) process!.off("uncaughtException", onNodeError);
    else globalThis.removeEventListener("error", onError);
  }
  assert.equal(errors.length, 1);
  assert.equal(platform.liveTimers(), before);
});
