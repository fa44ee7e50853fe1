// Remote scenarios on both fixtures (_node_fixture_test.ts: real TCP, and the in-memory network
// under a ManualClock), plus what only the in-memory network can do: partitions and freezes at
// a chosen virtual time (on one host, real TCP cannot partition without network namespaces).
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  defineActor,
  isActorStoppedError,
  isAskTimeoutError,
  isMessageNotHandledError,
} from "../../mod.ts";
import { TestCluster } from "../testing/mod.ts";
import { isNodeUnreachableError, isRemoteFailureError } from "./errors.ts";
import { type NodeFixture, testOnBoth } from "./_node_fixture_test.ts";

interface EchoProtocol {
  echo(text: string): string;
  add(n: number): void;
  sum(): number;
  seen(): number[];
  fail(message: string): never;
  slow(): string;
}

/** Answers to "slow" wait until the test releases them. */
let release: () => void = () => {};
let released = Promise.resolve();
function holdSlowAnswers(): void {
  released = new Promise<void>((resolve) => release = resolve);
}

const echo = defineActor({
  name: "echo",
  init: () => ({ sum: 0, seen: [] as number[] }),
  handlers: {
    echo: (_s, text: string) => text,
    add: (s, n: number) => {
      s.sum += n;
      s.seen.push(n);
    },
    sum: (s) => s.sum,
    seen: (s) => s.seen,
    fail: (_s, message: string): never => {
      throw new TypeError(message);
    },
    slow: async () => {
      await released;
      return "done";
    },
  },
});

/** Nodes a and b, with an echo actor on b, a connected to b. */
async function nodes(f: NodeFixture): Promise<void> {
  await f.start("a");
  await f.start("b");
  await f.system("b").spawn(echo, undefined, { id: "echo" });
  await f.connect("a", "b");
}

/** Nodes a and b, with an echo actor on b, connected. */
async function cluster(): Promise<TestCluster> {
  const c = await TestCluster.start({ nodes: ["a", "b"] });
  await c.system("b").spawn(echo, undefined, { id: "echo" });
  await c.connectAll();
  return c;
}

testOnBoth(
  "RemoteNode: remote failures reject with the same typed errors as local ones, and asks time out",
  async (f) => {
    await nodes(f);
    const c = f;
    const ref = c.node("a").ref<EchoProtocol>("b", "echo");
    await assert.rejects(ref.ask("fail", "bad input"), (e: unknown) => {
      assert.ok(isRemoteFailureError(e));
      assert.equal(e.remoteName, "TypeError");
      assert.equal(e.remoteCode, "HANDLER_FAILED");
      return true;
    });
    await assert.rejects(
      c.node("a").ref<EchoProtocol>("b", "nobody").ask("sum"),
      isActorStoppedError,
    );
    const untyped = ref as unknown as { ask(t: string): Promise<unknown> };
    await assert.rejects(untyped.ask("nope"), isMessageNotHandledError);
    // Answered 300 ms into a 1.5 s timeout: in time (on TCP, with room for a loaded machine).
    holdSlowAnswers();
    const slow = ref.ask("slow", undefined, { timeoutMs: 1500 }).catch((e) =>
      e
    );
    await c.advance(300);
    release();
    holdSlowAnswers();
    const late = ref.ask("slow", undefined, { timeoutMs: 1500 }).catch((e) =>
      e
    );
    assert.equal(await c.settle(slow), "done", "answered before its deadline");
    await c.advance(1700);
    assert.ok(isAskTimeoutError(await c.settle(late)), "timed out");
    release();
  },
);

testOnBoth(
  "RemoteNode: lookup() and spawn() find and create actors on another node",
  async (f) => {
    await nodes(f);
    const c = f;
    c.node("b").register("echo", echo);
    assert.equal(await c.node("a").lookup("b", "nobody"), undefined);
    const found = await c.node("a").lookup<EchoProtocol>("b", "echo");
    assert.equal(await found?.ask("echo", "x"), "x");
    const spawned = await c.node("a").spawn<EchoProtocol>(
      "b",
      "echo",
      undefined,
      {
        id: "made-remotely",
      },
    );
    assert.equal(await spawned.ask("echo", "y"), "y");
    await spawned.stop();
    assert.equal(c.system("b").lookup("made-remotely"), undefined);
  },
);

test("TestCluster.partition(): the heartbeat finds a two-way partition in virtual time; after heal() the node reconnects", async () => {
  await using c = await cluster();
  const ref = c.node("a").ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "before"), "before");
  c.partition("a", "b");
  const cut = ref.ask("echo", "during", { timeoutMs: 60_000 }).catch((e) => e);
  await c.advance(4_000);
  assert.equal(c.node("a").peers()[0].connected, true, "not yet: 5 s timeout");
  await c.advance(2_000);
  assert.ok(isNodeUnreachableError(await cut), "the ask failed with the link");
  assert.equal(c.node("a").peers()[0].connected, false);
  c.heal();
  const after = ref.ask("echo", "after", { timeoutMs: 60_000 });
  await c.advance(1_000);
  assert.equal(await after, "after");
  assert.equal(c.node("a").peers()[0].connected, true);
});

test("TestCluster.partition(): one way is enough for the heartbeat of the side that hears nothing", async () => {
  await using c = await cluster();
  const ref = c.node("a").ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "x"), "x");
  c.partition("b", "a", { oneWay: true });
  await c.advance(6_000);
  assert.equal(c.node("a").peers()[0].connected, false);
  assert.ok(c.logs.some((line) => /no frame from node "b"/.test(line)));
});

test("TestCluster.freeze(): a node that stops reading is dropped by its peer's heartbeat", async () => {
  await using c = await cluster();
  const ref = c.node("a").ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "x"), "x");
  c.freeze("b");
  const frozen = ref.ask("echo", "y", { timeoutMs: 60_000 }).catch((e) => e);
  await c.advance(6_000);
  assert.ok(
    isNodeUnreachableError(await frozen),
    "the ask failed with the link",
  );
  c.thaw("b");
  const after = ref.ask("echo", "z", { timeoutMs: 60_000 });
  await c.advance(1_000);
  assert.equal(await after, "z");
});

test("RemoteNode: a connection that carries tells one way only stays up (the dialer pings when it hears nothing)", async () => {
  await using c = await cluster();
  const ref = c.node("a").ref<EchoProtocol>("b", "echo");
  const opened = c.network.connectionsOpened("a", "b");
  // 20 s of tells every 100 ms, four times the heartbeat timeout: b never answers a tell.
  for (let t = 0; t < 20_000; t += 100) {
    ref.tell("add", 1);
    await c.advance(100);
  }
  assert.equal(c.network.connectionsOpened("a", "b"), opened, "no reconnect");
  assert.equal(c.node("a").peers()[0].connected, true);
  assert.equal(await c.settle(ref.ask("sum")), 200);
});
