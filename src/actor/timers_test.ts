import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { ActorSystem, Counter, defineActor } from "../../mod.ts";
import { ManualClock } from "../testing/mod.ts";

const quiet = { error() {} };

/** Where async handlers wait until the test lets them go; disposing opens it for good. */
class Gate implements Disposable {
  #waiting: Array<() => void> = [];
  #open = false;

  get waiting(): number {
    return this.#waiting.length;
  }

  wait(): Promise<void> {
    if (this.#open) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  releaseOne(): void {
    this.#waiting.shift()?.();
  }

  open(): void {
    this.#open = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  [Symbol.dispose](): void {
    this.open();
  }
}

/** What the test actors share with the test: the clock, a log of ticks, a gate. */
interface Env {
  readonly clock: ManualClock;
  readonly log: string[];
  readonly gate: Gate;
}

function setup(): { clock: ManualClock; env: Env; gate: Gate } {
  const clock = new ManualClock();
  const gate = new Gate();
  return { clock, gate, env: { clock, log: [], gate } };
}

function counterValue(
  system: ActorSystem,
  name: string,
  ...labels: string[]
): number {
  const metric = system.metrics.get(name);
  assert.ok(metric instanceof Counter, name);
  return metric.value(...labels);
}

// Handles ticks; the test starts and cancels its timers through messages.
const ticker = defineActor({
  name: "ticker",
  init: (env: Env) => env,
  handlers: {
    tick: (env, label: string) => {
      env.log.push(`${label}@${env.clock.now()}`);
    },
    boom: () => {
      throw new Error("boom");
    },
    active: (_env, key: string, ctx) => ctx.timers.isActive(key),
    startSingle: (_env, spec: { key: string; delayMs: number }, ctx) => {
      try {
        ctx.timers.startSingle(spec.key, spec.delayMs, "tick", spec.key);
        return undefined;
      } catch (error) {
        return error;
      }
    },
    startBogus: (_env, _: undefined, ctx) => {
      try {
        ctx.timers.startSingle("bogus", 10, "nope" as never);
        return undefined;
      } catch (error) {
        return error;
      }
    },
    startPeriodic: (_env, key: string, ctx) => {
      ctx.timers.startPeriodic(key, { intervalMs: 100 }, "tick", key);
    },
    cancelAfterGate: async (env, key: string, ctx) => {
      await env.gate.wait();
      return ctx.timers.cancel(key);
    },
  },
});

test("ActorTimers.startSingle() delivers its message once, after the delay", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  const single = defineActor({
    name: "single",
    init: (e: Env) => e,
    handlers: {
      tick: (e, label: string) => {
        e.log.push(`${label}@${e.clock.now()}`);
      },
    },
    started: (_e, ctx) => ctx.timers.startSingle("once", 100, "tick", "hello"),
  });
  await system.spawn(single, env);
  await clock.advance(99);
  assert.deepEqual(env.log, []);
  await clock.advance(1);
  assert.deepEqual(env.log, ["hello@100"]);
  await clock.advance(1000);
  assert.deepEqual(env.log, ["hello@100"]);
  assert.equal(clock.pendingTimers, 0);
});

test("ActorTimers.startPeriodic() in fixed-rate mode delivers a tick per interval", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  const periodic = defineActor({
    name: "periodic",
    init: (e: Env) => e,
    handlers: {
      tick: (e, label: string) => {
        e.log.push(`${label}@${e.clock.now()}`);
      },
    },
    started: (_e, ctx) =>
      ctx.timers.startPeriodic("beat", { intervalMs: 100 }, "tick", "beat"),
  });
  await system.spawn(periodic, env);
  await clock.advance(350);
  assert.deepEqual(env.log, ["beat@100", "beat@200", "beat@300"]);
  await clock.advance(50);
  assert.deepEqual(env.log, ["beat@100", "beat@200", "beat@300", "beat@400"]);
});

test("ActorTimers.startPeriodic() in fixed-rate mode queues the ticks that fall due while a handler is busy", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  using gate = env.gate;
  const busy = defineActor({
    name: "busy",
    init: (e: Env) => e,
    handlers: {
      tick: async (e, label: string) => {
        e.log.push(`${label}@${e.clock.now()}`);
        await e.gate.wait();
      },
    },
    started: (_e, ctx) =>
      ctx.timers.startPeriodic("beat", { intervalMs: 100 }, "tick", "beat"),
  });
  await system.spawn(busy, env);
  await clock.advance(350);
  assert.deepEqual(env.log, ["beat@100"]);
  gate.open();
  await clock.advance(0);
  assert.deepEqual(env.log, ["beat@100", "beat@350", "beat@350"]);
});

test("ActorTimers.startPeriodic() in fixed-delay mode waits for the handler to finish, then the interval", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  using gate = env.gate;
  const poller = defineActor({
    name: "poller",
    init: (e: Env) => e,
    handlers: {
      tick: async (e, label: string) => {
        e.log.push(`${label}@${e.clock.now()}`);
        await e.gate.wait();
      },
    },
    started: (_e, ctx) =>
      ctx.timers.startPeriodic(
        "poll",
        { intervalMs: 100, mode: "fixed-delay" },
        "tick",
        "poll",
      ),
  });
  await system.spawn(poller, env);
  await clock.advance(100);
  assert.deepEqual(env.log, ["poll@100"]);
  // The handler of the first tick has not finished: no tick is even scheduled.
  await clock.advance(1000);
  assert.deepEqual(env.log, ["poll@100"]);
  assert.equal(gate.waiting, 1);
  assert.equal(clock.pendingTimers, 0);
  gate.releaseOne();
  await clock.advance(99);
  assert.deepEqual(env.log, ["poll@100"]);
  await clock.advance(1);
  assert.deepEqual(env.log, ["poll@100", "poll@1200"]);
});

test("ActorTimers.cancel() discards a tick that is already queued", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  using gate = env.gate;
  const ref = await system.spawn(ticker, env);
  ref.tell("startPeriodic", "beat");
  const cancelled = ref.ask("cancelAfterGate", "beat");
  await clock.advance(150);
  // The tick of 100 is in the mailbox behind the busy handler.
  assert.equal(
    counterValue(
      system,
      "troupe_actor_messages_sent_total",
      "ticker",
      "tick",
    ),
    1,
  );
  assert.deepEqual(env.log, []);
  gate.releaseOne();
  assert.equal(await cancelled, true);
  await clock.advance(1000);
  assert.deepEqual(env.log, []);
  assert.equal(
    counterValue(
      system,
      "troupe_actor_messages_processed_total",
      "ticker",
      "tick",
    ),
    0,
  );
  assert.equal(await ref.ask("active", "beat"), false);
});

test("ActorTimers.cancel() returns false for a key with no active timer", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  using gate = env.gate;
  const ref = await system.spawn(ticker, env);
  gate.open();
  assert.equal(await ref.ask("cancelAfterGate", "none"), false);
});

test("ActorTimers: every timer stops when the actor stops", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  const before = clock.pendingTimers;
  const two = defineActor({
    name: "two-timers",
    init: (e: Env) => e,
    handlers: {
      tick: (e, label: string) => {
        e.log.push(`${label}@${e.clock.now()}`);
      },
    },
    started: (_e, ctx) => {
      ctx.timers.startPeriodic("beat", { intervalMs: 100 }, "tick", "beat");
      ctx.timers.startSingle("once", 500, "tick", "once");
    },
  });
  const ref = await system.spawn(two, env);
  assert.equal(clock.pendingTimers, before + 2);
  await clock.advance(100);
  assert.deepEqual(env.log, ["beat@100"]);
  await ref.stop();
  assert.equal(clock.pendingTimers, before);
  await clock.advance(1000);
  assert.deepEqual(env.log, ["beat@100"]);
});

test("ActorTimers: a restart cancels the timers a handler started", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock, logger: quiet });
  const ref = await system.spawn(ticker, env);
  ref.tell("startPeriodic", "beat");
  await clock.advance(100);
  assert.deepEqual(env.log, ["beat@100"]);
  ref.tell("boom");
  await clock.advance(0);
  assert.equal(
    counterValue(system, "troupe_actor_restarts_total", "ticker"),
    1,
  );
  assert.equal(clock.pendingTimers, 0);
  await clock.advance(1000);
  assert.deepEqual(env.log, ["beat@100"]);
  assert.equal(await ref.ask("active", "beat"), false);
});

test("ActorTimers: after a restart a timer started in started() runs once, from the restart", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock, logger: quiet });
  const restarting = defineActor({
    name: "restarting",
    init: (e: Env) => e,
    handlers: {
      tick: (e, label: string) => {
        e.log.push(`${label}@${e.clock.now()}`);
      },
      boom: () => {
        throw new Error("boom");
      },
    },
    started: (_e, ctx) =>
      ctx.timers.startPeriodic("beat", { intervalMs: 100 }, "tick", "beat"),
  });
  const ref = await system.spawn(restarting, env);
  await clock.advance(150);
  ref.tell("boom");
  await clock.advance(0);
  assert.equal(
    counterValue(system, "troupe_actor_restarts_total", "restarting"),
    1,
  );
  assert.equal(clock.pendingTimers, 1);
  await clock.advance(210);
  assert.deepEqual(env.log, ["beat@100", "beat@250", "beat@350"]);
});

test("ActorTimers.startSingle() throws TypeError for a message type the actor does not handle", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  const ref = await system.spawn(ticker, env);
  const error = await ref.ask("startBogus");
  assert.ok(error instanceof TypeError, String(error));
  assert.match(error.message, /nope/);
  assert.equal(await ref.ask("active", "bogus"), false);
});

test("ActorTimers.startSingle() throws RangeError for a negative delay", async () => {
  const { clock, env } = setup();
  await using system = new ActorSystem({ clock });
  const ref = await system.spawn(ticker, env);
  const error = await ref.ask("startSingle", { key: "t", delayMs: -1 });
  assert.ok(error instanceof RangeError, String(error));
  assert.equal(await ref.ask("active", "t"), false);
});

test({
  name:
    "ActorTimers.startSingle() with a bad delay leaves the timer under that key delivering",
  fn: async () => {
    const { clock, env } = setup();
    await using system = new ActorSystem({ clock });
    const ref = await system.spawn(ticker, env);
    ref.tell("startPeriodic", "beat");
    const error = await ref.ask("startSingle", { key: "beat", delayMs: -1 });
    assert.ok(error instanceof RangeError, String(error));
    assert.equal(await ref.ask("active", "beat"), true);
    await clock.advance(300);
    assert.deepEqual(env.log, ["beat@100", "beat@200", "beat@300"]);
  },
});

test({
  name:
    "ActorTimers.startPeriodic() in fixed-delay mode keeps ticking after a full mailbox dropped a tick",
  fn: async () => {
    const { clock, env } = setup();
    await using system = new ActorSystem({ clock });
    using gate = env.gate;
    const bounded = defineActor({
      name: "bounded-poller",
      init: (e: Env) => e,
      handlers: {
        tick: (e, label: string) => {
          e.log.push(`${label}@${e.clock.now()}`);
        },
        block: async (e) => {
          await e.gate.wait();
        },
        noop: () => {},
        active: (_e, key: string, ctx) => ctx.timers.isActive(key),
      },
      started: (_e, ctx) =>
        ctx.timers.startPeriodic(
          "poll",
          { intervalMs: 100, mode: "fixed-delay" },
          "tick",
          "poll",
        ),
      mailbox: { capacity: 1, overflow: "drop-newest" },
    });
    const ref = await system.spawn(bounded, env);
    ref.tell("block");
    await clock.advance(0);
    ref.tell("noop"); // fills the mailbox
    await clock.advance(100); // the tick of 100 does not fit
    assert.deepEqual(env.log, []);
    gate.releaseOne();
    await clock.advance(0);
    assert.equal(await ref.ask("active", "poll"), true);
    await clock.advance(1000);
    assert.ok(env.log.length > 0, "the timer never ticked again");
  },
});
