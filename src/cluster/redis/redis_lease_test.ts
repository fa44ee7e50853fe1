// RedisLease: the lease conformance suite on the shared Redis (each case under a key prefix of
// its own, deleted afterwards), and stored data that is not valid.
import assert from "node:assert/strict";
import {
  deleteKeys,
  randomPrefix,
  rawCommands,
  REDIS_URL,
  redisTest,
  serverTest,
  sleep,
  withOwnRedis,
} from "../../persistence/redis/_helpers_test.ts";
import {
  isClusterStoreUnavailableError,
  isCorruptClusterDataError,
} from "../errors.ts";
import { leaseConformance } from "../lease_conformance.ts";
import { RedisLease } from "./redis_lease.ts";

for (
  const c of leaseConformance("RedisLease", () => {
    const prefix = randomPrefix("lease");
    return Promise.resolve({
      open: () =>
        RedisLease.connect("conformance", {
          url: REDIS_URL,
          keyPrefix: prefix,
        }),
      advance: (ms: number) => sleep(ms),
      dispose: async () => {
        await deleteKeys(prefix);
      },
    });
  }, { runs: 10 })
) {
  redisTest(c.name, c.fn);
}

redisTest(
  "RedisLease: stored data that is not valid fails with CorruptClusterDataError",
  async () => {
    const plants: ReadonlyArray<readonly [string, (k: string) => string[][]]> =
      [
        ["a grant without an owner", (k) => [["HSET", k, "token", "3"]]],
        [
          "a grant with a token that is not an integer",
          (k) => [["HSET", k, "owner", "x", "token", "abc"]],
        ],
        [
          "a grant with token 0",
          (k) => [["HSET", k, "owner", "x", "token", "0"]],
        ],
        ["a grant key of another type", (k) => [["SET", k, "x"]]],
        [
          "a counter that is not an integer",
          (k) => [["SET", `${k}:token`, "NaN"]],
        ],
      ];
    for (const [what, plant] of plants) {
      const prefix = randomPrefix("lease-bad");
      const lease = await RedisLease.connect("bad", {
        url: REDIS_URL,
        keyPrefix: prefix,
      });
      const raw = await rawCommands();
      try {
        for (const command of plant(`${prefix}lease:{bad}`)) {
          await raw.send(command);
        }
        await assert.rejects(
          lease.acquire("a", 10_000),
          isCorruptClusterDataError,
          `acquire() with ${what}`,
        );
        if (!what.startsWith("a counter")) {
          await assert.rejects(
            lease.holder(),
            isCorruptClusterDataError,
            `holder() with ${what}`,
          );
        }
      } finally {
        await lease.close();
        await raw.close();
        await deleteKeys(prefix);
      }
    }
  },
);

redisTest(
  "RedisLease: the fencing token survives the grant (it is a counter, not part of the grant)",
  async () => {
    const prefix = randomPrefix("lease-fence");
    const lease = await RedisLease.connect("fence", {
      url: REDIS_URL,
      keyPrefix: prefix,
    });
    try {
      const tokens: number[] = [];
      for (const owner of ["a", "b", "a", "c"]) {
        const grant = await lease.acquire(owner, 10_000);
        assert.ok(grant !== undefined);
        tokens.push(grant.token);
        assert.ok(await lease.release(owner));
      }
      assert.deepEqual(tokens, [1, 2, 3, 4]);
    } finally {
      await lease.close();
      await deleteKeys(prefix);
    }
  },
);

serverTest(
  "RedisLease across a Redis restart (appendonly): the grant and the fencing counter survive, and tokens keep growing",
  async () => {
    await withOwnRedis(
      ["--appendonly", "yes", "--appendfsync", "always"],
      async (server) => {
        const lease = await RedisLease.connect("sbr", {
          url: server.current().url,
        });
        try {
          const a = await lease.acquire("a", 60_000);
          assert.ok(a !== undefined);
          await server.restart();
          let held;
          const deadline = Date.now() + 10_000;
          while (held === undefined && Date.now() < deadline) {
            held = await lease.holder().catch((error: unknown) => {
              assert.ok(isClusterStoreUnavailableError(error), String(error));
              return undefined;
            });
            if (held === undefined) await sleep(50);
          }
          assert.equal(held?.owner, "a");
          assert.equal(held?.token, a.token);
          assert.equal(await lease.acquire("b", 60_000), undefined);
          assert.ok(await lease.release("a"));
          const b = await lease.acquire("b", 60_000);
          assert.ok(b !== undefined && b.token > a.token);
        } finally {
          await lease.close();
        }
      },
    );
  },
);
