// RedisPersistence across a crash of Redis: the test starts its own redis-server (AOF on,
// fsync on every write) on a free loopback port, kills it with SIGKILL in the middle of a
// stream of appends, restarts it on the same port and directory, and checks that nothing
// acknowledged was lost. It never touches the shared Redis.
import assert from "node:assert/strict";
import { platform } from "../../platform/mod.ts";
import {
  isJournalConflictError,
  isJournalUnavailableError,
} from "../errors.ts";
import type { NewEvent } from "../journal.ts";
import { serverTest, sleep, withOwnRedis } from "./_helpers_test.ts";
import { RedisPersistence } from "./redis_persistence.ts";

/** The outcome of a promise, observed at once (so a rejection is never unhandled). */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: "fulfilled", value }),
    (reason) => ({ status: "rejected", reason }),
  );
}

function event(n: number): NewEvent {
  return {
    type: "tick",
    version: 1,
    data: new TextEncoder().encode(String(n)),
    timestamp: n,
  };
}

serverTest(
  "RedisPersistence keeps every acknowledged append across kill -9 of Redis and works again after it restarts",
  async () => {
    await withOwnRedis(
      ["--appendonly", "yes", "--appendfsync", "always"],
      async (server) => {
        let provider: RedisPersistence | undefined;
        let stopped = false;
        let killer: Promise<void> | undefined;
        try {
          provider = await RedisPersistence.connect({
            url: server.current().url,
            keyPrefix: "kill:",
            connectTimeoutMs: 2000,
            reconnectMinDelayMs: 20,
            reconnectMaxDelayMs: 200,
          });
          const { journal } = provider;
          const id = "orders/crash";
          const acknowledged: number[] = [];
          const failures: number[] = []; // how long each failed call took
          let killed = false;
          let restartedAt = Infinity;

          // The killer: once 150 appends are acknowledged, SIGKILL the server (with appends of
          // other ids in flight), wait, then restart it on the same port and directory.
          const inFlight: Promise<PromiseSettledResult<void>>[] = [];
          killer = (async () => {
            while (acknowledged.length < 150) {
              if (stopped) return;
              await sleep(1);
            }
            for (let i = 0; i < 50; i++) {
              inFlight.push(
                settle(journal.append(`bystander-${i}`, 0, [event(i)])),
              );
            }
            await server.kill();
            killed = true;
            await sleep(300);
            if (stopped) return;
            await server.start();
            restartedAt = acknowledged.length;
          })();

          // The writer: one append at a time, each awaited. After a failure it does not know
          // whether the append was stored, so it asks for the last sequence number before going on.
          let next = 1;
          let resync = false;
          const deadline = platform.now() + 30_000;
          while (acknowledged.length < restartedAt + 100) {
            assert.ok(
              platform.now() < deadline,
              "the writer made no progress for 30 s",
            );
            const started = platform.now();
            try {
              if (resync) {
                next = await journal.lastSequenceNr(id) + 1;
                resync = false;
              }
              await journal.append(id, next - 1, [event(next)]);
              acknowledged.push(next);
              next++;
            } catch (error) {
              assert.ok(
                isJournalUnavailableError(error),
                `only JournalUnavailableError, not ${error}`,
              );
              failures.push(platform.now() - started);
              resync = true;
              await sleep(killed ? 10 : 1);
            }
          }
          await killer;

          assert.ok(failures.length > 0, "appends failed while Redis was down");
          assert.ok(
            Math.max(...failures) < 1000,
            `failures are fast (slowest ${Math.max(...failures)} ms)`,
          );
          assert.ok(
            acknowledged.length >= restartedAt + 100,
            "appends work again after the restart",
          );

          // Appends in flight at the kill either succeeded or rejected: none hangs, none lies.
          const outcomes = await Promise.all(inFlight);
          for (const [i, outcome] of outcomes.entries()) {
            if (outcome.status === "rejected") {
              assert.ok(
                isJournalUnavailableError(outcome.reason),
                String(outcome.reason),
              );
            } else {
              const stored = await journal.read(`bystander-${i}`, 1);
              assert.equal(
                stored.length,
                1,
                `acknowledged bystander-${i} survived`,
              );
            }
          }

          // Every acknowledged event is there, in order, with no gap; an append whose reply was
          // lost may be there too, but only in its place.
          const stored = await journal.read(id, 1);
          const last = await journal.lastSequenceNr(id);
          assert.equal(stored.length, last);
          stored.forEach((e, i) => {
            assert.equal(e.sequenceNr, i + 1);
            assert.equal(new TextDecoder().decode(e.data), String(i + 1));
          });
          assert.ok(
            last >= acknowledged.at(-1)!,
            "the last acknowledged append is stored",
          );
          assert.ok(
            acknowledged.every((n, i) => i === 0 || n > acknowledged[i - 1]),
            "acknowledged in order",
          );
          const storedSeqs = new Set(stored.map((e) => e.sequenceNr));
          assert.ok(
            acknowledged.every((n) => storedSeqs.has(n)),
            "no acknowledged append is missing",
          );

          // And the journal still refuses a stale writer.
          await assert.rejects(
            journal.append(id, 1, [event(0)]),
            isJournalConflictError,
          );
        } finally {
          stopped = true;
          await killer?.catch(() => {});
          await provider?.close();
        }
      },
    );
  },
);
