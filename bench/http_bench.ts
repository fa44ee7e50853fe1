// Requests per second of the HTTP API's /metrics and /cluster/members (three loopback nodes in
// this process, the API of the first one served through serveHttpApi) against a bare
// `Deno.serve` answering a fixed string, measured in the same run with `wrk` (Debian's wrk
// 4.1: `apt-get install -y wrk`). Rounds interleave the three targets so the machine's ups and
// downs hit them alike; prints each target's median and range over the rounds, and the
// median's ratio to the bare server. A second baseline answers /cluster/members' own bytes
// from a bare server, to separate the payload's cost from the handler's.
//
//   deno run -A bench/http_bench.ts [--rounds 5] [--seconds 3] [--connections 16]
import {
  ActorSystem,
  defineActor,
  generateClusterSecret,
  RemoteNode,
} from "../mod.ts";
import { Cluster, ClusterExtensions, StaticSeeds } from "../src/cluster/mod.ts";
import { HttpApi, serveHttpApi } from "../src/http/mod.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const ROUNDS = flag("rounds", 5);
const SECONDS = flag("seconds", 3);
const CONNECTIONS = flag("connections", 16);

async function wrk(url: string): Promise<number> {
  const output = await new Deno.Command("wrk", {
    args: ["-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(output.stdout);
  const match = /Requests\/sec:\s+([0-9.]+)/.exec(text);
  if (!output.success || match === null) {
    throw new Error(
      `wrk failed: ${text}${new TextDecoder().decode(output.stderr)}`,
    );
  }
  if (/Non-2xx/.test(text)) throw new Error(`wrk saw errors: ${text}`);
  return Number(match[1]);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

const worker = defineActor({
  name: "worker",
  init: () => 0,
  handlers: { work: (n: number) => n + 1 },
});

const names = ["b1", "b2", "b3"];
const secret = generateClusterSecret();
const extensions = new ClusterExtensions();
const systems = names.map((node) => new ActorSystem({ node }));
const nodes = await Promise.all(
  systems.map((system) =>
    RemoteNode.start(system, {
      cluster: "http-bench",
      secret,
      hostname: "127.0.0.1",
      port: 0,
      extensions: extensions.remote,
    })
  ),
);
const seeds = new StaticSeeds(nodes.map((node) => node.address));
const clusters = await Promise.all(
  nodes.map((node) => Cluster.join(node, { extensions, discovery: seeds })),
);
while (!clusters.every((c) => c.converged() && c.members().length === 3)) {
  await new Promise((resolve) => setTimeout(resolve, 50));
}
// A realistic exposition: a few actor types with traffic, so /metrics has samples.
for (let i = 0; i < 20; i++) {
  const ref = await systems[0].spawn(worker, undefined, { id: `w${i}` });
  ref.tell("work");
}
const api = new HttpApi({
  system: systems[0],
  node: nodes[0],
  cluster: clusters[0],
});
const server = await serveHttpApi(api);
const bare = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("ok"),
);
// A second baseline: a bare server answering /cluster/members' bytes and headers, fixed, to
// tell the cost of the payload from the cost of the handler.
const membersBody = await (await api.fetch(
  new Request("http://localhost/cluster/members"),
)).text();
const bareSame = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () =>
    new Response(membersBody, {
      headers: {
        "content-type": "application/json",
        "cache-control": "no-store",
      },
    }),
);

const targets: Record<string, string> = {
  "bare Deno.serve": `http://127.0.0.1:${bare.addr.port}/`,
  "bare, same bytes": `http://127.0.0.1:${bareSame.addr.port}/`,
  "/metrics": `http://127.0.0.1:${server.addr.port}/metrics`,
  "/cluster/members": `http://127.0.0.1:${server.addr.port}/cluster/members`,
};
const metricsBytes = (await (await fetch(targets["/metrics"])).text()).length;
console.log(
  `wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds; /metrics is ${metricsBytes} bytes`,
);
const results: Record<string, number[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, url] of Object.entries(targets)) {
    (results[name] ??= []).push(await wrk(url));
  }
}
const baseline = median(results["bare Deno.serve"]);
for (const [name, values] of Object.entries(results)) {
  const m = median(values);
  console.log(
    `${name.padEnd(18)} median ${m.toFixed(0).padStart(7)} req/s  range ${
      Math.min(...values).toFixed(0)
    }–${Math.max(...values).toFixed(0)}  ${
      (100 * m / baseline).toFixed(0)
    }% of bare`,
  );
}

await bare.shutdown();
await bareSame.shutdown();
await api.close();
await server.close();
for (const cluster of clusters) await cluster.close();
for (const node of nodes) await node.close();
for (const system of systems) await system.shutdown();
