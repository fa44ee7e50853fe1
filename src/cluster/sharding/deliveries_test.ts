import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { isAskTimeoutError } from "../../actor/mod.ts";
import {
  type ExtensionChannel,
  isNodeUnreachableError,
  isRemoteFailureError,
} from "../../remote/mod.ts";
import { ManualClock } from "../../timer/mod.ts";
import { RemoteDeliveries } from "./_deliveries.ts";
import {
  type Delivery,
  type DeliveryBatch,
  type ReplyBatch,
  shardingCodec,
} from "./_delivery_codec.ts";
import { isShardingClosedError } from "./errors.ts";

const NAME = "troupe.sharding";

/**
 * Two nodes' deliveries over a fake channel: frames wait in `wire` until `pump()` hands them
 * over (decoded from their bytes, as the network would).
 */
function pair(
  answer: (node: string, delivery: Delivery) => Promise<unknown> | undefined,
) {
  const clock = new ManualClock();
  const wire: { from: string; to: string; bytes: Uint8Array }[] = [];
  const connected = new Set(["a", "b"]);
  const errors: string[] = [];
  const nodes = new Map<string, RemoteDeliveries>();
  for (const self of ["a", "b"]) {
    const channel: ExtensionChannel<unknown, unknown> = {
      name: NAME,
      tell: (to, message) => {
        wire.push({
          from: self,
          to,
          bytes: shardingCodec.encode(NAME, message),
        });
      },
      ask: () => Promise.reject(new Error("no asks here")),
      supportedBy: (node) => connected.has(node),
    };
    nodes.set(
      self,
      new RemoteDeliveries({
        self,
        clock,
        tracer: () => null,
        channel: () => channel,
        inbound: (delivery, onValue, onError) => {
          const answered = answer(self, delivery);
          if (onValue !== undefined) answered?.then(onValue, onError);
        },
        logError: (message) => errors.push(message),
      }),
    );
  }
  /** Hands over what is on the wire (after the current turn, when batches go out). */
  async function pump(): Promise<number> {
    await new Promise((r) => setTimeout(r, 0));
    const frames = wire.splice(0);
    for (const { from, to, bytes } of frames) {
      const message = shardingCodec.decode(NAME, bytes) as
        | DeliveryBatch
        | ReplyBatch;
      const node = nodes.get(to)!;
      if (message.k === "deliveries") node.receive(message, from);
      else node.settle(message, from);
    }
    await new Promise((r) => setTimeout(r, 0));
    return frames.length;
  }
  return { clock, wire, connected, errors, a: nodes.get("a")!, pump };
}

test("RemoteDeliveries sends what one turn queued for a node as one frame, delivers it in order, and matches the batched replies to the asks", async () => {
  const seen: string[] = [];
  const { a, wire, pump } = pair((_node, d) => {
    seen.push(`${d.entityId}:${d.type}:${JSON.stringify(d.payload)}`);
    if (d.id === 0) return undefined;
    if (d.type === "fail") return Promise.reject(new RangeError("no"));
    return Promise.resolve(`${d.entityId} got ${d.payload}`);
  });
  a.tell("b", "t", "e1", "put", 1, undefined);
  const one = a.ask("b", "t", "e1", "get", 2, 1000, undefined);
  a.tell("b", "t", "e2", "put", 3, undefined);
  const two = a.ask("b", "t", "e2", "get", 4, 1000, undefined);
  const failed = assert.rejects(
    a.ask("b", "t", "e2", "fail", 5, 1000, undefined),
    (e) => isRemoteFailureError(e) && e.remoteName === "RangeError",
  );
  assert.equal(wire.length, 0, "nothing goes out before the turn ends");
  assert.equal(await pump(), 1, "one frame of deliveries");
  assert.deepEqual(seen, [
    "e1:put:1",
    "e1:get:2",
    "e2:put:3",
    "e2:get:4",
    "e2:fail:5",
  ]);
  assert.equal(await pump(), 1, "one frame of replies");
  assert.equal(await one, "e1 got 2");
  assert.equal(await two, "e2 got 4");
  await failed;
  assert.equal(a.waiting, 0);
});

test("RemoteDeliveries: an ask whose reply does not come in time rejects with AskTimeoutError, and a late reply is ignored", async () => {
  let answer: (value: unknown) => void = () => {};
  const { a, clock, pump } = pair(() =>
    new Promise((resolve) => answer = resolve)
  );
  let failedAt = -1;
  const asked = assert.rejects(
    a.ask("b", "t", "e1", "slow", undefined, 500, undefined).catch((e) => {
      failedAt = clock.now();
      throw e;
    }),
    isAskTimeoutError,
  );
  await pump();
  for (let t = 0; t < 60; t++) await clock.advance(10);
  await asked;
  assert.ok(failedAt >= 500 && failedAt <= 520, `failed at ${failedAt}`);
  answer("late");
  await pump(); // the late reply finds nothing waiting
  assert.equal(a.waiting, 0);
});

test("RemoteDeliveries refuses a node it cannot send to at once (nothing queued), fails the asks of a node that left, and rejects everything once closed", async () => {
  const { a, connected, pump } = pair(() => new Promise(() => {}));
  connected.delete("b");
  assert.throws(
    () => a.tell("b", "t", "e1", "put", 1, undefined),
    isNodeUnreachableError,
  );
  assert.throws(
    () => a.ask("b", "t", "e1", "get", undefined, 1000, undefined),
    isNodeUnreachableError,
  );
  connected.add("b");
  const waiting = a.ask("b", "t", "e1", "get", undefined, 60_000, undefined);
  await pump();
  a.nodeGone("b");
  await assert.rejects(waiting, isNodeUnreachableError);
  const open = a.ask("b", "t", "e1", "get", undefined, 60_000, undefined);
  a.close();
  await assert.rejects(open, isShardingClosedError);
  assert.throws(
    () => a.tell("b", "t", "e1", "put", 1, undefined),
    isShardingClosedError,
  );
});

test("RemoteDeliveries sends a large message in a frame of its own, after what was queued before it and in order", async () => {
  const seen: string[] = [];
  const { a, wire, pump } = pair((_node, d) => {
    seen.push(`${d.type}:${String(d.payload).length}`);
    return undefined;
  });
  a.tell("b", "t", "e1", "small", 1, undefined);
  a.tell("b", "t", "e1", "large", "x".repeat(100_000), undefined);
  a.tell("b", "t", "e1", "small", 2, undefined);
  // What came before it went out at once, then the large one (a full frame) alone.
  assert.equal(wire.length, 2);
  assert.equal(await pump(), 3);
  assert.deepEqual(seen, ["small:1", "large:100000", "small:1"]);
});

test("RemoteDeliveries sends a large reply in a frame of its own, and every reply reaches its ask", async () => {
  const { a, wire, pump } = pair((_node, d) =>
    Promise.resolve(d.type === "large" ? "x".repeat(100_000) : d.payload)
  );
  const asks = [
    a.ask("b", "t", "e1", "small", 1, 1000, undefined),
    a.ask("b", "t", "e1", "large", 2, 1000, undefined),
    a.ask("b", "t", "e1", "small", 3, 1000, undefined),
  ];
  assert.equal(await pump(), 1);
  assert.equal(wire.length, 3, "the small ones on each side of it apart");
  await pump();
  const [one, large, three] = await Promise.all(asks);
  assert.deepEqual([one, (large as string).length, three], [1, 100_000, 3]);
});

test("RemoteDeliveries.flush() sends what is queued for a node at once (before a control message to it)", () => {
  const { a, wire } = pair(() => undefined);
  a.tell("b", "t", "e1", "put", 1, undefined);
  assert.equal(wire.length, 0);
  a.flush("b");
  assert.equal(wire.length, 1);
  a.flush("b");
  assert.equal(wire.length, 1, "nothing more to send");
});

test("RemoteDeliveries.connectionLost() fails the asks already sent to that node with NodeUnreachableError at once, and keeps what is still queued for the next batch", async () => {
  const { a, wire, pump } = pair(() => new Promise(() => {}));
  const sent = a.ask("b", "t", "e1", "get", undefined, 60_000, undefined);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(wire.length, 1, "the first batch went out");
  const queued = a.ask("b", "t", "e2", "get", undefined, 60_000, undefined);
  a.connectionLost("c", "not ours");
  a.connectionLost("b", "connection reset");
  await assert.rejects(
    sent,
    (e) => isNodeUnreachableError(e) && /connection reset/.test(String(e)),
  );
  assert.equal(a.waiting, 1, "the queued ask still waits");
  assert.equal(await pump(), 2, "the queued ask goes with the next batch");
  a.close();
  await assert.rejects(queued, isShardingClosedError);
});
