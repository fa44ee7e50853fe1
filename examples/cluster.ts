// Cluster membership in one process: three nodes on loopback form a cluster from static seeds,
// agree on a leader, follow the membership events, and one of them leaves gracefully.
// Run: deno task example:cluster
import { ActorSystem, generateClusterSecret, RemoteNode } from "../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  type MemberEvent,
  StaticSeeds,
} from "../src/cluster/mod.ts";

const names = ["n1", "n2", "n3"];
const secret = generateClusterSecret();
// One ClusterExtensions object gives the nodes the message kinds membership needs; it must be
// passed to RemoteNode.start (before the node runs) and to Cluster.join.
const extensions = new ClusterExtensions();

const systems = names.map((node) => new ActorSystem({ node }));
const nodes = await Promise.all(
  systems.map((system) =>
    RemoteNode.start(system, {
      cluster: "example",
      secret,
      hostname: "127.0.0.1",
      port: 0,
      extensions: extensions.remote,
    })
  ),
);
// Every node gets the same seeds, in the same order: only the first may form a new cluster.
const seeds = new StaticSeeds(nodes.map((node) => node.address));
const clusters = await Promise.all(
  nodes.map((node) => Cluster.join(node, { extensions, discovery: seeds })),
);
console.log(`1. joined: ${names.join(", ")}`);

function describe(event: MemberEvent): string {
  switch (event.type) {
    case "leader-changed":
      return `leader is now ${event.leader?.node ?? "nobody"}`;
    case "self-downed":
      return `this node was downed: ${event.reason}`;
    default:
      return `${event.member.node} ${event.type}`;
  }
}

// Follow n1's view of the cluster until n3 is removed.
const watching = (async () => {
  for await (const event of clusters[0].events()) {
    console.log(`   n1 sees: ${describe(event)}`);
    if (event.type === "removed" && event.member.node === "n3") return;
  }
})();

const deadline = Date.now() + 20_000;
while (
  !clusters.every((c) =>
    c.converged() && c.members().filter((m) => m.status === "up").length === 3
  )
) {
  if (Date.now() > deadline) throw new Error("the cluster did not converge");
  await new Promise((resolve) => setTimeout(resolve, 100));
}
const view = clusters[0].members().map((m) => `${m.node}:${m.status}`);
console.log(
  `2. members: ${view.join(" ")}; leader ${clusters[0].leader()?.node}`,
);

await clusters[2].leave(); // resolves once its leaving is complete
console.log("3. n3 left gracefully");
await watching;

for (const cluster of clusters) await cluster.close();
for (const node of nodes) await node.close();
for (const system of systems) await system.shutdown();
console.log("4. closed every node");
