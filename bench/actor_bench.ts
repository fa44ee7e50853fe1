// Actor runtime benchmarks. Each group has a baseline: the least a hand-written mailbox (an
// array queue drained in a microtask, synchronous handler) does for the same job, so the
// runtime's overhead shows as a ratio in every run. Throughputs: divide the batch size by the
// reported time per iteration (bench/README.md has the table).
//
// Two ways to run it:
//   deno bench -A bench/actor_bench.ts
//     the benchmarks of this checkout, each with its baseline;
//   deno run -A bench/actor_bench.ts [--rounds N] <checkout> <checkout>...
//     the same jobs for several checkouts of the repository (for example a worktree of an older
//     commit and this one), interleaved in one process: each round runs every checkout in turn
//     (best of 3), so that the machine's ups and downs hit all of them alike. Prints each
//     checkout's median and the median ratio to the first one. On a shared, noisy machine this
//     resolves differences of a few percent that separate `deno bench` runs cannot.
import { ActorSystem, defineActor } from "../mod.ts";

const TELLS = 1_000_000;
const ASKS = 10_000;
const SPAWNS = 1_000;

if (import.meta.main) {
  await compareCheckouts(Deno.args);
  Deno.exit(0);
}

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

const system = new ActorSystem({ askTimeoutMs: 60_000 });
const ref = await system.spawn(counter, undefined, { id: "bench" });

// The baseline: an array queue drained in a microtask, a synchronous handler, and for asks a
// promise resolved by the handler.
class HandMailbox {
  queue: Array<number | ((v: number) => void) | null> = [];
  head = 0;
  scheduled = false;
  count = 0;
  drain = (): void => {
    this.scheduled = false;
    const q = this.queue;
    while (this.head < q.length) {
      const by = q[this.head] as number;
      const reply = q[this.head + 1] as ((v: number) => void) | null;
      this.head += 2;
      this.count += by;
      if (reply !== null) reply(this.count);
    }
    q.length = 0;
    this.head = 0;
  };
  send(by: number, reply: ((v: number) => void) | null): void {
    this.queue.push(by, reply);
    if (!this.scheduled) {
      this.scheduled = true;
      queueMicrotask(this.drain);
    }
  }
  ask(): Promise<number> {
    return new Promise((resolve) => this.send(0, resolve));
  }
}
const hand = new HandMailbox();

Deno.bench({
  name: "baseline: hand-written mailbox, 1M tells",
  group: "tell_throughput",
  baseline: true,
  n: 20,
  warmup: 5,
  async fn() {
    for (let i = 0; i < TELLS; i++) hand.send(1, null);
    await hand.ask();
  },
});
Deno.bench({
  name: "tell_throughput (1M tells)",
  group: "tell_throughput",
  n: 20,
  warmup: 5,
  async fn() {
    for (let i = 0; i < TELLS; i++) ref.tell("add", 1);
    await ref.ask("get");
  },
});

Deno.bench({
  name: "baseline: hand-written mailbox, 10k sequential asks",
  group: "ask_roundtrip",
  baseline: true,
  async fn() {
    for (let i = 0; i < ASKS; i++) await hand.ask();
  },
});
Deno.bench({
  name: "ask_roundtrip (10k sequential asks)",
  group: "ask_roundtrip",
  async fn() {
    for (let i = 0; i < ASKS; i++) await ref.ask("get");
  },
});

Deno.bench({
  name: "baseline: hand-written mailbox object, 1k create + discard",
  group: "spawn_stop",
  baseline: true,
  fn() {
    const registry = new Map<string, HandMailbox>();
    for (let i = 0; i < SPAWNS; i++) {
      const m = new HandMailbox();
      registry.set(String(i), m);
      registry.delete(String(i));
    }
  },
});
Deno.bench({
  name: "spawn_stop (1k spawn + stop)",
  group: "spawn_stop",
  async fn() {
    for (let i = 0; i < SPAWNS; i++) {
      const r = await system.spawn(counter, undefined);
      await r.stop();
    }
  },
});

globalThis.addEventListener("unload", () => {
  void system.shutdown();
});

// ---- deno run: checkouts compared, interleaved ----------------------------------------------

// The jobs of the benchmarks above, for one checkout: a module of its own per checkout, so that
// no call site (and none of its type feedback) is shared between checkouts.
function jobsModule(actorModUrl: string): string {
  return `import { ActorSystem, defineActor } from ${
    JSON.stringify(actorModUrl)
  };
const counter = defineActor({
  name: "counter",
  init: () => ({ count: 0 }),
  handlers: {
    add: (state: { count: number }, by: number) => { state.count += by; },
    get: (state: { count: number }) => state.count,
  },
});
const system = new ActorSystem({ askTimeoutMs: 60_000 });
const ref = await system.spawn(counter, undefined, { id: "bench" });
export const jobs: Record<string, () => Promise<void>> = {
  "tell_throughput (1M tells)": async () => {
    for (let i = 0; i < ${TELLS}; i++) ref.tell("add", 1);
    await ref.ask("get");
  },
  "ask_roundtrip (10k sequential asks)": async () => {
    for (let i = 0; i < ${ASKS}; i++) await ref.ask("get");
  },
  "spawn_stop (1k spawn + stop)": async () => {
    for (let i = 0; i < ${SPAWNS}; i++) {
      const r = await system.spawn(counter, undefined);
      await r.stop();
    }
  },
};
export const close = (): Promise<void> => system.shutdown();
`;
}

async function compareCheckouts(args: string[]): Promise<void> {
  let rounds = 15;
  const checkouts: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === "--rounds") rounds = Number(args[++i]);
    else checkouts.push(args[i]);
  }
  if (!(Number.isInteger(rounds) && rounds > 0)) {
    throw new RangeError(`Invalid round count ${rounds}`);
  }
  if (checkouts.length === 0) {
    throw new TypeError(
      "Usage: deno run -A bench/actor_bench.ts [--rounds N] <checkout> <checkout>...",
    );
  }
  const BEST_OF = 3;
  const runs: Array<{
    name: string;
    jobs: Record<string, () => Promise<void>>;
    close: () => Promise<void>;
  }> = [];
  for (const checkout of checkouts) {
    const root = new URL(`${Deno.realPathSync(checkout)}/`, "file:///");
    const file = await Deno.makeTempFile({ suffix: ".ts" });
    try {
      await Deno.writeTextFile(
        file,
        jobsModule(new URL("src/actor/mod.ts", root).href),
      );
      const loaded = await import(new URL(file, "file:///").href);
      runs.push({ name: checkout, jobs: loaded.jobs, close: loaded.close });
    } finally {
      await Deno.remove(file);
    }
  }
  const quantile = (values: number[], q: number): number => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor(q * (sorted.length - 1))];
  };
  const ms = (value: number): string => value.toFixed(value < 10 ? 2 : 1);
  for (const job of Object.keys(runs[0].jobs)) {
    for (let w = 0; w < 3; w++) for (const run of runs) await run.jobs[job]();
    const times = runs.map(() => [] as number[]);
    for (let round = 0; round < rounds; round++) {
      for (let k = 0; k < runs.length; k++) {
        const index = (round + k) % runs.length;
        let best = Infinity;
        for (let b = 0; b < BEST_OF; b++) {
          const start = performance.now();
          await runs[index].jobs[job]();
          best = Math.min(best, performance.now() - start);
        }
        times[index].push(best);
      }
    }
    console.log(
      `${job}: ${rounds} rounds, best of ${BEST_OF} per checkout and round`,
    );
    runs.forEach((run, index) => {
      const ratios = times[index].map((t, round) => t / times[0][round]);
      console.log(
        `  ${run.name.padEnd(24)} median ${
          ms(quantile(times[index], 0.5)).padStart(6)
        } ms (p25-p75 ${ms(quantile(times[index], 0.25))}-${
          ms(quantile(times[index], 0.75))
        })  ratio to ${runs[0].name}: ${
          quantile(ratios, 0.5).toFixed(3)
        } (p25-p75 ${quantile(ratios, 0.25).toFixed(3)}-${
          quantile(ratios, 0.75).toFixed(3)
        })`,
      );
    });
  }
  for (const run of runs) await run.close();
}
