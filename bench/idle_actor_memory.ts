// idle_actor_memory: the heap cost of 100k idle actors (spawned, started, never messaged).
// Run: deno run -A --v8-flags=--expose-gc bench/idle_actor_memory.ts
// Baseline in the same run: 100k hand-written mailbox objects (array queue + state + a Map entry).
import { ActorSystem, defineActor } from "../mod.ts";

const COUNT = 100_000;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

function heap(): number {
  gc!();
  gc!();
  return Deno.memoryUsage().heapUsed;
}

const idle = defineActor({
  name: "idle",
  init: () => ({ count: 0 }),
  handlers: { add: (state, by: number) => void (state.count += by) },
});

const baseStart = heap();
const hand = new Map<string, { queue: unknown[]; state: { count: number } }>();
for (let i = 0; i < COUNT; i++) {
  hand.set(`h${i}`, { queue: [], state: { count: 0 } });
}
const baseBytes = (heap() - baseStart) / COUNT;

const system = new ActorSystem();
const start = heap();
const refs = [];
for (let i = 0; i < COUNT; i++) refs.push(await system.spawn(idle, undefined));
const end = heap();
const perActor = (end - start) / COUNT;
console.log(
  `baseline (hand-written mailbox object): ${baseBytes.toFixed(0)} bytes each`,
);
console.log(
  `idle_actor_memory: ${
    perActor.toFixed(0)
  } bytes per idle actor (${COUNT} actors)`,
);
console.log(
  `ratio: ${(perActor / baseBytes).toFixed(2)}x baseline; target ≤ 1024 bytes`,
);
await system.shutdown();
if (hand.size !== COUNT || refs.length !== COUNT) {
  throw new Error("unreachable");
}
