// A five-minute tour of Troupe. Run it with `deno task example`.
//
// 1. A "bank" actor answers asks and keeps a running total.
// 2. It ticks every 100 ms from a timer and reports how many ticks it saw.
// 3. It supervises an "auditor" child that throws on a bad entry; the supervisor restarts it
//    with fresh state, and the ask that caused the failure rejects with the error.
// 4. At the end, the system's metrics are printed in the Prometheus text format.
import { ActorSystem, defineActor, oneForOne } from "../mod.ts";

const auditor = defineActor({
  name: "auditor",
  init: (limit: number) => ({ limit, checked: 0 }),
  handlers: {
    check: (state, amount: number) => {
      if (amount > state.limit) {
        throw new Error(`amount ${amount} is over the limit ${state.limit}`);
      }
      state.checked++;
      return state.checked;
    },
  },
  started: (state) => console.log(`  auditor started (limit ${state.limit})`),
});

const bank = defineActor({
  name: "bank",
  init: () => ({ total: 0, ticks: 0 }),
  handlers: {
    deposit: async (state, amount: number, ctx) => {
      const [child] = ctx.children();
      // Every deposit is audited first: an ask to the child. If the auditor throws, this ask
      // rejects with its error; the bank handles that (otherwise the bank would fail too).
      try {
        await child.ask("check", amount);
      } catch (error) {
        return `refused: ${(error as Error).message}`;
      }
      state.total += amount;
      return `total ${state.total}`;
    },
    total: (state) => state.total,
    tick: (state) => {
      state.ticks++;
    },
    ticks: (state) => state.ticks,
  },
  supervision: oneForOne({ maxRestarts: 3, withinMs: 10_000 }),
  started: async (_state, ctx) => {
    await ctx.spawn(auditor, 1_000, { id: "auditor" });
    ctx.timers.startPeriodic("tick", { intervalMs: 100 }, "tick");
  },
});

await using system = new ActorSystem({
  node: "tour",
  logger: { error: (message) => console.log(`  (logged) ${message}`) },
});
const ref = await system.spawn(bank, undefined, { id: "bank" });

console.log("1. asks");
console.log(`  deposit 250 -> ${await ref.ask("deposit", 250)}`);
console.log(`  deposit 500 -> ${await ref.ask("deposit", 500)}`);

console.log("2. a child that throws is restarted by its supervisor");
console.log(`  deposit 5000 -> ${await ref.ask("deposit", 5_000)}`);
console.log(
  `  deposit 100 -> ${await ref.ask("deposit", 100)} (the auditor is back)`,
);

console.log("3. a timer");
await new Promise((resolve) => setTimeout(resolve, 350));
console.log(`  ticks seen after ~350 ms: ${await ref.ask("ticks")}`);

await ref.stop();
console.log("4. metrics");
const interesting =
  /^troupe_(actor_(created|stopped|restarts|failures)_total|actor_messages_processed_total)/;
for (const line of system.prometheusText().split("\n")) {
  if (interesting.test(line)) console.log(`  ${line}`);
}
