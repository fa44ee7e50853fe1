// What a node does with a peer it lost: replaying what it buffered, following the peer to a new
// address, one reconnect timer at a time, and accounting for everything when it closes. Each
// scenario runs on real TCP and on the in-memory network under virtual time (testOnBoth,
// _node_fixture_test.ts), except (TCP only, with the reason):
// - "connect() to a new address moves a peer that still looks connected at the old one": two
//   live nodes named "b" at once, and the fixture holds one node per name.
// - "after a loss and a reconnect, exactly one reconnect timer is armed": it counts the timers
//   of node a's own ManualClock while b runs on the real one; a TestCluster's one clock holds
//   every node's timers.
// - "disconnect() makes buffered tells dead letters and closes the node's inbound connections":
//   it drops only the connection a dialed and keeps the one b dialed; MemoryNetwork.reset()
//   drops both directions.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorSystem,
  type DeadLetter,
  defineActor,
  type StopNotice,
} from "../../mod.ts";
import { ManualClock } from "../testing/mod.ts";
import { TcpRelay, waitFor } from "../../tests/remote/support.ts";
import { isFrameTooLargeError, isNodeUnreachableError } from "./errors.ts";
import { type PeerChange, RemoteNode, remoteNodeCounts } from "./node.ts";
import type { RemoteNodeOptions } from "./options.ts";
import { type NodeFixture, testOnBoth } from "./_node_fixture_test.ts";

const SECRET = "test secret, not for production";
const quiet = { error() {} };
const common = { cluster: "test", secret: SECRET, logger: quiet };

const store = defineActor({
  name: "store",
  init: () => ({ items: [] as string[] }),
  handlers: {
    put: (s, item: string) => {
      s.items.push(item);
    },
    items: (s) => s.items,
    hang: () => new Promise<void>(() => {}),
  },
});

interface StoreProtocol {
  put(item: string): void;
  items(): string[];
  hang(): void;
}

/** Starts fixture node "b" with a store actor. */
async function startB(
  f: NodeFixture,
  options: Partial<RemoteNodeOptions> = {},
): Promise<RemoteNode> {
  const node = await f.start("b", {
    nodeOptions: options,
    systemOptions: { stopTimeoutMs: 100 },
  });
  await f.system("b").spawn(store, undefined, { id: "store" });
  return node;
}

/** Starts fixture node "a". */
function startA(
  f: NodeFixture,
  options: Partial<RemoteNodeOptions> = {},
): Promise<RemoteNode> {
  return f.start("a", {
    nodeOptions: options,
    systemOptions: { stopTimeoutMs: 100 },
  });
}

/** Lets time pass until the answer of `check` is true (on TCP, 30 s at most). */
async function eventually(
  f: NodeFixture,
  check: () => Promise<boolean>,
  what: string,
): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (await f.settle(check())) return;
    await f.advance(10);
  }
  throw new Error(`Timed out waiting for: ${what}`);
}

testOnBoth(
  "RemoteNode: a tell over the frame limit sent while the node is away is a dead letter, and the replay sends the rest",
  async (f) => {
    await startB(f);
    const nodeA = await startA(f, {
      maxFrameBytes: 4096,
      reconnect: { minMs: 5, maxMs: 10 },
    });
    const dead: DeadLetter[] = [];
    f.system("a").deadLetters.subscribe((letter) => void dead.push(letter));
    await f.connect("a", "b");
    const ref = nodeA.ref<StoreProtocol>("b", "store");
    assert.deepEqual(await f.settle(ref.ask("items")), []);
    f.cut("a", "b");
    await f.until(() => !nodeA.peers()[0].connected, "node a saw the loss");

    const big = "x".repeat(10_000);
    ref.tell("put", "one");
    ref.tell("put", big);
    ref.tell("put", "two");
    const bigAsk = ref.ask("put", big);
    ref.tell("put", "three");
    await assert.rejects(f.settle(bigAsk), isFrameTooLargeError);
    await f.until(() => nodeA.peers()[0].connected, "node a reconnected");
    assert.deepEqual(await f.settle(ref.ask("items")), ["one", "two", "three"]);
    assert.equal(dead.length, 1, "only the big tell is a dead letter");
    assert.equal(dead[0].payload, big);
    assert.equal(dead[0].recipient, "troupe://b/store");
  },
);

testOnBoth(
  "RemoteNode.connect() to a node's new address replaces the old one, for now and for reconnects",
  async (f) => {
    // Direct addresses, no relay: the addresses are what this test is about.
    const nodeA = await startA(f, { reconnect: { minMs: 5, maxMs: 10 } });
    const oldAddress = (await startB(f)).address;
    await f.settle(nodeA.connect(oldAddress));
    const ref = nodeA.ref<StoreProtocol>("b", "store");
    ref.tell("put", "at the old address");
    assert.deepEqual(await f.settle(ref.ask("items")), ["at the old address"]);
    await f.stop("b");

    // The process comes back on another port.
    const newAddress = (await startB(f)).address;
    assert.notEqual(newAddress, oldAddress);
    assert.equal(await f.settle(nodeA.connect(newAddress)), "b");
    const moved = [{
      node: "b",
      address: newAddress,
      connected: true,
      outbound: true,
      inbound: 0,
    }];
    assert.deepEqual(nodeA.peers(), moved);
    assert.deepEqual(await f.settle(ref.ask("items")), []);

    // It restarts again on that port: the reconnect dials the new address, not the old one.
    const port = Number(newAddress.split(":").at(-1));
    await f.stop("b");
    await f.until(() => !nodeA.peers()[0].connected, "node a saw the loss");
    await startB(f, { port });
    ref.tell("put", "at the new address");
    await f.until(() => nodeA.peers()[0].connected, "node a reconnected");
    assert.deepEqual(await f.settle(ref.ask("items")), ["at the new address"]);
    assert.deepEqual(nodeA.peers(), moved);
  },
);

/** A node "b" with a store actor. */
async function nodeB(
  options: Partial<RemoteNodeOptions> = {},
): Promise<{ b: ActorSystem; node: RemoteNode } & AsyncDisposable> {
  const b = new ActorSystem({ node: "b", logger: quiet, stopTimeoutMs: 100 });
  await b.spawn(store, undefined, { id: "store" });
  const node = await RemoteNode.start(b, { ...common, ...options });
  return {
    b,
    node,
    async [Symbol.asyncDispose]() {
      await node.close();
      await b.shutdown();
    },
  };
}

async function nodeA(
  options: Partial<RemoteNodeOptions> = {},
  clock?: ManualClock,
): Promise<{ a: ActorSystem; node: RemoteNode } & AsyncDisposable> {
  const a = new ActorSystem({
    node: "a",
    logger: quiet,
    stopTimeoutMs: 100,
    ...(clock === undefined ? {} : { clock }),
  });
  const node = await RemoteNode.start(a, { ...common, ...options });
  return {
    a,
    node,
    async [Symbol.asyncDispose]() {
      await node.close();
      await a.shutdown();
    },
  };
}

test("RemoteNode.connect() to a new address moves a peer that still looks connected at the old one", async () => {
  await using a = await nodeA();
  await using b1 = await nodeB();
  await using b2 = await nodeB();
  await a.node.connect(b1.node.address);
  const ref = a.node.ref<StoreProtocol>("b", "store");
  ref.tell("put", "for the old process");
  assert.deepEqual(await ref.ask("items"), ["for the old process"]);
  const hanging = ref.ask("hang", undefined, { timeoutMs: 60_000 }).catch((
    error,
  ) => error);

  assert.equal(await a.node.connect(b2.node.address), "b");
  const lost = await hanging;
  assert.ok(isNodeUnreachableError(lost), String(lost));
  assert.deepEqual(a.node.peers(), [
    {
      node: "b",
      address: b2.node.address,
      connected: true,
      outbound: true,
      inbound: 0,
    },
  ]);
  ref.tell("put", "for the new process");
  assert.deepEqual(await ref.ask("items"), ["for the new process"]);
});

test("RemoteNode: after a loss and a reconnect, exactly one reconnect timer is armed", async () => {
  const clock = new ManualClock();
  await using b = await nodeB();
  await using a = await nodeA({
    reconnect: { minMs: 1000, maxMs: 1000, jitter: 0 },
    heartbeatIntervalMs: 60_000,
    heartbeatTimeoutMs: 600_000,
  }, clock);
  await using relay = await TcpRelay.start(b.node.address);
  await a.node.connect(relay.address);
  const idle = clock.pendingTimers;

  relay.cut();
  await waitFor(() => !a.node.peers()[0].connected, "the first loss");
  assert.equal(clock.pendingTimers, idle + 1, "one reconnect timer");
  await a.node.connect(relay.address); // back before the timer fired
  assert.equal(remoteNodeCounts(a.node).reconnectTimers, 0);
  assert.equal(clock.pendingTimers, idle, "the reconnect timer is cancelled");

  await clock.advance(500);
  relay.cut();
  await waitFor(() => !a.node.peers()[0].connected, "the second loss");
  assert.equal(clock.pendingTimers, idle + 1, "still one reconnect timer");
  assert.equal(remoteNodeCounts(a.node).reconnectTimers, 1);

  // Something to send, then the time the first timer was set for: no dial then.
  a.node.ref<StoreProtocol>("b", "store").tell("put", "x");
  await clock.advance(600);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(relay.accepted, 2, "no dial at the stale time");
  await clock.advance(400);
  await waitFor(() => relay.accepted === 3, "the dial at the right time");
  await waitFor(() => a.node.peers()[0].connected, "reconnected");
});

testOnBoth(
  "RemoteNode.close() turns every buffered tell into a dead letter and rejects waiting requests",
  async (f) => {
    await startB(f);
    const nodeA = await startA(f, {
      reconnect: { minMs: 60_000, maxMs: 60_000 },
    });
    const dead: DeadLetter[] = [];
    f.system("a").deadLetters.subscribe((letter) => void dead.push(letter));
    await f.connect("a", "b");
    const ref = nodeA.ref<StoreProtocol>("b", "store");
    await f.settle(ref.ask("items"));
    f.cut("a", "b");
    await f.until(() => !nodeA.peers()[0].connected, "node a saw the loss");

    ref.tell("put", "buffered 1");
    ref.tell("put", "buffered 2");
    const waiting = ref.ask("items", undefined, { timeoutMs: 60_000 }).catch(
      (error) => error,
    );
    ref.tell("put", "in the batch"); // not even flushed yet
    await f.settle(nodeA.close());
    const rejected = await f.settle(waiting);
    assert.ok(isNodeUnreachableError(rejected), String(rejected));
    assert.deepEqual(
      dead.map((l) => [l.payload, l.reason]),
      [
        ["buffered 1", "node-unreachable"],
        ["buffered 2", "node-unreachable"],
        ["in the batch", "node-unreachable"],
      ],
    );
    assert.equal(remoteNodeCounts(nodeA).buffered, 0);
  },
);

testOnBoth(
  "RemoteNode.close() still sends the tells of the current batch over a live connection",
  async (f) => {
    await startB(f);
    const nodeA = await startA(f);
    await f.connect("a", "b");
    const ref = nodeA.ref<StoreProtocol>("b", "store");
    await f.settle(ref.ask("items"));
    const dead: DeadLetter[] = [];
    f.system("a").deadLetters.subscribe((letter) => void dead.push(letter));
    ref.tell("put", "last words");
    await f.settle(nodeA.close());
    const local = f.system("b").lookup("store") as unknown as {
      ask(type: "items"): Promise<string[]>;
    };
    await eventually(
      f,
      async () => (await local.ask("items")).length > 0,
      "the tell arrived",
    );
    assert.deepEqual(await f.settle(local.ask("items")), ["last words"]);
    assert.deepEqual(dead, []);
  },
);

// ---- onPeerChange() and disconnect() ------------------------------------------------------

const watcher = defineActor({
  name: "watcher",
  init: () => ({ notices: [] as StopNotice[] }),
  handlers: {
    watch: (_s, ref: ActorRef<object>, ctx) => ctx.watch(ref),
    notices: (s) => s.notices,
  },
  terminated: (s, notice: StopNotice) => void s.notices.push(notice),
});

testOnBoth(
  "RemoteNode.onPeerChange() reports each connect and loss once, until unsubscribed",
  async (f) => {
    await startB(f);
    const nodeA = await startA(f, {
      reconnect: { minMs: 60_000, maxMs: 60_000 },
    });
    const changes: PeerChange[] = [];
    const unsubscribe = nodeA.onPeerChange((c) => void changes.push(c));
    // A listener that throws is logged and does not keep the others from hearing.
    const unsubscribeBad = nodeA.onPeerChange(() => {
      throw new Error("listener bug");
    });
    await f.connect("a", "b");
    await f.connect("a", "b"); // already connected: no change
    const address = f.address("a", "b");
    assert.deepEqual(changes, [{ node: "b", address, connected: true }]);
    assert.ok(
      f.logs.some((l) =>
        l.startsWith("a: ") && l.includes("peer change listener failed")
      ),
      f.logs.join("\n"),
    );
    unsubscribeBad();

    f.cut("a", "b");
    await f.until(() => changes.length === 2, "the loss was reported");
    assert.equal(changes[1].connected, false);
    assert.match(changes[1].reason ?? "", /connection lost/);
    await f.connect("a", "b");
    assert.deepEqual(changes[2], { node: "b", address, connected: true });
    unsubscribe();
    unsubscribe(); // idempotent
    f.cut("a", "b");
    await f.until(() => !nodeA.peers()[0].connected, "node a saw the loss");
    assert.equal(changes.length, 3, "nothing after unsubscribing");
    assert.throws(
      () => nodeA.onPeerChange(42 as unknown as () => void),
      TypeError,
    );
  },
);

testOnBoth(
  "RemoteNode.disconnect() fails requests with the reason, ends watches, arms no reconnect, and connect() associates again",
  async (f) => {
    const nodeB = await startB(f);
    const nodeA = await startA(f, { reconnect: { minMs: 1, maxMs: 5 } });
    await f.connect("a", "b");
    await f.until(() => nodeB.inboundConnections === 1, "b accepted");
    const ref = nodeA.ref<StoreProtocol>("b", "store");
    const w = await f.system("a").spawn(watcher, undefined);
    await f.settle(w.ask("watch", ref as unknown as ActorRef<object>));
    await f.until(
      () => remoteNodeCounts(nodeB).watchedForOthers === 1,
      "the watch reached b",
    );
    await f.system("b").spawn(store, undefined, { id: "hanger" });
    const hanger = nodeA.ref<StoreProtocol>("b", "hanger");
    const hanging = hanger.ask("hang", undefined, { timeoutMs: 60_000 }).catch((
      error,
    ) => error);
    // A round trip behind it on the same connection: the ask is on the wire.
    await f.settle(nodeA.lookup("b", "hanger"));
    const changes: PeerChange[] = [];
    nodeA.onPeerChange((c) => void changes.push(c));

    nodeA.disconnect("b", "downed by the cluster");
    const failed = await f.settle(hanging);
    assert.ok(isNodeUnreachableError(failed), String(failed));
    assert.equal(failed.reason, "downed by the cluster");
    assert.deepEqual(changes, [{
      node: "b",
      address: f.address("a", "b"),
      connected: false,
      reason: "downed by the cluster",
    }]);
    await eventually(
      f,
      async () => (await w.ask("notices")).length === 1,
      "the watcher heard",
    );
    const [notice] = await f.settle(w.ask("notices"));
    assert.equal(notice.ref.path, "store");
    const cause = (notice.fault as { error?: unknown } | undefined)?.error;
    assert.ok(isNodeUnreachableError(cause), String(cause));
    assert.equal(cause.reason, "downed by the cluster");
    await f.until(() => nodeB.inboundConnections === 0, "b saw the goodbye");
    assert.equal(remoteNodeCounts(nodeB).watchedForOthers, 0);

    // Disconnected: no reconnect, tells are dead letters, requests fail at once.
    const dead: DeadLetter[] = [];
    f.system("a").deadLetters.subscribe((letter) => void dead.push(letter));
    ref.tell("put", "while disconnected");
    await assert.rejects(
      f.settle(ref.ask("items")),
      (e) => isNodeUnreachableError(e) && e.reason === "downed by the cluster",
    );
    await f.advance(50); // fifty times the reconnect backoff
    assert.equal(remoteNodeCounts(nodeA).reconnectTimers, 0);
    assert.equal(nodeB.inboundConnections, 0, "no reconnect");
    assert.equal(f.connectionsOpened("a", "b"), 1, "no dial since the first");
    assert.deepEqual(
      dead.map((l) => [l.payload, l.reason]),
      [["while disconnected", "node-unreachable"]],
    );
    assert.equal(nodeA.peers()[0].connected, false);

    // An explicit connect() associates again, with the refs made before.
    await f.connect("a", "b");
    ref.tell("put", "back");
    assert.deepEqual(await f.settle(ref.ask("items")), ["back"]);
    assert.equal(changes.at(-1)?.connected, true);
  },
);

test("RemoteNode.disconnect() makes buffered tells dead letters and closes the node's inbound connections", async () => {
  await using b = await nodeB({ reconnect: { minMs: 60_000, maxMs: 60_000 } });
  await using a = await nodeA({ reconnect: { minMs: 60_000, maxMs: 60_000 } });
  const relay = await TcpRelay.start(b.node.address);
  await a.node.connect(relay.address);
  await b.node.connect(a.node.address); // b dials a too: an inbound connection on a
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b");
  await relay[Symbol.asyncDispose]();
  await waitFor(() => !a.node.peers()[0].outbound, "node a saw the loss");
  assert.equal(a.node.peers()[0].connected, true, "b's connection is up");
  const dead: DeadLetter[] = [];
  a.a.deadLetters.subscribe((letter) => void dead.push(letter));
  const ref = a.node.ref<StoreProtocol>("b", "store");
  ref.tell("put", "buffered");
  await waitFor(
    () => remoteNodeCounts(a.node).buffered === 1,
    "the tell is buffered",
  );

  a.node.disconnect("b", "removed");
  assert.deepEqual(
    dead.map((l) => [l.payload, l.reason]),
    [["buffered", "node-unreachable"]],
  );
  assert.equal(remoteNodeCounts(a.node).buffered, 0);
  assert.equal(remoteNodeCounts(a.node).reconnectTimers, 0);
  assert.equal(a.node.inboundConnections, 0);
  await waitFor(() => !b.node.peers()[0].connected, "b heard the goodbye");
  a.node.disconnect("c", "never associated"); // nothing to end: no error
  assert.throws(() => a.node.disconnect("a", "self"), TypeError);
  assert.throws(
    () => a.node.disconnect("b", undefined as unknown as string),
    TypeError,
  );
});
