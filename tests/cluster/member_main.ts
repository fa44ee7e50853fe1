// A cluster member in its own process, for the real-process membership tests and the detection
// bench. Usage:
//
//   member_main <node> (--seeds host:port,... | --table keyPrefix [--redis-url url])
//     [--hostname 127.0.0.1] [--port 0] [--cluster name] [--secret s] [--stable-after-ms n]
//     [--prune-tombstones-after-ms n] [--delete-defunct-after-ms n]
//
// It starts an ActorSystem and a RemoteNode (TCP, with the cluster's extensions), prints a ready
// line with its address, joins with Cluster.join, and prints one JSON line per membership event
// (`at` is the wall clock in ms, so a parent can time what it sees). With --seeds it joins
// through the static seeds. With --table it joins through the Redis membership table under that
// key prefix instead (default Redis redis://127.0.0.1:6379): TableDiscovery finds the cluster,
// tableDowning(table, keepMajority()) decides partitions in the table, and syncWithTable keeps
// the table in step once it is up; the table is closed on exit.
// Its actor "control" obeys: view, leave, down, storm (message traffic to every other member's
// "echo" actor, for the soak bench), stats, exit. The commands come through remoting because
// the tests' process helper starts children with stdin closed.
import { ActorSystem, defineActor, RemoteNode } from "../../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  type ClusterMember,
  type Discovery,
  type DowningOptions,
  keepMajority,
  type MembershipTable,
  StaticSeeds,
  syncWithTable,
  TableDiscovery,
  tableDowning,
  type TableMembership,
} from "../../src/cluster/mod.ts";
import { clusterDriver } from "../../src/cluster/cluster.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";
import { memberEventLine } from "./support.ts";

const argv = scriptArgs();
const node = argv[0];
const flags = new Map<string, string>();
for (let i = 1; i < argv.length; i += 2) flags.set(argv[i], argv[i + 1]);
if (
  node === undefined || node.startsWith("--") ||
  flags.has("--seeds") === flags.has("--table")
) {
  console.error(
    "usage: member_main <node> (--seeds host:port,... | --table keyPrefix [--redis-url url]) [--hostname h] [--port p] [--cluster c] [--secret s] [--stable-after-ms n] [--prune-tombstones-after-ms n] [--delete-defunct-after-ms n]",
  );
  throw new TypeError(
    "member_main: missing node name, or not exactly one of --seeds and --table",
  );
}
const seeds = (flags.get("--seeds") ?? "").split(",").filter((s) => s !== "");
const tablePrefix = flags.get("--table");
const stableAfter = flags.get("--stable-after-ms");
const pruneAfter = flags.get("--prune-tombstones-after-ms");
const deleteDefunctAfter = flags.get("--delete-defunct-after-ms");

function print(line: Record<string, unknown>): void {
  console.log(JSON.stringify({ ...line, node, at: Date.now() }));
}

function view(m: ClusterMember) {
  return {
    node: m.node,
    status: m.status,
    reachable: m.reachable,
    upNumber: m.upNumber,
    incarnation: m.incarnation,
    address: m.address,
  };
}

const echo = defineActor({
  name: "echo",
  init: () => ({ count: 0 }),
  handlers: {
    echo: (_s, payload: string) => payload,
    add: (s, _n: number) => {
      s.count++;
    },
  },
});

const logger = {
  error: (message: string, error: unknown) =>
    print({
      type: "log",
      message: error === undefined ? message : `${message}: ${error}`,
    }),
};

// With --table: the Redis membership table (node-redis is loaded only then).
let table: MembershipTable | undefined;
let membership: TableMembership | undefined;
if (tablePrefix !== undefined) {
  const { RedisMembershipTable } = await import(
    "../../src/cluster/redis/mod.ts"
  );
  table = await RedisMembershipTable.connect({
    url: flags.get("--redis-url") ?? "redis://127.0.0.1:6379",
    keyPrefix: tablePrefix,
  });
}

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
await system.spawn(echo, undefined, { id: "echo" });
print({ type: "ready", address: remote.address });

/** The message storm of the soak bench: asks and tells to every other member's echo actor. */
class Storm {
  asks = 0;
  tells = 0;
  failures = 0;
  #on = false;
  readonly #payload = "x".repeat(64);

  start(members: () => readonly ClusterMember[]): void {
    if (this.#on) return;
    this.#on = true;
    for (const m of members()) {
      if (m.node === node) continue;
      const ref = remote.ref<{ echo(p: string): string; add(n: number): void }>(
        m.node,
        "echo",
      );
      // 16 asks in flight per peer, each answered one followed by 4 tells.
      for (let i = 0; i < 16; i++) {
        void (async () => {
          while (this.#on) {
            try {
              await ref.ask("echo", this.#payload, { timeoutMs: 10_000 });
              this.asks++;
              for (let t = 0; t < 4; t++) ref.tell("add", t);
              this.tells += 4;
            } catch {
              this.failures++;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        })();
      }
    }
  }

  stop(): void {
    this.#on = false;
  }
}

let cluster: Cluster | undefined;
const storm = new Storm();

async function exit(): Promise<void> {
  storm.stop();
  // The table last: the sync (which follows the cluster) may still be writing to it.
  await cluster?.close();
  await membership?.close();
  await table?.close();
  await remote.close();
  await system.shutdown();
}

const control = defineActor({
  name: "control",
  init: () => ({}),
  handlers: {
    view: () => {
      if (cluster === undefined) {
        return {
          self: node,
          status: "joining",
          leader: null,
          converged: false,
          members: [],
        };
      }
      const state = clusterDriver(cluster).state;
      return {
        self: node,
        status: cluster.self.status,
        leader: cluster.leader()?.node ?? null,
        converged: cluster.converged(),
        members: cluster.members().map(view),
        digest: state.digest,
        tombstones: [...state.members.values()].filter((row) =>
          row.status === "removed"
        ).length,
        prunedThrough: state.prunedThrough,
      };
    },
    leave: () => {
      const c = cluster;
      if (c === undefined) return "not joined";
      c.leave().then(
        () => print({ type: "left" }),
        (error) => print({ type: "error", message: `leave: ${error}` }),
      );
      return "leaving";
    },
    down: (_s, target: string) => {
      cluster?.down(target);
      return "downed";
    },
    storm: (_s, on: boolean) => {
      if (on && cluster !== undefined) {
        const c = cluster;
        storm.start(() => c.members());
      } else storm.stop();
      return on ? "storming" : "calm";
    },
    stats: () => ({
      asks: storm.asks,
      tells: storm.tells,
      failures: storm.failures,
    }),
    exit: () => {
      setTimeout(() => void exit(), 10);
      return "bye";
    },
  },
});
await system.spawn(control, undefined, { id: "control" });

const discovery: Discovery = table === undefined
  ? new StaticSeeds(seeds)
  : new TableDiscovery(table);
const downing: DowningOptions = {
  ...(table === undefined
    ? {}
    : { strategy: tableDowning(table, keepMajority(), { logger }) }),
  ...(stableAfter === undefined ? {} : { stableAfterMs: Number(stableAfter) }),
};
try {
  cluster = await Cluster.join(remote, {
    extensions,
    discovery,
    downing,
    logger,
    ...(pruneAfter === undefined
      ? {}
      : { pruneTombstonesAfterMs: Number(pruneAfter) }),
  });
  if (table !== undefined) {
    membership = syncWithTable(cluster, table, {
      logger,
      ...(deleteDefunctAfter === undefined
        ? {}
        : { deleteDefunctAfterMs: Number(deleteDefunctAfter) }),
    });
  }
} catch (error) {
  print({ type: "error", message: `join: ${error}` });
  await exit();
}
if (cluster !== undefined) {
  print({
    type: "joined",
    members: cluster.members().map(view),
    leader: cluster.leader()?.node ?? null,
  });
  for await (const event of cluster.events()) {
    print(memberEventLine(event));
    if (event.type === "self-downed") storm.stop();
  }
}
