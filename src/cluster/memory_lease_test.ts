import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { ManualClock } from "../timer/mod.ts";
import { leaseConformance } from "./lease_conformance.ts";
import { MemoryLease } from "./memory_lease.ts";

for (
  const c of leaseConformance("MemoryLease", () => {
    const clock = new ManualClock(1_000);
    const lease = new MemoryLease("conformance", { clock });
    return Promise.resolve({
      open: () => Promise.resolve(lease.share()),
      advance: (ms: number) => clock.advance(ms),
    });
  })
) test(c.name, c.fn);

test("MemoryLease lapses exactly at expiresAt on its clock", async () => {
  const clock = new ManualClock();
  const lease = new MemoryLease("x", { clock });
  const grant = await lease.acquire("a", 100);
  assert.equal(grant?.expiresAt, 100);
  await clock.advance(99);
  assert.equal((await lease.holder())?.owner, "a");
  await clock.advance(1);
  assert.equal(await lease.holder(), undefined);
  await lease.close();
});

test("new MemoryLease() refuses a bad name with TypeError", () => {
  for (const name of ["", "a{b}", "x\n", 3 as unknown as string]) {
    assert.throws(() => new MemoryLease(name), TypeError);
  }
});

test("MemoryLease against a model under random operations and time (fast-check): one holder at a time, tokens grow on each change of owner", async () => {
  const op = fc.oneof(
    fc.record({
      kind: fc.constant("acquire" as const),
      owner: fc.constantFrom("a", "b", "c"),
      ttl: fc.integer({ min: 1, max: 50 }),
    }),
    fc.record({
      kind: fc.constant("release" as const),
      owner: fc.constantFrom("a", "b", "c"),
    }),
    fc.record({
      kind: fc.constant("advance" as const),
      ms: fc.integer({ min: 0, max: 60 }),
    }),
  );
  await fc.assert(
    fc.asyncProperty(fc.array(op, { maxLength: 60 }), async (ops) => {
      const clock = new ManualClock();
      const lease = new MemoryLease("model", { clock });
      // The model: who holds it until when, and the token of the current/last grant.
      let holder: { owner: string; until: number; token: number } | undefined;
      let lastToken = 0;
      for (const step of ops) {
        const now = clock.now();
        if (holder !== undefined && holder.until <= now) holder = undefined;
        if (step.kind === "advance") {
          await clock.advance(step.ms);
        } else if (step.kind === "release") {
          const released = await lease.release(step.owner);
          assert.equal(released, holder?.owner === step.owner);
          if (released) holder = undefined;
        } else {
          const grant = await lease.acquire(step.owner, step.ttl);
          if (holder !== undefined && holder.owner !== step.owner) {
            assert.equal(grant, undefined);
          } else {
            assert.ok(grant !== undefined);
            if (holder === undefined) {
              assert.ok(
                grant.token > lastToken,
                "a new grant has a higher token",
              );
              lastToken = grant.token;
            } else {
              assert.equal(
                grant.token,
                holder.token,
                "a renewal keeps the token",
              );
            }
            holder = {
              owner: step.owner,
              until: now + step.ttl,
              token: grant.token,
            };
          }
        }
        const seen = await lease.holder();
        const live = holder !== undefined && holder.until > clock.now()
          ? holder
          : undefined;
        assert.equal(seen?.owner, live?.owner);
      }
      await lease.close();
    }),
    { numRuns: 200 },
  );
});
