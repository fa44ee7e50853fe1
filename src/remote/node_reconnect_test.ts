// What a node does with a peer it lost: replaying what it buffered, following the peer to a new
// address, one reconnect timer at a time, and accounting for everything when it closes.
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

/** Asks until the node answers (it may take a reconnect or two). */
async function items(
  ref: { ask(type: "items", p?: undefined, o?: object): Promise<string[]> },
): Promise<string[]> {
  let last: unknown;
  const until = Date.now() + 10_000;
  while (Date.now() < until) {
    try {
      return await ref.ask("items", undefined, { timeoutMs: 500 });
    } catch (error) {
      last = error;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw last;
}

test("RemoteNode: a tell over the frame limit sent while the node is away is a dead letter, and the replay sends the rest", async () => {
  await using b = await nodeB();
  await using a = await nodeA({
    maxFrameBytes: 4096,
    reconnect: { minMs: 5, maxMs: 10 },
  });
  await using relay = await TcpRelay.start(b.node.address);
  const dead: DeadLetter[] = [];
  a.a.deadLetters.subscribe((letter) => void dead.push(letter));
  await a.node.connect(relay.address);
  const ref = a.node.ref<StoreProtocol>("b", "store");
  assert.deepEqual(await ref.ask("items"), []);
  relay.cut();
  await waitFor(() => !a.node.peers()[0].connected, "node a saw the loss");

  const big = "x".repeat(10_000);
  ref.tell("put", "one");
  ref.tell("put", big);
  ref.tell("put", "two");
  const bigAsk = ref.ask("put", big);
  ref.tell("put", "three");
  await assert.rejects(bigAsk, isFrameTooLargeError);
  assert.deepEqual(await items(ref), ["one", "two", "three"]);
  assert.equal(dead.length, 1, "only the big tell is a dead letter");
  assert.equal(dead[0].payload, big);
  assert.equal(dead[0].recipient, "troupe://b/store");
});

test("RemoteNode.connect() to a node's new address replaces the old one, for now and for reconnects", async () => {
  await using a = await nodeA({ reconnect: { minMs: 5, maxMs: 10 } });
  const b1 = await nodeB();
  const oldAddress = b1.node.address;
  await a.node.connect(oldAddress);
  const ref = a.node.ref<StoreProtocol>("b", "store");
  ref.tell("put", "at the old address");
  assert.deepEqual(await ref.ask("items"), ["at the old address"]);
  await b1[Symbol.asyncDispose]();

  // The process comes back on another port.
  let b2 = await nodeB();
  const newAddress = b2.node.address;
  assert.notEqual(newAddress, oldAddress);
  assert.equal(await a.node.connect(newAddress), "b");
  assert.deepEqual(a.node.peers(), [
    {
      node: "b",
      address: newAddress,
      connected: true,
      outbound: true,
      inbound: 0,
    },
  ]);
  assert.deepEqual(await ref.ask("items"), []);

  // It restarts again on that port: the reconnect dials the new address, not the old one.
  const port = Number(newAddress.split(":")[1]);
  await b2[Symbol.asyncDispose]();
  await waitFor(() => !a.node.peers()[0].connected, "node a saw the loss");
  b2 = await nodeB({ port });
  try {
    ref.tell("put", "at the new address");
    assert.deepEqual(await items(ref), ["at the new address"]);
    assert.deepEqual(a.node.peers(), [
      {
        node: "b",
        address: newAddress,
        connected: true,
        outbound: true,
        inbound: 0,
      },
    ]);
  } finally {
    await b2[Symbol.asyncDispose]();
  }
});

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

test("RemoteNode.close() turns every buffered tell into a dead letter and rejects waiting requests", async () => {
  await using b = await nodeB();
  const a = await nodeA({ reconnect: { minMs: 60_000, maxMs: 60_000 } });
  let relay: TcpRelay | undefined = await TcpRelay.start(b.node.address);
  try {
    const dead: DeadLetter[] = [];
    a.a.deadLetters.subscribe((letter) => void dead.push(letter));
    await a.node.connect(relay.address);
    const ref = a.node.ref<StoreProtocol>("b", "store");
    await ref.ask("items");
    await relay[Symbol.asyncDispose]();
    relay = undefined;
    await waitFor(() => !a.node.peers()[0].connected, "node a saw the loss");

    ref.tell("put", "buffered 1");
    ref.tell("put", "buffered 2");
    const waiting = ref.ask("items", undefined, { timeoutMs: 60_000 }).catch(
      (error) => error,
    );
    ref.tell("put", "in the batch"); // not even flushed yet
    await a.node.close();
    const rejected = await waiting;
    assert.ok(isNodeUnreachableError(rejected), String(rejected));
    assert.deepEqual(
      dead.map((l) => [l.payload, l.reason]),
      [
        ["buffered 1", "node-unreachable"],
        ["buffered 2", "node-unreachable"],
        ["in the batch", "node-unreachable"],
      ],
    );
    assert.equal(remoteNodeCounts(a.node).buffered, 0);
  } finally {
    await relay?.[Symbol.asyncDispose]();
    await a[Symbol.asyncDispose]();
  }
});

test("RemoteNode.close() still sends the tells of the current batch over a live connection", async () => {
  await using b = await nodeB();
  await using a = await nodeA();
  await a.node.connect(b.node.address);
  const ref = a.node.ref<StoreProtocol>("b", "store");
  await ref.ask("items");
  const dead: DeadLetter[] = [];
  a.a.deadLetters.subscribe((letter) => void dead.push(letter));
  ref.tell("put", "last words");
  await a.node.close();
  const local = b.b.lookup("store") as unknown as {
    ask(type: "items"): Promise<string[]>;
  };
  await waitFor(
    async () => (await local.ask("items")).length > 0,
    "the tell arrived",
  );
  assert.deepEqual(await local.ask("items"), ["last words"]);
  assert.deepEqual(dead, []);
});

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

test("RemoteNode.onPeerChange() reports each connect and loss once, until unsubscribed", async () => {
  const errors: string[] = [];
  await using b = await nodeB();
  await using a = await nodeA({
    reconnect: { minMs: 60_000, maxMs: 60_000 },
    logger: { error: (message) => void errors.push(message) },
  });
  await using relay = await TcpRelay.start(b.node.address);
  const changes: PeerChange[] = [];
  const unsubscribe = a.node.onPeerChange((c) => void changes.push(c));
  // A listener that throws is logged and does not keep the others from hearing.
  const unsubscribeBad = a.node.onPeerChange(() => {
    throw new Error("listener bug");
  });
  await a.node.connect(relay.address);
  await a.node.connect(relay.address); // already connected: no change
  assert.deepEqual(changes, [
    { node: "b", address: relay.address, connected: true },
  ]);
  assert.ok(errors.some((m) => m.includes("peer change listener failed")));
  unsubscribeBad();

  relay.cut();
  await waitFor(() => changes.length === 2, "the loss was reported");
  assert.equal(changes[1].connected, false);
  assert.match(changes[1].reason ?? "", /connection lost/);
  await a.node.connect(relay.address);
  assert.deepEqual(changes[2], {
    node: "b",
    address: relay.address,
    connected: true,
  });
  unsubscribe();
  unsubscribe(); // idempotent
  relay.cut();
  await waitFor(() => !a.node.peers()[0].connected, "node a saw the loss");
  assert.equal(changes.length, 3, "nothing after unsubscribing");
  assert.throws(
    () => a.node.onPeerChange(42 as unknown as () => void),
    TypeError,
  );
});

test("RemoteNode.disconnect() fails requests with the reason, ends watches, arms no reconnect, and connect() associates again", async () => {
  await using b = await nodeB();
  await using a = await nodeA({ reconnect: { minMs: 1, maxMs: 5 } });
  await a.node.connect(b.node.address);
  await waitFor(() => b.node.inboundConnections === 1, "b accepted");
  const ref = a.node.ref<StoreProtocol>("b", "store");
  const w = await a.a.spawn(watcher, undefined);
  await w.ask("watch", ref as unknown as ActorRef<object>);
  await waitFor(
    () => remoteNodeCounts(b.node).watchedForOthers === 1,
    "the watch reached b",
  );
  await b.b.spawn(store, undefined, { id: "hanger" });
  const hanger = a.node.ref<StoreProtocol>("b", "hanger");
  const hanging = hanger.ask("hang", undefined, { timeoutMs: 60_000 }).catch((
    error,
  ) => error);
  await new Promise((r) => setTimeout(r, 20)); // the ask is on the wire
  const changes: PeerChange[] = [];
  a.node.onPeerChange((c) => void changes.push(c));

  a.node.disconnect("b", "downed by the cluster");
  const failed = await hanging;
  assert.ok(isNodeUnreachableError(failed), String(failed));
  assert.equal(failed.reason, "downed by the cluster");
  assert.deepEqual(changes, [{
    node: "b",
    address: b.node.address,
    connected: false,
    reason: "downed by the cluster",
  }]);
  await waitFor(
    async () => (await w.ask("notices")).length === 1,
    "the watcher heard",
  );
  const [notice] = await w.ask("notices");
  assert.equal(notice.ref.path, "store");
  const cause = (notice.fault as { error?: unknown } | undefined)?.error;
  assert.ok(isNodeUnreachableError(cause), String(cause));
  assert.equal(cause.reason, "downed by the cluster");
  await waitFor(() => b.node.inboundConnections === 0, "b saw the goodbye");
  assert.equal(remoteNodeCounts(b.node).watchedForOthers, 0);

  // Disconnected: no reconnect, tells are dead letters, requests fail at once.
  const dead: DeadLetter[] = [];
  a.a.deadLetters.subscribe((letter) => void dead.push(letter));
  ref.tell("put", "while disconnected");
  await assert.rejects(
    ref.ask("items"),
    (e) => isNodeUnreachableError(e) && e.reason === "downed by the cluster",
  );
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(remoteNodeCounts(a.node).reconnectTimers, 0);
  assert.equal(b.node.inboundConnections, 0, "no reconnect");
  assert.deepEqual(
    dead.map((l) => [l.payload, l.reason]),
    [["while disconnected", "node-unreachable"]],
  );
  assert.equal(a.node.peers()[0].connected, false);

  // An explicit connect() associates again, with the refs made before.
  await a.node.connect(b.node.address);
  ref.tell("put", "back");
  assert.deepEqual(await ref.ask("items"), ["back"]);
  assert.equal(changes.at(-1)?.connected, true);
});

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
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(remoteNodeCounts(a.node).buffered, 1);

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
