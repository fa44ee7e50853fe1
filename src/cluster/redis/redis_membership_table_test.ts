// RedisMembershipTable: the conformance suite on the shared Redis (each case under a key prefix
// of its own, deleted afterwards), stored data that is not valid, and a Redis restart mid-run on
// a server of the test's own. The shared-Redis tests skip loudly, or fail on CI, without Redis.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
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
  isClusterClosedError,
  isClusterStoreUnavailableError,
  isCorruptClusterDataError,
} from "../errors.ts";
import type { MemberRow } from "../membership_table.ts";
import { membershipTableConformance } from "../membership_table_conformance.ts";
import { RedisMembershipTable } from "./redis_membership_table.ts";

for (
  const c of membershipTableConformance("RedisMembershipTable", () => {
    const prefix = randomPrefix("members");
    return Promise.resolve({
      open: () =>
        RedisMembershipTable.connect({ url: REDIS_URL, keyPrefix: prefix }),
      dispose: async () => {
        await deleteKeys(prefix);
      },
    });
  }, { runs: 10 })
) {
  redisTest(c.name, c.fn);
}

function row(node: string, extra: Partial<MemberRow> = {}): MemberRow {
  return {
    node,
    address: "127.0.0.1:4000",
    incarnation: "1",
    status: "joining",
    roles: [],
    upNumber: 0,
    ...extra,
  };
}

/** Runs `body` with a table under a fresh prefix and a raw connection, then deletes the keys. */
async function withTable(
  body: (
    table: RedisMembershipTable,
    raw: (args: string[]) => Promise<unknown>,
    prefix: string,
  ) => Promise<void>,
): Promise<void> {
  const prefix = randomPrefix("members-bad");
  const table = await RedisMembershipTable.connect({
    url: REDIS_URL,
    keyPrefix: prefix,
  });
  const commands = await rawCommands();
  try {
    await body(table, (args) => commands.send(args), prefix);
  } finally {
    await table.close();
    await commands.close();
    await deleteKeys(prefix);
  }
}

redisTest(
  "RedisMembershipTable: stored data that is not valid fails read() and write() with CorruptClusterDataError",
  async () => {
    const plants: ReadonlyArray<readonly [string, (p: string) => string[][]]> =
      [
        [
          "a version that is not an integer",
          (p) => [["SET", `${p}{members}:version`, "1.5"]],
        ],
        ["a negative version", (p) => [["SET", `${p}{members}:version`, "-1"]]],
        [
          "rows without a version",
          (
            p,
          ) => [[
            "HSET",
            `${p}{members}:rows`,
            '["a","1"]',
            JSON.stringify(row("a")),
          ]],
        ],
        ["a row that is not JSON", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          ["HSET", `${p}{members}:rows`, '["a","1"]', "{not json"],
        ]],
        ["a row with an unknown status", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          [
            "HSET",
            `${p}{members}:rows`,
            '["a","1"]',
            JSON.stringify({ ...row("a"), status: "zombie" }),
          ],
        ]],
        ["a row with a fractional upNumber", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          [
            "HSET",
            `${p}{members}:rows`,
            '["a","1"]',
            JSON.stringify({ ...row("a"), upNumber: 0.5 }),
          ],
        ]],
        ["a row under another member's field", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          ["HSET", `${p}{members}:rows`, '["b","1"]', JSON.stringify(row("a"))],
        ]],
        ["a rows key of another type (WRONGTYPE)", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          ["SET", `${p}{members}:rows`, "x"],
        ]],
      ];
    for (const [what, plant] of plants) {
      await withTable(async (table, raw, prefix) => {
        for (const command of plant(prefix)) await raw(command);
        await assert.rejects(
          table.read(),
          isCorruptClusterDataError,
          `read() with ${what}`,
        );
        const version = what.includes("version") && !what.includes("without")
          ? 0
          : 1;
        // The script refuses (writing nothing) when the version is bad or a row the write
        // replaces is; a bad row elsewhere fails the write's result, and the error says that the
        // write was applied.
        const atomic = what.includes("version") || what.includes("WRONGTYPE") ||
          what === "a row that is not JSON" ||
          what === "a row with an unknown status";
        const dump = () =>
          what.includes("WRONGTYPE")
            ? raw(["GET", `${prefix}{members}:rows`])
            : raw(["HGETALL", `${prefix}{members}:rows`]);
        const before = await dump();
        const error = await table.write(version, [
          atomic ? row("a", { status: "up", upNumber: 1 }) : row("other"),
        ]).then(() => undefined, (error: unknown) => error);
        assert.ok(
          isCorruptClusterDataError(error),
          `write() with ${what}: ${error}`,
        );
        if (atomic) {
          assert.deepEqual(await dump(), before, what);
        } else {
          assert.match(error.message, /the write was applied/);
        }
      });
    }
  },
);

redisTest(
  "RedisMembershipTable: random bytes stored as a row fail with CorruptClusterDataError, never a crash (fast-check)",
  async () => {
    await withTable(async (table, raw, prefix) => {
      await raw(["SET", `${prefix}{members}:version`, "1"]);
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.json(),
            fc.uint8Array().map((b) => String.fromCharCode(...b)),
          ),
          async (text) => {
            await raw(["HSET", `${prefix}{members}:rows`, '["a","1"]', text]);
            try {
              const snapshot = await table.read();
              // Only a valid row for member a/1 may be accepted.
              assert.equal(snapshot.rows.length, 1);
              assert.equal(snapshot.rows[0].node, "a");
            } catch (error) {
              assert.ok(isCorruptClusterDataError(error), String(error));
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  },
);

redisTest(
  "RedisMembershipTable.deleteDefunct(): stored data that is not valid fails with CorruptClusterDataError and nothing is deleted; random rows never crash it (fast-check)",
  async () => {
    const dead = JSON.stringify(row("b", { status: "removed", upNumber: 1 }));
    const plants: ReadonlyArray<readonly [string, (p: string) => string[][]]> =
      [
        ["a version that is not an integer", (p) => [
          ["SET", `${p}{members}:version`, "x1"],
          ["HSET", `${p}{members}:rows`, '["b","1"]', dead],
        ]],
        ["rows without a version", (p) => [
          ["HSET", `${p}{members}:rows`, '["b","1"]', dead],
        ]],
        ["the deleted row not JSON", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          ["HSET", `${p}{members}:rows`, '["b","1"]', "{not json"],
        ]],
        ["the deleted row with an unknown status", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          [
            "HSET",
            `${p}{members}:rows`,
            '["b","1"]',
            JSON.stringify({ ...row("b"), status: "zombie" }),
          ],
        ]],
        ["a rows key of another type (WRONGTYPE)", (p) => [
          ["SET", `${p}{members}:version`, "1"],
          ["SET", `${p}{members}:rows`, "x"],
        ]],
      ];
    for (const [what, plant] of plants) {
      await withTable(async (table, raw, prefix) => {
        for (const command of plant(prefix)) await raw(command);
        const dump = async () => [
          await raw(["GET", `${prefix}{members}:version`]),
          what.includes("WRONGTYPE")
            ? await raw(["GET", `${prefix}{members}:rows`])
            : await raw(["HGETALL", `${prefix}{members}:rows`]),
        ];
        const before = await dump();
        await assert.rejects(
          table.deleteDefunct(what.includes("without") ? 0 : 1, [
            { node: "b", incarnation: "1" },
          ]),
          isCorruptClusterDataError,
          what,
        );
        assert.deepEqual(await dump(), before, what);
      });
    }
    await withTable(async (table, raw, prefix) => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.json(),
            fc.constantFrom(dead, JSON.stringify(row("b"))),
            fc.uint8Array().map((b) => String.fromCharCode(...b)),
          ),
          async (text) => {
            await raw(["SET", `${prefix}{members}:version`, "1"]);
            await raw(["HSET", `${prefix}{members}:rows`, '["b","1"]', text]);
            try {
              const after = await table.deleteDefunct(1, [
                { node: "b", incarnation: "1" },
              ]);
              // Only a valid dead row of member b/1 may be deleted.
              assert.equal(text, dead);
              assert.equal(after?.rows.length, 0);
            } catch (error) {
              assert.ok(
                isCorruptClusterDataError(error) ||
                  (error instanceof TypeError && text !== dead),
                String(error),
              );
              // Still there, as it was (compared as the UTF-8 Redis keeps).
              const kept = await raw([
                "HGET",
                `${prefix}{members}:rows`,
                '["b","1"]',
              ]);
              assert.equal(
                new TextDecoder().decode(kept as Uint8Array),
                new TextDecoder().decode(new TextEncoder().encode(text)),
              );
            }
          },
        ),
        { numRuns: 60 },
      );
    });
  },
);

redisTest(
  "RedisMembershipTable.connect() refuses a key prefix with braces, and close() makes calls reject",
  async () => {
    await assert.rejects(
      RedisMembershipTable.connect({ url: REDIS_URL, keyPrefix: "a{b}" }),
      TypeError,
    );
    const table = await RedisMembershipTable.connect({
      url: REDIS_URL,
      keyPrefix: randomPrefix("closed"),
    });
    await table.close();
    await assert.rejects(table.read(), isClusterClosedError);
  },
);

test("RedisMembershipTable.connect() rejects with ClusterStoreUnavailableError when nothing listens", async () => {
  await assert.rejects(
    RedisMembershipTable.connect({
      url: "redis://127.0.0.1:1",
      connectTimeoutMs: 1000,
    }),
    isClusterStoreUnavailableError,
  );
});

serverTest(
  "RedisMembershipTable across a Redis restart mid-run (appendonly): calls fail with a typed error while it is down, every acknowledged write survives, and the version goes on",
  async () => {
    await withOwnRedis(
      ["--appendonly", "yes", "--appendfsync", "always"],
      async (server) => {
        const url = server.current().url;
        const tables = [
          await RedisMembershipTable.connect({ url, commandTimeoutMs: 2000 }),
          await RedisMembershipTable.connect({ url, commandTimeoutMs: 2000 }),
        ];
        try {
          const acknowledged: string[] = [];
          let unknown = 0;
          let unavailable = 0;
          let stop = false;
          const writer = async (table: RedisMembershipTable, id: number) => {
            for (let n = 0; !stop; n++) {
              try {
                const { version } = await table.read();
                const node = `w${id}-${n}`;
                try {
                  if (
                    await table.write(version, [row(node)]) !== undefined
                  ) acknowledged.push(node);
                } catch (error) {
                  if (!isClusterStoreUnavailableError(error)) throw error;
                  if (error.notApplied) unavailable++;
                  else unknown++;
                }
              } catch (error) {
                if (!isClusterStoreUnavailableError(error)) throw error;
                unavailable++;
                await sleep(20);
              }
            }
          };
          const running = Promise.all(tables.map((t, i) => writer(t, i)));
          await sleep(300);
          const before = acknowledged.length;
          await server.kill();
          await sleep(300);
          await server.start();
          // Wait until writes go through again.
          const deadline = Date.now() + 15_000;
          while (
            acknowledged.length < before + 20 && Date.now() < deadline
          ) await sleep(50);
          stop = true;
          await running;
          assert.ok(before > 0, "writes went through before the restart");
          assert.ok(unavailable > 0, "calls failed while Redis was down");
          assert.ok(
            acknowledged.length >= before + 20,
            "writes went through after the restart",
          );
          // Each handle reconnects on its own schedule: read through the first until it is back.
          let final;
          for (let tries = 0; final === undefined; tries++) {
            final = await tables[0].read().catch((error: unknown) => {
              if (!isClusterStoreUnavailableError(error) || tries > 200) {
                throw error;
              }
              return undefined;
            });
            if (final === undefined) await sleep(50);
          }
          const nodes = new Set(final.rows.map((r) => r.node));
          for (const node of acknowledged) {
            assert.ok(nodes.has(node), `acknowledged ${node} was lost`);
          }
          assert.ok(final.version >= acknowledged.length);
          assert.ok(final.version <= acknowledged.length + unknown);
          assert.equal(final.rows.length, final.version);
        } finally {
          for (const table of tables) {
            await table.close();
          }
        }
      },
    );
  },
);

serverTest(
  "RedisMembershipTable with a frozen Redis (SIGSTOP): calls fail with ClusterStoreUnavailableError after commandTimeoutMs, and work again once it resumes",
  async () => {
    await withOwnRedis([], async (server) => {
      const table = await RedisMembershipTable.connect({
        url: server.current().url,
        commandTimeoutMs: 300,
        connectTimeoutMs: 300,
      });
      try {
        assert.equal((await table.write(0, [row("a")]))?.version, 1);
        await server.signal("STOP");
        try {
          const error = await table.write(1, [row("b")]).catch((e: unknown) =>
            e
          );
          assert.ok(isClusterStoreUnavailableError(error), String(error));
          assert.equal(
            error.notApplied,
            false,
            "the outcome of a write with no reply is unknown",
          );
          assert.match(error.message, /did not answer within 300 ms/);
          // The stalled connection was dropped: the next call fails at once, not after a timeout.
          const next = await table.read().catch((e: unknown) => e);
          assert.ok(isClusterStoreUnavailableError(next), String(next));
        } finally {
          await server.signal("CONT");
        }
        const deadline = Date.now() + 10_000;
        let snapshot;
        while (snapshot === undefined && Date.now() < deadline) {
          snapshot = await table.read().catch(() => undefined);
          if (snapshot === undefined) await sleep(50);
        }
        assert.ok(
          snapshot !== undefined,
          "the table works again after the server resumed",
        );
        // The write sent while it was frozen was applied when it resumed (its outcome was unknown).
        assert.equal(snapshot.version, 2);
      } finally {
        await table.close();
      }
    });
  },
);

serverTest(
  "RedisMembershipTable while Redis is busy (a script that runs too long): calls fail with ClusterStoreUnavailableError, notApplied, and work again after it is killed",
  async () => {
    await withOwnRedis(["--busy-reply-threshold", "50"], async (server) => {
      const url = server.current().url;
      const table = await RedisMembershipTable.connect({ url });
      const blocker = await rawCommands(url);
      const killer = await rawCommands(url);
      try {
        assert.equal((await table.write(0, [row("a")]))?.version, 1);
        const blocking = blocker.send(["EVAL", "while true do end", "0"]).catch(
          (error: unknown) => error,
        );
        await sleep(150);
        const error = await table.write(1, [row("b")]).catch((e: unknown) => e);
        assert.ok(isClusterStoreUnavailableError(error), String(error));
        assert.equal(error.notApplied, true);
        assert.match(error.message, /not ready: BUSY/);
        await killer.send(["SCRIPT", "KILL"]);
        await blocking;
        assert.equal(
          (await table.write(1, [row("b")]))?.version,
          2,
          "the refused write was not applied",
        );
      } finally {
        await table.close();
        await blocker.close();
        await killer.close();
      }
    });
  },
);
