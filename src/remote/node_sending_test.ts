// How RemoteNode's senders deal with messages that cannot go out: refused at once, never a crash.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  ActorSystem,
  AskTimeoutError,
  type DeadLetter,
  defineActor,
} from "../../mod.ts";
import { isFrameTooLargeError, isRemoteFailureError } from "./errors.ts";
import { RemoteNode } from "./node.ts";
import type { RemoteNodeOptions } from "./options.ts";

const SECRET = "test secret, not for production";
const quiet = { error() {} };

const store = defineActor({
  name: "store",
  init: () => ({ items: [] as string[] }),
  handlers: {
    put: (s, item: string) => {
      s.items.push(item);
    },
    items: (s) => s.items,
    fail: (_s, message: string): never => {
      throw new RangeError(message);
    },
    big: (_s, n: number) => "z".repeat(n),
    failLong: (_s, n: number): never => {
      throw new RangeError("m".repeat(n));
    },
    // An ask of its own that timed out, as a handler that asks another actor would see.
    timedOut: (): never => {
      throw new AskTimeoutError("store/inner", "lookup", 5);
    },
  },
});

interface Pair extends AsyncDisposable {
  a: ActorSystem;
  nodeA: RemoteNode;
  nodeB: RemoteNode;
}

async function pair(
  options: Partial<RemoteNodeOptions> = {},
  optionsB: Partial<RemoteNodeOptions> = {},
): Promise<Pair> {
  const a = new ActorSystem({ node: "a", logger: quiet });
  const b = new ActorSystem({ node: "b", logger: quiet });
  await b.spawn(store, undefined, { id: "store" });
  const common = { cluster: "test", secret: SECRET, logger: quiet };
  const nodeA = await RemoteNode.start(a, { ...common, ...options });
  const nodeB = await RemoteNode.start(b, { ...common, ...optionsB });
  await nodeA.connect(nodeB.address);
  return {
    a,
    nodeA,
    nodeB,
    [Symbol.asyncDispose]: async () => {
      await nodeA.close();
      await nodeB.close();
      await a.shutdown();
      await b.shutdown();
    },
  };
}

interface StoreProtocol {
  put(item: string): void;
  items(): string[];
  fail(message: string): never;
  big(n: number): string;
  failLong(n: number): never;
  timedOut(): never;
}

test("RemoteNode: a tell or ask with an empty message type is refused at once, and the connection goes on", async () => {
  await using p = await pair();
  const ref = p.nodeA.ref<StoreProtocol>("b", "store");
  ref.tell("put", "before");
  assert.throws(
    () => ref.tell("" as "put", "bad"),
    (error: unknown) =>
      error instanceof RangeError &&
      /type must not be empty/.test(error.message),
  );
  await assert.rejects(ref.ask("" as "items"), RangeError);
  ref.tell("put", "after");
  assert.deepEqual(await ref.ask("items"), ["before", "after"]);
});

test("RemoteNode: a tell over the frame limit is a dead letter, an ask over it rejects, the rest goes through", async () => {
  await using p = await pair({ maxFrameBytes: 4096 });
  const dead: DeadLetter[] = [];
  p.a.deadLetters.subscribe((letter) => {
    dead.push(letter);
  });
  const ref = p.nodeA.ref<StoreProtocol>("b", "store");
  const big = "x".repeat(10_000);
  // In one tick with small ones: only the big one is refused.
  ref.tell("put", "one");
  ref.tell("put", big);
  ref.tell("put", "two");
  await assert.rejects(
    ref.ask("put", big),
    (error: unknown) => isFrameTooLargeError(error),
  );
  assert.deepEqual(await ref.ask("items"), ["one", "two"]);
  assert.equal(dead.length, 1);
  assert.equal(dead[0].messageType, "put");
  assert.equal(dead[0].payload, big);
});

test("RemoteNode: a handler error with a 70,000-character message reaches the caller truncated, and the connection stays", async () => {
  await using p = await pair();
  const ref = p.nodeA.ref<StoreProtocol>("b", "store");
  const message = "m".repeat(70_000);
  const other = ref.ask("items");
  await assert.rejects(ref.ask("fail", message), (error: unknown) => {
    assert.ok(isRemoteFailureError(error), String(error));
    assert.equal(error.remoteName, "RangeError");
    assert.equal(error.remoteCode, "HANDLER_FAILED");
    assert.ok(error.message.length < 20_000, `${error.message.length} chars`);
    assert.match(error.message, /m… \(truncated, 70000 chars\)$/);
    return true;
  });
  assert.deepEqual(await other, []);
  ref.tell("put", "after");
  assert.deepEqual(await ref.ask("items"), ["after"]);
  assert.deepEqual(p.nodeA.peers().map((x) => x.connected), [true]);
  assert.equal(p.nodeB.inboundConnections, 1, "the same connection");
});

test("RemoteNode: a reply over the frame limit rejects the ask with FrameTooLargeError, and the connection stays", async () => {
  await using p = await pair({}, { maxFrameBytes: 64 * 1024 });
  const ref = p.nodeA.ref<StoreProtocol>("b", "store");
  await assert.rejects(ref.ask("big", 100_000), (error: unknown) => {
    assert.ok(isFrameTooLargeError(error), String(error));
    assert.equal(error.limit, 64 * 1024);
    assert.ok(error.size > 100_000);
    return true;
  });
  assert.equal((await ref.ask("big", 1000)).length, 1000);
  assert.deepEqual(p.nodeA.peers().map((x) => x.connected), [true]);
  assert.equal(p.nodeB.inboundConnections, 1, "the same connection");
});

test("RemoteNode: with a small frame limit a long handler error is cut to fit, and still reaches the caller", async () => {
  await using p = await pair({ maxFrameBytes: 8192 }, { maxFrameBytes: 8192 });
  const ref = p.nodeA.ref<StoreProtocol>("b", "store");
  await assert.rejects(
    ref.ask("failLong", 70_000, { timeoutMs: 10_000 }),
    (error: unknown) => {
      assert.ok(isRemoteFailureError(error), String(error));
      assert.ok(error.message.length < 8192, `${error.message.length} chars`);
      assert.match(error.message, /m… \(truncated, 70000 chars\)$/);
      return true;
    },
  );
  assert.deepEqual(await ref.ask("items"), []);
  assert.equal(p.nodeB.inboundConnections, 1, "the same connection");
});

test("RemoteNode: an ask that timed out on the other node rejects with AskTimeoutError naming this ask's timeout (not NaN)", async () => {
  await using p = await pair();
  const ref = p.nodeA.ref<StoreProtocol>("b", "store");
  await assert.rejects(
    ref.ask("timedOut", undefined, { timeoutMs: 4321 }),
    (error: unknown) =>
      error instanceof AskTimeoutError && error.timeoutMs === 4321 &&
      !/NaN/.test(error.message),
  );
  assert.deepEqual(await ref.ask("items"), []);
});
