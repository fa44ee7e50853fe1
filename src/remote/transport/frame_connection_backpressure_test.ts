// FrameConnection's backpressure against an in-memory TcpConn whose writes the test holds: water
// marks, the bound on buffered bytes, and the stall timeout on a peer that stops reading.
import assert from "node:assert/strict";
import { ManualClock } from "../../timer/mod.ts";
import { ConnectionClosedError, isConnectionClosedError } from "./errors.ts";
import { open, recorder, settle, test } from "./_fake_conn_test.ts";

// ---- backpressure and a peer that stops reading -----------------------------------------------

test("FrameConnection.whenWritable() waits from highWaterBytes down to lowWaterBytes", async () => {
  using pair = open({
    highWaterBytes: 10_000,
    lowWaterBytes: 2_000,
    maxWriteBytes: 4_000,
  });
  const { conn, frames } = pair;
  await frames.whenWritable(); // nothing buffered: at once
  conn.blocked = true;
  for (let i = 0; i < 10; i++) frames.send(new Uint8Array(996)); // 10 000 bytes
  assert.equal(
    frames.needsDrain,
    false,
    "at the high-water mark, not above it",
  );
  frames.send(new Uint8Array(996));
  assert.equal(frames.needsDrain, true);
  assert.equal(frames.bufferedBytes, 11_000);
  let resolved = false;
  const waiting = frames.whenWritable().then(() => {
    resolved = true;
  });
  await settle();
  // Batches of at most 4000 bytes: 4000, 4000, 3000.
  assert.deepEqual(conn.written.map((w) => w.byteLength), [4000]);
  conn.releaseOne();
  await settle();
  assert.equal(frames.bufferedBytes, 7_000);
  assert.equal(
    resolved,
    false,
    "7000 bytes are still above the low-water mark",
  );
  conn.releaseOne();
  await settle();
  assert.equal(frames.bufferedBytes, 3_000);
  assert.equal(
    resolved,
    false,
    "3000 bytes are still above the low-water mark",
  );
  conn.releaseOne();
  await waiting;
  assert.equal(frames.bufferedBytes, 0);
  assert.equal(frames.needsDrain, false);
});

test("FrameConnection.whenWritable() rejects with the signal's reason when aborted, and on close", async () => {
  using pair = open({ highWaterBytes: 100, lowWaterBytes: 10 });
  pair.conn.blocked = true;
  pair.frames.send(new Uint8Array(200));
  const controller = new AbortController();
  const aborted = pair.frames.whenWritable({ signal: controller.signal });
  const reason = new Error("stop waiting");
  controller.abort(reason);
  await assert.rejects(aborted, (error) => error === reason);
  const closing = pair.frames.whenWritable();
  pair.frames.close();
  await assert.rejects(closing, ConnectionClosedError);
});

test("FrameConnection closes with ConnectionClosedError when buffering would pass maxBufferedBytes", async () => {
  using pair = open({ maxBufferedBytes: 100_000 });
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  conn.blocked = true; // the peer stopped reading
  let sent = 0;
  let thrown: unknown = undefined;
  for (let i = 0; i < 1_000 && thrown === undefined; i++) {
    try {
      frames.send(new Uint8Array(1_000));
      sent++;
    } catch (error) {
      thrown = error;
    }
    assert.ok(frames.bufferedBytes <= 100_000, "bounded by maxBufferedBytes");
    if (i % 10 === 0) await settle();
  }
  assert.equal(sent, 99); // 99 × 1004 bytes fit, the 100th would not
  assert.ok(isConnectionClosedError(thrown));
  assert.match((thrown as Error).message, /peer stopped reading/);
  assert.deepEqual(seen.closes, [thrown]);
  assert.equal(conn.closed, true);
  assert.equal(frames.bufferedBytes, 0);
});

test("FrameConnection closes as stalled when no write completes for stallTimeoutMs", async () => {
  const clock = new ManualClock();
  using pair = open({ clock, stallTimeoutMs: 1_000 });
  const { conn, frames } = pair;
  const seen = recorder();
  frames.start(seen);
  conn.blocked = true;
  frames.send(new Uint8Array(10));
  await settle();
  await clock.advance(999);
  assert.equal(frames.closed, false);
  await clock.advance(1);
  assert.equal(frames.closed, true);
  const error = seen.closes[0] as Error;
  assert.ok(isConnectionClosedError(error));
  assert.match(error.message, /peer stopped reading/);
  assert.equal(conn.closed, true);
  assert.equal(clock.pendingTimers, 0);
});

test("FrameConnection counts a completed write as progress for the stall timeout", async () => {
  const clock = new ManualClock();
  using pair = open({ clock, stallTimeoutMs: 1_000, maxWriteBytes: 100 });
  const { conn, frames } = pair;
  conn.blocked = true;
  for (let i = 0; i < 5; i++) frames.send(new Uint8Array(96)); // five writes of 100 bytes
  await settle();
  // A slow reader: one write completes every 600 ms, never 1000 ms apart.
  for (let i = 0; i < 4; i++) {
    await clock.advance(600);
    assert.equal(frames.closed, false, `still open after write ${i + 1}`);
    conn.releaseOne();
    await settle();
  }
  await clock.advance(999);
  assert.equal(frames.closed, false);
  await clock.advance(1);
  assert.equal(frames.closed, true, "the fifth write stalled");
});

test("FrameConnection does not count idle time without pending data as a stall", async () => {
  const clock = new ManualClock();
  using pair = open({ clock, stallTimeoutMs: 1_000 });
  const { conn, frames } = pair;
  frames.send(new Uint8Array(1));
  await settle();
  assert.equal(frames.bufferedBytes, 0);
  await clock.advance(900); // idle, the stall timer still armed
  conn.blocked = true;
  frames.send(new Uint8Array(1));
  await settle();
  await clock.advance(200); // the timer fires 200 ms into the new wait
  assert.equal(frames.closed, false);
  await clock.advance(799);
  assert.equal(frames.closed, false);
  await clock.advance(1);
  assert.equal(frames.closed, true);
});
