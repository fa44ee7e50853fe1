// Actor runtime benchmarks. Each group has a baseline: the least a hand-written mailbox (an
// array queue drained in a microtask, synchronous handler) does for the same job, so the
// runtime's overhead shows as a ratio in every run. Throughputs: divide the batch size by the
// reported time per iteration (bench/README.md has the table).
import { ActorSystem, defineActor } from "../mod.ts";

const TELLS = 1_000_000;
const ASKS = 10_000;
const SPAWNS = 1_000;

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
