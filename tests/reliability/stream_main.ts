// A node of the reliability suite's workload, in its own process: a cluster member with sharding
// and one persistent entity type, "stream" (an append-only list, the shape of a chat stream),
// journalled in Redis. Usage (the flags MemberProcess passes, then ours):
//
//   stream_main <node> --hostname h --port p --seeds host:port,... --cluster c --secret s
//     [--stable-after-ms n] --redis-url url --key-prefix prefix [--detector fast|default]
//     [--idle-ms n]
//
// It prints the member lines of tests/cluster/support.ts (ready, joined, one per membership
// event), so MemberProcess, waitReady and killAndWitness work on it. Its "workload" actor is what
// the test's clients call through remoting: append and read (asks to a stream entity through
// this node's sharding; failures come back as values with the error's stable code, never as a
// crash), view (membership as this node sees it) and stats (actors by type, shards, entities,
// journal conflicts, live timers), so a test can look for leaked actors and timers.
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
import process from "node:process";
import { RedisPersistence } from "../../src/persistence/redis/mod.ts";
import { RedisLease } from "../../src/cluster/redis/mod.ts";
import { platform } from "../../src/platform/mod.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";
import { memberEventLine } from "../cluster/support.ts";
import {
  type AppendOutcome,
  type Entry,
  errorCode,
  type Failure,
  type HeapFigure,
  type ReadOutcome,
  type WorkloadStats,
  type WorkloadView,
} from "./workload_protocol.ts";

const argv = scriptArgs();
const node = argv[0];
const flags = new Map<string, string>();
for (let i = 1; i < argv.length; i += 2) flags.set(argv[i], argv[i + 1]);
for (const required of ["--seeds", "--redis-url", "--key-prefix"]) {
  if (node === undefined || node.startsWith("--") || !flags.has(required)) {
    throw new TypeError(
      "usage: stream_main <node> --seeds host:port,... --redis-url url --key-prefix prefix [--hostname h] [--port p] [--cluster c] [--secret s] [--stable-after-ms n] [--detector fast|default] [--idle-ms n]",
    );
  }
}
const redisUrl = flags.get("--redis-url")!;
const keyPrefix = flags.get("--key-prefix")!;
const fast = flags.get("--detector") === "fast";

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...line, node, at: Date.now() }));
}

function failure(error: unknown): Failure {
  const cause = error instanceof Error && error.cause !== undefined
    ? errorCode(error.cause)
    : undefined;
  return {
    ok: false,
    code: errorCode(error),
    ...(cause === undefined ? {} : { cause }),
    message: error instanceof Error ? error.message : String(error),
  };
}

/** The sharded entity: an append-only stream. */
const stream = definePersistentActor({
  name: "stream",
  init: (_id: string) => ({ entries: [] as Entry[] }),
  events: {
    appended: (state, e: Entry) => {
      state.entries.push(e);
    },
  },
  // Fail an append quickly with a typed error while the journal is away (one retry), and let
  // the entity go on: the client decides, as a chat server would.
  persistFailure: {
    maxRetries: 1,
    backoff: { minMs: 100, maxMs: 200 },
    then: "reject",
  },
}).handlers({
  append: async (state, e: Entry, ctx): Promise<AppendOutcome> => {
    try {
      await ctx.persist("appended", e);
    } catch (error) {
      return failure(error);
    }
    return { ok: true, length: state.entries.length };
  },
  read: (state) => state.entries,
});

const logger = {
  error: (message: string, error: unknown) =>
    print({
      type: "log",
      message: error === undefined ? message : `${message}: ${error}`,
    }),
};
const system = new ActorSystem({ node, logger: { error() {} } });
const persistence = await RedisPersistence.connect({
  url: redisUrl,
  keyPrefix,
  durability: "ignore",
  connectTimeoutMs: 2000,
  // Notice a dead server soon, and come back soon after it does.
  commandTimeoutMs: 2000,
  reconnectMinDelayMs: 50,
  reconnectMaxDelayMs: 500,
});
usePersistence(system, persistence);
const clusterExtensions = new ClusterExtensions();
const shardingExtensions = new ShardingExtensions();
const remote = await RemoteNode.start(system, {
  cluster: flags.get("--cluster") ?? "membership-processes",
  secret: flags.get("--secret") ??
    "membership multi-process secret, tests only",
  hostname: flags.get("--hostname") ?? "127.0.0.1",
  port: Number(flags.get("--port") ?? 0),
  extensions: [...clusterExtensions.remote, ...shardingExtensions.remote],
  logger: { error() {} },
});

/** Set once this node has joined and started sharding. */
const live: {
  cluster?: Cluster;
  sharding?: Sharding;
  streams?: EntityType<ProtocolOfDefinition<typeof stream>>;
} = {};

/** The journal-conflict counter of the stream type, from this node's metrics. */
function conflicts(): number {
  const line = system.prometheusText().split("\n").find((l) =>
    l.startsWith("troupe_sharding_journal_conflicts_total{") &&
    l.includes('type="stream"')
  );
  return line === undefined ? 0 : Number(line.split(" ").at(-1));
}

const workload = defineActor({
  name: "workload",
  init: () => ({}),
  handlers: {
    append: async (
      _s,
      a: { stream: string; entry: Entry; timeoutMs: number },
    ): Promise<AppendOutcome> => {
      const streams = live.streams;
      if (streams === undefined) {
        return { ok: false, code: "NOT_STARTED", message: "not joined yet" };
      }
      try {
        return await streams.ref(a.stream).ask("append", a.entry, {
          timeoutMs: a.timeoutMs,
        });
      } catch (error) {
        return failure(error);
      }
    },
    read: async (
      _s,
      r: { stream: string; timeoutMs: number },
    ): Promise<ReadOutcome> => {
      const streams = live.streams;
      if (streams === undefined) {
        return { ok: false, code: "NOT_STARTED", message: "not joined yet" };
      }
      try {
        const entries = await streams.ref(r.stream).ask("read", undefined, {
          timeoutMs: r.timeoutMs,
        });
        return { ok: true, entries };
      } catch (error) {
        return failure(error);
      }
    },
    view: (): WorkloadView => {
      const cluster = live.cluster;
      if (cluster === undefined) {
        return { status: "joining", up: [], converged: false };
      }
      return {
        status: cluster.self.status,
        up: cluster.members().filter((m) => m.status === "up").map((m) =>
          m.node
        ).sort(),
        converged: cluster.converged(),
      };
    },
    heap: (): HeapFigure => {
      // A full collection first, where the process allows one (Deno and Node are started with
      // --expose-gc by the tests, Bun has Bun.gc), so what is left is what is still held.
      const g = globalThis as {
        gc?: () => void;
        Bun?: { gc(sync: boolean): void };
      };
      let collected = true;
      if (typeof g.gc === "function") g.gc();
      else if (g.Bun !== undefined) g.Bun.gc(true);
      else collected = false;
      return { usedMiB: process.memoryUsage().heapUsed / 1048576, collected };
    },
    stats: (): WorkloadStats => {
      const byType: Record<string, number> = {};
      for (const a of system.actors()) {
        byType[a.type] = (byType[a.type] ?? 0) + 1;
      }
      const region = live.sharding?.stats().stream;
      return {
        actors: system.size,
        byType,
        shards: region?.shards.length ?? 0,
        entities: region?.entities ?? 0,
        conflicts: conflicts(),
        timers: platform.liveTimers(),
      };
    },
  },
});
await system.spawn(workload, undefined, { id: "workload" });
print({ type: "ready", address: remote.address });

const stableAfter = flags.get("--stable-after-ms");
const cluster = await Cluster.join(remote, {
  extensions: clusterExtensions,
  discovery: new StaticSeeds(flags.get("--seeds")!.split(",")),
  downing: stableAfter === undefined
    ? {}
    : { stableAfterMs: Number(stableAfter) },
  ...(fast
    ? {
      failureDetector: {
        heartbeatIntervalMs: 100,
        acceptableHeartbeatPauseMs: 300,
      },
      gossipIntervalMs: 200,
    }
    : {}),
  logger,
});
const sharding = await Sharding.start(cluster, {
  extensions: shardingExtensions,
  logger,
});
live.cluster = cluster;
live.sharding = sharding;
// The coordinator is a cluster singleton fenced by a lease in the same Redis.
const lease = await RedisLease.connect("sharding:stream", {
  url: redisUrl,
  keyPrefix,
});
const idleMs = flags.get("--idle-ms");
live.streams = sharding.entityType(stream, {
  coordinator: { lease, leaseTtlMs: 3000 },
  numberOfShards: 12,
  rebalanceIntervalMs: 300,
  handOffTimeoutMs: 2000,
  retryMs: 50,
  ...(idleMs === undefined ? {} : { passivation: { idleMs: Number(idleMs) } }),
});
print({
  type: "joined",
  members: cluster.members().map((m) => ({
    node: m.node,
    status: m.status,
    reachable: m.reachable,
    upNumber: m.upNumber,
    incarnation: m.incarnation,
    address: m.address,
  })),
});
for await (const event of cluster.events()) {
  print(memberEventLine(event));
}
