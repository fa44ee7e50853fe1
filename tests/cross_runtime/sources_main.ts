// A node made from the package's sources as a JSR user gets them (mod.ts and src/, not the npm
// build), for jsr_sources_test.ts: Bun runs this file as it is, Node runs tsc's 1:1 JavaScript of
// it. Only the public entry point and the platform layer are loaded, so the platform is the one
// chosen at run time. Usage: sources_main <cluster> <secret> <node name> <parent address>.
// It connects to the parent, asks the parent's "echo" actor its runtime and prints
// `ASKED <answer>`, then prints `READY <address>`; its own "echo" names this runtime, and
// "control" is told "shutdown" to end the process cleanly.
import process from "node:process";
import { ActorSystem, defineActor, RemoteNode } from "../../mod.ts";
import { platform } from "../../src/platform/mod.ts";

const [cluster, secret, node, parent] = process.argv.slice(2);
if (parent === undefined) {
  throw new TypeError(
    "usage: sources_main <cluster> <secret> <node name> <parent address>",
  );
}

const system = new ActorSystem({ node, logger: { error() {} } });
const remote = await RemoteNode.start(system, {
  cluster,
  secret,
  logger: { error() {} },
});
const echo = defineActor({
  name: "echo",
  init: () => ({}),
  handlers: {
    echo: (_s, text: string) => text,
    runtime: () => platform.runtime,
  },
});
const control = defineActor({
  name: "control",
  init: () => ({}),
  handlers: {
    shutdown: () => {
      setTimeout(async () => {
        await remote.close();
        await system.shutdown();
      }, 10);
      return "bye";
    },
  },
});
await system.spawn(echo, undefined, { id: "echo" });
await system.spawn(control, undefined, { id: "control" });

const parentNode = await remote.connect(parent);
const answer = await remote.ref<{ runtime(): string }>(parentNode, "echo").ask(
  "runtime",
);
console.log(`ASKED ${answer}`);
console.log(`READY ${remote.address}`);
