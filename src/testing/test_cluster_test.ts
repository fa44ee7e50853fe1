// TestCluster itself: nodes added, stopped and restarted, waits in virtual time, and a close that
// never hangs, whatever state the network and the nodes are in. Remote behaviour on the harness
// is tested in src/remote (node_cluster_test.ts and the tests run on both fixtures).
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { defineActor } from "../../mod.ts";
import { platform } from "../platform/mod.ts";
import {
  isTestClusterTimeoutError,
  TestCluster,
  TestClusterTimeoutError,
} from "./mod.ts";

interface EchoProtocol {
  echo(text: string): string;
  hang(): string;
  flood(bytes: number): void;
}

const echo = defineActor({
  name: "echo",
  init: () => ({}),
  handlers: {
    echo: (_s, text: string) => text,
    // Never answers: a stuck actor that a shutdown has to give up on.
    hang: () => new Promise<string>(() => {}),
    flood: () => {},
  },
});

test("TestCluster.start() with no nodes, then addNode() and connect() build the cluster step by step", async () => {
  await using c = await TestCluster.start({ nodes: [] });
  assert.deepEqual(c.names, []);
  const a = await c.addNode("a");
  await c.addNode("b", { nodeOptions: { heartbeatIntervalMs: 700 } });
  assert.deepEqual(c.names, ["a", "b"]);
  assert.equal(c.node("a"), a);
  await c.system("b").spawn(echo, undefined, { id: "echo" });
  assert.equal(await c.connect("a", "b"), "b");
  const ref = a.ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "hi"), "hi");
  assert.equal(c.network.connectionsOpened("a", "b"), 1);
  await assert.rejects(c.addNode("a"), TypeError, "a running name");
  await assert.rejects(c.addNode(""), TypeError);
});

test("TestCluster.addNode() restarts a killed node under its name, and its peer reaches the new one", async () => {
  await using c = await TestCluster.start({ nodes: ["a", "b"] });
  await c.system("b").spawn(echo, undefined, { id: "echo" });
  await c.connectAll();
  const before = c.node("b").address;
  await c.kill("b");
  assert.equal(c.node("a").peers()[0].connected, false);
  const b = await c.addNode("b");
  assert.notEqual(b.address, before, "a restarted process gets a new port");
  await c.system("b").spawn(echo, undefined, { id: "echo" });
  assert.equal(await c.connect("a", "b"), "b");
  const ref = c.node("a").ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "again"), "again");
});

test("TestCluster.stop() stops a node the orderly way: its peer sees it go at once", async () => {
  await using c = await TestCluster.start({ nodes: ["a", "b"] });
  await c.connectAll();
  const start = c.clock.now();
  await c.stop("b");
  await c.until(() => !c.node("a").peers()[0].connected, {
    maxMs: 0,
    what: "the goodbye to arrive with no time passing",
  });
  assert.equal(c.clock.now(), start, "no virtual time was needed");
  await c.stop("b"); // idempotent
});

test("TestCluster.settle() lets virtual time pass only while the promise is pending", async () => {
  await using c = await TestCluster.start({ nodes: [] });
  assert.equal(await c.settle(Promise.resolve(1)), 1);
  assert.equal(c.clock.now(), 0, "no time for a settled promise");
  const late = new Promise<string>((resolve) =>
    c.clock.setTimer(() => resolve("late"), 1234)
  );
  assert.equal(await c.settle(late), "late");
  assert.ok(c.clock.now() >= 1234 && c.clock.now() < 1234 + 10);
  await assert.rejects(
    c.settle(Promise.reject(new RangeError("passed through"))),
    RangeError,
  );
  const never = new Promise<void>(() => {});
  const error = await c.settle(never, { maxMs: 500, what: "nothing" }).catch((
    e: unknown,
  ) => e);
  assert.ok(isTestClusterTimeoutError(error), String(error));
  assert.ok(error instanceof TestClusterTimeoutError);
  assert.match(error.message, /nothing: 500 ms of virtual time/);
  await assert.rejects(c.settle(never, { stepMs: 0 }), RangeError);
});

test("TestCluster.until() moves virtual time in steps until the condition holds, or fails", async () => {
  await using c = await TestCluster.start({ nodes: [] });
  await c.until(() => c.clock.now() >= 95, { stepMs: 10 });
  assert.equal(c.clock.now(), 100);
  await assert.rejects(
    c.until(() => false, { maxMs: 50 }),
    isTestClusterTimeoutError,
  );
  assert.equal(c.clock.now(), 150);
});

test("TestCluster.connectAll() works with latency, which needs virtual time", async () => {
  await using c = await TestCluster.start({
    nodes: ["a", "b", "c"],
    latencyMs: 25,
  });
  await c.connectAll();
  assert.ok(c.clock.now() >= 100, "the handshakes took virtual time");
  for (const name of c.names) {
    assert.deepEqual(
      c.node(name).peers().map((p) => p.connected),
      [true, true],
    );
  }
});

test("TestCluster.close() never hangs: a frozen node with traffic backed up, a partition, latency and a stuck actor", async () => {
  const c = await TestCluster.start({
    nodes: ["a", "b", "c"],
    latencyMs: 5,
    systemOptions: { stopTimeoutMs: 2000 },
  });
  await c.system("b").spawn(echo, undefined, { id: "echo" });
  await c.connectAll();
  const ref = c.node("a").ref<EchoProtocol>("b", "echo");
  const stuck = ref.ask("hang", undefined, { timeoutMs: 600_000 }).catch((
    e: unknown,
  ) => e);
  await c.advance(100); // the ask reached b, whose actor is now stuck
  c.freeze("b");
  const big = "x".repeat(64 * 1024);
  for (let i = 0; i < 100; i++) ref.tell("echo", big);
  c.partition("a", "c");
  await c.advance(50);
  await c.close();
  assert.ok(stuck !== undefined);
  await c.close(); // idempotent
});

test("TestCluster.kill() of a frozen node with traffic backed up returns, and the peer sees the loss", async () => {
  await using c = await TestCluster.start({ nodes: ["a", "b"] });
  await c.system("b").spawn(echo, undefined, { id: "echo" });
  await c.connectAll();
  const ref = c.node("a").ref<EchoProtocol>("b", "echo");
  c.freeze("b");
  const big = "y".repeat(64 * 1024);
  for (let i = 0; i < 100; i++) ref.tell("echo", big);
  await c.advance(10);
  await c.kill("b");
  await c.until(() => !c.node("a").peers()[0].connected, {
    what: "a to see b gone",
  });
});

test("TestCluster.start() refuses repeated names", async () => {
  await assert.rejects(
    TestCluster.start({ nodes: ["a", "a"] }),
    TypeError,
  );
});

test("TestCluster.advance() waits for work that busy reports before moving on, so a real answer lands in the step that asked", async () => {
  // A "server" that answers after 200 ms of wall time, asked by a timer on the virtual clock.
  const run = async (withBusy: boolean): Promise<number | undefined> => {
    let inFlight = 0;
    let answeredAt: number | undefined;
    let answered!: () => void;
    const answer = new Promise<void>((resolve) => answered = resolve);
    await using cluster = await TestCluster.start({
      nodes: [],
      ...(withBusy ? { busy: () => inFlight > 0 } : {}),
    });
    cluster.clock.setTimer(() => {
      inFlight++;
      platform.setTimer(() => {
        inFlight--;
        answeredAt = cluster.clock.now();
        answered();
      }, 200);
    }, 100);
    await cluster.advance(1_000);
    const seen = answeredAt;
    await answer;
    return seen;
  };
  assert.equal(await run(true), 100);
  // Without busy, a second of virtual time in which nothing is due takes far less than 200 ms.
  assert.equal(await run(false), undefined);
});
