// The membership table conformance suite: the contract of membership_table.ts, checked the same
// way for every table (memory, Redis, yours), in the Hono way. It depends on no test framework
// and no assertion library, so implementers outside this repository can run it with theirs.
import { isClusterClosedError } from "./errors.ts";
import {
  MEMBER_STATUSES,
  type MemberId,
  type MemberRow,
  type MembershipTable,
  type MembershipTableSnapshot,
  type MemberStatus,
} from "./membership_table.ts";

/** One test of a conformance suite: register it with your test framework. */
export interface ConformanceCase {
  /** The test's name (the implementation's name, then the behaviour). */
  readonly name: string;
  /** Runs the test; rejects with an `Error` that says what was wrong. */
  readonly fn: () => Promise<void>;
}

/** Options of the conformance suites' randomized cases. */
export interface ConformanceOptions {
  /** How many random scenarios each randomized case runs (default 20). */
  readonly runs?: number;
  /** The seed of the first scenario (default: random); a failure names the seed to replay. */
  readonly seed?: number;
}

/** A fresh, empty membership table for one case, possibly with several handles on it. */
export interface MembershipTableFixture {
  /**
   * Opens a handle on this case's table: every handle sees the same data (for a store such as
   * Redis, a new connection each time). The suite closes every handle it opened.
   */
  open(): Promise<MembershipTable>;
  /** Called once at the end of the case (delete the case's keys, stop what it started). */
  dispose?(): Promise<void>;
}

/** Throws an Error with `message` unless `condition` holds. */
export function conformanceCheck(
  condition: unknown,
  message: string,
): asserts condition {
  if (!condition) throw new Error(`Conformance: ${message}`);
}

/** A small seeded generator (mulberry32), so every random scenario can be replayed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `scenario` for `runs` seeds from `seed`, naming the seed when one fails. */
export async function forSeeds(
  options: ConformanceOptions,
  scenario: (random: () => number, seed: number) => Promise<void>,
): Promise<void> {
  const runs = options.runs ?? 20;
  const first = options.seed ?? Math.floor(Math.random() * 2 ** 31);
  for (let i = 0; i < runs; i++) {
    const seed = (first + i) >>> 0;
    try {
      await scenario(seededRandom(seed), seed);
    } catch (error) {
      throw new Error(
        `Conformance scenario failed with seed ${seed} (replay with { seed: ${seed}, runs: 1 }): ${
          (error as Error).message
        }`,
        { cause: error },
      );
    }
  }
}

/** Expects `promise` to reject with an error that `accept` accepts; returns it. */
export async function expectRejection(
  promise: Promise<unknown>,
  accept: (error: unknown) => boolean,
  what: string,
): Promise<unknown> {
  let outcome: unknown;
  try {
    outcome = await promise;
  } catch (error) {
    conformanceCheck(
      accept(error),
      `${what}: rejected with an unexpected error: ${String(error)}`,
    );
    return error;
  }
  throw new Error(
    `Conformance: ${what}: expected a rejection, got ${
      JSON.stringify(outcome)
    }`,
  );
}

function row(
  node: string,
  status: MemberStatus = "joining",
  extra: Partial<MemberRow> = {},
): MemberRow {
  return {
    node,
    address: "127.0.0.1:4000",
    incarnation: "i1",
    status,
    roles: [],
    upNumber: status === "joining" ? 0 : 1,
    ...extra,
  };
}

function canonical(snapshot: MembershipTableSnapshot): string {
  const rows = snapshot.rows.map((r) => ({
    node: r.node,
    address: r.address,
    incarnation: r.incarnation,
    status: r.status,
    roles: [...r.roles],
    upNumber: r.upNumber,
  }));
  rows.sort((a, b) =>
    a.node < b.node
      ? -1
      : a.node > b.node
      ? 1
      : a.incarnation < b.incarnation
      ? -1
      : a.incarnation > b.incarnation
      ? 1
      : 0
  );
  return JSON.stringify({ version: snapshot.version, rows });
}

const isTypeError = (error: unknown): boolean => error instanceof TypeError;

/** Rows that every table must refuse with a TypeError. */
const BAD_ROWS: ReadonlyArray<readonly [string, unknown]> = [
  ["an unknown status", { ...row("a"), status: "alive" }],
  ["a status that is not a string", { ...row("a"), status: 1 }],
  ["an empty node", { ...row("a"), node: "" }],
  ["a node that is not a string", { ...row("a"), node: 42 }],
  ["a node with a control character", { ...row("a"), node: "a\nb" }],
  ["a node with a lone surrogate", { ...row("a"), node: "a\ud800" }],
  ["a node of 256 characters", { ...row("a"), node: "n".repeat(256) }],
  ["an empty incarnation", { ...row("a"), incarnation: "" }],
  ["an incarnation that is not a string", { ...row("a"), incarnation: null }],
  ["an address without a port", { ...row("a"), address: "127.0.0.1" }],
  ["an address with port 0", { ...row("a"), address: "127.0.0.1:0" }],
  ["an address that is not a string", { ...row("a"), address: 4000 }],
  ["a non-integer upNumber", { ...row("a", "up"), upNumber: 1.5 }],
  ["a negative upNumber", { ...row("a", "up"), upNumber: -1 }],
  ["a NaN upNumber", { ...row("a", "up"), upNumber: Number.NaN }],
  ["an upNumber that is a string", { ...row("a", "up"), upNumber: "1" }],
  ["unsorted roles", { ...row("a"), roles: ["b", "a"] }],
  ["duplicate roles", { ...row("a"), roles: ["a", "a"] }],
  ["roles that are not an array", { ...row("a"), roles: "a" }],
  ["a role that is not a string", { ...row("a"), roles: [1] }],
  ["a row that is null", null],
  ["a row that is a string", "row"],
  ["a row without fields", {}],
];

/**
 * The conformance suite of {@linkcode MembershipTable}: every table must pass it. It returns the
 * cases; register each with your test framework. The cases of the optional
 * `MembershipTable.deleteDefunct` (named `deleteDefunct(): ...`) check nothing for a table
 * without it.
 *
 * @param implementation The table's name, used in the case names.
 * @param create Makes a fresh, empty table for one case.
 * @param options Runs and seed of the randomized cases.
 * @returns The cases.
 * @example Run it with Deno's test runner
 * ```ts ignore
 * import { MemoryMembershipTable, membershipTableConformance } from "@troupe/troupe/cluster";
 * for (const c of membershipTableConformance("MemoryMembershipTable", async () => {
 *   const table = new MemoryMembershipTable();
 *   return { open: () => Promise.resolve(table) };
 * })) Deno.test(c.name, c.fn);
 * ```
 */
export function membershipTableConformance(
  implementation: string,
  create: () => Promise<MembershipTableFixture>,
  options: ConformanceOptions = {},
): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  // A case's body opens handles on its table (`open`), and on a second, separate table
  // (`openOther`, made only when asked for); every handle is closed and every table disposed.
  const add = (
    title: string,
    body: (
      open: () => Promise<MembershipTable>,
      openOther: () => Promise<MembershipTable>,
    ) => Promise<void>,
  ) => {
    cases.push({
      name: `${implementation} (MembershipTable conformance): ${title}`,
      fn: async () => {
        const fixtures: MembershipTableFixture[] = [];
        const opened: MembershipTable[] = [];
        const opener = (which: number) => async () => {
          while (fixtures.length <= which) fixtures.push(await create());
          const table = await fixtures[which].open();
          opened.push(table);
          return table;
        };
        try {
          await body(opener(0), opener(1));
        } finally {
          for (const table of opened) await table.close();
          for (const fixture of fixtures) await fixture.dispose?.();
        }
      },
    });
  };

  add("an empty table reads as version 0 with no rows", async (open) => {
    const table = await open();
    const snapshot = await table.read();
    conformanceCheck(snapshot.version === 0, `version ${snapshot.version}`);
    conformanceCheck(snapshot.rows.length === 0, "rows in an empty table");
  });

  add(
    "the epoch, where the table gives one, stays the same through writes, deletions and other handles, and differs from another table's",
    async (open, openOther) => {
      const table = await open();
      const epochs: (string | undefined)[] = [];
      const note = (snapshot: MembershipTableSnapshot | undefined) => {
        conformanceCheck(
          snapshot !== undefined,
          "a change at its version lost",
        );
        conformanceCheck(
          snapshot.epoch === undefined ||
            (typeof snapshot.epoch === "string" && snapshot.epoch !== ""),
          `the epoch ${
            JSON.stringify(snapshot.epoch)
          } is not a non-empty string`,
        );
        epochs.push(snapshot.epoch);
      };
      note(await table.write(0, [row("a")]));
      note(await table.write(1, [row("a", "up", { upNumber: 1 })]));
      note(await table.read());
      note(await (await open()).read());
      if (typeof table.deleteDefunct === "function") {
        note(await table.write(2, [row("a", "down", { upNumber: 1 })]));
        note(await table.deleteDefunct(3, [row("a")]));
        note(await table.read());
      }
      const given = epochs.filter((e) => e !== undefined);
      if (given.length === 0) return; // a table without epochs
      conformanceCheck(
        given.length === epochs.length,
        `the epoch came and went after the first write: ${
          JSON.stringify(epochs)
        }`,
      );
      conformanceCheck(
        given.every((e) => e === given[0]),
        `the epoch changed while the table kept its data: ${
          JSON.stringify(epochs)
        }`,
      );
      const another = await (await openOther()).write(0, [row("b")]);
      conformanceCheck(
        another?.epoch !== given[0],
        `two tables have the same epoch ${JSON.stringify(given[0])}`,
      );
    },
  );

  add(
    "write() at the current version succeeds and adds 1 to the version",
    async (open) => {
      const table = await open();
      const first = await table.write(0, [row("a")]);
      conformanceCheck(first !== undefined, "the write at version 0 lost");
      conformanceCheck(
        first.version === 1,
        `version ${first.version} after one write`,
      );
      conformanceCheck(
        canonical(first) === canonical({ version: 1, rows: [row("a")] }),
        `the write returned ${canonical(first)}`,
      );
      const second = await table.write(1, [
        row("b", "joining", { roles: ["x", "y"] }),
        row("a", "up"),
      ]);
      conformanceCheck(
        second?.version === 2,
        "the second write did not make version 2",
      );
      const read = await table.read();
      conformanceCheck(
        canonical(read) === canonical(second) &&
          canonical(read) ===
            canonical({
              version: 2,
              rows: [
                row("a", "up"),
                row("b", "joining", { roles: ["x", "y"] }),
              ],
            }),
        `read ${canonical(read)}`,
      );
      const empty = await table.write(2, []);
      conformanceCheck(
        empty?.version === 3 && empty.rows.length === 2,
        "an empty write at the version",
      );
    },
  );

  add(
    "write() at a stale or future version returns undefined and writes nothing",
    async (open) => {
      const table = await open();
      await table.write(0, [row("a")]);
      const before = canonical(await table.read());
      for (const stale of [0, 2, 7]) {
        const outcome = await table.write(stale, [row("b"), row("a", "up")]);
        conformanceCheck(
          outcome === undefined,
          `a write at version ${stale} of 1 won`,
        );
      }
      conformanceCheck(
        canonical(await table.read()) === before,
        "a losing write changed the table",
      );
    },
  );

  add(
    "write() is all or nothing: one refused row keeps every other row out",
    async (open) => {
      const table = await open();
      await table.write(0, [row("a", "up")]);
      const before = canonical(await table.read());
      await expectRejection(
        table.write(1, [row("new"), row("a", "joining")]),
        isTypeError,
        "a write with a backwards move",
      );
      await expectRejection(
        table.write(1, [
          row("new"),
          { ...row("bad"), status: "zombie" } as unknown as MemberRow,
        ]),
        isTypeError,
        "a write with an invalid row",
      );
      await expectRejection(
        table.write(1, [row("dup"), row("dup", "up")]),
        isTypeError,
        "a write with one member twice",
      );
      conformanceCheck(
        canonical(await table.read()) === before,
        "a refused write changed the table",
      );
      conformanceCheck(
        (await table.write(1, [row("new")]))?.version === 2,
        "a good write after them",
      );
    },
  );

  add(
    "a status only moves forward: every backwards move is a TypeError and writes nothing",
    async (open) => {
      const table = await open();
      let version = 0;
      for (let to = 0; to < MEMBER_STATUSES.length; to++) {
        for (let from = to + 1; from < MEMBER_STATUSES.length; from++) {
          const node = `m-${from}-${to}`;
          const stored = await table.write(version, [
            row(node, MEMBER_STATUSES[from]),
          ]);
          conformanceCheck(stored !== undefined, "setting up the row lost");
          version = stored.version;
          await expectRejection(
            table.write(version, [row(node, MEMBER_STATUSES[to])]),
            isTypeError,
            `moving ${MEMBER_STATUSES[from]} → ${MEMBER_STATUSES[to]}`,
          );
          const read = await table.read();
          conformanceCheck(
            read.version === version,
            "a refused move changed the version",
          );
          conformanceCheck(
            read.rows.find((r) => r.node === node)?.status ===
              MEMBER_STATUSES[from],
            "a refused move changed the row",
          );
        }
      }
      // Forward, one step at a time, and staying put, are fine.
      for (const status of [...MEMBER_STATUSES, "removed" as const]) {
        const moved = await table.write(version, [row("walker", status)]);
        conformanceCheck(
          moved !== undefined,
          `moving forward to ${status} lost`,
        );
        version = moved.version;
      }
    },
  );

  add("rows are keyed by node and incarnation", async (open) => {
    const table = await open();
    await table.write(0, [row("a", "up", { incarnation: "1" })]);
    const both = await table.write(1, [
      row("a", "joining", { incarnation: "2", address: "127.0.0.1:4001" }),
    ]);
    conformanceCheck(
      both?.rows.length === 2,
      "a new incarnation replaced the old one",
    );
    // The same member again replaces its row (here its address and roles).
    const replaced = await table.write(2, [
      row("a", "up", {
        incarnation: "1",
        address: "127.0.0.1:5000",
        roles: ["r"],
      }),
    ]);
    conformanceCheck(replaced?.rows.length === 2, "an upsert added a row");
    const a1 = replaced.rows.find((r) => r.incarnation === "1");
    conformanceCheck(
      a1?.address === "127.0.0.1:5000" && a1.roles.join() === "r",
      "the upsert did not replace the row",
    );
    // A new incarnation may be joining while the old one is down: moves are per member.
    const read = await table.read();
    conformanceCheck(
      read.rows.find((r) => r.incarnation === "2")?.status === "joining",
      "the other incarnation changed",
    );
  });

  add(
    "bad rows and versions are refused with TypeError/RangeError and write nothing",
    async (open) => {
      const table = await open();
      await table.write(0, [row("a")]);
      const before = canonical(await table.read());
      for (const [what, bad] of BAD_ROWS) {
        await expectRejection(
          table.write(1, [bad as MemberRow]),
          isTypeError,
          `a row with ${what}`,
        );
      }
      await expectRejection(
        table.write(1, "rows" as unknown as MemberRow[]),
        isTypeError,
        "rows that are not an array",
      );
      for (const version of [-1, 1.5, Number.NaN, Infinity]) {
        await expectRejection(
          table.write(version, [row("b")]),
          (error) => error instanceof RangeError,
          `expectedVersion ${version}`,
        );
      }
      conformanceCheck(
        canonical(await table.read()) === before,
        "a refused write changed the table",
      );
    },
  );

  add(
    "concurrent writers at one version: exactly one wins (random schedules)",
    async (open) => {
      const handles = [await open(), await open(), await open()];
      let version = 0;
      await forSeeds(options, async (random) => {
        const writers = 2 + Math.floor(random() * 11);
        const attempts = Array.from({ length: writers }, (_, i) => {
          const table = handles[Math.floor(random() * handles.length)];
          const delay = Math.floor(random() * 3);
          return (async () => {
            for (let d = 0; d < delay; d++) await Promise.resolve();
            return table.write(version, [row(`w${version}-${i}`)]);
          })();
        });
        const outcomes = await Promise.all(attempts);
        const winners = outcomes.filter((o) => o !== undefined);
        conformanceCheck(
          winners.length === 1,
          `${winners.length} of ${writers} writers won`,
        );
        version++;
        const read = await handles[0].read();
        conformanceCheck(
          read.version === version,
          `version ${read.version}, expected ${version}`,
        );
        const mine = read.rows.filter((r) =>
          r.node.startsWith(`w${version - 1}-`)
        );
        conformanceCheck(mine.length === 1, `${mine.length} rows of one round`);
      });
    },
  );

  add(
    "concurrent read-modify-write loops: every writer gets in once, and the version counts them",
    async (open) => {
      const handles = [await open(), await open()];
      await forSeeds({
        ...options,
        runs: Math.max(1, Math.ceil((options.runs ?? 20) / 4)),
      }, async (random, seed) => {
        const writers = 2 + Math.floor(random() * 6);
        const start = (await handles[0].read()).version;
        let wins = 0;
        await Promise.all(Array.from({ length: writers }, async (_, i) => {
          const table = handles[i % handles.length];
          for (let tries = 0; tries < 1000; tries++) {
            const { version } = await table.read();
            if (random() < 0.5) await Promise.resolve();
            if (
              await table.write(version, [row(`rmw-${seed}-${i}`)]) !==
                undefined
            ) {
              wins++;
              return;
            }
          }
          throw new Error(`writer ${i} never got in`);
        }));
        const read = await handles[1].read();
        conformanceCheck(wins === writers, `${wins} wins of ${writers}`);
        conformanceCheck(
          read.version === start + writers,
          `version ${read.version}, expected ${start + writers}`,
        );
      });
    },
  );

  add(
    "an aborted signal rejects with its reason and writes nothing",
    async (open) => {
      const table = await open();
      const controller = new AbortController();
      const reason = new Error("stop");
      controller.abort(reason);
      await expectRejection(
        table.write(0, [row("a")], controller.signal),
        (e) => e === reason,
        "write",
      );
      await expectRejection(
        table.read(controller.signal),
        (e) => e === reason,
        "read",
      );
      conformanceCheck(
        (await table.read()).version === 0,
        "an aborted write wrote",
      );
    },
  );

  add(
    "close() is idempotent and later calls reject with ClusterClosedError",
    async (open) => {
      const table = await open();
      await table.write(0, [row("a")]);
      await table.close();
      await table.close();
      await expectRejection(
        table.read(),
        isClusterClosedError,
        "read after close",
      );
      await expectRejection(
        table.write(1, [row("b")]),
        isClusterClosedError,
        "write after close",
      );
      // The data stays for other handles.
      const other = await open();
      conformanceCheck(
        (await other.read()).version === 1,
        "close() lost the data",
      );
    },
  );

  // The optional deleteDefunct(): its cases check nothing for a table without it.
  const deletion = (
    title: string,
    body: (
      table: Required<MembershipTable>,
      open: () => Promise<MembershipTable>,
    ) => Promise<void>,
  ) =>
    add(`deleteDefunct(): ${title}`, async (open) => {
      const table = await open();
      if (typeof table.deleteDefunct !== "function") return;
      await body(table as Required<MembershipTable>, open);
    });

  deletion(
    "deletes the rows of down and removed members at the current version, skips members without a row, and adds 1 to the version",
    async (table, open) => {
      const rows = [
        row("up", "up"),
        row("down", "down"),
        row("removed", "removed"),
        row("removed", "removed", { incarnation: "i2" }),
      ];
      await table.write(0, rows);
      const after = await table.deleteDefunct(1, [
        { node: "down", incarnation: "i1" },
        { node: "removed", incarnation: "i1" },
        { node: "never", incarnation: "i1" },
      ]);
      conformanceCheck(
        after !== undefined,
        "the deletion at the current version lost",
      );
      const expected = canonical({ version: 2, rows: [rows[0], rows[3]] });
      conformanceCheck(
        canonical(after) === expected,
        `the deletion returned ${canonical(after)}, expected ${expected}`,
      );
      const read = await (await open()).read();
      conformanceCheck(
        canonical(read) === expected,
        `another handle reads ${canonical(read)}, expected ${expected}`,
      );
      // A deleted member may be written again (as any member without a row).
      const again = await table.write(2, [row("down", "removed")]);
      conformanceCheck(
        again?.version === 3,
        "writing a deleted member again failed",
      );
    },
  );

  deletion(
    "at a stale version deletes nothing and returns undefined",
    async (table) => {
      await table.write(0, [row("a", "removed")]);
      const outcome = await table.deleteDefunct(0, [{
        node: "a",
        incarnation: "i1",
      }]);
      conformanceCheck(
        outcome === undefined,
        "a deletion at a stale version won",
      );
      const read = await table.read();
      conformanceCheck(
        read.version === 1 && read.rows.length === 1,
        `the table after a stale deletion: ${canonical(read)}`,
      );
    },
  );

  deletion(
    "refuses the rows of live members with a TypeError, deleting nothing",
    async (table) => {
      const statuses: MemberStatus[] = ["joining", "up", "leaving", "exiting"];
      await table.write(0, [
        row("dead", "down"),
        ...statuses.map((status) => row(status, status)),
      ]);
      for (const status of statuses) {
        await expectRejection(
          table.deleteDefunct(1, [
            { node: "dead", incarnation: "i1" },
            { node: status, incarnation: "i1" },
          ]),
          isTypeError,
          `deleting a ${status} member`,
        );
      }
      const read = await table.read();
      conformanceCheck(
        read.version === 1 && read.rows.length === 5,
        `a refused deletion changed the table: ${canonical(read)}`,
      );
    },
  );

  deletion("refuses invalid arguments, deleting nothing", async (table) => {
    await table.write(0, [row("a", "down")]);
    const bad: ReadonlyArray<readonly [string, unknown]> = [
      ["members that are not an array", { node: "a", incarnation: "i1" }],
      ["a member that is null", [null]],
      ["a member without an incarnation", [{ node: "a" }]],
      ["an empty node", [{ node: "", incarnation: "i1" }]],
      ["a node with a control character", [{
        node: "a\u0000",
        incarnation: "i1",
      }]],
      ["a member twice", [
        { node: "a", incarnation: "i1" },
        { node: "a", incarnation: "i1" },
      ]],
    ];
    for (const [what, members] of bad) {
      await expectRejection(
        table.deleteDefunct(1, members as MemberId[]),
        isTypeError,
        what,
      );
    }
    for (const version of [-1, 1.5, Number.NaN, "1"]) {
      await expectRejection(
        table.deleteDefunct(version as number, [{
          node: "a",
          incarnation: "i1",
        }]),
        (e) => e instanceof RangeError,
        `expectedVersion ${String(version)}`,
      );
    }
    const read = await table.read();
    conformanceCheck(
      read.version === 1 && read.rows.length === 1,
      `a refused deletion changed the table: ${canonical(read)}`,
    );
  });

  deletion(
    "a deletion and a write at one version: exactly one wins",
    async (table, open) => {
      const other = await open();
      await forSeeds(options, async (random, seed) => {
        const { version } = await table.read();
        const node = `race-${seed}`;
        await table.write(version, [row(node, "removed")]);
        const delay = Math.floor(random() * 3);
        const [deleted, written] = await Promise.all([
          table.deleteDefunct(version + 1, [{ node, incarnation: "i1" }]),
          (async () => {
            for (let d = 0; d < delay; d++) await Promise.resolve();
            return other.write(version + 1, [row(`${node}-w`)]);
          })(),
        ]);
        conformanceCheck(
          (deleted === undefined) !== (written === undefined),
          `deletion ${deleted === undefined ? "lost" : "won"}, write ${
            written === undefined ? "lost" : "won"
          }`,
        );
        const read = await other.read();
        conformanceCheck(
          read.version === version + 2,
          `version ${read.version}, expected ${version + 2}`,
        );
        const kept = read.rows.some((r) => r.node === node);
        conformanceCheck(
          kept === (deleted === undefined),
          `the row ${kept ? "is there" : "is gone"} after the deletion ${
            deleted === undefined ? "lost" : "won"
          }`,
        );
      });
    },
  );

  deletion(
    "an aborted signal rejects with its reason and deletes nothing; after close() it rejects with ClusterClosedError",
    async (table, open) => {
      await table.write(0, [row("a", "down")]);
      const controller = new AbortController();
      const reason = new Error("stop");
      controller.abort(reason);
      const id = [{ node: "a", incarnation: "i1" }];
      await expectRejection(
        table.deleteDefunct(1, id, controller.signal),
        (e) => e === reason,
        "deleteDefunct with an aborted signal",
      );
      await table.close();
      await expectRejection(
        table.deleteDefunct(1, id),
        isClusterClosedError,
        "deleteDefunct after close",
      );
      const read = await (await open()).read();
      conformanceCheck(
        read.version === 1 && read.rows.length === 1,
        `the table changed: ${canonical(read)}`,
      );
    },
  );

  return cases;
}
