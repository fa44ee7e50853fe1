// The server side of bench/http_bench.ts, runtime-neutral: a three-node loopback cluster in
// this process with the first node's HttpApi on a port (serveHttpApi: Deno.serve on Deno,
// node:http on Node), and bare servers of the same runtime as baselines (a fixed "ok", and
// fixed copies of /cluster/members' and /metrics' bytes and headers). Prints one JSON line with
// the ports, then serves until its stdin closes.
//
//   deno run -A bench/runtimes/http_server.mjs .     (the sources)
//   node bench/runtimes/http_server.mjs npm          (the npm build: deno task build:npm)
import http from "node:http";
import process from "node:process";

const root = (globalThis.Deno ? Deno.args : process.argv.slice(2))[0] ?? ".";
const ext = globalThis.Deno && root !== "npm" ? "ts" : "js";
const base = new URL(`${root}/`, `file://${process.cwd()}/`);
const load = (path) => import(new URL(`${path}.${ext}`, base).href);
const { ActorSystem, defineActor, generateClusterSecret, RemoteNode } =
  await load("mod");
const { Cluster, ClusterExtensions, StaticSeeds } = await load(
  "src/cluster/mod",
);
const { HttpApi, serveHttpApi } = await load("src/http/mod");

/** A bare server of this runtime answering `body` with `headers`, whatever the request. */
function bare(body, headers) {
  if (globalThis.Deno) {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response(body, { headers }),
    );
    return Promise.resolve({
      port: server.addr.port,
      close: () => server.shutdown(),
    });
  }
  return new Promise((resolve) => {
    const server = http.createServer((_req, res) => {
      res.writeHead(200, headers);
      res.end(body);
    });
    server.listen(0, "127.0.0.1", () =>
      resolve({
        port: server.address().port,
        close: () =>
          new Promise((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      }));
  });
}

const worker = defineActor({
  name: "worker",
  init: () => 0,
  handlers: { work: (n) => n + 1 },
});
const secret = generateClusterSecret();
const extensions = new ClusterExtensions();
const systems = ["b1", "b2", "b3"].map((node) => new ActorSystem({ node }));
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
// A realistic exposition: a few actors with traffic, so /metrics has samples.
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
const copy = async (path) => {
  const response = await api.fetch(new Request(`http://localhost${path}`));
  const headers = {};
  response.headers.forEach((value, name) => headers[name] = value);
  return bare(await response.text(), headers);
};
const servers = {
  ok: await bare("ok", {}),
  members: await copy("/cluster/members"),
  metrics: await copy("/metrics"),
};
const sizes = {};
for (const path of ["/cluster/members", "/metrics"]) {
  const response = await api.fetch(new Request(`http://localhost${path}`));
  sizes[path] = (await response.arrayBuffer()).byteLength;
}
console.log(JSON.stringify({
  runtime: globalThis.Deno
    ? `Deno ${Deno.version.deno}`
    : `Node ${process.versions.node}`,
  pid: process.pid,
  api: server.addr.port,
  ok: servers.ok.port,
  members: servers.members.port,
  metrics: servers.metrics.port,
  sizes,
}));

process.stdin.resume();
await new Promise((resolve) => process.stdin.on("end", resolve));
for (const s of Object.values(servers)) await s.close();
await server.close();
await api.close();
for (const cluster of clusters) await cluster.close();
for (const node of nodes) await node.close();
for (const system of systems) await system.shutdown();
process.exit(0);
