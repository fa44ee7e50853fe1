// A cluster member with pub/sub in its own process, for the real-process pub/sub test. Usage:
//
//   pubsub_main <node> --seeds host:port,... [--hostname 127.0.0.1] [--port 0] [--cluster name]
//     [--secret s]
//
// It starts an ActorSystem and a RemoteNode (TCP, with the cluster's and pub/sub's extensions),
// prints a ready line with its address, joins, starts pub/sub (gossip every 200 ms), and
// subscribes its actor "subscriber" to the topic "chat". Its actor "control" obeys: routes (the
// nodes this one sends "chat" to), publish (n messages on "chat"), received (what the
// subscriber got, per publisher, and whether each publisher's were in order), metrics, exit.
import { ActorSystem, defineActor, RemoteNode } from "../../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  defineTopic,
  type Publication,
  PubSub,
  PubSubExtensions,
  StaticSeeds,
} from "../../src/cluster/mod.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";

const argv = scriptArgs();
const node = argv[0];
const flags = new Map<string, string>();
for (let i = 1; i < argv.length; i += 2) flags.set(argv[i], argv[i + 1]);
if (node === undefined || node.startsWith("--") || !flags.has("--seeds")) {
  throw new TypeError("usage: pubsub_main <node> --seeds host:port,...");
}

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...line, node, at: Date.now() }));
}

interface Chat {
  readonly from: string;
  readonly seq: number;
}
const chat = defineTopic<Chat>("chat");

/** Per publisher: how many arrived, and whether each came right after the one before. */
const received = new Map<string, { count: number; inOrder: boolean }>();
const subscriber = defineActor({
  name: "subscriber",
  init: () => ({}),
  handlers: {
    publication: (_s, p: Publication<Chat>) => {
      const seen = received.get(p.message.from) ??
        { count: 0, inOrder: true };
      if (p.message.seq !== seen.count) seen.inOrder = false;
      seen.count++;
      received.set(p.message.from, seen);
    },
  },
});

const system = new ActorSystem({ node, logger: { error() {} } });
const clusterExtensions = new ClusterExtensions();
const pubsubExtensions = new PubSubExtensions();
const remote = await RemoteNode.start(system, {
  cluster: flags.get("--cluster") ?? "membership-processes",
  secret: flags.get("--secret") ??
    "membership multi-process secret, tests only",
  hostname: flags.get("--hostname") ?? "127.0.0.1",
  port: Number(flags.get("--port") ?? 0),
  extensions: [...clusterExtensions.remote, ...pubsubExtensions.remote],
  logger: { error() {} },
});
print({ type: "ready", address: remote.address });

/** Set once joined (the control actor answers before). */
const member: { pubsub?: PubSub; cluster?: Cluster } = {};
let sent = 0;

const control = defineActor({
  name: "control",
  init: () => ({}),
  handlers: {
    routes: () => member.pubsub?.nodesFor(chat).sort() ?? [],
    publish: (_s, n: number) => {
      for (let i = 0; i < n; i++) {
        member.pubsub!.publish(chat, { from: node, seq: sent++ });
      }
      return sent;
    },
    received: () => Object.fromEntries(received),
    metrics: () => member.pubsub?.metrics(chat) ?? null,
    exit: () => {
      setTimeout(async () => {
        await member.pubsub?.close();
        await member.cluster?.close();
        await remote.close();
        await system.shutdown();
      }, 10);
      return "bye";
    },
  },
});
await system.spawn(control, undefined, { id: "control" });

const logger = {
  error: (message: string, error: unknown) =>
    print({ type: "log", message: `${message}: ${error}` }),
};
const cluster = member.cluster = await Cluster.join(remote, {
  extensions: clusterExtensions,
  discovery: new StaticSeeds(flags.get("--seeds")!.split(",")),
  logger,
});
const pubsub = member.pubsub = await PubSub.start(remote, cluster, {
  extensions: pubsubExtensions,
  gossipIntervalMs: 200,
  logger,
});
pubsub.subscribe(
  chat,
  await system.spawn(subscriber, undefined, { id: "subscriber" }),
);
print({ type: "joined" });
