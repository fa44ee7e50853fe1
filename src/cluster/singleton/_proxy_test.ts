import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, defineActor } from "../../actor/mod.ts";
import { test } from "../../platform/test_harness.ts";
import { ManualClock } from "../../timer/mod.ts";
import { SingletonProxy } from "./_proxy.ts";

const log = defineActor({
  name: "log",
  init: (name: string) => ({ name, seen: [] as number[] }),
  handlers: {
    add: (s, n: number) => {
      s.seen.push(n);
    },
    seen: (s) => ({ name: s.name, seen: [...s.seen] }),
  },
});

type LogProtocol = {
  add(n: number): void;
  seen(): { name: string; seen: number[] };
};

function proxyOf(system: ActorSystem, clock: ManualClock, onStale = () => {}) {
  return new SingletonProxy<LogProtocol>({
    name: "log",
    system,
    clock,
    address: { node: "local", path: "troupe.singleton.log.proxy" },
    bufferSize: 10,
    onStale,
  });
}

test("SingletonProxy sends what it buffered in order once it has a target, then sends directly", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  const proxy = proxyOf(system, clock);
  for (let i = 0; i < 3; i++) proxy.tell("add", i);
  const asked = proxy.ask("seen");
  proxy.tell("add", 3);
  assert.equal(proxy.buffered, 5);
  const target = await system.spawn(log, "one", { id: "one" });
  proxy.retarget(target as unknown as ActorRef<LogProtocol>);
  assert.equal(proxy.buffered, 0);
  assert.deepEqual(await asked, { name: "one", seen: [0, 1, 2] });
  proxy.tell("add", 4);
  assert.deepEqual((await proxy.ask("seen")).seen, [0, 1, 2, 3, 4]);
  assert.equal(proxy.toJSON(), "troupe://local/troupe.singleton.log.proxy");
  proxy.close();
});

test("SingletonProxy: an ask that finds its target stopped waits for the next target", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  let stale = 0;
  const proxy = proxyOf(system, clock, () => stale++);
  const first = await system.spawn(log, "first", { id: "first" });
  proxy.retarget(first as unknown as ActorRef<LogProtocol>);
  await first.stop();
  const asked = proxy.ask("seen", undefined, { timeoutMs: 5000 });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(stale, 1);
  assert.equal(proxy.target, undefined);
  assert.equal(proxy.buffered, 1);
  const second = await system.spawn(log, "second", { id: "second" });
  proxy.retarget(second as unknown as ActorRef<LogProtocol>);
  assert.deepEqual(await asked, { name: "second", seen: [] });
  proxy.close();
});

const held: (() => void)[] = [];
const hang = defineActor({
  name: "hang",
  init: () => ({}),
  handlers: {
    wait: () => new Promise<void>((resolve) => held.push(resolve)),
  },
});

test("SingletonProxy.abandon() rejects the asks in flight to the old target at once and does not send them again", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ clock });
  const proxy = proxyOf(system, clock);
  const stuck = await system.spawn(hang, undefined, { id: "stuck" });
  proxy.retarget(stuck as unknown as ActorRef<LogProtocol>);
  const asked = (proxy as unknown as {
    ask(type: string, p: undefined, o: { timeoutMs: number }): Promise<unknown>;
  }).ask("wait", undefined, { timeoutMs: 60_000 });
  proxy.retarget(undefined);
  const error = new Error("host downed");
  proxy.abandon(error);
  await assert.rejects(asked, (e) => e === error);
  // Later asks buffer for the next instance as usual.
  const later = proxy.ask("seen", undefined, { timeoutMs: 5000 });
  assert.equal(proxy.buffered, 1);
  const next = await system.spawn(log, "next", { id: "next" });
  proxy.retarget(next as unknown as ActorRef<LogProtocol>);
  assert.deepEqual(await later, { name: "next", seen: [] });
  proxy.abandon(new Error("nothing in flight")); // answered asks are not in flight
  proxy.close();
  for (const release of held.splice(0)) release();
});
