import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import {
  type DeliveryBatch,
  DeliveryWriter,
  type ReplyBatch,
  ReplyWriter,
  shardingCodec,
} from "./_delivery_codec.ts";
import { checkShardingMessage } from "./_messages.ts";
import { isInvalidShardingMessageError } from "./errors.ts";

const NAME = "troupe.sharding";
const LIMIT = 1 << 20;
const TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";

function roundTrip(bytes: Uint8Array): unknown {
  return checkShardingMessage(shardingCodec.decode(NAME, bytes));
}

test("shardingCodec carries a batch of deliveries (tells and asks, any payload, ids in any script, traceparents) in order", () => {
  const writer = new DeliveryWriter();
  writer.add(0, 0, "counter", "e1", "add", 1, undefined, LIMIT);
  writer.add(7, 1234.5, "counter", "ü/ï 😀", "get", undefined, TRACE, LIMIT);
  writer.add(
    0,
    0,
    "log",
    "x".repeat(300),
    "put",
    { a: [1, "é"] },
    undefined,
    LIMIT,
  );
  const bytes = shardingCodec.encode(NAME, writer.take());
  const batch = roundTrip(bytes) as DeliveryBatch;
  assert.equal(batch.k, "deliveries");
  assert.deepEqual(batch.items.map((d) => ({ ...d })), [
    {
      id: 0,
      ms: 0,
      entityType: "counter",
      entityId: "e1",
      type: "add",
      payload: 1,
      traceparent: "",
    },
    {
      id: 7,
      ms: 1235,
      entityType: "counter",
      entityId: "ü/ï 😀",
      type: "get",
      payload: undefined,
      traceparent: TRACE,
    },
    {
      id: 0,
      ms: 0,
      entityType: "log",
      entityId: "x".repeat(300),
      type: "put",
      payload: { a: [1, "é"] },
      traceparent: "",
    },
  ]);
  assert.equal(writer.count, 0, "take() empties the writer");
  assert.throws(
    () => writer.add(0, 0, "t", "i", "m", () => 1, undefined, LIMIT),
    TypeError,
  );
  assert.equal(writer.count, 0, "a refused payload adds nothing");
  // A delivery that could take a batch past the limit waits for the next batch...
  assert.equal(writer.add(0, 0, "t", "i", "m", 1, undefined, 100), true);
  assert.equal(
    writer.add(0, 0, "t", "i", "m", "x".repeat(100), undefined, 100),
    false,
  );
  assert.equal(writer.count, 1);
  writer.take();
  // ...and goes alone in an empty one, whatever its size.
  assert.equal(
    writer.add(0, 0, "t", "i", "m", "x".repeat(100), undefined, 100),
    true,
  );
});

test("shardingCodec carries replies: values, no value, and failures with code, name and message", () => {
  const writer = new ReplyWriter();
  writer.value(1, { n: 5 });
  writer.value(2, undefined);
  writer.failure(3, Object.assign(new Error("boom"), { code: "X_FAILED" }));
  writer.value(4, 10n); // not JSON: a failure instead
  const batch = roundTrip(
    shardingCodec.encode(NAME, writer.take()),
  ) as ReplyBatch;
  assert.equal(batch.k, "replies");
  assert.deepEqual(
    batch.items.map((r) => [r.id, r.ok, r.value, r.code, r.name, r.message]),
    [
      [1, true, { n: 5 }, "", "", ""],
      [2, true, undefined, "", "", ""],
      [3, false, undefined, "X_FAILED", "Error", "boom"],
      [
        4,
        false,
        undefined,
        "HANDLER_FAILED",
        "TypeError",
        batch.items[3].message,
      ],
    ],
  );
});

test("shardingCodec keeps control messages as JSON, and refuses JSON that poses as a batch", () => {
  const bytes = shardingCodec.encode(NAME, { k: "begin", t: "log", s: 3 });
  assert.deepEqual(roundTrip(bytes), { k: "begin", t: "log", s: 3 });
  const forged = shardingCodec.encode(NAME, { k: "deliveries", items: [] });
  assert.throws(() => roundTrip(forged), isInvalidShardingMessageError);
});

test("shardingCodec refuses truncated or corrupted batches with InvalidShardingMessageError, never anything else", () => {
  const writer = new DeliveryWriter();
  writer.add(3, 100, "counter", "e1", "add", { by: 1 }, TRACE, LIMIT);
  writer.add(0, 0, "counter", "e2", "add", 2, undefined, LIMIT);
  const good = shardingCodec.encode(NAME, writer.take());
  for (let cut = 1; cut < good.length; cut++) {
    const prefix = good.slice(0, cut);
    try {
      roundTrip(prefix);
    } catch (error) {
      assert.ok(isInvalidShardingMessageError(error), String(error));
    }
  }
  assert.throws(
    () => roundTrip(new Uint8Array([9, 1, 2])),
    isInvalidShardingMessageError,
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), fc.nat(), (noise, at) => {
      const bytes = good.slice();
      for (let i = 0; i < noise.length; i++) {
        bytes[(at + i) % bytes.length] = noise[i];
      }
      try {
        roundTrip(bytes);
      } catch (error) {
        return isInvalidShardingMessageError(error);
      }
      return true;
    }),
    { numRuns: 500 },
  );
});
