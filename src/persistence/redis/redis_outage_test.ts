// RedisPersistence and persistent actors when Redis goes away, hangs, or would not keep what it
// acknowledged. Each test starts its own redis-server on a free loopback port (see
// withOwnRedis), kills, pauses or restarts it, and never touches the shared one.
import assert from "node:assert/strict";
import { ActorSystem } from "../../actor/mod.ts";
import { platform } from "../../platform/mod.ts";
import {
  isDurabilityError,
  isJournalQueueFullError,
  isJournalUnavailableError,
  isPersistOutcomeUnknownError,
} from "../errors.ts";
import { usePersistence } from "../extension.ts";
import type { NewEvent } from "../journal.ts";
import { definePersistentActor } from "../persistent_actor.ts";
import { serverTest, sleep, withOwnRedis } from "./_helpers_test.ts";
import {
  RedisPersistence,
  type RedisPersistenceOptions,
} from "./redis_persistence.ts";

const quiet = { error() {} };

function event(n: number): NewEvent {
  return {
    type: "tick",
    version: 1,
    data: new TextEncoder().encode(String(n)),
    timestamp: n,
  };
}

/** The outcome of a promise, observed at once (so a rejection is never unhandled). */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: "fulfilled", value }),
    (reason) => ({ status: "rejected", reason }),
  );
}

/** Resolves with `promise`'s outcome, or with "timeout" after `ms`. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof platform.setTimer> | undefined;
  const timeout = new Promise<"timeout">((resolve) => {
    timer = platform.setTimer(() => resolve("timeout"), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    platform.clearTimer(timer!);
  }
}

async function connect(
  url: string,
  options: RedisPersistenceOptions = {},
): Promise<RedisPersistence> {
  return await RedisPersistence.connect({
    url,
    keyPrefix: "outage:",
    connectTimeoutMs: 2000,
    reconnectMinDelayMs: 20,
    reconnectMaxDelayMs: 200,
    durability: "ignore",
    ...options,
  });
}

const account = definePersistentActor({
  name: "account",
  init: () => ({ balance: 0 }),
  events: {
    deposited: (state, e: { amount: number }) => {
      state.balance += e.amount;
    },
  },
}).handlers({
  deposit: async (state, amount: number, ctx) => {
    await ctx.persist("deposited", { amount });
    return state.balance;
  },
  balance: (state) => state.balance,
});

serverTest(
  "RedisPersistence: a half-open connection times out its commands and keeps the append queue bounded (SIGSTOP)",
  async () => {
    await withOwnRedis(["--appendonly", "no"], async (server) => {
      const provider = await connect(server.current().url, {
        commandTimeoutMs: 400,
        maxQueuedAppends: 20,
      });
      try {
        const { journal } = provider;
        await journal.append("before", 0, [event(1)]);
        await server.signal("STOP");
        const outcomes: Promise<PromiseSettledResult<void>>[] = [];
        // Keep appending for about 3 command timeouts, the way busy actors would.
        const until = platform.now() + 1200;
        let n = 0;
        while (platform.now() < until) {
          for (let i = 0; i < 30; i++) {
            outcomes.push(settle(journal.append(`w-${n++}`, 0, [event(n)])));
          }
          await sleep(20);
        }
        // Nothing may hang: every append settles although the server never answers.
        const all = await within(Promise.all(outcomes), 5000);
        assert.notEqual(all, "timeout", "every append settled while paused");
        const results = all as PromiseSettledResult<void>[];
        assert.ok(
          results.every((r) => r.status === "rejected"),
          "nothing succeeds while the server is paused",
        );
        const reasons = results.map((r) => (r as PromiseRejectedResult).reason);
        const full = reasons.filter(isJournalQueueFullError).length;
        const timedOut = reasons.filter((e) =>
          isJournalUnavailableError(e) && /did not answer within 400 ms/.test(
            e.message,
          )
        ).length;
        assert.ok(full > 0, "appends beyond the bound fail fast");
        assert.ok(timedOut > 0, "appends in flight fail after the timeout");
        assert.ok(
          reasons.every((e) =>
            isJournalQueueFullError(e) || isJournalUnavailableError(e)
          ),
          String(reasons.find((e) =>
            !isJournalQueueFullError(e) && !isJournalUnavailableError(e)
          )),
        );
        await assert.rejects(journal.lastSequenceNr("before"), (e: unknown) => {
          assert.ok(isJournalUnavailableError(e), String(e));
          return true;
        });
        await server.signal("CONT");
        // It reconnects and works again.
        const deadline = platform.now() + 10_000;
        while (true) {
          try {
            await journal.append("after", 0, [event(1)]);
            break;
          } catch (error) {
            assert.ok(platform.now() < deadline, `still failing: ${error}`);
            await sleep(50);
          }
        }
        assert.equal(await journal.lastSequenceNr("before"), 1);
      } finally {
        await server.signal("CONT").catch(() => {});
        await provider.close();
      }
    });
  },
);

serverTest(
  "RedisPersistence.connect() warns once when Redis runs with appendonly no, and refuses under durability 'require'",
  async () => {
    await withOwnRedis(["--appendonly", "no"], async (server) => {
      const url = server.current().url;
      const warnings: string[] = [];
      const logger = { warn: (message: string) => warnings.push(message) };
      const provider = await connect(url, { durability: "warn", logger });
      await provider.journal.append("a", 0, [event(1)]);
      await provider.close();
      assert.equal(warnings.length, 1, warnings.join("\n"));
      assert.match(warnings[0], /appendonly no/);
      assert.match(warnings[0], /lost when it restarts/);

      const implicit = await connect(url, { durability: undefined, logger });
      await implicit.close();
      assert.equal(warnings.length, 2, "warn is the default");

      await assert.rejects(
        connect(url, { durability: "require", logger }),
        (error: unknown) => {
          assert.ok(isDurabilityError(error), String(error));
          assert.match(error.message, /appendonly no/);
          return true;
        },
      );
      const ignoring = await connect(url, { durability: "ignore", logger });
      await ignoring.close();
      assert.equal(warnings.length, 2, "no warning under 'ignore'");

      // A provider made with the constructor checks in the background once connected.
      const made = new RedisPersistence({ url, keyPrefix: "outage:", logger });
      try {
        await made.journal.lastSequenceNr("a");
        const deadline = platform.now() + 5000;
        while (warnings.length < 3 && platform.now() < deadline) {
          await sleep(10);
        }
      } finally {
        await made.close();
      }
      assert.equal(warnings.length, 3, "the constructor path warns too");
      assert.match(warnings[2], /appendonly no/);
    });
  },
);

serverTest(
  "RedisPersistence.connect() accepts Redis with appendonly yes and appendfsync always, without a warning",
  async () => {
    await withOwnRedis(
      ["--appendonly", "yes", "--appendfsync", "always"],
      async (server) => {
        const warnings: string[] = [];
        const logger = { warn: (message: string) => warnings.push(message) };
        const provider = await connect(server.current().url, {
          durability: "require",
          logger,
        });
        await provider.journal.append("a", 0, [event(1)]);
        await provider.close();
        const warned = await connect(server.current().url, {
          durability: "warn",
          logger,
        });
        await warned.close();
        assert.deepEqual(warnings, []);
      },
    );
  },
);

serverTest(
  "RedisPersistence.connect() warns that durability could not be verified when CONFIG is disabled",
  async () => {
    await withOwnRedis(
      ["--appendonly", "yes", "--rename-command", "CONFIG", ""],
      async (server) => {
        const warnings: string[] = [];
        const logger = { warn: (message: string) => warnings.push(message) };
        const provider = await connect(server.current().url, {
          durability: "warn",
          logger,
        });
        await provider.close();
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /Cannot verify/);
        await assert.rejects(
          connect(server.current().url, { durability: "require", logger }),
          isDurabilityError,
        );
      },
    );
  },
);

serverTest(
  "definePersistentActor(): persistent actors ride out a Redis outage of 2 s under the default supervision",
  async () => {
    await withOwnRedis(
      ["--appendonly", "yes", "--appendfsync", "always"],
      async (server) => {
        const provider = await connect(server.current().url);
        await using system = new ActorSystem({
          logger: quiet,
          askTimeoutMs: 30_000,
        });
        usePersistence(system, provider);
        try {
          const running = await system.spawn(account, undefined, { id: "r" });
          const later = await system.spawn(account, undefined, { id: "l" });
          assert.equal(await running.ask("deposit", 5), 5);
          assert.equal(await later.ask("deposit", 7), 7);
          await later.stop();
          await server.kill();
          const downAt = platform.now();
          // A persist fails (escalate: restart, and recovery finds Redis down), and a spawn
          // recovers while Redis is down.
          const failed = settle(running.ask("deposit", 1));
          const spawning = settle(
            system.spawn(account, undefined, { id: "l" }),
          );
          const asked = settle(running.ask("balance"));
          assert.equal((await failed).status, "rejected");
          await sleep(Math.max(0, 2000 - (platform.now() - downAt)));
          await server.restart();
          const spawned = await spawning;
          assert.equal(
            spawned.status,
            "fulfilled",
            String(
              (spawned as PromiseRejectedResult).reason,
            ),
          );
          const again = (spawned as PromiseFulfilledResult<typeof later>).value;
          assert.equal(await again.ask("balance"), 7);
          const balance = await asked;
          assert.equal(
            balance.status,
            "fulfilled",
            String(
              (balance as PromiseRejectedResult).reason,
            ),
          );
          assert.equal((balance as PromiseFulfilledResult<number>).value, 5);
          assert.equal(await running.ask("deposit", 2), 7, "it goes on");
        } finally {
          await system.shutdown();
          await provider.close();
        }
      },
    );
  },
);

serverTest(
  "definePersistentActor(): after an append with an unknown outcome (Redis paused) state and journal agree",
  async () => {
    await withOwnRedis(
      ["--appendonly", "yes", "--appendfsync", "always"],
      async (server) => {
        const provider = await connect(server.current().url, {
          commandTimeoutMs: 300,
        });
        await using system = new ActorSystem({
          logger: quiet,
          askTimeoutMs: 30_000,
        });
        usePersistence(system, provider);
        try {
          const ref = await system.spawn(
            definePersistentActor({
              name: "account",
              init: () => ({ balance: 0 }),
              events: {
                deposited: (state, e: { amount: number }) => {
                  state.balance += e.amount;
                },
              },
              persistFailure: {
                maxRetries: 1,
                backoff: { minMs: 50, maxMs: 50 },
                then: "reject",
              },
            }).handlers({
              tryDeposit: async (_state, amount: number, ctx) => {
                try {
                  await ctx.persist("deposited", { amount });
                  return "ok";
                } catch (error) {
                  return isPersistOutcomeUnknownError(error)
                    ? "unknown"
                    : `failed: ${error}`;
                }
              },
              balance: (state) => state.balance,
              seq: (_state, _: undefined, ctx) => ctx.lastSequenceNr,
            }),
            undefined,
            { id: "u" },
          );
          assert.equal(await ref.ask("tryDeposit", 1), "ok");
          await server.signal("STOP");
          assert.equal(await ref.ask("tryDeposit", 10), "unknown");
          const balance = ref.ask("balance");
          await sleep(300);
          await server.signal("CONT");
          const settled = await balance;
          const stored = await provider.journal.read("u", 1);
          const sum = stored.reduce(
            (total, e) =>
              total + JSON.parse(new TextDecoder().decode(e.data)).amount,
            0,
          );
          assert.equal(settled, sum, "the state is what the journal holds");
          assert.equal(await ref.ask("seq"), stored.length);
          assert.equal(await ref.ask("tryDeposit", 100), "ok", "no conflict");
        } finally {
          await server.signal("CONT").catch(() => {});
          await system.shutdown();
          await provider.close();
        }
      },
    );
  },
);
