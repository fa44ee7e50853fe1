import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  cascadeFault,
  describeFault,
  Device,
  type DeviceMessage,
  DROPPED,
  errorFault,
  type Fault,
  isDeviceDisconnectedError,
  isDeviceId,
  LinkMode,
  rootFault,
  thrownFault,
} from "./mod.ts";

function drain(device: Device): DeviceMessage[] {
  const messages: DeviceMessage[] = [];
  for (let m = device.tryReceive(); m !== undefined; m = device.tryReceive()) {
    messages.push(m);
  }
  return messages;
}

test("Device.id is unique, well-formed and stable", () => {
  const ids = new Set<string>();
  for (let i = 0; i < 1000; i++) {
    using d = new Device();
    assert.equal(d.id, d.id);
    assert.ok(isDeviceId(d.id), d.id);
    ids.add(d.id);
  }
  assert.equal(ids.size, 1000);
  assert.equal(isDeviceId("abc"), false);
  assert.equal(isDeviceId(42), false);
});

test("Device.id survives a JSON round trip and names the same device", () => {
  using d = new Device();
  const sent = JSON.parse(JSON.stringify({ id: d.id })) as { id: string };
  assert.equal(sent.id, d.id);
});

test("Device.link(Monitor) delivers Disconnected with the fault to the watcher only", () => {
  using watcher = new Device();
  using bystander = new Device();
  const target = new Device();
  watcher.link(target, LinkMode.Monitor);
  const fault = errorFault("boom");
  assert.equal(target.disconnect(fault), true);
  assert.deepEqual(drain(watcher), [{
    kind: "disconnected",
    id: target.id,
    fault,
  }]);
  assert.deepEqual(drain(bystander), []);
});

test("Device.link(Notify) tells the other device when this one disconnects", () => {
  const self = new Device();
  using other = new Device();
  self.link(other, LinkMode.Notify);
  self.disconnect();
  assert.deepEqual(drain(other), [{
    kind: "disconnected",
    id: self.id,
    fault: undefined,
  }]);
});

test("Device.link(Monitor) does not notify in the other direction", () => {
  const watcher = new Device();
  using target = new Device();
  watcher.link(target, LinkMode.Monitor);
  watcher.disconnect(errorFault("x"));
  assert.deepEqual(drain(target), []);
});

test("Device.link(Peer) notifies whichever side disconnects first", () => {
  for (const first of [0, 1]) {
    const a = new Device();
    const b = new Device();
    a.link(b, LinkMode.Peer);
    const [gone, left] = first === 0 ? [a, b] : [b, a];
    gone.disconnect(thrownFault(new Error("x")));
    const messages = drain(left);
    assert.equal(messages.length, 1);
    assert.equal(messages[0].id, gone.id);
    left.disconnect();
    assert.deepEqual(drain(gone), []);
  }
});

test("Device[Symbol.dispose]() disconnects with the dropped fault", () => {
  using watcher = new Device();
  {
    using target = new Device();
    watcher.link(target, LinkMode.Monitor);
  }
  const [message] = drain(watcher);
  assert.equal(message.kind, "disconnected");
  assert.deepEqual(message.kind === "disconnected" && message.fault, DROPPED);
});

test("Device.disconnect() then dispose notifies once, with the first fault", () => {
  using watcher = new Device();
  const target = new Device();
  watcher.link(target, LinkMode.Monitor);
  target.disconnect(errorFault(1));
  assert.equal(target.disconnect(errorFault(2)), false);
  target[Symbol.dispose]();
  const messages = drain(watcher);
  assert.equal(messages.length, 1);
  assert.deepEqual(target.fault, errorFault(1));
});

test("Device.link() twice is idempotent: one notification", () => {
  using watcher = new Device();
  const target = new Device();
  watcher.link(target, LinkMode.Monitor);
  watcher.link(target, LinkMode.Monitor);
  watcher.link(target, LinkMode.Peer);
  watcher.linkLine(target.line, LinkMode.Monitor);
  assert.deepEqual(target.watchers(), [watcher.id]);
  target.disconnect();
  assert.equal(drain(watcher).length, 1);
});

test("Device.link() modes add up and Device.unlink() subtracts", () => {
  const a = new Device();
  const b = new Device();
  a.link(b, LinkMode.Monitor);
  a.link(b, LinkMode.Notify);
  assert.deepEqual(a.watchers(), [b.id]);
  assert.deepEqual(b.watchers(), [a.id]);
  a.unlink(b, LinkMode.Monitor);
  assert.deepEqual(b.watchers(), []);
  assert.deepEqual(a.watchers(), [b.id]);
  b.disconnect(errorFault("x"));
  assert.deepEqual(drain(a), []);
  a.disconnect();
  assert.deepEqual(drain(b), []);
});

test("Device.unlink() of what is not linked is a no-op", () => {
  using a = new Device();
  using b = new Device();
  a.unlink(b, LinkMode.Peer);
  a.unlinkLine(b.line, LinkMode.Monitor);
  assert.deepEqual(a.watchers(), []);
});

test("Device.link() to itself is a TypeError", () => {
  using d = new Device();
  assert.throws(() => d.link(d, LinkMode.Peer), TypeError);
  assert.throws(() => d.linkLine(d.line, LinkMode.Monitor), TypeError);
  assert.throws(() => d.line.linkLine(d.line, LinkMode.Notify), TypeError);
});

test("Device.link() with an invalid mode is a TypeError", () => {
  using a = new Device();
  using b = new Device();
  assert.throws(() => a.link(b, 0 as LinkMode), TypeError);
  assert.throws(() => a.link(b, 4 as LinkMode), TypeError);
  assert.throws(() => a.unlink(b, 7 as LinkMode), TypeError);
});

test("Device.link() to a device already gone delivers Disconnected at once", () => {
  for (const mode of [LinkMode.Monitor, LinkMode.Peer]) {
    using watcher = new Device();
    const gone = new Device();
    const fault = errorFault("earlier");
    gone.disconnect(fault);
    watcher.link(gone, mode);
    assert.deepEqual(drain(watcher), [{
      kind: "disconnected",
      id: gone.id,
      fault,
    }]);
  }
  using watcher = new Device();
  const gone = new Device();
  gone.disconnect();
  watcher.link(gone, LinkMode.Notify);
  assert.deepEqual(drain(watcher), [], "Notify only tells the other side");
});

test("Line.linkLine() from a line whose device is gone tells the other side at once", () => {
  using alive = new Device();
  const gone = new Device();
  gone.disconnect(errorFault("x"));
  gone.line.linkLine(alive.line, LinkMode.Notify);
  assert.deepEqual(drain(alive), [{
    kind: "disconnected",
    id: gone.id,
    fault: errorFault("x"),
  }]);
  gone.line.linkLine(alive.line, LinkMode.Monitor);
  assert.deepEqual(drain(alive), []);
});

test("Device.link() on a disconnected device throws DeviceDisconnectedError", () => {
  const d = new Device();
  using other = new Device();
  d.disconnect();
  assert.throws(() => d.link(other, LinkMode.Monitor), (e: unknown) => {
    assert.ok(isDeviceDisconnectedError(e));
    assert.equal(e.deviceId, d.id);
    assert.match(
      e.message,
      /Cannot link device ".*": device is disconnected \(clean\)/,
    );
    return true;
  });
});

test("Device.line is one non-owning reference that follows the device", () => {
  const d = new Device();
  const line = d.line;
  assert.equal(d.line, line);
  assert.equal(line.clone(), line);
  assert.equal(line.id, d.id);
  assert.equal(line.connected, true);
  d.disconnect(DROPPED);
  assert.equal(line.connected, false);
  assert.deepEqual(line.fault, DROPPED);
});

test("Line.linkLine() links two devices through their lines", () => {
  const a = new Device();
  const b = new Device();
  a.line.linkLine(b.line, LinkMode.Peer);
  b.disconnect(errorFault("b"));
  assert.equal(drain(a).length, 1);
  const c = new Device();
  using d = new Device();
  c.line.linkLine(d.line, LinkMode.Monitor);
  c.line.unlinkLine(d.line, LinkMode.Monitor);
  d.disconnect();
  assert.deepEqual(drain(c), []);
  c.disconnect();
  a.disconnect();
});

test("Line.requestShutdown() delivers Shutdown with the requester's id", () => {
  using d = new Device();
  using requester = new Device();
  assert.equal(d.line.requestShutdown(requester.id), true);
  assert.deepEqual(drain(d), [{ kind: "shutdown", id: requester.id }]);
  const gone = new Device();
  gone.disconnect();
  assert.equal(gone.line.requestShutdown(requester.id), false);
});

test("Device.signal aborts on disconnect with the fault in its reason", () => {
  const d = new Device();
  const signal = d.signal;
  assert.equal(signal.aborted, false);
  d.disconnect(errorFault("x"));
  assert.equal(signal.aborted, true);
  assert.ok(isDeviceDisconnectedError(signal.reason));
  assert.deepEqual(signal.reason.fault, errorFault("x"));
  const late = new Device();
  late.disconnect();
  assert.equal(
    late.signal.aborted,
    true,
    "a signal taken after disconnect is aborted",
  );
});

test("Device.receive() waits for the next message and ends with undefined on disconnect", async () => {
  const watcher = new Device();
  const target = new Device();
  watcher.link(target, LinkMode.Monitor);
  const pending = watcher.receive();
  target.disconnect(errorFault("x"));
  assert.equal((await pending)?.id, target.id);
  const ended = watcher.receive();
  watcher.disconnect();
  assert.equal(await ended, undefined);
  assert.equal(await watcher.receive(), undefined);
});

test("Device.receive() rejects a second concurrent receive with TypeError", async () => {
  const d = new Device();
  const first = d.receive();
  await assert.rejects(d.receive(), TypeError);
  d.disconnect();
  assert.equal(await first, undefined);
});

test("Device async iteration yields messages in order until disconnect", async () => {
  const watcher = new Device();
  const targets = [new Device(), new Device(), new Device()];
  for (const t of targets) watcher.link(t, LinkMode.Monitor);
  for (const t of targets) t.disconnect();
  const seen: string[] = [];
  const done = (async () => {
    for await (const message of watcher) {
      seen.push(message.id);
      if (seen.length === 3) watcher.disconnect();
    }
  })();
  await done;
  assert.deepEqual(seen, targets.map((t) => t.id));
});

test("Device onMessage receives messages synchronously and receive() is refused", async () => {
  const got: DeviceMessage[] = [];
  const watcher = new Device({ onMessage: (m) => got.push(m) });
  const target = new Device();
  watcher.link(target, LinkMode.Monitor);
  target.disconnect();
  assert.equal(got.length, 1);
  await assert.rejects(watcher.receive(), TypeError);
  watcher.disconnect();
  assert.throws(
    () => new Device({ onMessage: 3 as unknown as () => void }),
    TypeError,
  );
});

test("Device.disconnect() notifies every watcher even when one onMessage throws, then rethrows", () => {
  const got: string[] = [];
  const bad = new Device({
    onMessage: () => {
      throw new Error("watcher bug");
    },
  });
  const good = new Device({ onMessage: (m) => got.push(m.id) });
  const target = new Device();
  bad.link(target, LinkMode.Monitor);
  good.link(target, LinkMode.Monitor);
  assert.throws(() => target.disconnect(), /watcher bug/);
  assert.deepEqual(got, [target.id]);
  assert.equal(target.connected, false);
  bad.disconnect();
  good.disconnect();
});

test("Device: a watcher that disconnects first is not notified and does not leak", () => {
  const hub = new Device();
  for (let i = 0; i < 10_000; i++) {
    const w = new Device();
    w.link(hub, LinkMode.Monitor);
    w.disconnect();
  }
  using survivor = new Device();
  survivor.link(hub, LinkMode.Monitor);
  assert.deepEqual(hub.watchers(), [survivor.id]);
  hub.disconnect();
  assert.equal(drain(survivor).length, 1);
});

test("Device: unlinking a watcher during notification does not change who is told", () => {
  const target = new Device();
  const got: string[] = [];
  const second = new Device({ onMessage: () => got.push("second") });
  const first = new Device({
    onMessage: () => {
      got.push("first");
      second.unlink(target, LinkMode.Monitor);
    },
  });
  first.link(target, LinkMode.Monitor);
  second.link(target, LinkMode.Monitor);
  target.disconnect();
  assert.deepEqual(
    got,
    ["first", "second"],
    "the watcher set is fixed when disconnect starts",
  );
  first.disconnect();
  second.disconnect();
});

test("Device: a watcher disconnecting during notification is not told afterwards", () => {
  const target = new Device();
  const got: string[] = [];
  const second = new Device({ onMessage: () => got.push("second") });
  const first = new Device({
    onMessage: () => {
      got.push("first");
      second.disconnect();
    },
  });
  first.link(target, LinkMode.Monitor);
  second.link(target, LinkMode.Monitor);
  target.disconnect();
  assert.deepEqual(got, ["first"]);
  first.disconnect();
});

test("Device: linking while the target is disconnecting (from a notification) still notifies", () => {
  const a = new Device();
  const late = new Device();
  const b = new Device({
    onMessage: () => {
      // a is already marked disconnected: linking now delivers at once instead of being lost.
      late.link(a, LinkMode.Monitor);
    },
  });
  b.link(a, LinkMode.Monitor);
  a.disconnect(errorFault("x"));
  assert.deepEqual(drain(late), [{
    kind: "disconnected",
    id: a.id,
    fault: errorFault("x"),
  }]);
  b.disconnect();
  late.disconnect();
});

test("Device: simultaneous peer disconnects (cascade inside notification) notify each once", () => {
  const got = new Map<string, number>();
  const count = (id: string) => got.set(id, (got.get(id) ?? 0) + 1);
  const a = new Device({ onMessage: () => count("a") });
  const b: Device = new Device({
    onMessage: (m) => {
      count("b");
      if (m.kind === "disconnected" && m.fault !== undefined) {
        b.disconnect(cascadeFault(m.id, m.fault));
      }
    },
  });
  const watcher = new Device({ onMessage: () => count("watcher") });
  a.link(b, LinkMode.Peer);
  watcher.link(b, LinkMode.Monitor);
  watcher.link(a, LinkMode.Monitor);
  a.disconnect(errorFault("x"));
  assert.equal(got.get("a"), undefined, "a is gone before b cascades");
  assert.equal(got.get("b"), 1);
  assert.equal(got.get("watcher"), 2);
  watcher.disconnect();
});

test("Device.disconnect() cascades to the end of a chain of 1,000,000 devices", () => {
  // Each device follows the one before it at once, from inside the notice: the nesting that
  // used to overflow the stack after about 2,000 devices. The chain is built 1,000 devices
  // ahead of the cascade and grows at its tail as the cascade moves, so the devices already
  // gone can be collected and the test's memory stays small.
  const length = 1_000_000;
  const fault = errorFault("root failed");
  const root = new Device();
  let tail = root;
  let created = 0;
  let notices = 0;
  const grow = () => {
    const device: Device = new Device({
      onMessage: (message) => {
        notices++;
        if (created < length) grow();
        if (message.kind === "disconnected") device.disconnect(message.fault);
      },
    });
    device.link(tail, LinkMode.Monitor);
    tail = device;
    created++;
  };
  for (let i = 0; i < 1000; i++) grow();
  assert.equal(root.disconnect(fault), true);
  assert.equal(created, length);
  assert.equal(notices, length);
  assert.equal(tail.connected, false);
  assert.equal(tail.fault, fault);
});

test("Device.disconnect() from a receiver is delivered before the outermost disconnect returns", () => {
  const order: string[] = [];
  const root = new Device();
  const a: Device = new Device({
    onMessage: (message) => {
      order.push("a told");
      a.disconnect(cascadeFault(message.id, errorFault("x")));
      order.push("a disconnected");
    },
  });
  const b = new Device({ onMessage: () => order.push("b told") });
  const c = new Device({ onMessage: () => order.push("c told") });
  a.link(root, LinkMode.Monitor);
  c.link(root, LinkMode.Monitor);
  b.link(a, LinkMode.Monitor);
  root.disconnect(errorFault("x"));
  // Breadth first: every watcher of root is told before a's watchers.
  assert.deepEqual(order, ["a told", "a disconnected", "c told", "b told"]);
  b.disconnect();
  c.disconnect();
});

test("describeFault() describes a cascade 100,000 levels deep in a few words", () => {
  const root = errorFault("disk full");
  let fault: Fault = root;
  for (let i = 0; i < 100_000; i++) fault = cascadeFault(`d${i}`, fault);
  const description = describeFault(fault);
  assert.equal(
    description,
    "cascade from d99999 (cascade from d99998 (cascade from d99997 (more than 256 further cascades)))",
  );
  assert.equal(rootFault(fault), root);
});

test("describeFault() abridges a deep cascade and names the fault that started it", () => {
  const root = errorFault(new Error("disk full"));
  let fault: Fault = root;
  for (let i = 9; i >= 0; i--) fault = cascadeFault(`d${i}`, fault);
  assert.equal(
    describeFault(fault),
    "cascade from d0 (cascade from d1 (cascade from d2 (7 further cascades from error: Error: disk full)))",
  );
  assert.equal(
    describeFault(cascadeFault("d0", DROPPED)),
    "cascade from d0 (dropped)",
  );
  assert.equal(describeFault(undefined), "clean");
  assert.equal(describeFault(thrownFault("x")), "thrown: x");
});

test("Device.disconnect() from a receiver tells the watchers it had then, even one that unlinks before the notice goes out", () => {
  const order: string[] = [];
  const root = new Device();
  const b = new Device({ onMessage: () => order.push("b told") });
  const a: Device = new Device({
    onMessage: (message) => {
      a.disconnect(cascadeFault(message.id, errorFault("x")));
      // a's notice is queued behind root's; b stops watching meanwhile.
      b.unlink(a, LinkMode.Monitor);
    },
  });
  a.link(root, LinkMode.Monitor);
  b.link(a, LinkMode.Monitor);
  root.disconnect(errorFault("x"));
  assert.deepEqual(
    order,
    ["b told"],
    "the set of watchers was fixed at disconnect",
  );
  b.disconnect();
});
