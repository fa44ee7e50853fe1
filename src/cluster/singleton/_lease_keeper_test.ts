import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { ManualClock } from "../../timer/mod.ts";
import type { Lease, LeaseGrant } from "../lease.ts";
import { MemoryLease } from "../memory_lease.ts";
import { LeaseKeeper } from "./_lease_keeper.ts";

/** A lease over a MemoryLease whose calls can fail, hang, or be counted. */
class FaultyLease implements Lease {
  readonly name = "keeper";
  mode: "ok" | "fail" | "hang" = "ok";
  calls = 0;
  readonly inner: MemoryLease;

  constructor(clock: ManualClock) {
    this.inner = new MemoryLease("keeper", { clock });
  }

  #fault<T>(call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.calls++;
    if (this.mode === "fail") return Promise.reject(new Error("store down"));
    if (this.mode === "hang") {
      return new Promise((_, reject) =>
        signal?.addEventListener("abort", () => reject(signal.reason))
      );
    }
    return call();
  }

  acquire(
    owner: string,
    ttlMs: number,
    signal?: AbortSignal,
  ): Promise<LeaseGrant | undefined> {
    return this.#fault(() => this.inner.acquire(owner, ttlMs), signal);
  }

  release(owner: string, signal?: AbortSignal): Promise<boolean> {
    return this.#fault(() => this.inner.release(owner), signal);
  }

  holder(): Promise<LeaseGrant | undefined> {
    return this.inner.holder();
  }

  close(): Promise<void> {
    return this.inner.close();
  }
}

function keeperOf(
  clock: ManualClock,
  lease: Lease,
  lost: string[],
): LeaseKeeper {
  return new LeaseKeeper({
    lease,
    owner: "a#1",
    ttlMs: 1000,
    renewIntervalMs: 250,
    safetyMarginMs: 200,
    clock,
    onLost: (reason) => lost.push(reason),
    logError: () => {},
  });
}

test("LeaseKeeper renews a held lease, keeping its token, until released", async () => {
  const clock = new ManualClock();
  const lease = new FaultyLease(clock);
  const lost: string[] = [];
  const keeper = keeperOf(clock, lease, lost);
  const grant = await keeper.acquire();
  assert.equal(grant?.token, 1);
  for (let i = 0; i < 20; i++) await clock.advance(250);
  assert.deepEqual(lost, []);
  assert.equal((await lease.holder())?.owner, "a#1");
  assert.ok(lease.calls >= 20);
  await keeper.release();
  assert.equal(await lease.holder(), undefined);
  assert.equal(keeper.grant, undefined);
});

test("LeaseKeeper gives up a lease it cannot renew a safety margin before it may lapse (failing and hanging stores)", async () => {
  for (const mode of ["fail", "hang"] as const) {
    const clock = new ManualClock();
    const lease = new FaultyLease(clock);
    const lost: string[] = [];
    const keeper = keeperOf(clock, lease, lost);
    const sentAt = clock.now();
    await keeper.acquire();
    lease.mode = mode;
    while (lost.length === 0) await clock.advance(10);
    // Granted for 1000 ms from its request; given up 200 ms before.
    assert.equal(clock.now() - sentAt, 800, mode);
    assert.equal((await lease.inner.holder())?.owner, "a#1", "not lapsed yet");
    assert.equal(keeper.grant, undefined);
    keeper.abandon();
  }
});

test("LeaseKeeper reports a lease taken by another owner, or taken again with a new token", async () => {
  const clock = new ManualClock();
  const lease = new FaultyLease(clock);
  const lost: string[] = [];
  const keeper = keeperOf(clock, lease, lost);
  await keeper.acquire();
  // Another owner holds it (as after a lapse the keeper did not notice).
  await lease.inner.release("a#1");
  await lease.inner.acquire("b#1", 5000);
  await clock.advance(250);
  assert.match(lost[0], /held by another/);

  const lease2 = new FaultyLease(clock);
  const lost2: string[] = [];
  const keeper2 = keeperOf(clock, lease2, lost2);
  await keeper2.acquire();
  await lease2.inner.release("a#1"); // lapsed and free: a renewal takes it with a new token
  await clock.advance(250);
  assert.match(lost2[0], /token 1 became 2/);
  assert.equal(keeper2.grant, undefined);
  keeper2.abandon();
});

test("LeaseKeeper.acquire() answers undefined when another owner holds the lease or the store fails", async () => {
  const clock = new ManualClock();
  const lease = new FaultyLease(clock);
  await lease.inner.acquire("b#1", 5000);
  const keeper = keeperOf(clock, lease, []);
  assert.equal(await keeper.acquire(), undefined);
  lease.mode = "fail";
  assert.equal(await keeper.acquire(), undefined);
  lease.mode = "hang";
  const pending = keeper.acquire();
  await clock.advance(250);
  assert.equal(await pending, undefined);
});
