// A cluster member with sharding in its own process, for the failover and scale benches
// (bench/sharding_failover.ts, bench/sharding_scale.ts start it; it is not run by hand).
//
//   deno run -A --v8-flags=--expose-gc bench/sharding_node.ts <node> --seeds host:port,...
//     --prefix <redis key prefix> [--kind persistent|idle] [--lease 1]
//
// Everything about the cluster and sharding is left at its defaults (failure detector, downing,
// gossip, number of shards, rebalance interval, retries); the journal is Redis at REDIS_URL
// (default redis://127.0.0.1:6379) under the given prefix. `--lease 1` fences the coordinator
// with a RedisLease (at its default time to live). It prints JSON lines (`ready`, `joined`,
// membership events with their wall-clock time `at`) and serves a "bench" actor the driver asks
// through remoting: deposit batches, starting idle entities, memory figures and stats.
import {
  ActorSystem,
  defineActor,
  definePersistentActor,
  RemoteNode,
  usePersistence,
} from "../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  type EntityType,
  Sharding,
  ShardingExtensions,
  StaticSeeds,
} from "../src/cluster/mod.ts";
import { RedisPersistence } from "../src/persistence/redis/mod.ts";
import { RedisLease } from "../src/cluster/redis/mod.ts";

const node = Deno.args[0];
const flags = new Map<string, string>();
for (let i = 1; i < Deno.args.length; i += 2) {
  flags.set(Deno.args[i], Deno.args[i + 1]);
}
if (node === undefined || !flags.has("--seeds") || !flags.has("--prefix")) {
  throw new TypeError(
    "usage: sharding_node <node> --seeds host:port,... --prefix p [--kind persistent|idle] [--lease 1]",
  );
}
const KIND = flags.get("--kind") ?? "persistent";
const REDIS_URL = Deno.env.get("REDIS_URL") || "redis://127.0.0.1:6379";
const prefix = flags.get("--prefix")!;

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...line, node, at: Date.now() }));
}

/** The persistent entity of the failover bench: each deposit's token is an event. */
const account = definePersistentActor({
  name: "account",
  init: (_id: string) => ({ balance: 0 }),
  events: {
    deposited: (state, _e: { token: string }) => {
      state.balance++;
    },
  },
}).handlers({
  deposit: async (state, token: string, ctx) => {
    await ctx.persist("deposited", { token });
    return state.balance;
  },
});

/** The idle entity of the scale bench: started by one message, then left alone. */
const idle = defineActor({
  name: "idle",
  init: (_id: string) => ({ count: 0 }),
  handlers: { touch: (state) => ++state.count },
});

const system = new ActorSystem({
  node,
  logger: { error() {} },
  askTimeoutMs: 3_600_000,
});
const persistence = await RedisPersistence.connect({
  url: REDIS_URL,
  keyPrefix: prefix,
  durability: "ignore",
});
usePersistence(system, persistence);
const clusterExtensions = new ClusterExtensions();
const shardingExtensions = new ShardingExtensions();
const remote = await RemoteNode.start(system, {
  cluster: "sharding-bench",
  secret: "sharding bench secret, not for production",
  hostname: "127.0.0.1",
  port: Number(flags.get("--port") ?? 0),
  extensions: [...clusterExtensions.remote, ...shardingExtensions.remote],
  logger: { error() {} },
  // The scale bench's members do long stretches of work on a shared machine; the failover
  // bench leaves this at its default.
  heartbeatTimeoutMs: flags.has("--heartbeat-timeout-ms")
    ? Number(flags.get("--heartbeat-timeout-ms"))
    : undefined,
});

const live: {
  cluster?: Cluster;
  sharding?: Sharding;
  accounts?: EntityType<{ deposit(token: string): number }>;
  idles?: EntityType<{ touch(): number }>;
} = {};

const gc = (globalThis as { gc?: () => void }).gc;

function memory(): { heapUsed: number; rss: number } {
  if (gc !== undefined) { for (let i = 0; i < 3; i++) gc(); }
  const m = Deno.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}

/** One result of a deposit batch: ok with the balance, or the error; `at` its wall-clock time. */
type Deposited = { ok: true; balance: number; at: number } | {
  ok: false;
  error: string;
  at: number;
};

const bench = defineActor({
  name: "bench",
  init: () => ({}),
  handlers: {
    /** Deposits `token` into each account; answers each result with its time. */
    deposits: (
      _s,
      d: { items: { id: string; token: string }[]; timeoutMs: number },
    ): Promise<Deposited[]> => {
      const accounts = live.accounts!;
      return Promise.all(
        d.items.map(({ id, token }) =>
          accounts.ref(id).ask("deposit", token, { timeoutMs: d.timeoutMs })
            .then(
              (balance): Deposited => ({ ok: true, balance, at: Date.now() }),
              (error): Deposited => ({
                ok: false,
                error: String(error?.name ?? error),
                at: Date.now(),
              }),
            )
        ),
      );
    },
    /**
     * Asks each account (deposit `<prefix><attempt>`) until it answers, each on its own: an ask
     * that fails is sent again at once, until `untilMs` (wall clock). Answers when each
     * answered (or the time is up) with the token it acknowledged and when.
     */
    probe: (
      _s,
      d: { ids: string[]; prefix: string; timeoutMs: number; untilMs: number },
    ): Promise<({ token: string; at: number } | null)[]> => {
      const accounts = live.accounts!;
      return Promise.all(d.ids.map(async (id) => {
        for (let attempt = 0; Date.now() < d.untilMs; attempt++) {
          const token = `${d.prefix}${id}.${attempt}`;
          try {
            await accounts.ref(id).ask("deposit", token, {
              timeoutMs: d.timeoutMs,
            });
            return { token, at: Date.now() };
          } catch {
            // Not back yet: ask again.
          }
        }
        return null;
      }));
    },
    /**
     * Starts the idle entities `from` ≤ i < `to` (ids `e<i>`), `inFlight` asks at a time, each
     * with a timeout of `timeoutMs` (a failed one is asked twice more); answers how many never
     * answered.
     */
    touch: async (
      _s,
      d: { from: number; to: number; inFlight: number; timeoutMs: number },
    ): Promise<number> => {
      const idles = live.idles!;
      let waiting: number[] = [];
      for (let i = d.from; i < d.to; i++) waiting.push(i);
      // An ask that failed (a timeout on a starved machine) is sent again, twice at most.
      for (let attempt = 0; attempt < 3 && waiting.length > 0; attempt++) {
        const failed: number[] = [];
        for (let i = 0; i < waiting.length; i += d.inFlight) {
          await Promise.all(
            waiting.slice(i, i + d.inFlight).map((j) =>
              idles.ref(`e${j}`).ask("touch", undefined, {
                timeoutMs: d.timeoutMs,
              }).catch(() => failed.push(j))
            ),
          );
        }
        waiting = failed;
      }
      return waiting.length;
    },
    /**
     * The baseline of the scale bench: spawns `count` plain idle actors (no sharding), one
     * message each, measures the heap and RSS they add, then stops them.
     */
    plain: async (_s, d: { count: number }) => {
      const start = memory();
      const refs = [];
      for (let i = 0; i < d.count; i++) {
        refs.push(await system.spawn(idle, `p${i}`));
        // Let timers and I/O (heartbeats) run now and then.
        if (i % 1000 === 999) await new Promise((r) => setTimeout(r, 0));
      }
      for (let i = 0; i < refs.length; i += 1000) {
        await Promise.all(
          refs.slice(i, i + 1000).map((r) =>
            r.ask("touch", undefined, { timeoutMs: 5000 })
          ),
        );
      }
      // A settled ask is held until its deadline: measure after that.
      await new Promise((r) => setTimeout(r, 5200));
      const end = memory();
      await Promise.all(refs.map((r) => r.stop()));
      return {
        count: d.count,
        heap: end.heapUsed - start.heapUsed,
        rss: end.rss - start.rss,
      };
    },
    /** Heap and RSS after a full GC (when run with --expose-gc). */
    memory: () => memory(),
    /** Up members as this node sees them. */
    view: () =>
      live.cluster?.members().filter((m) => m.status === "up").map((m) =>
        m.node
      ) ?? [],
    /** This node's shards and entities of the bench's entity type. */
    stats: () => (live.accounts ?? live.idles)?.localStats(),
    /** Shards per node, from the coordinator. */
    clusterStats: async () => {
      const stats = await (live.accounts ?? live.idles)!.clusterStats();
      const out: Record<string, number> = {};
      for (const [n, s] of Object.entries(stats)) out[n] = s.shards;
      return out;
    },
  },
});
await system.spawn(bench, undefined, { id: "bench" });
print({ type: "ready", address: remote.address });

const cluster = await Cluster.join(remote, {
  extensions: clusterExtensions,
  discovery: new StaticSeeds(flags.get("--seeds")!.split(",")),
  logger: { error() {} },
});
live.cluster = cluster;
const sharding = await Sharding.start(cluster, {
  extensions: shardingExtensions,
  logger: flags.get("--log") === "1"
    ? {
      error: (message: string, error: unknown) =>
        print({ type: "log", message: `${message}: ${error}` }),
    }
    : { error() {} },
});
live.sharding = sharding;
const lease = flags.get("--lease") === "1"
  ? await RedisLease.connect(`bench:${KIND}`, {
    url: REDIS_URL,
    keyPrefix: prefix,
  })
  : undefined;
if (KIND === "persistent") {
  live.accounts = sharding.entityType(account, {
    coordinator: lease === undefined ? undefined : { lease },
  });
} else {
  live.idles = sharding.entityType(idle, {
    coordinator: lease === undefined ? undefined : { lease },
  });
}
print({ type: "joined" });
(async () => {
  for await (const event of cluster.events()) {
    if (!("member" in event)) continue;
    print({
      type: "event",
      event: event.type,
      member: event.member.node,
      status: event.member.status,
    });
  }
})();
