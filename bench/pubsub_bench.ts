// Pub/sub throughput, each figure beside a same-run baseline.
//
//   deno run -A bench/pubsub_bench.ts [--rounds 5]
//
// 1. Local fan-out: one node (a one-member cluster), 10,000 subscriber actors on one topic;
//    100 publications → 1,000,000 deliveries, timed until every subscriber has handled them.
//    Baseline: the same 1,000,000 plain tells to the same 10,000 refs, with the same payload.
// 2. Across three processes: this process publishes; two child processes (this script in
//    subscriber mode) each have one subscriber. 200,000 publications → 400,000 deliveries.
//    Baseline: the same number of plain remote tells to an actor on each child, over the same
//    connections.
// Each round runs baseline and pub/sub once, alternating; the median of the rounds is printed
// in deliveries per second (and the range).
import { type ActorRef, ActorSystem, defineActor, RemoteNode } from "../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  defineTopic,
  type Publication,
  PubSub,
  PubSubExtensions,
  StaticSeeds,
} from "../src/cluster/mod.ts";

const CLUSTER = "pubsub-bench";
const SECRET = "pubsub bench secret, not real";
const topic = defineTopic<number>("bench");

// ---- a member: a node with cluster and pub/sub ------------------------------------------------

interface Member {
  readonly system: ActorSystem;
  readonly node: RemoteNode;
  readonly cluster: Cluster;
  readonly pubsub: PubSub;
}

async function member(
  name: string,
  port: number,
  seeds: string[],
): Promise<Member> {
  const system = new ActorSystem({
    node: name,
    askTimeoutMs: 60_000,
    logger: { error() {} },
  });
  const ce = new ClusterExtensions();
  const pe = new PubSubExtensions();
  const node = await RemoteNode.start(system, {
    cluster: CLUSTER,
    secret: SECRET,
    hostname: "127.0.0.1",
    port,
    extensions: [...ce.remote, ...pe.remote],
    logger: { error() {} },
  });
  const cluster = await Cluster.join(node, {
    extensions: ce,
    discovery: new StaticSeeds(seeds.length === 0 ? [node.address] : seeds),
  });
  const pubsub = await PubSub.start(node, cluster, {
    extensions: pe,
    gossipIntervalMs: 200,
  });
  return { system, node, cluster, pubsub };
}

async function close(m: Member): Promise<void> {
  await m.pubsub.close();
  await m.cluster.close();
  await m.node.close();
  await m.system.shutdown();
}

/** Counts what every subscriber of this process handled; resolves a waiter at a target. */
const counted = { n: 0, target: Infinity, done: () => {} };
function arrived(): void {
  if (++counted.n === counted.target) counted.done();
}
function expect(target: number): Promise<void> {
  counted.n = 0;
  counted.target = target;
  return new Promise((resolve) => counted.done = resolve);
}

interface SinkProtocol {
  publication(p: Publication<number>): void;
  count(): number;
}
const sink = defineActor({
  name: "sink",
  init: () => ({}),
  handlers: {
    publication: (_s, _p: Publication<number>) => arrived(),
    count: () => counted.n,
  },
});

// ---- subscriber mode (a child process) ------------------------------------------------------

if (Deno.args[0] === "subscriber") {
  const [, name, port, seeds] = Deno.args;
  const m = await member(name, Number(port), seeds.split(","));
  const ref = await m.system.spawn(sink, undefined, { id: "sink" });
  m.pubsub.subscribe(topic, ref);
  console.log("READY");
  // Runs until the parent kills it.
  await new Promise(() => {});
}

// ---- the benchmarks -------------------------------------------------------------------------

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function report(what: string, xs: number[]): void {
  const f = (x: number) => `${(x / 1e6).toFixed(2)}M`;
  console.log(
    `${what}: median ${f(median(xs))} deliveries/s (range ${
      f(Math.min(...xs))
    }–${f(Math.max(...xs))}, ${xs.length} rounds)`,
  );
}

async function timed(run: () => void, deliveries: number): Promise<number> {
  const done = expect(deliveries);
  const start = performance.now();
  run();
  await done;
  return deliveries / ((performance.now() - start) / 1000);
}

async function localFanOut(rounds: number): Promise<void> {
  const SUBSCRIBERS = 10_000;
  const PUBLISHES = 100;
  const m = await member("local", 0, []);
  const refs: ActorRef<SinkProtocol>[] = [];
  for (let i = 0; i < SUBSCRIBERS; i++) {
    const ref = await m.system.spawn(sink, undefined, { id: `s${i}` });
    m.pubsub.subscribe(topic, ref);
    refs.push(ref);
  }
  const payload: Publication<number> = {
    topic: "bench",
    key: undefined,
    message: 1,
    publisher: "local",
  };
  const total = SUBSCRIBERS * PUBLISHES;
  const baseline: number[] = [];
  const pubsub: number[] = [];
  for (let r = 0; r < rounds + 1; r++) {
    const b = await timed(() => {
      for (let p = 0; p < PUBLISHES; p++) {
        for (let i = 0; i < SUBSCRIBERS; i++) {
          refs[i].tell("publication", payload);
        }
      }
    }, total);
    const s = await timed(() => {
      for (let p = 0; p < PUBLISHES; p++) m.pubsub.publish(topic, p);
    }, total);
    if (r > 0) { // the first round warms up
      baseline.push(b);
      pubsub.push(s);
    }
  }
  report("local fan-out, baseline (plain tells to the 10k refs)", baseline);
  report("local fan-out, pub/sub (10k subscribers)", pubsub);
  const metrics = m.pubsub.metrics(topic);
  console.log(`  (dropped: ${metrics.dropped})`);
  await close(m);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

async function acrossProcesses(rounds: number): Promise<void> {
  const PUBLISHES = 200_000;
  const CHUNK = 2_000;
  const ports = [freePort(), freePort(), freePort()];
  const seeds = ports.map((p) => `127.0.0.1:${p}`);
  const children = ["s1", "s2"].map((name, i) =>
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        new URL(import.meta.url).pathname,
        "subscriber",
        name,
        String(ports[i + 1]),
        seeds.join(","),
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn()
  );
  // The three join one another: the publisher starts joining while the children do.
  const joining = member("publisher", ports[0], seeds);
  try {
    for (const child of children) {
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let text = "";
      while (!text.includes("READY")) {
        const { value, done } = await reader.read();
        if (done) throw new Error("a subscriber process ended early");
        text += value;
      }
      reader.releaseLock();
      void child.stdout.cancel().catch(() => {});
    }
    const m = await joining;
    while (m.pubsub.nodesFor(topic).length < 2) {
      await new Promise((r) => setTimeout(r, 50));
    }
    const sinks = ["s1", "s2"].map((n) => m.node.ref<SinkProtocol>(n, "sink"));
    const counts = () => Promise.all(sinks.map((s) => s.ask("count")));
    /** Sends in chunks (so the send buffers drain) and waits until both sinks have all. */
    const run = async (send: (i: number) => void): Promise<number> => {
      const before = (await counts()).reduce((a, b) => a + b, 0);
      const start = performance.now();
      for (let i = 0; i < PUBLISHES; i += CHUNK) {
        for (let j = i; j < i + CHUNK; j++) send(j);
        await new Promise((r) => setTimeout(r, 0));
      }
      while (
        (await counts()).reduce((a, b) => a + b, 0) - before < 2 * PUBLISHES
      ) await new Promise((r) => setTimeout(r, 5));
      return (2 * PUBLISHES) / ((performance.now() - start) / 1000);
    };
    const payload: Publication<number> = {
      topic: "bench",
      key: undefined,
      message: 1,
      publisher: "publisher",
    };
    const baseline: number[] = [];
    const pubsub: number[] = [];
    for (let r = 0; r < rounds + 1; r++) {
      const b = await run(() => {
        sinks[0].tell("publication", payload);
        sinks[1].tell("publication", payload);
      });
      const s = await run((i) => m.pubsub.publish(topic, i));
      if (r > 0) {
        baseline.push(b);
        pubsub.push(s);
      }
    }
    report("3 processes, baseline (plain remote tells, 2 sinks)", baseline);
    report("3 processes, pub/sub (1 publisher, 2 subscriber nodes)", pubsub);
    console.log(`  (dropped: ${m.pubsub.metrics(topic).dropped})`);
    await close(m);
  } finally {
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // It ended already.
      }
      await child.status;
    }
  }
}

const at = Deno.args.indexOf("--rounds");
const rounds = at >= 0 ? Number(Deno.args[at + 1]) : 5;
await localFanOut(rounds);
await acrossProcesses(rounds);
Deno.exit(0);
