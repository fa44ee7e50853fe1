import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  oneForOne,
  type StopNotice,
} from "../../mod.ts";

const quiet = { error() {} };

const target = defineActor({
  name: "target",
  init: () => ({}),
  handlers: {
    crash: (): void => {
      throw new Error("target crashed");
    },
  },
});

const watcher = defineActor({
  name: "watcher",
  init: () => ({ notices: [] as StopNotice[] }),
  handlers: {
    watch: (_state, ref: ActorRef<object>, ctx) => ctx.watch(ref),
    unwatch: (_state, ref: ActorRef<object>, ctx) => ctx.unwatch(ref),
    notices: (state) =>
      state.notices.map((n) => [n.ref.path, n.fault?.kind ?? "clean"]),
  },
  terminated: (state, notice) => void state.notices.push(notice),
});

test("ActorContext.watch(): terminated runs when the watched actor stops, with the fault", async () => {
  await using system = new ActorSystem({
    logger: quiet,
    supervision: oneForOne({ decide: () => "stop" }),
  });
  const w = await system.spawn(watcher, undefined);
  const clean = await system.spawn(target, undefined, { id: "clean" });
  const failing = await system.spawn(target, undefined, { id: "failing" });
  await w.ask("watch", clean);
  await w.ask("watch", failing);
  await clean.stop();
  await assert.rejects(failing.ask("crash"));
  await system.whenStopped(failing);
  assert.deepEqual(await w.ask("notices"), [["clean", "clean"], [
    "failing",
    "thrown",
  ]]);
});

test("ActorContext.watch() of an actor already stopped delivers terminated at once", async () => {
  await using system = new ActorSystem();
  const w = await system.spawn(watcher, undefined);
  const gone = await system.spawn(target, undefined, { id: "gone" });
  await gone.stop();
  await w.ask("watch", gone);
  assert.deepEqual(await w.ask("notices"), [["gone", "clean"]]);
});

test("ActorContext.unwatch(): no terminated notice afterwards", async () => {
  await using system = new ActorSystem();
  const w = await system.spawn(watcher, undefined);
  const t = await system.spawn(target, undefined);
  await w.ask("watch", t);
  await w.ask("unwatch", t);
  await t.stop();
  assert.deepEqual(await w.ask("notices"), []);
});

test("ActorContext.watch() of itself is a TypeError; of an actor in another system it works", async () => {
  await using system = new ActorSystem({ logger: quiet });
  await using other = new ActorSystem();
  const w = await system.spawn(watcher, undefined);
  await assert.rejects(w.ask("watch", w), TypeError);
  await assert.rejects(w.ask("watch", { path: "fake" } as never), TypeError);
  const foreign = await other.spawn(target, undefined, { id: "foreign" });
  await w.ask("watch", foreign);
  await foreign.stop();
  assert.deepEqual(await w.ask("notices"), [["foreign", "clean"]]);
});

test("childStopped hook runs when a child stops, with its fault", async () => {
  const seen: Array<[string, string]> = [];
  const parent = defineActor({
    name: "parent",
    init: () => ({}),
    handlers: {
      spawnChild: async (_state, id: string, ctx) =>
        await ctx.spawn(target, undefined, { id }),
    },
    supervision: oneForOne({ decide: () => "stop" }),
    childStopped: (_state, notice) =>
      void seen.push([notice.ref.id, notice.fault?.kind ?? "clean"]),
  });
  await using system = new ActorSystem({ logger: quiet });
  const p = await system.spawn(parent, undefined, { id: "p" });
  const a = await p.ask("spawnChild", "a");
  const b = await p.ask("spawnChild", "b");
  await a.stop();
  await assert.rejects(b.ask("crash"));
  await system.whenStopped(b);
  await p.ask("spawnChild", "c"); // a message after the hooks, so they have run
  assert.deepEqual(seen, [["a", "clean"], ["b", "thrown"]]);
});

test("ActorSystem.whenStopped() resolves for stops and for actors already stopped", async () => {
  await using system = new ActorSystem();
  const t = await system.spawn(target, undefined);
  const waiting = system.whenStopped(t);
  await t.stop();
  assert.equal((await waiting).fault, undefined);
  assert.equal((await system.whenStopped(t)).ref, t);
});

test("Actor memory: a stopped actor is forgotten by its system and parent", async () => {
  const parent = defineActor({
    name: "parent",
    init: () => ({}),
    handlers: {
      spawnChild: async (_s, _: undefined, ctx) =>
        await ctx.spawn(target, undefined),
      count: (_s, _: undefined, ctx) => ctx.children().length,
    },
  });
  await using system = new ActorSystem();
  const p = await system.spawn(parent, undefined);
  for (let i = 0; i < 100; i++) await (await p.ask("spawnChild")).stop();
  assert.equal(await p.ask("count"), 0);
  assert.equal(system.size, 1);
});

test("ActorSystem.onStopped() calls every listener once with the stop notice, even when one throws, and at once for an actor already stopped", async () => {
  const errors: string[] = [];
  await using system = new ActorSystem({
    logger: { error: (message: string) => errors.push(message) },
    supervision: oneForOne({ decide: () => "stop" }),
  });
  const failing = await system.spawn(target, undefined, { id: "failing" });
  const seen: string[] = [];
  system.onStopped(failing, (n) => seen.push(`1:${n.fault?.kind}`));
  system.onStopped(failing, () => {
    throw new Error("listener failed");
  });
  system.onStopped(failing, (n) => seen.push(`3:${n.ref.path}`));
  await assert.rejects(failing.ask("crash"));
  await system.whenStopped(failing);
  assert.deepEqual(seen, ["1:thrown", "3:failing"]);
  assert.ok(errors.some((m) => m.includes("stop listener")), String(errors));
  const late = await new Promise<StopNotice>((resolve) =>
    system.onStopped(failing, resolve)
  );
  assert.equal(late.ref.path, "failing");
  const clean = await system.spawn(target, undefined, { id: "clean" });
  const notices: StopNotice[] = [];
  system.onStopped(clean, (n) => notices.push(n));
  await clean.stop();
  assert.equal(notices.length, 1);
  assert.equal(notices[0].fault, undefined);
  assert.equal(notices[0].ref, clean);
});
