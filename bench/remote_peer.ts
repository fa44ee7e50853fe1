// The far side of bench/remote_bench.ts, in its own process: a node with a "sink" actor (counts
// tells, answers asks) and, for the baseline, a raw TCP echo server. Prints
// `READY <node address> <echo address>`, then runs until killed.
import { ActorSystem, defineActor, RemoteNode } from "../mod.ts";

const sink = defineActor({
  name: "sink",
  init: () => ({ count: 0 }),
  handlers: {
    hit: (s, _n: number) => {
      s.count++;
    },
    count: (s) => s.count,
    echo: (_s, n: number) => n,
  },
});

const system = new ActorSystem({ node: "sink-node", askTimeoutMs: 60_000 });
await system.spawn(sink, undefined, { id: "sink" });
const remote = await RemoteNode.start(system, {
  cluster: "bench",
  secret: "bench secret, not real",
});

// Raw baseline: echo every byte back as it arrives.
const echo = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const conn of echo) {
    conn.setNoDelay(true);
    (async () => {
      const buffer = new Uint8Array(64 * 1024);
      while (true) {
        const n = await conn.read(buffer);
        if (n === null) break;
        let written = 0;
        while (written < n) {
          written += await conn.write(buffer.subarray(written, n));
        }
      }
      conn.close();
    })().catch(() => {});
  }
})();
console.log(
  `READY ${remote.address} ${(echo.addr as Deno.NetAddr).hostname}:${
    (echo.addr as Deno.NetAddr).port
  }`,
);
