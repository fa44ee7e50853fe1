// Death watch across nodes: what it holds on to is released again (unwatch, reconnects), and an
// actor respawned at the same path is watched and reported as it is now. Every scenario runs on
// real TCP and on the in-memory network under virtual time (_node_fixture_test.ts).
import assert from "node:assert/strict";
import {
  type ActorRef,
  defineActor,
  Device,
  oneForOne,
  type StopNotice,
} from "../../mod.ts";
import { isRemoteFailureError } from "./errors.ts";
import { type RemoteNodeCounts, remoteNodeCounts } from "./node.ts";
import { type NodeFixture, testOnBoth } from "./_node_fixture_test.ts";

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

/** Nodes a and b, an echo actor on b, a connected to b (a reconnects fast). */
async function setup(f: NodeFixture, stopOnFailure = false): Promise<void> {
  await f.start("a", {
    nodeOptions: { reconnect: { minMs: 1, maxMs: 5 } },
    systemOptions: { stopTimeoutMs: 100 },
  });
  await f.start("b", {
    systemOptions: {
      stopTimeoutMs: 100,
      ...(stopOnFailure
        ? { supervision: oneForOne({ decide: () => "stop" }) }
        : {}),
    },
  });
  await f.system("b").spawn(echo, undefined, { id: "echo" });
  await f.connect("a", "b");
}

const NOTHING_HELD: Partial<RemoteNodeCounts> = {
  watchProxies: 0,
  stoppedPaths: 0,
  watchedForOthers: 0,
};

function held(f: NodeFixture, name: string): Partial<RemoteNodeCounts> {
  const { watchProxies, stoppedPaths, watchedForOthers } = remoteNodeCounts(
    f.node(name),
  );
  return { watchProxies, stoppedPaths, watchedForOthers };
}

testOnBoth(
  "RemoteNode: 1,000 watch/unwatch cycles and 100 reconnects leave nothing behind",
  async (f) => {
    await setup(f);
    const nodeA = f.node("a");
    const nodeB = f.node("b");
    const remote = nodeA.ref<EchoProtocol>("b", "echo");
    const target = f.system("b").lookup("echo");
    const baseline = watchersOf(target);
    const w = await f.system("a").spawn(watcher, undefined);

    for (let i = 0; i < 1000; i++) {
      await w.ask("watch", remote);
      await w.ask("unwatch", remote);
    }
    // A round trip after the last unwatch: it has reached node b.
    await f.settle(nodeA.lookup("b", "echo"));
    await f.until(
      () => remoteNodeCounts(nodeA).watchProxies === 0,
      "node a dropped the proxy of the unwatched actor",
    );
    await f.until(
      () => remoteNodeCounts(nodeB).watchedForOthers === 0,
      "node b was told about the unwatch",
    );
    assert.deepEqual(held(f, "a"), NOTHING_HELD);
    assert.deepEqual(held(f, "b"), NOTHING_HELD);
    assert.equal(watchersOf(target), baseline);
    assert.equal(await w.ask("notices"), 0, "no notice after an unwatch");

    // A long-lived watch, renewed after each of 100 connection losses.
    await w.ask("watch", remote);
    for (let i = 0; i < 100; i++) {
      const notices = await w.ask("notices");
      f.cut("a", "b");
      await f.until(() => !nodeA.peers()[0].connected, "node a saw the loss");
      await f.until(
        () => remoteNodeCounts(nodeB).watchedForOthers === 0,
        "node b let go of the lost connection's watch",
      );
      assert.equal(
        await w.ask("notices"),
        notices + 1,
        "the loss was notified",
      );
      assert.equal(await f.settle(remote.ask("echo", "back")), "back"); // reconnects
      await w.ask("watch", remote);
      await f.settle(nodeA.lookup("b", "echo")); // the watch has reached node b
    }
    assert.deepEqual(held(f, "a"), { ...NOTHING_HELD, watchProxies: 1 });
    assert.deepEqual(held(f, "b"), { ...NOTHING_HELD, watchedForOthers: 1 });
    assert.equal(watchersOf(target), baseline + 1);
    assert.equal(f.connectionsOpened("a", "b"), 101);

    await w.ask("unwatch", remote);
    await f.settle(nodeA.lookup("b", "echo"));
    await f.until(
      () =>
        remoteNodeCounts(nodeA).watchProxies === 0 &&
        remoteNodeCounts(nodeB).watchedForOthers === 0,
      "the last unwatch let go on both nodes",
    );
    assert.equal(watchersOf(target), baseline);
  },
);

testOnBoth(
  "RemoteNode: an actor that stopped and is respawned at the same path is watched and reported alive",
  async (f) => {
    await setup(f);
    const a = f.system("a");
    const b = f.system("b");
    const remote = f.node("a").ref<EchoProtocol>("b", "echo");
    const first = a.whenStopped(remote);
    await f.settle(f.node("a").lookup("b", "echo")); // the watch has reached node b
    await b.lookup("echo")!.stop();
    assert.equal((await f.settle(first)).fault, undefined);
    assert.equal(remote.stopped, true);

    await b.spawn(echo, undefined, { id: "echo" });
    assert.equal(await f.settle(remote.ask("echo", "again")), "again");
    assert.equal(remote.stopped, false, "an answer shows it runs");
    const second = a.whenStopped(remote);
    await f.settle(f.node("a").lookup("b", "echo"));
    assert.equal(remote.stopped, false, "watching it does not make it stopped");
    await b.lookup("echo")!.stop();
    assert.equal((await f.settle(second)).fault, undefined);
    assert.equal(remote.stopped, true);
  },
);

testOnBoth(
  "RemoteNode: watching an actor that is not running reports it stopped at once",
  async (f) => {
    await setup(f);
    const missing = f.node("a").ref<EchoProtocol>("b", "nobody");
    const notice = await f.settle(f.system("a").whenStopped(missing));
    assert.equal(notice.fault, undefined);
    assert.equal(missing.stopped, true);
    await f.until(
      () => remoteNodeCounts(f.node("a")).watchProxies === 0,
      "the proxy is gone with the notice",
    );
  },
);

testOnBoth(
  "RemoteNode: a watch notice with a very long reason arrives truncated, and the connection stays",
  async (f) => {
    await setup(f, true);
    const remote = f.node("a").ref<EchoProtocol>("b", "echo");
    const stopped = f.system("a").whenStopped(remote);
    await f.settle(f.node("a").lookup("b", "echo")); // the watch has reached node b
    remote.tell("crash", "y".repeat(70_000));
    const notice = await f.settle(stopped);
    assert.equal(notice.fault?.kind, "error");
    const error = (notice.fault as { error?: unknown }).error;
    assert.ok(isRemoteFailureError(error), String(error));
    assert.match(error.message, /^[^]{0,20000}$/);
    assert.match(error.message, /y… \(truncated, \d+ chars\)$/);
    assert.deepEqual(
      f.node("a").peers().map((p) => p.connected),
      [true],
      "the connection survived",
    );
    assert.deepEqual(
      f.node("a").peers().map((p) => p.address),
      [f.address("a", "b")],
    );
    assert.equal(f.connectionsOpened("a", "b"), 1, "no reconnect was needed");
  },
);
