// Timer lateness under a message storm: how late a 0 ms platform timer runs while two actors
// play ping-pong with synchronous handlers. The scheduler's time slice (src/actor/mod.ts) should
// hold it to about 20 ms; without the slice the timer waits for the whole storm. The baseline is
// the same timer with no storm, measured in the same run.
//
// Two ways to run it:
//   deno run -A bench/timer_lateness_bench.ts [storms] [messages per storm]
//     prints median / p99 / max lateness of a chain of 0 ms timers during each storm, and of
//     the same chain on an idle event loop (defaults: 5 storms of 2,000,000 messages);
//   deno bench -A bench/timer_lateness_bench.ts
//     times, per iteration, from the start of a storm to its first 0 ms timer (group
//     timer_lateness, with the idle loop as baseline).
import { type ActorRef, ActorSystem, defineActor } from "../mod.ts";

interface Storm {
  processed: number;
  players: Array<ActorRef<{ ball(n: number): void }>>;
  done: () => void;
}

const player = defineActor({
  name: "player",
  init: (args: { storm: { current: Storm | null }; side: number }) => args,
  handlers: {
    ball: (state, n: number) => {
      const storm = state.storm.current!;
      storm.processed++;
      if (n > 0) storm.players[1 - state.side].tell("ball", n - 1);
      else storm.done();
    },
  },
});

async function setUp(): Promise<{
  system: ActorSystem;
  run: (messages: number) => Promise<void>;
}> {
  const system = new ActorSystem();
  const holder: { current: Storm | null } = { current: null };
  const players: Storm["players"] = [];
  for (const side of [0, 1]) {
    players.push(await system.spawn(player, { storm: holder, side }));
  }
  const run = (messages: number): Promise<void> =>
    new Promise((resolve) => {
      holder.current = { processed: 0, players, done: resolve };
      players[0].tell("ball", messages - 1);
    });
  return { system, run };
}

function sleep0(): Promise<number> {
  const set = performance.now();
  return new Promise((resolve) =>
    setTimeout(() => resolve(performance.now() - set), 0)
  );
}

// Chains 0 ms timers until `until` settles; returns the lateness of each, in ms.
async function timerChain(until: Promise<void>): Promise<number[]> {
  let over = false;
  until.then(() => over = true);
  const lateness: number[] = [];
  while (!over) lateness.push(await sleep0());
  return lateness;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function summary(label: string, samples: number[]): string {
  const sorted = [...samples].sort((a, b) => a - b);
  return `${label.padEnd(34)} n=${String(sorted.length).padStart(5)}  median ${
    quantile(sorted, 0.5).toFixed(2).padStart(7)
  } ms  p99 ${quantile(sorted, 0.99).toFixed(2).padStart(7)} ms  max ${
    sorted[sorted.length - 1].toFixed(2).padStart(7)
  } ms`;
}

async function main(storms: number, messages: number): Promise<void> {
  const { system, run } = await setUp();
  try {
    await run(10_000); // warm up
    const first: number[] = [];
    const during: number[] = [];
    let handled = 0;
    let stormMs = 0;
    for (let i = 0; i < storms; i++) {
      const start = performance.now();
      const storm = run(messages);
      const chain = await timerChain(storm);
      stormMs += performance.now() - start;
      handled += messages;
      first.push(chain[0]);
      during.push(...chain);
    }
    // Baseline: the same chain on an idle event loop, for as many timers.
    const idle: number[] = [];
    while (idle.length < Math.max(during.length, 200)) {
      idle.push(await sleep0());
    }
    console.log(
      `${storms} storms of ${messages} ping-pong messages, ${
        (handled / stormMs * 1000 / 1e6).toFixed(2)
      }M messages/s (timers included)`,
    );
    console.log(summary("baseline: 0 ms timer, idle loop", idle));
    console.log(summary("first 0 ms timer of each storm", first));
    console.log(summary("0 ms timers chained through storms", during));
  } finally {
    await system.shutdown();
  }
}

if (import.meta.main) {
  const storms = Number(Deno.args[0] ?? 5);
  const messages = Number(Deno.args[1] ?? 2_000_000);
  if (!(Number.isInteger(storms) && storms > 0)) {
    throw new RangeError(`Invalid storm count ${Deno.args[0]}`);
  }
  if (!(Number.isInteger(messages) && messages > 0)) {
    throw new RangeError(`Invalid message count ${Deno.args[1]}`);
  }
  await main(storms, messages);
} else {
  const { system, run } = await setUp();
  const STORM = 1_000_000;
  Deno.bench({
    name: "baseline: 0 ms timer, idle loop",
    group: "timer_lateness",
    baseline: true,
    async fn() {
      await sleep0();
    },
  });
  Deno.bench({
    name: "0 ms timer set at the start of a 1M-message ping-pong storm",
    group: "timer_lateness",
    n: 20,
    warmup: 2,
    async fn(b) {
      b.start();
      const storm = run(STORM);
      await sleep0();
      b.end();
      await storm;
    },
  });
  globalThis.addEventListener("unload", () => {
    void system.shutdown();
  });
}
