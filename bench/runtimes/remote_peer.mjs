import net from "node:net";
import process from "node:process";
const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const { ActorSystem, defineActor, RemoteNode } = await import(
  new URL(args[0], `file://${process.cwd()}/`).href
);
const sink = defineActor({
  name: "sink",
  init: () => ({ count: 0 }),
  handlers: {
    hit: (s, _n) => {
      s.count++;
    },
    count: (s) => s.count,
    echo: (_s, n) => n,
  },
});
const system = new ActorSystem({ node: "sink-node", askTimeoutMs: 60_000 });
await system.spawn(sink, undefined, { id: "sink" });
const remote = await RemoteNode.start(system, {
  cluster: "bench",
  secret: "bench secret, not real",
});
const server = net.createServer((s) => {
  s.setNoDelay(true);
  s.on("data", (d) => s.write(d));
  s.on("error", () => {});
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
console.log(`READY ${remote.address} 127.0.0.1:${server.address().port}`);
