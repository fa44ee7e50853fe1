// Two processes talking: a child node (tests/remote/peer_main.ts) in the same runtime as the
// tests, and, when the tests run under Node, a Deno child, so the npm build and the Deno
// sources stay wire-compatible.
import assert from "node:assert/strict";
import { test } from "../../src/platform/test_harness.ts";
import { spawnTestProcess } from "../../src/platform/test_process.ts";
import {
  type ChildCommand,
  denoChild,
  sameRuntime,
  testRuntime,
} from "../../src/platform/test_runtime.ts";
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  RemoteNode,
  type StopNotice,
} from "../../mod.ts";

const CLUSTER = "multi";
const SECRET = "multi-process secret, test only";

interface PeerEcho {
  echo(text: string): string;
  add(n: number): void;
  count(): number;
  seen(): number[];
  runtime(): string;
}

async function waitForReady(
  output: () => string,
  exited: Promise<unknown>,
): Promise<string> {
  let gone = false;
  void exited.then(() => gone = true, () => gone = true);
  for (let i = 0; i < 600; i++) {
    const match = /READY (\S+)/.exec(output());
    if (match !== null) return match[1];
    if (gone) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the peer did not start:\n${output()}`);
}

const peers: Array<[string, ChildCommand | undefined]> = [
  [
    `a ${testRuntime} peer`,
    sameRuntime(new URL("./peer_main.ts", import.meta.url)),
  ],
  [
    "a Deno peer from Node (cross-runtime)",
    denoChild("tests/remote/peer_main.ts"),
  ],
];

for (const [label, command] of peers) {
  test({
    name:
      `RemoteNode across processes with ${label}: tells, asks, order, watch, spawn`,
    ignore: command === undefined,
    fn: async () => {
      const child = spawnTestProcess(command!.command, [
        ...command!.args,
        CLUSTER,
        SECRET,
        "peer",
      ]);
      const system = new ActorSystem({
        node: "parent",
        logger: { error() {} },
      });
      const remote = await RemoteNode.start(system, {
        cluster: CLUSTER,
        secret: SECRET,
        logger: { error() {} },
      });
      try {
        const address = await waitForReady(child.output, child.exited);
        assert.equal(await remote.connect(address), "peer");
        const echo = remote.ref<PeerEcho>("peer", "echo");
        assert.equal(await echo.ask("echo", "über 🎭"), "über 🎭");
        const expectedRuntime = label.includes("Deno peer")
          ? "deno"
          : testRuntime;
        assert.equal(await echo.ask("runtime"), expectedRuntime);
        const sent: number[] = [];
        for (let i = 0; i < 10_000; i++) {
          echo.tell("add", i);
          sent.push(i);
        }
        assert.deepEqual(
          await echo.ask("seen", undefined, { timeoutMs: 30_000 }),
          sent,
        );

        const notices: string[] = [];
        const watcher = defineActor({
          name: "watcher",
          init: () => ({}),
          handlers: {
            watch: (_s, ref: ActorRef<object>, ctx) => ctx.watch(ref),
          },
          terminated: (_s, n: StopNotice) => void notices.push(n.ref.path),
        });
        const w = await system.spawn(watcher, undefined);
        const victim = remote.ref<PeerEcho>("peer", "victim");
        await w.ask("watch", victim);
        const victimStopped = system.whenStopped(victim);
        await victim.stop();
        await victimStopped;

        const made = await remote.spawn<PeerEcho>("peer", "echo", undefined, {
          id: "made",
        });
        assert.equal(await made.ask("echo", "spawned"), "spawned");

        const control = remote.ref<{ shutdown(): string }>("peer", "control");
        assert.equal(await control.ask("shutdown"), "bye");
        const exit = await child.exited;
        assert.equal(exit.code, 0, child.output());
        assert.deepEqual(notices, ["victim"]);
      } finally {
        child.kill("SIGKILL");
        await child.exited.catch(() => {});
        await remote.close();
        await system.shutdown();
      }
    },
  });
}
