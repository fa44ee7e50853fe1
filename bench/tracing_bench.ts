// What tracing costs per message (run: deno run -A bench/tracing_bench.ts [--rounds N]).
//
// The same jobs on systems without a tracer, with OpenTelemetry tracing installed
// (@troupe/troupe/otel, the SDK's BasicTracerProvider: every span is made, started and ended,
// and handed to no exporter, so this is the cost of tracing itself, not of shipping spans; an
// AsyncLocalStorage context manager is registered, and the traced jobs send from within a span
// of their own, so every message has a parent and every remote tell carries a traceparent),
// interleaved round by round (best of 3 per round) so the machine's ups and downs hit both:
//
//   local_tells     200k tells to one actor, then an ask
//   local_asks      10k sequential asks
//   remote_tells    50k tells to an actor on another node (two nodes in this process, TCP on
//                   loopback), until it counted them all
//
// Prints each variant's median and the cost per message of tracing (median of the per-round
// differences). Tell throughput without a tracer against the code before tracing existed is
// measured by bench/actor_bench.ts and bench/remote_bench.ts with two checkouts.
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { BasicTracerProvider } from "@opentelemetry/sdk-trace-base";
import { ActorSystem, defineActor, RemoteNode } from "../mod.ts";
import { installTracing } from "../src/otel/mod.ts";

const LOCAL_TELLS = 200_000;
const LOCAL_ASKS = 10_000;
const REMOTE_TELLS = 50_000;
const SECRET = "bench secret, not for production";
const quiet = { error() {} };

let rounds = 10;
for (let i = 0; i < Deno.args.length; i++) {
  if (Deno.args[i] === "--rounds") rounds = Number(Deno.args[++i]);
}
if (!(Number.isInteger(rounds) && rounds > 0)) {
  throw new RangeError(`Invalid round count ${rounds}`);
}

context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());

const counter = defineActor({
  name: "counter",
  init: () => ({ count: 0 }),
  handlers: {
    add: (state, by: number) => {
      state.count += by;
    },
    get: (state) => state.count,
  },
});

interface Variant {
  readonly name: string;
  readonly jobs: Record<string, () => Promise<void>>;
  close(): Promise<void>;
}

async function variant(name: string, traced: boolean): Promise<Variant> {
  const provider = new BasicTracerProvider();
  const local = new ActorSystem({ node: `${name}-l`, askTimeoutMs: 60_000 });
  const client = new ActorSystem({ node: `${name}-c`, askTimeoutMs: 60_000 });
  const server = new ActorSystem({ node: `${name}-s`, askTimeoutMs: 60_000 });
  if (traced) {
    for (const system of [local, client, server]) {
      installTracing(system, { tracerProvider: provider });
    }
  }
  const ref = await local.spawn(counter, undefined, { id: "counter" });
  await server.spawn(counter, undefined, { id: "counter" });
  // Room for a whole job's tells should the connection be down when it starts (it is redialed).
  const common = {
    cluster: "bench",
    secret: SECRET,
    logger: quiet,
    maxBufferedMessages: 1_000_000,
  };
  const clientNode = await RemoteNode.start(client, common);
  const serverNode = await RemoteNode.start(server, common);
  await clientNode.connect(serverNode.address);
  const far = clientNode.ref<{ add(by: number): void; get(): number }>(
    server.node,
    "counter",
  );
  let expected = 0;
  const tracer = provider.getTracer("bench");
  // A traced job sends from within a span: every message then has a parent.
  const job = (fn: () => Promise<void>): () => Promise<void> =>
    traced
      ? () =>
        tracer.startActiveSpan("bench", async (span) => {
          try {
            await fn();
          } finally {
            span.end();
          }
        })
      : fn;
  return {
    name,
    jobs: {
      local_tells: job(async () => {
        for (let i = 0; i < LOCAL_TELLS; i++) ref.tell("add", 1);
        await ref.ask("get");
      }),
      local_asks: job(async () => {
        for (let i = 0; i < LOCAL_ASKS; i++) await ref.ask("get");
      }),
      remote_tells: job(async () => {
        await clientNode.connect(serverNode.address);
        for (let i = 0; i < REMOTE_TELLS; i++) far.tell("add", 1);
        expected += REMOTE_TELLS;
        while (await far.ask("get") < expected) {
          await new Promise((resolve) => setTimeout(resolve, 1));
        }
      }),
    },
    async close() {
      await clientNode.close();
      await serverNode.close();
      for (const system of [local, client, server]) await system.shutdown();
      await provider.shutdown();
    },
  };
}

const SIZES: Record<string, number> = {
  local_tells: LOCAL_TELLS,
  local_asks: LOCAL_ASKS,
  remote_tells: REMOTE_TELLS,
};
const variants = [await variant("off", false), await variant("otel", true)];
const quantile = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(q * (sorted.length - 1))];
};
for (const job of Object.keys(SIZES)) {
  for (let w = 0; w < 2; w++) for (const v of variants) await v.jobs[job]();
  const times = variants.map(() => [] as number[]);
  for (let round = 0; round < rounds; round++) {
    for (let k = 0; k < variants.length; k++) {
      const index = (round + k) % variants.length;
      let best = Infinity;
      for (let b = 0; b < 3; b++) {
        const start = performance.now();
        await variants[index].jobs[job]();
        best = Math.min(best, performance.now() - start);
      }
      times[index].push(best);
    }
  }
  const perMessageNs = (index: number): number[] =>
    times[index].map((t) => t * 1e6 / SIZES[job]);
  const off = perMessageNs(0);
  const on = perMessageNs(1);
  const extra = on.map((t, round) => t - off[round]);
  console.log(
    `${job} (${SIZES[job]} messages): ${rounds} rounds, best of 3\n` +
      `  off   median ${quantile(off, 0.5).toFixed(0)} ns/message\n` +
      `  otel  median ${quantile(on, 0.5).toFixed(0)} ns/message\n` +
      `  cost of tracing: ${quantile(extra, 0.5).toFixed(0)} ns/message ` +
      `(p25-p75 ${quantile(extra, 0.25).toFixed(0)}-${
        quantile(extra, 0.75).toFixed(0)
      })`,
  );
}
for (const v of variants) await v.close();
context.disable();
Deno.exit(0);
