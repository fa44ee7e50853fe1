import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorSystem,
  allForOne,
  defineActor,
  type Directive,
  isActorStoppedError,
  isSupervisionEscalatedError,
  oneForOne,
  restForOne,
  type SupervisionStrategy,
} from "../../mod.ts";
import { ManualClock } from "../testing/mod.ts";

const quiet = { error() {} };

/** A worker that counts starts per name in a shared log and can be told to fail. */
function makeWorker(log: string[]) {
  return defineActor({
    name: "worker",
    init: (name: string) => {
      log.push(`init ${name}`);
      return { name, hits: 0 };
    },
    handlers: {
      hit: (state) => ++state.hits,
      crash: (state): void => {
        throw new Error(`${state.name} crashed`);
      },
    },
  });
}

function makeSupervisor(
  log: string[],
  strategy: SupervisionStrategy,
  names: string[],
) {
  const worker = makeWorker(log);
  return defineActor({
    name: "supervisor",
    init: () => ({ restarts: 0 }),
    handlers: {
      child: (_state, name: string, ctx) =>
        ctx.children().find((c) => c.id === name) as unknown as ActorRef<
          { hit(): number; crash(): void }
        >,
    },
    supervision: strategy,
    started: async (_state, ctx) => {
      for (const name of names) await ctx.spawn(worker, name, { id: name });
    },
  });
}

async function settle(clock?: ManualClock): Promise<void> {
  if (clock) await clock.advance(0);
  for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
}

test("oneForOne(): a failed child restarts with fresh state; siblings keep theirs", async () => {
  const log: string[] = [];
  await using system = new ActorSystem({ logger: quiet });
  const sup = await system.spawn(
    makeSupervisor(log, oneForOne(), ["a", "b"]),
    undefined,
  );
  const a = await sup.ask("child", "a");
  const b = await sup.ask("child", "b");
  await a.ask("hit");
  await b.ask("hit");
  await assert.rejects(a.ask("crash"), /a crashed/);
  assert.equal(await a.ask("hit"), 1, "a restarted from its start args");
  assert.equal(await b.ask("hit"), 2, "b was not restarted");
  assert.deepEqual(log, ["init a", "init b", "init a"]);
});

test("allForOne(): one child's failure restarts every child", async () => {
  const log: string[] = [];
  await using system = new ActorSystem({ logger: quiet });
  const sup = await system.spawn(
    makeSupervisor(log, allForOne(), ["a", "b", "c"]),
    undefined,
  );
  const [a, b, c] = await Promise.all(
    ["a", "b", "c"].map((n) => sup.ask("child", n)),
  );
  for (const ref of [a, b, c]) await ref.ask("hit");
  await assert.rejects(b.ask("crash"));
  for (const ref of [a, b, c]) assert.equal(await ref.ask("hit"), 1);
  assert.deepEqual(log.slice(3).sort(), ["init a", "init b", "init c"]);
});

test("restForOne(): the failed child and those started after it restart", async () => {
  const log: string[] = [];
  await using system = new ActorSystem({ logger: quiet });
  const sup = await system.spawn(
    makeSupervisor(log, restForOne(), ["a", "b", "c"]),
    undefined,
  );
  const [a, b, c] = await Promise.all(
    ["a", "b", "c"].map((n) => sup.ask("child", n)),
  );
  for (const ref of [a, b, c]) await ref.ask("hit");
  await assert.rejects(b.ask("crash"));
  assert.equal(await a.ask("hit"), 2, "a started before b: untouched");
  assert.equal(await b.ask("hit"), 1);
  assert.equal(await c.ask("hit"), 1);
  assert.deepEqual(log.slice(3).sort(), ["init b", "init c"]);
});

test("Supervision directive resume keeps the state; stop stops the child with a thrown fault", async () => {
  for (const directive of ["resume", "stop"] satisfies Directive[]) {
    const log: string[] = [];
    await using system = new ActorSystem({ logger: quiet });
    const sup = await system.spawn(
      makeSupervisor(log, oneForOne({ decide: () => directive }), ["a"]),
      undefined,
    );
    const a = await sup.ask("child", "a");
    await a.ask("hit");
    const stopped = system.whenStopped(a);
    await assert.rejects(a.ask("crash"));
    if (directive === "resume") {
      assert.equal(await a.ask("hit"), 2);
      assert.deepEqual(log, ["init a"]);
    } else {
      const notice = await stopped;
      assert.equal(notice.fault?.kind, "thrown");
      assert.equal(a.stopped, true);
      await assert.rejects(a.ask("hit"), isActorStoppedError);
    }
  }
});

test("Supervision: more than maxRestarts within the window escalates to the parent", async () => {
  const log: string[] = [];
  const parentFailures: unknown[] = [];
  await using system = new ActorSystem({
    logger: quiet,
    supervision: oneForOne({
      decide: (error) => {
        parentFailures.push(error);
        return "restart";
      },
    }),
  });
  const sup = await system.spawn(
    makeSupervisor(log, oneForOne({ maxRestarts: 2, withinMs: 60_000 }), ["a"]),
    undefined,
    { id: "sup" },
  );
  let a = await sup.ask("child", "a");
  await assert.rejects(a.ask("crash"));
  await assert.rejects(a.ask("crash"));
  assert.equal(
    parentFailures.length,
    0,
    "two restarts are within the intensity",
  );
  await assert.rejects(a.ask("crash"));
  await settle();
  assert.equal(parentFailures.length, 1, "the third failure escalates");
  assert.ok(isSupervisionEscalatedError(parentFailures[0]));
  assert.equal(
    (parentFailures[0] as Error & { childPath: string }).childPath,
    "sup/a",
  );
  // The parent was restarted by its own supervisor, and its started hook made a fresh child.
  a = await sup.ask("child", "a");
  assert.equal(await a.ask("hit"), 1);
  assert.deepEqual(log, ["init a", "init a", "init a", "init a"]);
});

test("Supervision: restarts outside the window do not count (virtual time)", async () => {
  const clock = new ManualClock();
  const log: string[] = [];
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    supervision: oneForOne({ maxRestarts: 1, withinMs: 1000 }),
  });
  const worker = makeWorker(log);
  const a = await system.spawn(worker, "a");
  await assert.rejects(a.ask("crash"));
  await settle(clock);
  await clock.advance(1500);
  await assert.rejects(a.ask("crash"));
  await settle(clock);
  assert.equal(
    await a.ask("hit"),
    1,
    "still alive: the first restart left the window",
  );
  await assert.rejects(a.ask("crash"));
  await settle(clock);
  assert.equal(a.stopped, true, "two restarts within 1 s: top level stops it");
});

test("Supervision: escalation at the top level stops the actor with the fault", async () => {
  const errors: string[] = [];
  await using system = new ActorSystem({
    logger: { error: (message) => void errors.push(message) },
    supervision: oneForOne({ decide: () => "escalate" }),
  });
  const a = await system.spawn(makeWorker([]), "a", { id: "a" });
  const stopped = system.whenStopped(a);
  await assert.rejects(a.ask("crash"));
  assert.equal((await stopped).fault?.kind, "thrown");
  assert.ok(
    errors.some((m) => m.includes(`Actor "a" stopped`)),
    errors.join("\n"),
  );
});

test("Supervision: a throwing decide() escalates instead of crashing", async () => {
  await using system = new ActorSystem({
    logger: quiet,
    supervision: oneForOne({
      decide: () => {
        throw new Error("bad decider");
      },
    }),
  });
  const a = await system.spawn(makeWorker([]), "a");
  await assert.rejects(a.ask("crash"));
  await system.whenStopped(a);
});

test("Supervision backoff: restarts wait minMs, doubling up to maxMs (virtual time)", async () => {
  const clock = new ManualClock();
  const log: string[] = [];
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    supervision: oneForOne({
      maxRestarts: 10,
      backoff: { minMs: 100, maxMs: 300 },
    }),
  });
  const a = await system.spawn(makeWorker(log), "a");
  const expectRestartAfter = async (ms: number) => {
    const before = log.length;
    await assert.rejects(a.ask("crash"));
    await clock.advance(ms - 1);
    assert.equal(log.length, before, `not restarted before ${ms} ms`);
    await clock.advance(1);
    assert.equal(log.length, before + 1, `restarted at ${ms} ms`);
  };
  await expectRestartAfter(100);
  await expectRestartAfter(200);
  await expectRestartAfter(300);
  await expectRestartAfter(300);
  // Messages sent during the backoff wait and are handled after the restart.
  await assert.rejects(a.ask("crash"));
  const queued = a.ask("hit", undefined, { timeoutMs: 10_000 });
  await clock.advance(300);
  assert.equal(await queued, 1);
});

test("Supervision backoff: a stop during the backoff stops at once", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    supervision: oneForOne({ backoff: { minMs: 10_000, maxMs: 10_000 } }),
  });
  const log: string[] = [];
  const a = await system.spawn(makeWorker(log), "a");
  await assert.rejects(a.ask("crash"));
  await a.stop(); // resolves without the clock moving
  assert.equal(a.stopped, true);
  await clock.advance(20_000);
  assert.deepEqual(log, ["init a"], "the cancelled backoff never restarts it");
});

test("oneForOne() and friends validate their options", () => {
  assert.throws(() => oneForOne({ maxRestarts: -1 }), RangeError);
  assert.throws(() => oneForOne({ withinMs: 0 }), RangeError);
  assert.throws(
    () => oneForOne({ backoff: { minMs: 10, maxMs: 5 } }),
    RangeError,
  );
  assert.throws(
    () => oneForOne({ backoff: { minMs: 1, maxMs: 5, jitter: 2 } }),
    RangeError,
  );
  assert.throws(() => oneForOne({ decide: 1 as never }), TypeError);
  assert.throws(
    () => new ActorSystem({ supervision: { kind: "x" } as never }),
    TypeError,
  );
});

test("Supervision: a restart failing in init is retried within the intensity", async () => {
  let attempts = 0;
  const flaky = defineActor({
    name: "flaky",
    init: () => {
      attempts++;
      if (attempts === 2) throw new Error("init failed once");
      return { n: 0 };
    },
    handlers: {
      crash: (): void => {
        throw new Error("crash");
      },
      ping: () => "pong",
    },
  });
  await using system = new ActorSystem({ logger: quiet });
  const ref = await system.spawn(flaky, undefined);
  await assert.rejects(ref.ask("crash"));
  assert.equal(await ref.ask("ping"), "pong");
  assert.equal(attempts, 3);
});

test("Supervision: stopped hook runs before a restart replaces the state", async () => {
  const events: string[] = [];
  const hooked = defineActor({
    name: "hooked",
    init: () => ({}),
    handlers: {
      crash: (): void => {
        throw new Error("x");
      },
    },
    started: () => void events.push("started"),
    stopped: () => void events.push("stopped"),
  });
  await using system = new ActorSystem({ logger: quiet });
  const ref = await system.spawn(hooked, undefined);
  await assert.rejects(ref.ask("crash"));
  await settle();
  assert.deepEqual(events, ["started", "stopped", "started"]);
});

// An actor whose "hang" handler waits on a promise the test settles, and whose "hold" and
// "mark" handlers show whether two of them ever run at once.
function makeAbandonable() {
  const hangs: Array<{ resolve(): void; reject(error: unknown): void }> = [];
  const holds: Array<() => void> = [];
  const stats = { inits: 0, running: 0, overlapped: 0, marks: 0 };
  const enter = () => {
    if (stats.running++ > 0) stats.overlapped++;
  };
  const definition = defineActor({
    name: "abandonable",
    init: () => {
      stats.inits++;
      return {};
    },
    handlers: {
      // Not counted as running: once abandoned it is no longer the actor's message in hand.
      hang: () =>
        new Promise<void>((resolve, reject) => hangs.push({ resolve, reject })),
      hold: () => {
        enter();
        return new Promise<void>((resolve) => holds.push(resolve)).finally(
          () => stats.running--,
        );
      },
      mark: () => {
        enter();
        stats.marks++;
        stats.running--;
      },
      ping: () => "pong",
    },
  });
  return { definition, hangs, holds, stats };
}

// Under all-for-one supervision, a sibling's failure restarts an actor whose handler hangs;
// the restart abandons that handler after stopTimeoutMs.
async function restartAbandoning(clock: ManualClock, system: ActorSystem) {
  const actor = makeAbandonable();
  const a = await system.spawn(actor.definition, undefined, { id: "a" });
  const b = await system.spawn(makeWorker([]), "b", { id: "b" });
  a.tell("hang");
  await settle(clock);
  assert.equal(actor.hangs.length, 1);
  b.tell("crash");
  await settle(clock);
  await clock.advance(100);
  await settle(clock);
  assert.equal(actor.stats.inits, 2, "a was restarted");
  return { ...actor, a };
}

test("ActorCell: a handler abandoned by a restart cannot clear busy on the new incarnation", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({
    clock,
    logger: quiet,
    stopTimeoutMs: 100,
    supervision: allForOne(),
  });
  const { a, hangs, holds, stats } = await restartAbandoning(clock, system);
  a.tell("hold");
  a.tell("mark");
  await settle(clock);
  assert.equal(holds.length, 1);
  hangs[0].resolve(); // the old incarnation's handler finishes late
  await settle(clock);
  assert.equal(stats.marks, 0, "mark waits for hold");
  holds[0]();
  await settle(clock);
  assert.equal(stats.marks, 1);
  assert.equal(stats.overlapped, 0, "never two handlers at once");
});

test("ActorCell: a late rejection of an abandoned handler does not restart the new incarnation", async () => {
  const clock = new ManualClock();
  const errors: string[] = [];
  await using system = new ActorSystem({
    clock,
    logger: { error: (message) => void errors.push(message) },
    stopTimeoutMs: 100,
    supervision: allForOne(),
  });
  const { a, hangs, stats } = await restartAbandoning(clock, system);
  hangs[0].reject(new Error("late"));
  await settle(clock);
  assert.equal(stats.inits, 2, "no second restart");
  assert.equal(await a.ask("ping"), "pong");
  assert.ok(
    errors.some((m) => m.includes("after the message was abandoned")),
    errors.join("\n"),
  );
});
