// The lease conformance suite: the contract of lease.ts, checked the same way for every lease
// (memory, Redis, yours). Like the membership table suite it needs no test framework.
import { isClusterClosedError } from "./errors.ts";
import type { Lease, LeaseGrant } from "./lease.ts";
import {
  type ConformanceCase,
  conformanceCheck,
  type ConformanceOptions,
  expectRejection,
  forSeeds,
} from "./membership_table_conformance.ts";

/** A fresh, free lease for one case, possibly with several handles on it. */
export interface LeaseFixture {
  /**
   * Opens a handle on this case's lease (every handle is the same lease, by the same name; for
   * Redis a new connection each time). The suite closes every handle it opened.
   */
  open(): Promise<Lease>;
  /**
   * Lets `ms` milliseconds pass on the lease's clock: `ManualClock.advance` for a lease on
   * virtual time, a real sleep for a store with its own clock.
   */
  advance(ms: number): Promise<void>;
  /** Called once at the end of the case (delete the case's keys). */
  dispose?(): Promise<void>;
}

/** The time to live of the cases that let a grant lapse (short, for leases on real time). */
const SHORT_TTL_MS = 150;
/** How long those cases wait past the time to live. */
const LAPSE_MS = 250;
const LONG_TTL_MS = 60_000;

function isGrant(
  grant: LeaseGrant | undefined,
  owner: string,
): grant is LeaseGrant {
  return grant !== undefined && grant.owner === owner &&
    Number.isSafeInteger(grant.token) && grant.token > 0 &&
    Number.isFinite(grant.expiresAt);
}

/**
 * The conformance suite of {@linkcode Lease}: every lease must pass it. It returns the cases;
 * register each with your test framework. Two cases let a grant lapse: they take it for 150 ms
 * and advance the fixture's clock by 250 ms.
 *
 * @param implementation The lease's name, used in the case names.
 * @param create Makes a fresh, free lease for one case.
 * @param options Runs and seed of the randomized cases.
 * @returns The cases.
 * @example Run it with Deno's test runner
 * ```ts ignore
 * import { leaseConformance, MemoryLease } from "@troupe/troupe/cluster";
 * import { ManualClock } from "@troupe/troupe/testing";
 * for (const c of leaseConformance("MemoryLease", async () => {
 *   const clock = new ManualClock();
 *   const lease = new MemoryLease("test", { clock });
 *   return { open: async () => lease.share(), advance: (ms) => clock.advance(ms) };
 * })) Deno.test(c.name, c.fn);
 * ```
 */
export function leaseConformance(
  implementation: string,
  create: () => Promise<LeaseFixture>,
  options: ConformanceOptions = {},
): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (
    title: string,
    body: (fixture: LeaseFixture, open: () => Promise<Lease>) => Promise<void>,
  ) => {
    cases.push({
      name: `${implementation} (Lease conformance): ${title}`,
      fn: async () => {
        const fixture = await create();
        const opened: Lease[] = [];
        try {
          await body(fixture, async () => {
            const lease = await fixture.open();
            opened.push(lease);
            return lease;
          });
        } finally {
          for (const lease of opened) await lease.close();
          await fixture.dispose?.();
        }
      },
    });
  };

  add("a fresh lease is free, and has a name", async (_, open) => {
    const lease = await open();
    conformanceCheck(
      typeof lease.name === "string" && lease.name !== "",
      "no name",
    );
    conformanceCheck(
      await lease.holder() === undefined,
      "a fresh lease is held",
    );
  });

  add(
    "it is exclusive: while one owner holds it, another cannot take it",
    async (_, open) => {
      const [one, two] = [await open(), await open()];
      const a = await one.acquire("a", LONG_TTL_MS);
      conformanceCheck(isGrant(a, "a"), `a got ${JSON.stringify(a)}`);
      conformanceCheck(
        await two.acquire("b", LONG_TTL_MS) === undefined,
        "b took a held lease",
      );
      conformanceCheck(
        await one.acquire("b", LONG_TTL_MS) === undefined,
        "b took it through a's handle",
      );
      const held = await two.holder();
      conformanceCheck(
        held?.owner === "a" && held.token === a.token,
        `holder() is ${JSON.stringify(held)}`,
      );
    },
  );

  add(
    "renewing keeps the token and moves the expiry forward",
    async (fixture, open) => {
      const [one, two] = [await open(), await open()];
      const first = await one.acquire("a", LONG_TTL_MS);
      conformanceCheck(first !== undefined, "a did not get it");
      await fixture.advance(20);
      const renewed = await two.acquire("a", LONG_TTL_MS);
      conformanceCheck(isGrant(renewed, "a"), "the renewal failed");
      conformanceCheck(
        renewed.token === first.token,
        `token ${first.token} → ${renewed.token}`,
      );
      conformanceCheck(
        renewed.expiresAt > first.expiresAt,
        "the expiry did not move",
      );
    },
  );

  add(
    "a lapsed grant frees the lease, and the next owner gets a higher token",
    async (fixture, open) => {
      const [one, two] = [await open(), await open()];
      const a = await one.acquire("a", SHORT_TTL_MS);
      conformanceCheck(a !== undefined, "a did not get it");
      await fixture.advance(LAPSE_MS);
      conformanceCheck(
        await two.holder() === undefined,
        "a lapsed grant is still held",
      );
      const b = await two.acquire("b", SHORT_TTL_MS);
      conformanceCheck(isGrant(b, "b"), "b did not get a lapsed lease");
      conformanceCheck(b.token > a.token, `token ${a.token} → ${b.token}`);
      // The same owner after a lapse is a new grant too.
      await fixture.advance(LAPSE_MS);
      const again = await one.acquire("b", LONG_TTL_MS);
      conformanceCheck(
        isGrant(again, "b") && again.token > b.token,
        "b's grant after its lapse kept the token",
      );
    },
  );

  add(
    "only the holder can release it; after that anyone can take it, with a higher token",
    async (_, open) => {
      const [one, two] = [await open(), await open()];
      const a = await one.acquire("a", LONG_TTL_MS);
      conformanceCheck(a !== undefined, "a did not get it");
      conformanceCheck(
        await two.release("b") === false,
        "b released a's lease",
      );
      conformanceCheck(
        (await one.holder())?.owner === "a",
        "a lost it to b's release",
      );
      conformanceCheck(
        await two.release("a") === true,
        "a could not release it",
      );
      conformanceCheck(await one.holder() === undefined, "released, yet held");
      conformanceCheck(await one.release("a") === false, "a released it twice");
      const b = await two.acquire("b", LONG_TTL_MS);
      conformanceCheck(
        isGrant(b, "b") && b.token > a.token,
        "b's token is not higher",
      );
    },
  );

  add(
    "concurrent acquirers: exactly one wins, and tokens only grow (random schedules)",
    async (_, open) => {
      const handles = [await open(), await open(), await open()];
      let lastToken = 0;
      await forSeeds(options, async (random, seed) => {
        const owners = 2 + Math.floor(random() * 9);
        const grants = await Promise.all(
          Array.from({ length: owners }, async (_, i) => {
            for (let d = Math.floor(random() * 3); d > 0; d--) {
              await Promise.resolve();
            }
            return handles[Math.floor(random() * handles.length)].acquire(
              `o${seed}-${i}`,
              LONG_TTL_MS,
            );
          }),
        );
        const winners = grants.filter((g) => g !== undefined);
        conformanceCheck(
          winners.length === 1,
          `${winners.length} of ${owners} acquirers won`,
        );
        const [winner] = winners;
        conformanceCheck(
          winner.token > lastToken,
          `token ${winner.token} after ${lastToken}`,
        );
        lastToken = winner.token;
        const held = await handles[0].holder();
        conformanceCheck(
          held?.owner === winner.owner,
          "holder() disagrees with the winner",
        );
        conformanceCheck(
          await handles[1].release(winner.owner),
          "the winner could not release",
        );
      });
    },
  );

  add(
    "a bad ttlMs is a RangeError and a bad owner a TypeError; neither takes the lease",
    async (_, open) => {
      const lease = await open();
      for (
        const ttl of [
          0,
          -1,
          1.5,
          Number.NaN,
          Infinity,
          "100" as unknown as number,
        ]
      ) {
        await expectRejection(
          lease.acquire("a", ttl),
          (error) => error instanceof RangeError,
          `ttlMs ${String(ttl)}`,
        );
      }
      for (const owner of ["", 7 as unknown as string, "a\nb"]) {
        await expectRejection(
          lease.acquire(owner, LONG_TTL_MS),
          (error) => error instanceof TypeError,
          `owner ${JSON.stringify(owner)}`,
        );
      }
      conformanceCheck(
        await lease.holder() === undefined,
        "a refused call took the lease",
      );
    },
  );

  add(
    "an aborted signal rejects with its reason and takes nothing",
    async (_, open) => {
      const lease = await open();
      const controller = new AbortController();
      const reason = new Error("stop");
      controller.abort(reason);
      await expectRejection(
        lease.acquire("a", LONG_TTL_MS, controller.signal),
        (e) => e === reason,
        "acquire",
      );
      await expectRejection(
        lease.holder(controller.signal),
        (e) => e === reason,
        "holder",
      );
      await expectRejection(
        lease.release("a", controller.signal),
        (e) => e === reason,
        "release",
      );
      conformanceCheck(
        await lease.holder() === undefined,
        "an aborted acquire took the lease",
      );
    },
  );

  add(
    "close() is idempotent and later calls reject with ClusterClosedError",
    async (_, open) => {
      const lease = await open();
      await lease.acquire("a", LONG_TTL_MS);
      await lease.close();
      await lease.close();
      await expectRejection(
        lease.acquire("a", LONG_TTL_MS),
        isClusterClosedError,
        "acquire after close",
      );
      await expectRejection(
        lease.holder(),
        isClusterClosedError,
        "holder after close",
      );
      // A held lease is not released by close(): another handle still sees it.
      const other = await open();
      conformanceCheck(
        (await other.holder())?.owner === "a",
        "close() released the lease",
      );
    },
  );

  return cases;
}
