// A cluster member with sharding in its own process, for the real-process sharding test.
// Usage:
//
//   sharding_main <node> --port p --seeds host:port,... --redis-url url --key-prefix prefix
//
// It keeps its journal in Redis (so the coordinator's allocations and the accounts' events
// outlive the process), fences the coordinator with a RedisLease, joins through the static seeds, starts sharding with a persistent
// "account" entity type, and serves a "client" actor the test drives through remoting:
// deposit (an ask to an account entity through this node's sharding), view and stats.
import {
  ActorSystem,
  defineActor,
  definePersistentActor,
  type ProtocolOfDefinition,
  RemoteNode,
  usePersistence,
} from "../../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  type EntityType,
  Sharding,
  ShardingExtensions,
  StaticSeeds,
} from "../../src/cluster/mod.ts";
import { RedisPersistence } from "../../src/persistence/redis/mod.ts";
import { RedisLease } from "../../src/cluster/redis/mod.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";

const argv = scriptArgs();
const node = argv[0];
const flags = new Map<string, string>();
for (let i = 1; i < argv.length; i += 2) flags.set(argv[i], argv[i + 1]);
if (node === undefined || !flags.has("--seeds") || !flags.has("--key-prefix")) {
  throw new TypeError(
    "usage: sharding_main <node> --port p --seeds host:port,... --redis-url url --key-prefix prefix",
  );
}

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...line, node, at: Date.now() }));
}

/** The sharded entity: a persistent account that records each deposit's token. */
const account = definePersistentActor({
  name: "account",
  init: (_id: string) => ({ balance: 0, tokens: 0 }),
  events: {
    deposited: (state, e: { token: string; amount: number }) => {
      state.balance += e.amount;
      state.tokens++;
    },
  },
}).handlers({
  deposit: async (state, d: { token: string; amount: number }, ctx) => {
    await ctx.persist("deposited", d);
    return state.balance;
  },
});

const logger = {
  error: (message: string, error: unknown) =>
    print({ type: "log", message: `${message}: ${error}` }),
};
const system = new ActorSystem({ node, logger: { error() {} } });
const persistence = await RedisPersistence.connect({
  url: flags.get("--redis-url") ?? "redis://127.0.0.1:6379",
  keyPrefix: flags.get("--key-prefix")!,
  durability: "ignore",
});
usePersistence(system, persistence);
const clusterExtensions = new ClusterExtensions();
const shardingExtensions = new ShardingExtensions();
const remote = await RemoteNode.start(system, {
  cluster: "sharding-processes",
  secret: "sharding multi-process secret, tests only",
  hostname: "127.0.0.1",
  port: Number(flags.get("--port") ?? 0),
  extensions: [...clusterExtensions.remote, ...shardingExtensions.remote],
  logger: { error() {} },
});

/** Set once this node has joined and started sharding. */
const live: {
  sharding?: Sharding;
  cluster?: Cluster;
  accounts?: EntityType<ProtocolOfDefinition<typeof account>>;
} = {};

const client = defineActor({
  name: "client",
  init: () => ({}),
  handlers: {
    /** Deposits into account `id`; answers the balance. */
    deposit: (
      _s,
      d: { id: string; token: string; amount: number; timeoutMs: number },
    ) => {
      const accounts = live.accounts;
      if (accounts === undefined) throw new Error("sharding not started");
      return accounts.ref(d.id).ask(
        "deposit",
        { token: d.token, amount: d.amount },
        { timeoutMs: d.timeoutMs },
      );
    },
    /** Up members as this node sees them. */
    view: () =>
      live.cluster?.members().filter((m) => m.status === "up").map((m) =>
        m.node
      ) ??
        [],
    /** The shards and entities of this node. */
    stats: () => live.sharding?.stats() ?? {},
  },
});
await system.spawn(client, undefined, { id: "client" });
print({ type: "ready", address: remote.address });

const cluster = await Cluster.join(remote, {
  extensions: clusterExtensions,
  discovery: new StaticSeeds(flags.get("--seeds")!.split(",")),
  downing: { stableAfterMs: 1000 },
  failureDetector: {
    heartbeatIntervalMs: 100,
    acceptableHeartbeatPauseMs: 300,
  },
  gossipIntervalMs: 200,
  logger,
});
const sharding = await Sharding.start(cluster, {
  extensions: shardingExtensions,
  logger,
});
live.cluster = cluster;
live.sharding = sharding;
// The coordinator is a cluster singleton fenced by a lease in Redis.
const lease = await RedisLease.connect("sharding:account", {
  url: flags.get("--redis-url") ?? "redis://127.0.0.1:6379",
  keyPrefix: flags.get("--key-prefix")!,
});
live.accounts = sharding.entityType(account, {
  coordinator: { lease, leaseTtlMs: 3000 },
  numberOfShards: 12,
  rebalanceIntervalMs: 300,
  handOffTimeoutMs: 2000,
  retryMs: 50,
});
print({ type: "joined" });
