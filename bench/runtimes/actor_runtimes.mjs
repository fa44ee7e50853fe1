// The jobs of bench/actor_bench.ts with its hand-written-mailbox baseline, runtime-neutral:
import process from "node:process";
//   deno run -A actor_runtimes.mjs <mod.ts> [rounds] [--json]
//   node actor_runtimes.mjs <npm/mod.js> [rounds] [--json]   bun ...
// `--json` prints one JSON line (what bench/table.ts reads): each job's median ms per batch.
const allArgs = globalThis.Deno ? Deno.args : process.argv.slice(2);
const json = allArgs.includes("--json");
const args = allArgs.filter((a) => a !== "--json");
const modPath = args[0];
const rounds = Number(args[1] ?? 9);
const { ActorSystem, defineActor } = await import(
  new URL(modPath, `file://${globalThis.Deno ? Deno.cwd() : process.cwd()}/`)
    .href
);
const TELLS = 1_000_000, ASKS = 10_000, SPAWNS = 1_000;
const counter = defineActor({
  name: "counter",
  init: () => ({ count: 0 }),
  handlers: {
    add: (s, by) => {
      s.count += by;
    },
    get: (s) => s.count,
  },
});
const system = new ActorSystem({ askTimeoutMs: 60_000 });
const ref = await system.spawn(counter, undefined, { id: "bench" });
class HandMailbox {
  queue = [];
  head = 0;
  scheduled = false;
  count = 0;
  drain = () => {
    this.scheduled = false;
    const q = this.queue;
    while (this.head < q.length) {
      const by = q[this.head];
      const reply = q[this.head + 1];
      this.head += 2;
      this.count += by;
      if (reply !== null) reply(this.count);
    }
    q.length = 0;
    this.head = 0;
  };
  send(by, reply) {
    this.queue.push(by, reply);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }
  ask() {
    return new Promise((r) => this.send(0, r));
  }
}
const hand = new HandMailbox();
const jobs = {
  "tell 1M (baseline)": async () => {
    for (let i = 0; i < TELLS; i++) hand.send(1, null);
    await hand.ask();
  },
  "tell 1M": async () => {
    for (let i = 0; i < TELLS; i++) ref.tell("add", 1);
    await ref.ask("get");
  },
  "ask 10k (baseline)": async () => {
    for (let i = 0; i < ASKS; i++) await hand.ask();
  },
  "ask 10k": async () => {
    for (let i = 0; i < ASKS; i++) await ref.ask("get");
  },
  "spawn_stop 1k": async () => {
    for (let i = 0; i < SPAWNS; i++) {
      const r = await system.spawn(counter, undefined);
      await r.stop();
    }
  },
};
const times = Object.fromEntries(Object.keys(jobs).map((k) => [k, []]));
for (let w = 0; w < 3; w++) for (const job of Object.values(jobs)) await job();
for (let r = 0; r < rounds; r++) {
  for (const [name, job] of Object.entries(jobs)) {
    const t0 = performance.now();
    await job();
    times[name].push(performance.now() - t0);
  }
}
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s[s.length >> 1];
};
const runtime = globalThis.Deno
  ? `deno ${Deno.version.deno}`
  : globalThis.Bun
  ? `bun ${Bun.version}`
  : `node ${process.version}`;
if (json) {
  const medians = Object.fromEntries(
    Object.entries(times).map(([name, t]) => [name, med(t)]),
  );
  console.log(JSON.stringify({
    bench: "actor",
    runtime,
    rounds,
    batch: { tells: TELLS, asks: ASKS, spawns: SPAWNS },
    medianMs: medians,
  }));
} else {
  for (const [name, t] of Object.entries(times)) {
    const s = [...t].sort((x, y) => x - y);
    console.log(
      `${runtime}\t${name}\t${med(t).toFixed(2)} ms\t(${s[0].toFixed(2)}–${
        s.at(-1).toFixed(2)
      })`,
    );
  }
}
await system.shutdown();
