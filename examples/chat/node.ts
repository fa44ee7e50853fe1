// One chat node, in its own process (examples/chat/main.ts starts three). Usage:
//
//   node.ts <name> --secret s --token t [--http-port 0]
//     (--seeds host:port,... | --seeds self | --redis-url url --key-prefix p)
//
// With --redis-url the node keeps its journal (chat streams, the sharding coordinator) in Redis
// and joins through the Redis membership table under the key prefix (the first node of an empty
// table forms the cluster; start the others once it is up), fences the streams' coordinator
// with a RedisLease and decides partitions in the table. Without it, journals are in this
// process's memory and the node joins through static seeds (`self`: form a new cluster).
//
// It serves the chat page, the chat's endpoints and the node's HttpApi (dashboard at
// /dashboard) on one HTTP port, prints `CHAT-READY {json}` once it is up, and stops gracefully
// on SIGTERM or SIGINT (its shards are handed off, it leaves the cluster), then exits.
import process from "node:process";
import {
  ActorSystem,
  MemoryPersistence,
  type PersistenceProvider,
  RemoteNode,
  usePersistence,
} from "../../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  defineTopic,
  type Discovery,
  type DowningOptions,
  keepMajority,
  type Lease,
  type MembershipTable,
  PubSub,
  PubSubExtensions,
  Sharding,
  ShardingExtensions,
  StaticSeeds,
  syncWithTable,
  TableDiscovery,
  tableDowning,
  type TableMembership,
} from "../../src/cluster/mod.ts";
import { HttpApi, type ShardingStatsProvider } from "../../src/http/mod.ts";
import { platform } from "../../src/platform/mod.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";
import { defineStream } from "./actors.ts";
import { ChatHttp } from "./chat_http.ts";
import type { ChatMessage } from "./protocol.ts";

const argv = scriptArgs();
const name = argv[0];
const flags = new Map<string, string>();
for (let i = 1; i < argv.length; i += 2) flags.set(argv[i], argv[i + 1]);
const secret = flags.get("--secret");
const token = flags.get("--token");
const redisUrl = flags.get("--redis-url");
const keyPrefix = flags.get("--key-prefix") ?? "troupe-chat:";
if (
  name === undefined || name.startsWith("--") || secret === undefined ||
  token === undefined || (redisUrl === undefined) === !flags.has("--seeds")
) {
  console.error(
    "usage: node.ts <name> --secret s --token t [--http-port 0] (--seeds host:port,...|self | --redis-url url --key-prefix p)",
  );
  process.exit(2);
}

const logger = {
  error: (message: string, error: unknown) =>
    console.error(
      `${message}${error === undefined ? "" : `: ${describe(error)}`}`,
    ),
};
function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

// Redis (journal, membership table, coordinator lease) or memory; node-redis loads only then.
let provider: PersistenceProvider;
let table: MembershipTable | undefined;
let lease: Lease | undefined;
if (redisUrl !== undefined) {
  const { RedisPersistence } = await import(
    "../../src/persistence/redis/mod.ts"
  );
  const { RedisLease, RedisMembershipTable } = await import(
    "../../src/cluster/redis/mod.ts"
  );
  provider = await RedisPersistence.connect({
    url: redisUrl,
    keyPrefix,
    durability: "ignore", // the launcher says what a restart of Redis keeps
  });
  table = await RedisMembershipTable.connect({ url: redisUrl, keyPrefix });
  lease = await RedisLease.connect("chat:stream", { url: redisUrl, keyPrefix });
} else {
  provider = new MemoryPersistence();
}

const system = new ActorSystem({ node: name, logger });
usePersistence(system, provider);
const clusterExtensions = new ClusterExtensions();
const pubsubExtensions = new PubSubExtensions();
const shardingExtensions = new ShardingExtensions();
const remote = await RemoteNode.start(system, {
  cluster: "chat",
  secret,
  hostname: "127.0.0.1",
  port: 0,
  extensions: [
    ...clusterExtensions.remote,
    ...pubsubExtensions.remote,
    ...shardingExtensions.remote,
  ],
  logger,
});
const seeds = (flags.get("--seeds") ?? "").split(",").filter((s) => s !== "");
const discovery: Discovery = table !== undefined
  ? new TableDiscovery(table)
  : new StaticSeeds(seeds[0] === "self" ? [remote.address] : seeds);
const downing: DowningOptions = table === undefined
  ? {}
  : { strategy: tableDowning(table, keepMajority(), { logger }) };
const cluster = await Cluster.join(remote, {
  extensions: clusterExtensions,
  discovery,
  downing,
  // Faster than the default 1 s, so the example forms its cluster in a few seconds.
  gossipIntervalMs: 250,
  logger,
});
const membership: TableMembership | undefined = table === undefined
  ? undefined
  : syncWithTable(cluster, table, { logger });
const pubsub = await PubSub.start(remote, cluster, {
  extensions: pubsubExtensions,
  gossipIntervalMs: 200,
  logger,
});
const sharding = await Sharding.start(cluster, {
  extensions: shardingExtensions,
  logger,
});

// One topic, keyed by stream: a connection subscribes to exactly the streams it joined.
const topic = defineTopic<ChatMessage>("chat");
const streamType = sharding.entityType(
  defineStream((message) => {
    try {
      pubsub.publish(topic.withKey(message.stream), message);
    } catch (error) {
      // Closing: the message is stored; readers get it from the history.
      logger.error("chat: publish failed", error);
    }
  }, name),
  {
    numberOfShards: 30,
    handOffTimeoutMs: 3000,
    ...(lease === undefined ? {} : { coordinator: { lease } }),
  },
);

// Sharding statistics for the HttpApi and its dashboard: shards and streams per node.
const shardingStats: ShardingStatsProvider = {
  types: () => [streamType.name],
  stats: async (type) => {
    if (type !== streamType.name) return undefined;
    const perNode = await streamType.clusterStats({ timeoutMs: 2000 });
    return {
      type,
      nodes: Object.entries(perNode).map(([node, s]) => ({ node, ...s })),
      shards: [], // which shard lives where stays inside the coordinator (no public API)
    };
  },
};
const api = new HttpApi({
  system,
  node: remote,
  cluster,
  sharding: shardingStats,
  token,
  logger,
});
const chat = new ChatHttp({
  system,
  node: name,
  pubsub,
  topic,
  streams: (stream) => streamType.ref(stream),
  fallback: api.fetch,
  logger,
});
const server = await platform.serve(chat.fetch, {
  hostname: "127.0.0.1",
  port: Number(flags.get("--http-port") ?? 0),
});
console.log(
  `CHAT-READY ${
    JSON.stringify({
      node: name,
      http: `http://127.0.0.1:${server.addr.port}`,
      address: remote.address,
      journal: redisUrl === undefined ? "memory" : "redis",
    })
  }`,
);

let stopping = false;
async function stop(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  // However it goes, the process ends within 20 s.
  platform.setTimer(() => {
    console.error(`${name}: the graceful stop took too long; exiting`);
    process.exit(1);
  }, 20_000).unref();
  console.log(`${name}: ${signal}: stopping`);
  const closing = server.close(); // stop listening, then end the event streams it waits for
  chat.close();
  await api.close();
  await closing;
  const step = async (what: string, work: () => Promise<unknown>) => {
    try {
      await work();
    } catch (error) {
      logger.error(`${name}: ${what} failed`, error);
    }
  };
  await step("the shards' hand-off", () => sharding.close());
  await step("closing pub/sub", () => pubsub.close());
  await step("leaving", () => cluster.leave(AbortSignal.timeout(5000)));
  await step("closing the cluster", () => cluster.close());
  await step("closing the table sync", async () => await membership?.close());
  await step("closing the table", async () => await table?.close());
  await step("closing the lease", async () => await lease?.close());
  await step("closing the node", () => remote.close());
  await step("shutting down", () => system.shutdown());
  await step("closing the journal", () => provider.close());
  console.log(`${name}: stopped`);
  process.exit(0);
}
process.on("SIGTERM", () => void stop("SIGTERM"));
process.on("SIGINT", () => void stop("SIGINT"));
