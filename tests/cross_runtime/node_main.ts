// A node of the three-runtime test (three_runtimes_test.ts), in its own process and in whichever
// runtime started it. Usage: node_main <cluster> <secret> <node name>. It prints
// `READY <address>` once it listens, serves the actors "echo" and "victim" and the factory "echo",
// and its "control" actor does, on the test's behalf, what this node does to the others: connect,
// ask, tell in order, spawn there, watch there, and report what it saw; "shutdown" ends the
// process cleanly.
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  RemoteNode,
  type StopNotice,
} from "../../mod.ts";
import { scriptArgs, testRuntime } from "../../src/platform/test_runtime.ts";
import { echo, type EchoProtocol, noticeLine } from "./support.ts";

const [cluster, secret, node] = scriptArgs();
if (node === undefined) {
  throw new TypeError("usage: node_main <cluster> <secret> <node name>");
}

const system = new ActorSystem({ node, logger: { error() {} } });
const remote = await RemoteNode.start(system, {
  cluster,
  secret,
  logger: { error() {} },
});
remote.register("echo", echo(testRuntime));

const notices: string[] = [];
const watcher = defineActor({
  name: "watcher",
  init: () => ({}),
  handlers: {
    watch: (_s, ref: ActorRef<object>, ctx) => ctx.watch(ref),
  },
  terminated: (_s, n: StopNotice) => void notices.push(noticeLine(n)),
});
const watching = await system.spawn(watcher, undefined, { id: "watcher" });

const control = defineActor({
  name: "control",
  init: () => ({}),
  handlers: {
    connect: (_s, address: string) => remote.connect(address),
    /** Asks `to`'s echo to echo `text` and name its runtime. */
    ask: async (_s, { to, text }: { to: string; text: string }) => {
      const ref = remote.ref<EchoProtocol>(to, "echo");
      return {
        text: await ref.ask("echo", text),
        runtime: await ref.ask("runtime"),
      };
    },
    /** Tells `to`'s echo 0…count-1, then asks what it received from this node, in order. */
    tell: async (_s, { to, count }: { to: string; count: number }) => {
      const ref = remote.ref<EchoProtocol>(to, "echo");
      for (let n = 0; n < count; n++) ref.tell("add", { from: node, n });
      return await ref.ask("seen", node, { timeoutMs: 30_000 });
    },
    /** Spawns an echo on `to` with `id`, and asks it its runtime. */
    spawn: async (_s, { to, id }: { to: string; id: string }) => {
      const made = await remote.spawn<EchoProtocol>(to, "echo", undefined, {
        id,
      });
      return await made.ask("runtime");
    },
    /** Watches the actor `id` of `to`; answers once the watch is set. */
    watch: async (_s, { to, id }: { to: string; id: string }) => {
      await watching.ask("watch", remote.ref<object>(to, id));
      return "watching";
    },
    notices: () => [...notices].sort(),
    shutdown: () => {
      // Answer first, then close everything so the process exits by itself.
      setTimeout(async () => {
        await remote.close();
        await system.shutdown();
      }, 10);
      return "bye";
    },
  },
});

await system.spawn(echo(testRuntime), undefined, { id: "echo" });
await system.spawn(echo(testRuntime), undefined, { id: "victim" });
await system.spawn(control, undefined, { id: "control" });
console.log(`READY ${remote.address}`);
