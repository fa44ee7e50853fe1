// A cluster member that runs its part of a cluster singleton, in its own process, for the
// real-process singleton test. It takes member_main.ts's flags (see tests/cluster/support.ts):
//
//   singleton_main <node> --seeds host:port,... [--hostname h] [--port p] [--cluster c]
//     [--secret s] [--stable-after-ms n] [--redis-url url --lease-prefix prefix]
//
// It joins through the static seeds and starts the singleton "counter" (fenced by a RedisLease
// under --lease-prefix when --redis-url is given, unfenced otherwise). It prints member_main's
// ready and joined lines, one "event" line per membership event, and an "instance" line each
// time the instance starts or stops here. Its actor "control" answers `where`: the node and
// fencing token of the instance, asked through this node's proxy.
import { ActorSystem, defineActor, RemoteNode } from "../../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  ClusterSingleton,
  type Lease,
  type SingletonFence,
  StaticSeeds,
} from "../../src/cluster/mod.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";

const argv = scriptArgs();
const node = argv[0];
const flags = new Map<string, string>();
for (let i = 1; i < argv.length; i += 2) flags.set(argv[i], argv[i + 1]);
if (node === undefined || node.startsWith("--") || !flags.has("--seeds")) {
  throw new TypeError("usage: singleton_main <node> --seeds host:port,... ...");
}

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...line, node, at: Date.now() }));
}

const logger = {
  error: (message: string, error: unknown) =>
    print({
      type: "log",
      message: error === undefined ? message : `${message}: ${error}`,
    }),
};

const counter = defineActor({
  name: "counter",
  init: (fence: SingletonFence) => ({ n: 0, fence }),
  started: (s) =>
    print({ type: "instance", event: "start", token: s.fence.token ?? null }),
  stopped: (s) =>
    print({ type: "instance", event: "stop", token: s.fence.token ?? null }),
  handlers: {
    where: (s) => ({ node: s.fence.node, token: s.fence.token ?? null }),
  },
});

const system = new ActorSystem({ node, logger: { error() {} } });
const extensions = new ClusterExtensions();
const remote = await RemoteNode.start(system, {
  cluster: flags.get("--cluster") ?? "membership-processes",
  secret: flags.get("--secret") ??
    "membership multi-process secret, tests only",
  hostname: flags.get("--hostname") ?? "127.0.0.1",
  port: Number(flags.get("--port") ?? 0),
  extensions: extensions.remote,
  logger: { error() {} },
});
print({ type: "ready", address: remote.address });

let lease: Lease | undefined;
const redisUrl = flags.get("--redis-url");
if (redisUrl !== undefined) {
  const { RedisLease } = await import("../../src/cluster/redis/mod.ts");
  lease = await RedisLease.connect("singleton:counter", {
    url: redisUrl,
    keyPrefix: flags.get("--lease-prefix"),
  });
}

const stableAfter = flags.get("--stable-after-ms");
const cluster = await Cluster.join(remote, {
  extensions,
  discovery: new StaticSeeds(
    flags.get("--seeds")!.split(",").filter((s) => s !== ""),
  ),
  downing: stableAfter === undefined
    ? undefined
    : { stableAfterMs: Number(stableAfter) },
  logger,
});
const singleton = await ClusterSingleton.start(cluster, {
  name: "counter",
  definition: counter,
  argsFor: (fence) => fence,
  lease,
  leaseTtlMs: 3000,
  retryIntervalMs: 200,
  logger,
});

const control = defineActor({
  name: "control",
  init: () => ({}),
  handlers: {
    where: () => singleton.ref.ask("where", undefined, { timeoutMs: 2000 }),
  },
});
await system.spawn(control, undefined, { id: "control" });
print({ type: "joined", members: [] });
for await (const event of cluster.events()) {
  print({
    type: "event",
    event: event.type,
    ...("member" in event
      ? { member: event.member.node, status: event.member.status }
      : {}),
  });
}
