// The sharded chat: three nodes in three processes on this machine, a scripted set of clients,
// and a page any person can open. Run: deno task example:chat [--keep] [--memory]
//
// 1. Redis answers at REDIS_URL (default redis://127.0.0.1:6379)? Then every node keeps its
//    journal there and joins through the Redis membership table, under a key prefix of this run
//    (deleted at the end). Otherwise each node keeps its journals in its own memory (said
//    loudly, with what that costs) and joins through static seeds. --memory forces memory.
// 2. Starts n1 alone (it forms the cluster), then n2 and n3, and waits until every node sees
//    three members up.
// 3. Clients connect to different nodes, join streams, post, read history; each checks that it
//    got every message of its streams, once, in order. A client that joins late gets the
//    history.
// 4. With --keep, prints the pages' addresses and serves until Ctrl-C. Then stops the nodes
//    (SIGTERM: each hands its shards off and leaves), deletes this run's Redis keys and exits:
//    0 when every check held.
import process from "node:process";
import { generateClusterSecret } from "../../mod.ts";
import { platform } from "../../src/platform/mod.ts";
import { scriptArgs } from "../../src/platform/test_runtime.ts";
import { ChatClient } from "./client.ts";
import { ChatNodeProcess, type NodeInfo } from "./processes.ts";
import type { ChatMessage } from "./protocol.ts";

const flags = scriptArgs();
const keep = flags.includes("--keep");
const redisUrl = platform.env("REDIS_URL") ?? "redis://127.0.0.1:6379";
const run = `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
const keyPrefix = `troupe-chat-${run}:`;
const secret = generateClusterSecret();
const token = generateClusterSecret(); // the HttpApi's operator token, this run only
const problems: string[] = [];

/** Whether Redis answers (a journal connection opened and closed again). */
async function redisAnswers(): Promise<boolean> {
  if (flags.includes("--memory")) return false;
  try {
    const { RedisPersistence } = await import(
      "../../src/persistence/redis/mod.ts"
    );
    const probe = await RedisPersistence.connect({
      url: redisUrl,
      keyPrefix,
      connectTimeoutMs: 1500,
      durability: "ignore",
    });
    await probe.close();
    return true;
  } catch (error) {
    console.log(`No Redis at ${redisUrl} (${(error as Error).message}).`);
    return false;
  }
}

const redis = await redisAnswers();
if (redis) {
  console.log(
    `1. Redis at ${redisUrl}: journals (chat streams, the sharding coordinator), the membership table and the coordinator's lease under ${keyPrefix}*`,
  );
} else {
  console.log(
    "1. MEMORY ONLY: each node keeps the journals of the streams it hosts in its own memory,\n" +
      "   and the nodes join through static seeds. A stream's history then lives only as long\n" +
      "   as the node that hosts it: it is lost when that node stops, and when the stream moves\n" +
      "   to another node (a node joining or leaving). This run starts all three nodes before\n" +
      "   anyone posts, so nothing moves while the script runs. Start Redis (or set REDIS_URL)\n" +
      "   to keep history across the loss of a node.",
  );
}

const common = ["--secret", secret, "--token", token];
const joinArgs = redis
  ? ["--redis-url", redisUrl, "--key-prefix", keyPrefix]
  : undefined;
const nodes: ChatNodeProcess[] = [];
const clients: ChatClient[] = [];
let stopped: Promise<void> | undefined;

/** Stops every node (last started first), deletes this run's keys; once. */
function stopAll(): Promise<void> {
  return stopped ??= (async () => {
    for (const client of clients) await client.close();
    for (const node of [...nodes].reverse()) {
      const exit = await node.stop();
      if (exit.killed || exit.code !== 0) {
        problems.push(
          `${node.name} did not stop cleanly: ${JSON.stringify(exit)}`,
        );
      }
    }
    console.log(`6. stopped ${nodes.map((n) => n.name).join(", ")}`);
    if (redis) await deleteKeys();
  })();
}

/** Deletes every key under this run's prefix (journals, table, lease). */
async function deleteKeys(): Promise<void> {
  const { createClient } = await import("redis");
  const client = createClient({ url: redisUrl });
  await client.connect();
  try {
    let deleted = 0;
    for await (const keys of client.scanIterator({ MATCH: `${keyPrefix}*` })) {
      if (keys.length > 0) deleted += await client.del(keys);
    }
    console.log(`   deleted this run's ${deleted} keys from Redis`);
  } finally {
    client.destroy();
  }
}

async function getJson<T>(url: string): Promise<T> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered ${response.status}`);
  return await response.json() as T;
}

/** Polls until `check` is true (or fails with `what` after `timeoutMs`). */
async function eventually(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check().catch(() => false)) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function startCluster(): Promise<NodeInfo[]> {
  // n1 first and alone: on an empty membership table (or with itself as its only seed) it
  // forms the cluster; n2 and n3 then join it.
  nodes.push(
    new ChatNodeProcess("n1", [
      ...common,
      ...(joinArgs ?? ["--seeds", "self"]),
    ]),
  );
  const first = await nodes[0].ready();
  for (const name of ["n2", "n3"]) {
    nodes.push(
      new ChatNodeProcess(name, [
        ...common,
        ...(joinArgs ?? ["--seeds", first.address]),
      ]),
    );
  }
  const infos = [
    first,
    ...await Promise.all(nodes.slice(1).map((n) => n.ready())),
  ];
  await eventually("every node sees three members up", async () => {
    for (const info of infos) {
      const view = await getJson<
        { converged: boolean; members: { status: string }[] }
      >(
        `${info.http}/cluster/members`,
      );
      if (
        !view.converged ||
        view.members.filter((m) => m.status === "up").length !== 3
      ) {
        return false;
      }
    }
    return true;
  });
  console.log(
    `2. cluster up: ${
      infos.map((i) =>
        `${i.node} (pid ${nodes[infos.indexOf(i)].pid}, ${i.http})`
      ).join(", ")
    }`,
  );
  return infos;
}

/** Checks that a client got exactly messages 1..n of each stream, in order, once. */
function checkReceived(
  client: ChatClient,
  expected: Record<string, number>,
): void {
  const byStream = new Map<string, number[]>();
  for (const m of client.received) {
    byStream.set(m.stream, [...byStream.get(m.stream) ?? [], m.seq]);
  }
  for (const [stream, n] of Object.entries(expected)) {
    const seqs = byStream.get(stream) ?? [];
    const want = Array.from({ length: n }, (_, i) => i + 1);
    if (JSON.stringify(seqs) !== JSON.stringify(want)) {
      problems.push(
        `${client.name} got ${stream} ${JSON.stringify(seqs)}, expected ${
          JSON.stringify(want)
        }`,
      );
    }
  }
}

function line(m: ChatMessage): string {
  return `#${m.seq} ${m.from}: ${m.text} (via ${m.via})`;
}

async function script(infos: NodeInfo[]): Promise<void> {
  const [n1, n2, n3] = infos;
  const ann = await ChatClient.connect("ann", n1.http);
  const bob = await ChatClient.connect("bob", n2.http);
  const cat = await ChatClient.connect("cat", n3.http);
  clients.push(ann, bob, cat);
  for (const stream of ["lobby", "help"]) await ann.join(stream);
  await bob.join("lobby");
  for (const stream of ["lobby", "help"]) await cat.join(stream);
  // Pub/sub routes by a gossiped registry: wait until every node would send each stream's
  // messages to the nodes with readers (the stream may live on any of them).
  const readers: Record<string, string[]> = {
    lobby: ["n1", "n2", "n3"],
    help: ["n1", "n3"],
  };
  await eventually("pub/sub knows the readers of every stream", async () => {
    for (const info of infos) {
      for (const [stream, want] of Object.entries(readers)) {
        const routes = await getJson<string[]>(
          `${info.http}/chat/routes?stream=${stream}`,
        );
        // A node routes to the others; its own readers get the message locally.
        if (!want.every((n) => n === info.node || routes.includes(n))) {
          return false;
        }
      }
    }
    return true;
  });
  console.log(
    "3. ann (n1) joined lobby and help, bob (n2) lobby, cat (n3) lobby and help",
  );

  await ann.post("lobby", "hello from n1");
  await bob.post("lobby", "hi ann, bob here on n2");
  await cat.post("help", "how do I join a stream?");
  await ann.post("help", "type its name and press join");
  await cat.post("lobby", "thanks!");
  const expected = {
    ann: { lobby: 3, help: 2 },
    bob: { lobby: 3 },
    cat: { lobby: 3, help: 2 },
  };
  for (const client of [ann, bob, cat]) {
    const want = expected[client.name as keyof typeof expected];
    const total = Object.values(want).reduce((a, b) => a + b, 0);
    await client.until(() => client.received.length >= total, 5000).catch(
      () => {},
    );
    // A moment for duplicates to show, if there were any.
    await new Promise((resolve) => setTimeout(resolve, 100));
    checkReceived(client, want);
    console.log(
      `   ${client.name}@${client.node} got ${client.received.length} live: ${
        client.received.map((m) => `${m.stream}#${m.seq} ${m.from}`).join(", ")
      }`,
    );
  }
  for (const stream of ["lobby", "help"]) {
    const where = await getJson<{ node: string; total: number }>(
      `${n2.http}/chat/where?stream=${stream}`,
    );
    console.log(
      `   stream ${stream} lives on ${where.node} (${where.total} messages)`,
    );
  }

  // A late joiner gets the history; another reads one without joining.
  const dan = await ChatClient.connect("dan", n2.http);
  clients.push(dan);
  const help = await dan.join("help");
  console.log(`4. dan joined help on n2 late; its history (${help.total}):`);
  for (const m of help.messages) console.log(`     ${line(m)}`);
  if (help.messages.map((m) => m.from).join(",") !== "cat,ann") {
    problems.push(`help's history is ${JSON.stringify(help.messages)}`);
  }
  const lobby = await dan.history("lobby");
  console.log(
    `5. lobby's history read on n2 without joining: ${
      lobby.messages.map((m) => m.from).join(", ")
    }`,
  );
  if (lobby.messages.map((m) => m.from).join(",") !== "ann,bob,cat") {
    problems.push(`lobby's history is ${JSON.stringify(lobby.messages)}`);
  }
}

/** Resolves on Ctrl-C or SIGTERM. */
function interrupted(): Promise<string> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve("SIGINT"));
    process.once("SIGTERM", () => resolve("SIGTERM"));
  });
}

const stop = interrupted();
try {
  const infos = await Promise.race([
    startCluster(),
    stop.then((signal) =>
      Promise.reject(new Error(`${signal} while starting`))
    ),
  ]);
  await script(infos);
  if (keep) {
    console.log(
      `CHAT-PAGES ${
        JSON.stringify(Object.fromEntries(infos.map((i) => [i.node, i.http])))
      }`,
    );
    for (const info of infos) {
      console.log(
        `   open ${info.http}/?streams=lobby (node ${info.node}; dashboard at ${info.http}/dashboard)`,
      );
    }
    console.log("   Ctrl-C stops the cluster");
    console.log(`   stopping (${await stop})`);
  }
} catch (error) {
  problems.push(`the run failed: ${(error as Error).message}`);
} finally {
  await stopAll();
}
if (problems.length > 0) {
  console.log(`FAILED:\n  ${problems.join("\n  ")}`);
  process.exit(1);
}
console.log("7. every check held");
process.exit(0);
