// The append queue's bound, against a connection that never answers (the half-open case).
import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { isJournalQueueFullError } from "../errors.ts";
import type { NewEvent } from "../journal.ts";
import { AppendBatcher } from "./_append_batcher.ts";
import type { RedisArgument, RedisCommands, RedisReply } from "./_client.ts";

/** A connection whose commands never get a reply. */
class SilentCommands implements RedisCommands {
  sent = 0;
  send(_args: readonly RedisArgument[]): Promise<RedisReply> {
    this.sent++;
    return new Promise(() => {});
  }
  connected(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const event: NewEvent = {
  type: "t",
  version: 1,
  data: new Uint8Array([1, 2, 3]),
  timestamp: 0,
};

test("AppendBatcher.append() fails fast with JournalQueueFullError beyond maxQueued while nothing answers", async () => {
  const commands = new SilentCommands();
  const batcher = new AppendBatcher(commands, 50);
  let refused = 0;
  let issued = 0;
  for (let round = 0; round < 40; round++) {
    for (let i = 0; i < 100; i++) {
      batcher.append(`id-${i}`, "e", "m", 0, [event]).then(
        () => assert.fail("nothing answers"),
        (error: unknown) => {
          assert.ok(isJournalQueueFullError(error), String(error));
          assert.equal(error.limit, 50);
          assert.match(error.message, /50 appends are already waiting/);
          refused++;
        },
      );
      issued++;
      assert.ok(batcher.queued <= 50, `queue at ${batcher.queued}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.ok(commands.sent <= 8, `at most 8 calls in flight (${commands.sent})`);
  assert.equal(batcher.queued, 50, "the queue stays at its bound");
  // Everything but what was sent (up to 8 × 24) and what waits (50) was refused at once.
  assert.ok(
    refused >= issued - 8 * 24 - 50,
    `${refused} of ${issued} refused`,
  );
});
