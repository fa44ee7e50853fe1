// RedisMembershipTable: the conformance suite on the shared Redis (each case under a key prefix
// of its own, deleted afterwards), stored data that is not valid, and a Redis restart mid-run on
// a server of the test's own. The shared-Redis tests skip loudly, or fail on CI, without Redis.
import assert from "node:assert/strict";
import fc from "fast-check";
import { platform, type TcpConn } from "../../platform/mod.ts";
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

/** A command of a raw connection: its reply has bulk strings as bytes. */
type Raw = (args: (string | Uint8Array)[]) => Promise<unknown>;

/** Runs `body` with a table under a fresh prefix and a raw connection, then deletes the keys. */
async function withTable(
  body: (
    table: RedisMembershipTable,
    raw: Raw,
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
    const utf8 = (text: string) => new TextEncoder().encode(text);
    const plants: ReadonlyArray<
      readonly [string, (p: string) => (string | Uint8Array)[][], RegExp?]
    > = [
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
      // A dead status alone does not make a valid row.
      ["the deleted row a dead status without the other fields", (p) => [
        ["SET", `${p}{members}:version`, "1"],
        ["HSET", `${p}{members}:rows`, '["b","1"]', '{"status":"down"}'],
      ]],
      ["the deleted row a dead status with a node only", (p) => [
        ["SET", `${p}{members}:version`, "1"],
        [
          "HSET",
          `${p}{members}:rows`,
          '["b","1"]',
          '{"status":"removed","node":"b"}',
        ],
      ]],
      // The whole table is checked, not only the rows to delete.
      ["another member's row a dead status only", (p) => [
        ["SET", `${p}{members}:version`, "1"],
        ["HSET", `${p}{members}:rows`, '["b","1"]', dead],
        ["HSET", `${p}{members}:rows`, '["c","1"]', '{"status":"down"}'],
      ]],
      ["another member's row not JSON", (p) => [
        ["SET", `${p}{members}:version`, "1"],
        ["HSET", `${p}{members}:rows`, '["b","1"]', dead],
        ["HSET", `${p}{members}:rows`, '["c","1"]', "{not json"],
      ]],
      ["another member's row under a third member's field", (p) => [
        ["SET", `${p}{members}:version`, "1"],
        ["HSET", `${p}{members}:rows`, '["b","1"]', dead],
        ["HSET", `${p}{members}:rows`, '["c","1"]', JSON.stringify(row("d"))],
      ]],
      // read() accepts it (an unknown field of bad bytes, decoded as U+FFFD), but the text it
      // checked is not the bytes stored.
      ["the deleted row not valid UTF-8", (p) => [
        ["SET", `${p}{members}:version`, "1"],
        [
          "HSET",
          `${p}{members}:rows`,
          '["b","1"]',
          new Uint8Array([
            ...utf8(`${dead.slice(0, -1)},"x":"`),
            0xff,
            ...utf8('"}'),
          ]),
        ],
      ], /is not valid UTF-8/],
    ];
    for (const [what, plant, problem] of plants) {
      await withTable(async (table, raw, prefix) => {
        for (const command of plant(prefix)) await raw(command);
        const dump = async () => [
          await raw(["GET", `${prefix}{members}:version`]),
          what.includes("WRONGTYPE")
            ? await raw(["GET", `${prefix}{members}:rows`])
            : await raw(["HGETALL", `${prefix}{members}:rows`]),
        ];
        const before = await dump();
        const error = await table.deleteDefunct(
          what.includes("rows without") ? 0 : 1,
          [{ node: "b", incarnation: "1" }],
        ).then(() => undefined, (error: unknown) => error);
        assert.ok(isCorruptClusterDataError(error), `${what}: ${error}`);
        assert.doesNotMatch(error.message, /was applied/, what);
        if (problem !== undefined) assert.match(error.message, problem, what);
        assert.deepEqual(await dump(), before, what);
      });
    }
    // Objects with a dead status whose other fields are each valid for member b/1, wrong, of
    // another type or missing: some are valid dead rows, most are not.
    const field = (valid: unknown, ...wrong: fc.Arbitrary<unknown>[]) =>
      fc.oneof(
        { arbitrary: fc.constant(valid), weight: 4 },
        fc.oneof(...wrong),
      );
    const fields = {
      node: field("b", fc.constant("a"), fc.string(), fc.integer()),
      address: field(
        "127.0.0.1:4000",
        fc.string(),
        fc.constant("127.0.0.1:99999"),
        fc.constant(null),
      ),
      incarnation: field("1", fc.constant("2"), fc.constant(""), fc.nat()),
      status: fc.constantFrom("down", "removed"),
      roles: field(
        [],
        fc.array(fc.string(), { maxLength: 3 }),
        fc.constant(["b", "a"]),
        fc.constant("x"),
      ),
      upNumber: field(
        1,
        fc.nat(),
        fc.constant(-1),
        fc.constant(0.5),
        fc.string(),
      ),
      extra: fc.json(),
    };
    const deadish = fc.oneof(
      fc.record(fields, { requiredKeys: ["status"] }),
      fc.record(fields, {
        requiredKeys: [
          "node",
          "address",
          "incarnation",
          "status",
          "roles",
          "upNumber",
        ],
      }),
    ).map((value) => JSON.stringify(value));
    await withTable(async (table, raw, prefix) => {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string(),
            fc.json(),
            fc.constantFrom(dead, JSON.stringify(row("b"))),
            fc.uint8Array().map((b) => String.fromCharCode(...b)),
            { arbitrary: deadish, weight: 4 },
          ),
          async (text) => {
            await raw(["SET", `${prefix}{members}:version`, "1"]);
            await raw(["HSET", `${prefix}{members}:rows`, '["b","1"]', text]);
            // What read() makes of it: only a valid dead row of member b/1 may be deleted.
            const read = await table.read().then(
              (snapshot) => snapshot.rows[0],
              (error: unknown) => {
                assert.ok(isCorruptClusterDataError(error), String(error));
                return undefined;
              },
            );
            const deletable = read?.status === "down" ||
              read?.status === "removed";
            try {
              const after = await table.deleteDefunct(1, [
                { node: "b", incarnation: "1" },
              ]);
              assert.ok(deletable, `deleted ${text}`);
              assert.deepEqual(
                { version: after?.version, rows: after?.rows },
                { version: 2, rows: [] },
              );
            } catch (error) {
              assert.ok(
                read === undefined
                  ? isCorruptClusterDataError(error)
                  : !deletable && error instanceof TypeError,
                `${text}: ${error}`,
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
        { numRuns: 200 },
      );
    });
  },
);

/**
 * Runs `body` with the URL of a TCP proxy to the shared Redis that holds the first bytes a
 * client sends after `marker` has gone by (in the bytes it sent) until `between()` settled:
 * `between` then runs after every earlier command of that client, and before that command.
 */
async function withHoldingProxy(
  marker: string,
  between: () => Promise<void>,
  body: (url: string) => Promise<void>,
): Promise<void> {
  const target = new URL(REDIS_URL);
  const listener = await platform.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: TcpConn[] = [];
  const pipes: Promise<void>[] = [];
  let held = false;
  const accepting = (async () => {
    for await (const client of listener) {
      conns.push(client);
      const server = await platform.connect({
        hostname: target.hostname,
        port: Number(target.port || 6379),
      });
      conns.push(server);
      const decoder = new TextDecoder();
      let sent = "";
      const hold = new TransformStream<Uint8Array, Uint8Array>({
        async transform(chunk, controller) {
          sent += decoder.decode(chunk, { stream: true });
          if (!held && sent.includes(marker)) {
            held = true;
            await between();
          }
          controller.enqueue(chunk);
        },
      });
      pipes.push(
        client.readable.pipeThrough(hold).pipeTo(server.writable).catch(
          () => {},
        ),
        server.readable.pipeTo(client.writable).catch(() => {}),
      );
    }
  })();
  try {
    await body(`redis://127.0.0.1:${listener.addr.port}`);
    assert.ok(held, "the proxy saw the marker");
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of conns) conn.close();
    await Promise.all(pipes);
  }
}

redisTest(
  "RedisMembershipTable.deleteDefunct() deletes nothing when a row to delete changes between its read and its script without a change of the version, and resolves undefined when the version moved",
  async () => {
    const dead = JSON.stringify(row("b", { status: "removed", upNumber: 1 }));
    const changes: ReadonlyArray<
      readonly [string, (raw: Raw, prefix: string) => Promise<unknown>]
    > = [
      [
        "another valid dead row",
        (raw, p) =>
          raw([
            "HSET",
            `${p}{members}:rows`,
            '["b","1"]',
            JSON.stringify(
              row("b", {
                status: "removed",
                upNumber: 1,
                address: "127.0.0.1:4001",
              }),
            ),
          ]),
      ],
      [
        "a dead status only",
        (raw, p) =>
          raw(["HSET", `${p}{members}:rows`, '["b","1"]', '{"status":"down"}']),
      ],
      [
        "the row deleted",
        (raw, p) => raw(["HDEL", `${p}{members}:rows`, '["b","1"]']),
      ],
      [
        "a write through another table (the version moves)",
        async (_raw, p) => {
          const other = await RedisMembershipTable.connect({
            url: REDIS_URL,
            keyPrefix: p,
          });
          try {
            assert.equal((await other.write(1, [row("c")]))?.version, 2);
          } finally {
            await other.close();
          }
        },
      ],
    ];
    for (const [what, change] of changes) {
      await withTable(async (_table, raw, prefix) => {
        await raw(["SET", `${prefix}{members}:version`, "1"]);
        await raw(["HSET", `${prefix}{members}:rows`, '["b","1"]', dead]);
        const dump = async () => [
          await raw(["GET", `${prefix}{members}:version`]),
          await raw(["HGETALL", `${prefix}{members}:rows`]),
        ];
        let changed: unknown[] = [];
        // The member's field goes to Redis only with the deleting script.
        await withHoldingProxy('["b","1"]', async () => {
          await change(raw, prefix);
          changed = await dump();
        }, async (url) => {
          const table = await RedisMembershipTable.connect({
            url,
            keyPrefix: prefix,
          });
          try {
            const outcome = await table.deleteDefunct(1, [
              { node: "b", incarnation: "1" },
            ]).then((value) => ({ value }), (error: unknown) => ({ error }));
            if (what.includes("version moves")) {
              assert.deepEqual(outcome, { value: undefined }, what);
            } else {
              assert.ok(
                "error" in outcome && isCorruptClusterDataError(outcome.error),
                `${what}: ${JSON.stringify(outcome)}`,
              );
              assert.match(
                outcome.error.message,
                /"[^"]*\{members\}:rows \["b","1"\]": the row changed without a change of the table's version/,
                what,
              );
            }
          } finally {
            await table.close();
          }
        });
        assert.notEqual(changed.length, 0, what);
        assert.deepEqual(await dump(), changed, what);
      });
    }
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
  "RedisMembershipTable: a Redis restarted without persistence lost the table; its next write gives it another epoch, even at the same version",
  async () => {
    await withOwnRedis([], async (server) => {
      const table = await RedisMembershipTable.connect({
        url: server.current().url,
        commandTimeoutMs: 2000,
      });
      try {
        const first = await table.write(0, [row("a")]);
        assert.equal(first?.version, 1);
        assert.equal(typeof first?.epoch, "string");
        assert.equal((await table.read()).epoch, first?.epoch);
        await server.kill();
        await server.start();
        let empty;
        for (let tries = 0; empty === undefined; tries++) {
          empty = await table.read().catch((error: unknown) => {
            if (!isClusterStoreUnavailableError(error) || tries > 200) {
              throw error;
            }
            return undefined;
          });
          if (empty === undefined) await sleep(50);
        }
        assert.deepEqual(empty, { version: 0, rows: [] });
        const again = await table.write(0, [row("a")]);
        assert.equal(again?.version, 1, "the same version as before the loss");
        assert.equal(typeof again?.epoch, "string");
        assert.notEqual(again?.epoch, first?.epoch);
      } finally {
        await table.close();
      }
    });
  },
);

redisTest(
  "RedisMembershipTable: a table written before epochs gets one at its next change and keeps it; an epoch that is not valid is CorruptClusterDataError",
  async () => {
    await withTable(async (table, raw, prefix) => {
      await raw(["SET", `${prefix}{members}:version`, "1"]);
      await raw([
        "HSET",
        `${prefix}{members}:rows`,
        '["a","1"]',
        JSON.stringify(row("a")),
      ]);
      const legacy = await table.read();
      assert.equal(legacy.version, 1);
      assert.equal(legacy.epoch, undefined);
      const written = await table.write(1, [row("a", { status: "down" })]);
      assert.equal(typeof written?.epoch, "string");
      const deleted = await table.deleteDefunct(2, [row("a")]);
      assert.equal(deleted?.epoch, written?.epoch);
      assert.equal((await table.read()).epoch, written?.epoch);
      for (const bad of ["", "has space", "x".repeat(129), "\u00e9t\u00e9"]) {
        await raw(["SET", `${prefix}{members}:epoch`, bad]);
        await assert.rejects(
          table.read(),
          isCorruptClusterDataError,
          JSON.stringify(bad),
        );
      }
      await raw(["DEL", `${prefix}{members}:epoch`]);
      await raw(["HSET", `${prefix}{members}:epoch`, "f", "v"]);
      await assert.rejects(table.read(), isCorruptClusterDataError, "a hash");
    });
  },
);

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
          const { epoch } = await tables[0].read();
          assert.equal(typeof epoch, "string", "the epoch of a written table");
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
          assert.equal(final.epoch, epoch, "the data survived: the same epoch");
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
