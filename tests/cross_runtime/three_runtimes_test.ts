// Deno, Node and Bun in one test: the test's own runtime is one node, the other two run
// node_main.ts (cross-runtime remoting) or tests/cluster/member_main.ts (one cluster) in child
// processes. Runs in the Node and Bun passes of `deno task test`, which can start the other two
// runtimes (Deno on the sources, Node and Bun on the npm build); the Deno pass has no compiled
// JavaScript for Node and Bun children and skips it, saying so.
import assert from "node:assert/strict";
import { test } from "../../src/platform/test_harness.ts";
import {
  type ChildCommand,
  runtimeChild,
  type TestRuntime,
  testRuntime,
} from "../../src/platform/test_runtime.ts";
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  isAskTimeoutError,
  isNodeUnreachableError,
  RemoteNode,
  type StopNotice,
} from "../../mod.ts";
import {
  CLUSTER,
  type ControlProtocol,
  echo,
  type EchoProtocol,
  type NodeProcess,
  noticeLine,
  ON_CI,
  SECRET,
  startNode,
} from "./support.ts";
import {
  Controller,
  type ControlView,
  dump,
  freePort,
  killAndWitness,
  MemberProcess,
  stopAll,
  waitReady,
  waitUntil,
} from "../cluster/support.ts";

const RUNTIMES: readonly TestRuntime[] = ["deno", "node", "bun"];
const OTHERS = RUNTIMES.filter((r) => r !== testRuntime);

/** The commands of the other two runtimes running `repoPath`, and why the test skips, if it does. */
function others(
  repoPath: string,
): { commands: Array<[TestRuntime, ChildCommand]>; skip: string | undefined } {
  const commands: Array<[TestRuntime, ChildCommand]> = [];
  const missing: TestRuntime[] = [];
  for (const runtime of OTHERS) {
    const command = runtimeChild(runtime, repoPath);
    if (command === undefined) missing.push(runtime);
    else commands.push([runtime, command]);
  }
  if (missing.length === 0) return { commands, skip: undefined };
  const why = testRuntime === "deno"
    ? "the Deno pass has no npm build for Node and Bun children (the Node and Bun passes run it)"
    : `no ${
      missing.join(" or ")
    } binary (scripts/test.ts sets TROUPE_DENO_BIN, TROUPE_NODE_BIN, TROUPE_BUN_BIN)`;
  // On CI a Node or Bun pass must be able to start the others.
  if (ON_CI && testRuntime !== "deno") {
    throw new Error(`Cannot run the three-runtime tests: ${why}`);
  }
  return { commands, skip: why };
}

const nodeMain = others("tests/cross_runtime/node_main.ts");

test({
  name:
    "RemoteNode across Deno, Node and Bun: asks and ordered tells between every pair, remote spawn, watch, SIGKILL",
  ignore: nodeMain.skip ?? false,
  fn: async () => {
    const host = testRuntime;
    const system = new ActorSystem({ node: host, logger: { error() {} } });
    const remote = await RemoteNode.start(system, {
      cluster: CLUSTER,
      secret: SECRET,
      logger: { error() {} },
    });
    const hostNotices: string[] = [];
    const nodes: NodeProcess[] = [];
    try {
      remote.register("echo", echo(host));
      await system.spawn(echo(host), undefined, { id: "echo" });
      const hostVictim = await system.spawn(echo(host), undefined, {
        id: "victim",
      });
      const watcher = await system.spawn(
        defineActor({
          name: "watcher",
          init: () => ({}),
          handlers: {
            watch: (_s, ref: ActorRef<object>, ctx) => ctx.watch(ref),
          },
          terminated: (_s, n: StopNotice) =>
            void hostNotices.push(noticeLine(n)),
        }),
        undefined,
      );
      nodes.push(
        ...await Promise.all(
          nodeMain.commands.map(([runtime, command]) =>
            startNode(runtime, command, runtime)
          ),
        ),
      );
      const [a, b] = nodes;
      const control = (n: NodeProcess) =>
        remote.ref<ControlProtocol>(n.node, "control");

      // Every node connects to every other one (both ways).
      assert.equal(await remote.connect(a.address), a.node);
      assert.equal(await remote.connect(b.address), b.node);
      assert.equal(await control(a).ask("connect", b.address), b.node);
      assert.equal(await control(b).ask("connect", a.address), a.node);
      assert.equal(await control(a).ask("connect", remote.address), host);
      assert.equal(await control(b).ask("connect", remote.address), host);

      const names = [host, a.node, b.node];
      const pairs = names.flatMap((from) =>
        names.filter((to) => to !== from).map((to) => [from, to] as const)
      );
      const child = (name: string) => nodes.find((n) => n.node === name)!;

      // Asks from every node to every other; each answer names the runtime that made it.
      const text = "über 🎭 across runtimes";
      for (const [from, to] of pairs) {
        const answer = from === host
          ? {
            text: await remote.ref<EchoProtocol>(to, "echo").ask("echo", text),
            runtime: await remote.ref<EchoProtocol>(to, "echo").ask("runtime"),
          }
          : await control(child(from)).ask("ask", { to, text });
        assert.deepEqual(answer, { text, runtime: to }, `${from} -> ${to}`);
      }

      // Tells from every node to every other at once; each receiver got each sender's in order.
      const count = 2_000;
      const expected = Array.from({ length: count }, (_, n) => n);
      await Promise.all(pairs.map(async ([from, to]) => {
        let seen: number[];
        if (from === host) {
          const ref = remote.ref<EchoProtocol>(to, "echo");
          for (let n = 0; n < count; n++) ref.tell("add", { from, n });
          seen = await ref.ask("seen", from, { timeoutMs: 30_000 });
        } else {
          seen = await control(child(from)).ask("tell", { to, count }, {
            timeoutMs: 60_000,
          });
        }
        assert.deepEqual(seen, expected, `${from} -> ${to}`);
      }));

      // Remote spawn from every node on every other, from the factory registered there.
      for (const [from, to] of pairs) {
        const id = `made-by-${from}`;
        const runtime = from === host
          ? await (await remote.spawn<EchoProtocol>(to, "echo", undefined, {
            id,
          })).ask("runtime")
          : await control(child(from)).ask("spawn", { to, id });
        assert.equal(runtime, to, `${from} spawned on ${to}`);
      }

      // Every node watches every other node's victim.
      for (const [from, to] of pairs) {
        if (from === host) {
          await watcher.ask("watch", remote.ref<object>(to, "victim"));
        } else {
          await control(child(from)).ask("watch", { to, id: "victim" });
        }
      }
      // Clean stops: the host's victim, then a's (stopped from the host); everyone else is told.
      await hostVictim.stop();
      await remote.ref<EchoProtocol>(a.node, "victim").stop();
      const seenBy = async (n: NodeProcess) => await control(n).ask("notices");
      await waitUntil(
        async () =>
          hostNotices.length === 1 && (await seenBy(a)).length === 1 &&
          (await seenBy(b)).length === 2,
        () => `notices of the clean stops: ${hostNotices}`,
        10_000,
      );
      assert.deepEqual(hostNotices, [`${a.node}/victim clean`]);
      assert.deepEqual(await seenBy(a), [`${host}/victim clean`]);
      assert.deepEqual(
        await seenBy(b),
        [
          `${a.node}/victim clean`,
          `${host}/victim clean`,
        ].sort(),
      );

      // SIGKILL b: the host's and a's watches of its victim fire with a fault.
      b.child.kill("SIGKILL");
      assert.equal((await b.child.exited).signal, "SIGKILL");
      await waitUntil(
        async () => hostNotices.length === 2 && (await seenBy(a)).length === 2,
        () => `notices of ${b.node}'s SIGKILL: ${hostNotices}`,
        15_000,
      );
      assert.deepEqual(
        [...hostNotices].sort(),
        [`${a.node}/victim clean`, `${b.node}/victim fault`].sort(),
      );
      assert.deepEqual(
        await seenBy(a),
        [`${b.node}/victim fault`, `${host}/victim clean`].sort(),
      );
      await assert.rejects(
        remote.ref<EchoProtocol>(b.node, "echo").ask("runtime", undefined, {
          timeoutMs: 5_000,
        }),
        // Unreachable once the loss is noticed; a timeout if the ask waited for a reconnect.
        (error) => isNodeUnreachableError(error) || isAskTimeoutError(error),
      );

      // a ends cleanly.
      assert.equal(await control(a).ask("shutdown"), "bye");
      const exit = await a.child.exited;
      assert.equal(exit.code, 0, a.child.output());
    } finally {
      await Promise.all(nodes.map((n) => n[Symbol.asyncDispose]()));
      await remote.close();
      await system.shutdown();
    }
  },
});

const memberMain = others("tests/cluster/member_main.ts");

test({
  name:
    "Cluster.join with StaticSeeds across Deno, Node and Bun: one cluster, a SIGKILLed member removed",
  ignore: memberMain.skip ?? false,
  fn: async () => {
    // The host's runtime joins through its own member process too: three members, one each.
    const commands: Array<[TestRuntime, ChildCommand | undefined]> = [
      [testRuntime, undefined],
      ...memberMain.commands,
    ];
    const ports = await Promise.all(commands.map(() => freePort()));
    // The seeds in the order the processes start, not by name: the first seed forms the
    // cluster whatever its name (a first seed that was not first by name once stalled it).
    const seeds = ports.map((port) => `127.0.0.1:${port}`);
    const members = commands.map(([runtime, command], i) =>
      MemberProcess.start({
        node: runtime,
        port: ports[i],
        seeds,
        stableAfterMs: 1_000,
        command,
      })
    );
    await using controller = await Controller.start();
    try {
      await waitReady(members);
      const controls = await Promise.all(
        members.map((m) => controller.control(m.address()!)),
      );
      const names = members.map((m) => m.node);
      let last: ControlView[] = [];
      await waitUntil(
        async () => {
          last = await Promise.all(controls.map((c) => c.ask("view")));
          return last.every((v) =>
            v.converged && v.status === "up" && v.leader !== null &&
            v.leader === last[0].leader &&
            JSON.stringify(
                v.members.map((m) => `${m.node}:${m.status}`).sort(),
              ) ===
              JSON.stringify(names.map((n) => `${n}:up`).sort())
          );
        },
        () => `3 up with one leader: ${JSON.stringify(last)}\n${dump(members)}`,
        45_000,
      );
      // SIGKILL a member that does not lead: the two others find it unreachable, down it
      // (keep-majority: two of three) and remove it.
      const leader = last[0].leader!;
      const victim = names.findIndex((n) => n !== leader);
      await killAndWitness(members, [0, 1, 2], victim);
    } finally {
      await stopAll(members);
    }
  },
});
