// Death watch across nodes: what it holds on to is released again (unwatch, reconnects), and an
// actor respawned at the same path is watched and reported as it is now.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  Device,
  oneForOne,
  type StopNotice,
} from "../../mod.ts";
import { TcpRelay, waitFor } from "../../tests/remote/support.ts";
import { isRemoteFailureError } from "./errors.ts";
import { RemoteNode, type RemoteNodeCounts, remoteNodeCounts } from "./node.ts";

const SECRET = "test secret, not for production";
const quiet = { error() {} };

const echo = defineActor({
  name: "echo",
  init: () => ({}),
  handlers: {
    echo: (_s, text: string) => text,
    crash: (_s, message: string): never => {
      throw new Error(message);
    },
  },
});

interface EchoProtocol {
  echo(text: string): string;
  crash(message: string): never;
}

const watcher = defineActor({
  name: "watcher",
  init: () => ({ notices: [] as StopNotice[] }),
  handlers: {
    watch: (_s, ref: ActorRef<object>, ctx) => ctx.watch(ref),
    unwatch: (_s, ref: ActorRef<object>, ctx) => ctx.unwatch(ref),
    notices: (s) => s.notices.length,
  },
  terminated: (s, notice: StopNotice) => void s.notices.push(notice),
});

/** The backplane's view: how many devices watch the local actor behind `ref`. */
function watchersOf(ref: ActorRef<object> | undefined): number {
  // The local ref's cell owns the device; reaching it is for this test only.
  const device = (ref as unknown as { cell?: { device?: unknown } })?.cell
    ?.device;
  assert.ok(device instanceof Device, "a local ref exposes its cell's device");
  return device.watchers().length;
}

interface Setup extends AsyncDisposable {
  a: ActorSystem;
  b: ActorSystem;
  nodeA: RemoteNode;
  nodeB: RemoteNode;
  relay: TcpRelay;
}

async function setup(stopOnFailure = false): Promise<Setup> {
  const a = new ActorSystem({ node: "a", logger: quiet, stopTimeoutMs: 100 });
  const b = new ActorSystem({
    node: "b",
    logger: quiet,
    stopTimeoutMs: 100,
    ...(stopOnFailure
      ? { supervision: oneForOne({ decide: () => "stop" }) }
      : {}),
  });
  await b.spawn(echo, undefined, { id: "echo" });
  const common = { cluster: "test", secret: SECRET, logger: quiet };
  const nodeA = await RemoteNode.start(a, {
    ...common,
    reconnect: { minMs: 1, maxMs: 5 },
  });
  const nodeB = await RemoteNode.start(b, common);
  const relay = await TcpRelay.start(nodeB.address);
  await nodeA.connect(relay.address);
  return {
    a,
    b,
    nodeA,
    nodeB,
    relay,
    async [Symbol.asyncDispose]() {
      await nodeA.close();
      await nodeB.close();
      await relay[Symbol.asyncDispose]();
      await a.shutdown();
      await b.shutdown();
    },
  };
}

const NOTHING_HELD: Partial<RemoteNodeCounts> = {
  watchProxies: 0,
  stoppedPaths: 0,
  watchedForOthers: 0,
};

function held(node: RemoteNode): Partial<RemoteNodeCounts> {
  const { watchProxies, stoppedPaths, watchedForOthers } = remoteNodeCounts(
    node,
  );
  return { watchProxies, stoppedPaths, watchedForOthers };
}

test("RemoteNode: 1,000 watch/unwatch cycles and 100 reconnects leave nothing behind", async () => {
  await using s = await setup();
  const remote = s.nodeA.ref<EchoProtocol>("b", "echo");
  const target = s.b.lookup("echo");
  const baseline = watchersOf(target);
  const w = await s.a.spawn(watcher, undefined);

  for (let i = 0; i < 1000; i++) {
    await w.ask("watch", remote);
    await w.ask("unwatch", remote);
  }
  // A round trip after the last unwatch: it has reached node b.
  await s.nodeA.lookup("b", "echo");
  await waitFor(
    () => remoteNodeCounts(s.nodeA).watchProxies === 0,
    "node a dropped the proxy of the unwatched actor",
  );
  await waitFor(
    () => remoteNodeCounts(s.nodeB).watchedForOthers === 0,
    "node b was told about the unwatch",
  );
  assert.deepEqual(held(s.nodeA), NOTHING_HELD);
  assert.deepEqual(held(s.nodeB), NOTHING_HELD);
  assert.equal(watchersOf(target), baseline);
  assert.equal(await w.ask("notices"), 0, "no notice after an unwatch");

  // A long-lived watch, renewed after each of 100 connection losses.
  await w.ask("watch", remote);
  for (let i = 0; i < 100; i++) {
    const notices = await w.ask("notices");
    s.relay.cut();
    await waitFor(
      () => !s.nodeA.peers()[0].connected,
      "node a saw the loss",
    );
    await waitFor(
      () => remoteNodeCounts(s.nodeB).watchedForOthers === 0,
      "node b let go of the lost connection's watch",
    );
    assert.equal(await w.ask("notices"), notices + 1, "the loss was notified");
    assert.equal(await remote.ask("echo", "back"), "back"); // reconnects
    await w.ask("watch", remote);
    await s.nodeA.lookup("b", "echo"); // the watch has reached node b
  }
  assert.deepEqual(held(s.nodeA), { ...NOTHING_HELD, watchProxies: 1 });
  assert.deepEqual(held(s.nodeB), { ...NOTHING_HELD, watchedForOthers: 1 });
  assert.equal(watchersOf(target), baseline + 1);
  assert.equal(s.relay.accepted, 101);

  await w.ask("unwatch", remote);
  await s.nodeA.lookup("b", "echo");
  await waitFor(
    () =>
      remoteNodeCounts(s.nodeA).watchProxies === 0 &&
      remoteNodeCounts(s.nodeB).watchedForOthers === 0,
    "the last unwatch let go on both nodes",
  );
  assert.equal(watchersOf(target), baseline);
});

test("RemoteNode: an actor that stopped and is respawned at the same path is watched and reported alive", async () => {
  await using s = await setup();
  const remote = s.nodeA.ref<EchoProtocol>("b", "echo");
  const first = s.a.whenStopped(remote);
  await s.nodeA.lookup("b", "echo"); // the watch has reached node b
  await s.b.lookup("echo")!.stop();
  assert.equal((await first).fault, undefined);
  assert.equal(remote.stopped, true);

  await s.b.spawn(echo, undefined, { id: "echo" });
  assert.equal(await remote.ask("echo", "again"), "again");
  assert.equal(remote.stopped, false, "an answer shows it runs");
  const second = s.a.whenStopped(remote);
  await s.nodeA.lookup("b", "echo");
  assert.equal(remote.stopped, false, "watching it does not make it stopped");
  await s.b.lookup("echo")!.stop();
  assert.equal((await second).fault, undefined);
  assert.equal(remote.stopped, true);
});

test("RemoteNode: watching an actor that is not running reports it stopped at once", async () => {
  await using s = await setup();
  const missing = s.nodeA.ref<EchoProtocol>("b", "nobody");
  const notice = await s.a.whenStopped(missing);
  assert.equal(notice.fault, undefined);
  assert.equal(missing.stopped, true);
  await waitFor(
    () => remoteNodeCounts(s.nodeA).watchProxies === 0,
    "the proxy is gone with the notice",
  );
});

test("RemoteNode: a watch notice with a very long reason arrives truncated, and the connection stays", async () => {
  await using s = await setup(true);
  const remote = s.nodeA.ref<EchoProtocol>("b", "echo");
  const stopped = s.a.whenStopped(remote);
  await s.nodeA.lookup("b", "echo"); // the watch has reached node b
  remote.tell("crash", "y".repeat(70_000));
  const notice = await stopped;
  assert.equal(notice.fault?.kind, "error");
  const error = (notice.fault as { error?: unknown }).error;
  assert.ok(isRemoteFailureError(error), String(error));
  assert.match(error.message, /^[^]{0,20000}$/);
  assert.match(error.message, /y… \(truncated, \d+ chars\)$/);
  assert.deepEqual(
    s.nodeA.peers().map((p) => p.connected),
    [true],
    "the connection survived",
  );
  assert.deepEqual(
    s.nodeA.peers().map((p) => p.address),
    [s.relay.address],
  );
  assert.equal(s.relay.accepted, 1, "no reconnect was needed");
});
