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

/** A connection that records each call's appends and answers when told to. */
class HeldCommands implements RedisCommands {
  readonly calls: { appends: number; answer: (reply: RedisReply) => void }[] =
    [];
  send(args: readonly RedisArgument[]): Promise<RedisReply> {
    // EVALSHA sha numkeys keys... bytes: two keys per append.
    const appends = Number(args[2]) / 2;
    return new Promise((answer) => this.calls.push({ appends, answer }));
  }
  connected(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

test("AppendBatcher hands the connection one call per event-loop turn, so that Redis runs the first while the rest go out", async () => {
  const commands = new HeldCommands();
  const batcher = new AppendBatcher(commands, 1000);
  const order: number[] = [];
  const appended = Array.from(
    { length: 100 },
    (_, i) =>
      batcher.append(`id-${i}`, `e${i}`, `m${i}`, 0, [event]).then(() =>
        order.push(i)
      ),
  );
  for (let i = 0; i < 20; i++) await Promise.resolve();
  // All 100 were queued in this turn; one call of them went out, the rest wait for later turns.
  assert.equal(commands.calls.length, 1);
  assert.equal(commands.calls[0].appends, 24);
  assert.equal(batcher.queued, 76);
  let turns = 0;
  while (commands.calls.length < 5 && turns < 1000) {
    await new Promise((resolve) => setTimeout(resolve, 0));
    turns++;
  }
  assert.deepEqual(commands.calls.map((c) => c.appends), [24, 24, 24, 24, 4]);
  assert.equal(batcher.queued, 0);
  for (const call of commands.calls) call.answer(0);
  await Promise.all(appended);
  assert.deepEqual(order, Array.from({ length: 100 }, (_, i) => i));
});
