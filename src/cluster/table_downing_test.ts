import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type DowningContext,
  type DowningDecision,
  keepMajority,
  staticQuorum,
} from "./downing.ts";
import { ClusterStoreUnavailableError } from "./errors.ts";
import type {
  MemberRow,
  MembershipTable,
  MembershipTableSnapshot,
} from "./membership_table.ts";
import { MemoryMembershipTable } from "./memory_membership_table.ts";
import { contextKey, tableDowning } from "./table_downing.ts";

function row(node: string, upNumber: number): MemberRow {
  return {
    node,
    address: `10.0.0.${upNumber}:4000`,
    incarnation: "1",
    status: "up",
    roles: [],
    upNumber,
  };
}

const ROWS = ["a", "b", "c", "d", "e"].map((n, i) => row(n, i + 1));

/** The context of `self`'s side when `side` is reachable from it and the rest is not. */
function context(
  self: string,
  side: readonly string[],
  options: { signal?: AbortSignal; waits?: number[] } = {},
): DowningContext {
  return {
    self: `${self}#1`,
    members: ROWS,
    unreachable: new Set(
      ROWS.filter((r) => !side.includes(r.node)).map(contextKey),
    ),
    wait: (ms) => {
      options.waits?.push(ms);
      return Promise.resolve();
    },
    signal: options.signal ?? new AbortController().signal,
  };
}

const QUIET = { logger: { error() {} } };

function statuses(snapshot: MembershipTableSnapshot): Record<string, string> {
  return Object.fromEntries(
    [...snapshot.rows].sort((x, y) => x.node < y.node ? -1 : 1).map((
      r,
    ) => [r.node, r.status]),
  );
}

/** A table whose store fails while `down` is set, and counts the calls. */
class FlakyTable implements MembershipTable {
  readonly inner = new MemoryMembershipTable();
  down = false;
  reads = 0;
  read(signal?: AbortSignal): Promise<MembershipTableSnapshot> {
    this.reads++;
    if (this.down) {
      return Promise.reject(
        new ClusterStoreUnavailableError("test store down", undefined, {
          notApplied: true,
        }),
      );
    }
    return this.inner.read(signal);
  }
  write(
    expectedVersion: number,
    rows: readonly MemberRow[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    return this.inner.write(expectedVersion, rows, signal);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

test("tableDowning() writes the unreachable side down and keeps this side running", async () => {
  const table = new MemoryMembershipTable();
  await table.write(0, ROWS);
  const strategy = tableDowning(table, keepMajority(), QUIET);
  assert.equal(strategy.name, "table(keep-majority)");
  assert.equal(
    await strategy.decide(context("a", ["a", "b", "c"])),
    "down-unreachable",
  );
  const after = await table.read();
  assert.equal(after.version, 2);
  assert.deepEqual(statuses(after), {
    a: "up",
    b: "up",
    c: "up",
    d: "down",
    e: "down",
  });
  // Another node of the winning side finds the work done: no write, still running.
  assert.equal(
    await strategy.decide(context("b", ["a", "b", "c"])),
    "down-unreachable",
  );
  assert.equal((await table.read()).version, 2);
  await table.close();
});

test("tableDowning() downs this side when the table already has it down", async () => {
  const table = new MemoryMembershipTable();
  await table.write(0, [
    ...ROWS.slice(0, 3),
    ...ROWS.slice(3).map((r) => ({ ...r, status: "down" as const })),
  ]);
  const strategy = tableDowning(table, staticQuorum(2), QUIET);
  assert.equal(
    await strategy.decide(context("d", ["d", "e"])),
    "down-self",
  );
  assert.equal((await table.read()).version, 1, "the loser wrote nothing");
  await table.close();
});

test("tableDowning() with staticQuorum(2) on a 3|2 split: of two racing sides exactly one wins", async () => {
  for (const first of ["a", "d"]) {
    const shared = new MemoryMembershipTable();
    await shared.write(0, ROWS);
    const decideOn = (self: string, side: string[]) =>
      tableDowning(shared.share(), staticQuorum(2), QUIET).decide(
        context(self, side),
      );
    // Both sides read the same version before either writes.
    const big = ["a", "b", "c"];
    const small = ["d", "e"];
    const decisions: DowningDecision[] = await Promise.all(
      first === "a"
        ? [decideOn("a", big), decideOn("d", small)]
        : [decideOn("d", small), decideOn("a", big)],
    );
    const [bigDecision, smallDecision] = first === "a"
      ? decisions
      : [decisions[1], decisions[0]];
    assert.notEqual(
      bigDecision === "down-unreachable",
      smallDecision === "down-unreachable",
      `exactly one side wins (${first} first): ${decisions}`,
    );
    // The rest of each side agrees with its first decider.
    assert.equal(await decideOn("b", big), bigDecision);
    assert.equal(await decideOn("e", small), smallDecision);
    const table = statuses(await shared.read());
    const winners = bigDecision === "down-unreachable" ? big : small;
    for (const n of Object.keys(table)) {
      assert.equal(table[n], winners.includes(n) ? "up" : "down", n);
    }
    await shared.close();
  }
});

test("tableDowning() keeps the inner strategy's down-self without touching the table", async () => {
  const table = new FlakyTable();
  await table.inner.write(0, ROWS);
  const strategy = tableDowning(table, keepMajority(), QUIET);
  assert.equal(await strategy.decide(context("d", ["d", "e"])), "down-self");
  assert.equal(table.reads, 0);
  await table.close();
});

test("tableDowning() on an unavailable table retries until it answers (whenUnavailable: retry)", async () => {
  const table = new FlakyTable();
  await table.inner.write(0, ROWS);
  table.down = true;
  const waits: number[] = [];
  const ctx = context("a", ["a", "b", "c"], { waits });
  const original = ctx.wait;
  const strategy = tableDowning(table, keepMajority(), {
    ...QUIET,
    retryMs: 250,
  });
  const decided = strategy.decide({
    ...ctx,
    wait: async (ms) => {
      await original(ms);
      if (waits.length === 3) table.down = false; // the store is back
    },
  });
  assert.equal(await decided, "down-unreachable");
  assert.deepEqual(waits, [250, 250, 250]);
  assert.equal(table.reads, 4);
  assert.equal(statuses(await table.read()).d, "down");
  await table.close();
});

test("tableDowning() on an unavailable table stops trying when the decision is called off", async () => {
  const table = new FlakyTable();
  await table.inner.write(0, ROWS);
  table.down = true;
  const controller = new AbortController();
  const ctx = context("a", ["a", "b", "c"], { signal: controller.signal });
  const strategy = tableDowning(table, keepMajority(), QUIET);
  const decided = strategy.decide({
    ...ctx,
    wait: () => {
      if (table.reads === 2) controller.abort();
      return Promise.resolve();
    },
  });
  // The runner drops a decision made after the abort; the point is that nothing was written.
  await decided;
  table.down = false;
  assert.equal(table.reads, 2);
  assert.equal((await table.read()).version, 1);
  await table.close();
});

test("tableDowning() on an unavailable table downs this side (whenUnavailable: down-self)", async () => {
  const table = new FlakyTable();
  await table.inner.write(0, ROWS);
  table.down = true;
  const strategy = tableDowning(table, keepMajority(), {
    ...QUIET,
    whenUnavailable: "down-self",
  });
  assert.equal(
    await strategy.decide(context("a", ["a", "b", "c"])),
    "down-self",
  );
  table.down = false;
  assert.equal((await table.read()).version, 1);
  await table.close();
});

test("tableDowning() downs this side when the version keeps moving (maxConflicts)", async () => {
  const table = new MemoryMembershipTable();
  await table.write(0, ROWS);
  let writes = 0;
  const busy: MembershipTable = {
    read: (signal) => table.read(signal),
    write: () => {
      writes++;
      return Promise.resolve(undefined);
    },
    close: () => table.close(),
  };
  const strategy = tableDowning(busy, keepMajority(), {
    ...QUIET,
    maxConflicts: 3,
  });
  assert.equal(
    await strategy.decide(context("a", ["a", "b", "c"])),
    "down-self",
  );
  assert.equal(writes, 3);
  await table.close();
});

test("tableDowning() lets other table errors through (the runner downs this side)", async () => {
  const table = new MemoryMembershipTable();
  await table.close();
  const strategy = tableDowning(table, keepMajority(), QUIET);
  await assert.rejects(
    () => Promise.resolve(strategy.decide(context("a", ["a", "b", "c"]))),
    (error: unknown) => (error as { code?: string }).code === "CLUSTER_CLOSED",
  );
});

test("tableDowning() rejects bad arguments at once", () => {
  const table = new MemoryMembershipTable();
  assert.throws(
    () => tableDowning({} as MembershipTable, keepMajority()),
    TypeError,
  );
  assert.throws(
    () => tableDowning(table, {} as ReturnType<typeof keepMajority>),
    TypeError,
  );
  assert.throws(
    () => tableDowning(table, keepMajority(), { retryMs: 0 }),
    RangeError,
  );
  assert.throws(
    () => tableDowning(table, keepMajority(), { maxConflicts: 1.5 }),
    RangeError,
  );
  assert.throws(
    () =>
      tableDowning(table, keepMajority(), {
        whenUnavailable: "wait" as "retry",
      }),
    TypeError,
  );
});
