// A node in its own process, for the multi-process and cross-runtime tests (and the remote
// bench). Usage: peer_main <cluster> <secret> <node name>. It prints `READY <address>` once it
// listens, serves actors "echo" and "victim" and the factory "echo", and exits when its
// "control" actor is told "shutdown".
import { ActorSystem, defineActor, RemoteNode } from "../../mod.ts";
import { scriptArgs, testRuntime } from "../../src/platform/test_runtime.ts";

const [cluster = "test", secret = "peer secret for tests", node = "peer"] =
  scriptArgs();

const echo = defineActor({
  name: "echo",
  init: () => ({ seen: [] as number[], count: 0 }),
  handlers: {
    echo: (_s, text: string) => text,
    add: (s, n: number) => {
      s.seen.push(n);
      s.count++;
    },
    count: (s) => s.count,
    seen: (s) => s.seen,
    runtime: () => testRuntime,
  },
});

const system = new ActorSystem({ node, logger: { error() {} } });
const remote = await RemoteNode.start(system, {
  cluster,
  secret,
  logger: { error() {} },
});
remote.register("echo", echo);

const control = defineActor({
  name: "control",
  init: () => ({}),
  handlers: {
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

await system.spawn(echo, undefined, { id: "echo" });
await system.spawn(echo, undefined, { id: "victim" });
await system.spawn(control, undefined, { id: "control" });
console.log(`READY ${remote.address}`);
