import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { staticQuorum } from "./downing.ts";
import type {
  MemberId,
  MemberRow,
  MembershipTable,
  MembershipTableSnapshot,
} from "./membership_table.ts";
import { MemoryMembershipTable } from "./memory_membership_table.ts";
import { tableDowning } from "./table_downing.ts";
import { syncWithTable } from "./table_membership.ts";
import { TableMembers } from "./_table_kit_test.ts";
import type { Members } from "./_membership_kit_test.ts";

const THREE = ["a", "b", "c"];
const FIVE = ["a", "b", "c", "d", "e"];

function agree(
  m: Members,
  names: readonly string[],
  expected: readonly string[],
): boolean {
  const want = JSON.stringify(
    Object.fromEntries(expected.map((n) => [n, "up"])),
  );
  return names.every((n) =>
    m.cluster(n).converged() && JSON.stringify(m.view(n)) === want
  );
}

/** node → status of the live incarnations in the table, plus the dead ones by key. */
function byNode(rows: readonly MemberRow[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const row of [...rows].sort((x, y) => x.node < y.node ? -1 : 1)) {
    (out[row.node] ??= []).push(row.status);
  }
  return out;
}

function selfDowned(m: Members, name: string): boolean {
  return m.events.get(name)!.some((e) => e.type === "self-downed");
}

/** Forms a cluster through the table: the first node alone, then the others together. */
async function form(t: TableMembers, names: readonly string[]): Promise<void> {
  await t.join(names.slice(0, 1));
  await t.join(names.slice(1));
  await t.m.until(() => agree(t.m, names, names), 30_000, "convergence");
  for (const name of names) await t.syncs.get(name)!.sync();
}

test("syncWithTable(): three nodes form a cluster through the table, which shows them up with the cluster's up numbers", async () => {
  await using t = await TableMembers.start({ nodes: THREE, seed: 11 });
  await form(t, THREE);
  const rows = await t.rows();
  assert.equal(rows.length, 3);
  for (const row of rows) {
    const member = t.m.cluster("a").members().find((m) => m.node === row.node)!;
    assert.equal(row.status, "up", row.node);
    assert.equal(row.incarnation, member.incarnation);
    assert.equal(row.address, member.address);
    assert.equal(row.upNumber, member.upNumber);
    assert.ok(row.upNumber > 0);
  }
  assert.equal(new Set(rows.map((r) => r.upNumber)).size, 3);
  assert.deepEqual(t.table.violations, []);
  assert.deepEqual(t.table.errors, []);
});

test("tableDowning(staticQuorum(2)) on a 3|2 partition: exactly one side keeps running, the other downs itself, and the table agrees", async () => {
  const verdicts: string[] = [];
  await using t = await TableMembers.start({
    nodes: FIVE,
    seed: 12,
    wrap: (table) =>
      tableDowning(table, staticQuorum(2), {
        logger: { error: (message) => verdicts.push(message) },
      }),
  });
  await form(t, FIVE);
  const big = ["a", "b", "c"], small = ["d", "e"];
  for (const x of big) for (const y of small) t.m.tc.partition(x, y);
  await t.m.until(
    () =>
      big.every((n) => selfDowned(t.m, n)) ||
      small.every((n) => selfDowned(t.m, n)),
    40_000,
    "one side downs itself",
  );
  await t.m.tc.advance(20_000);
  const bigDown = big.map((n) => selfDowned(t.m, n));
  const smallDown = small.map((n) => selfDowned(t.m, n));
  const losers = bigDown.every(Boolean) ? big : small;
  const winners = losers === big ? small : big;
  assert.ok(
    winners.every((n) => !selfDowned(t.m, n)),
    `exactly one side runs: big ${bigDown}, small ${smallDown}`,
  );
  assert.ok(agree(t.m, winners, winners), "the winners removed the losers");
  // The table decided: one side wrote the other down, and kept running.
  const wrote = verdicts.filter((v) => v.includes("this side keeps running"));
  assert.equal(wrote.length, 1, verdicts.join("\n"));
  assert.ok(winners.some((n) => wrote[0].startsWith(`Cluster member ${n}#`)));
  const table = byNode(await t.rows());
  for (const n of winners) assert.deepEqual(table[n], ["up"], n);
  for (const n of losers) {
    assert.ok(
      table[n].length === 1 &&
        (table[n][0] === "down" || table[n][0] === "removed"),
      `${n} is ${table[n]} in the table`,
    );
  }
  assert.deepEqual(t.table.violations, []);
  assert.deepEqual(t.table.errors, []);
});

test("control: without the table, staticQuorum(2) on a 3|2 partition lets both sides run", async () => {
  await using t = await TableMembers.start({
    nodes: FIVE,
    seed: 12,
    wrap: () => staticQuorum(2),
  });
  await form(t, FIVE);
  for (const sync of t.syncs.values()) await sync.close(); // no table at all from here
  const big = ["a", "b", "c"], small = ["d", "e"];
  for (const x of big) for (const y of small) t.m.tc.partition(x, y);
  await t.m.tc.advance(30_000);
  for (const n of FIVE) {
    assert.ok(!selfDowned(t.m, n), `${n} runs\n${t.m.logs.join("\n")}`);
  }
  assert.ok(agree(t.m, big, big) && agree(t.m, small, small), "two clusters");
});

test("syncWithTable(): an operator's Cluster.down() lands in the table", async () => {
  await using t = await TableMembers.start({ nodes: THREE, seed: 13 });
  await form(t, THREE);
  t.m.cluster("a").down("c");
  await t.m.until(() => agree(t.m, ["a", "b"], ["a", "b"]), 20_000, "c gone");
  await t.m.until(() => selfDowned(t.m, "c"), 20_000, "c downs itself");
  await t.m.tc.advance(3000);
  const table = byNode(await t.rows());
  assert.deepEqual(table.a, ["up"]);
  assert.deepEqual(table.b, ["up"]);
  assert.ok(["down", "removed"].includes(table.c[0]), `c is ${table.c}`);
  assert.deepEqual(t.table.violations, []);
});

test("syncWithTable(): a row written down in the table downs that member in the cluster, and it says so", async () => {
  await using t = await TableMembers.start({
    nodes: THREE,
    seed: 14,
    pollIntervalMs: 2000,
  });
  await form(t, THREE);
  // Only c reads the table, so c itself must act on it.
  await t.syncs.get("a")!.close();
  await t.syncs.get("b")!.close();
  // An operator (or a tool) writes c down in the table directly.
  const snapshot = await t.table.read();
  const c = snapshot.rows.find((r) => r.node === "c")!;
  assert.ok(await t.table.write(snapshot.version, [{ ...c, status: "down" }]));
  const took = await t.m.until(
    () => selfDowned(t.m, "c"),
    10_000,
    "c downs itself",
  );
  assert.ok(took <= 2100, `within one poll interval, took ${took} ms`);
  assert.ok(
    t.m.logs.some((l) =>
      l.startsWith("c: ") && l.includes("is down in the membership table")
    ),
    t.m.logs.join("\n"),
  );
  await t.m.until(() => agree(t.m, ["a", "b"], ["a", "b"]), 20_000, "c gone");
  assert.deepEqual(t.table.violations, []);
});

test("syncWithTable(): a member down in the table but live in the gossip is downed by the others when it cannot hear the table", async () => {
  await using t = await TableMembers.start({ nodes: THREE, seed: 15 });
  await form(t, THREE);
  // c no longer syncs (its table handle is gone), so only a and b can act on the table.
  await t.syncs.get("c")!.close();
  const snapshot = await t.table.read();
  const c = snapshot.rows.find((r) => r.node === "c")!;
  await t.table.write(snapshot.version, [{ ...c, status: "down" }]);
  await t.m.until(() => agree(t.m, ["a", "b"], ["a", "b"]), 20_000, "c gone");
  assert.ok(
    t.m.logs.some((l) => l.includes("but live in the cluster")),
    t.m.logs.join("\n"),
  );
  // c learns from the gossip that it was downed.
  await t.m.until(() => selfDowned(t.m, "c"), 20_000, "c downed");
});

test("syncWithTable(): a node restarted with a new incarnation: the old row ends down or removed, the new one up", async () => {
  await using t = await TableMembers.start({ nodes: THREE, seed: 16 });
  await form(t, THREE);
  const old = t.m.cluster("c").self.incarnation;
  await t.kill("c");
  await t.m.restart("c");
  await t.join(["c"]);
  await t.m.until(() => agree(t.m, THREE, THREE), 30_000, "new c up");
  const fresh = t.m.cluster("c").self.incarnation;
  assert.notEqual(fresh, old);
  await t.m.until(
    () => t.m.events.get("a")!.some((e) => e.type === "removed"),
    20_000,
    "old c removed",
  );
  await t.m.tc.advance(3000);
  const rows = (await t.rows()).filter((r) => r.node === "c");
  const oldRow = rows.find((r) => r.incarnation === old)!;
  const newRow = rows.find((r) => r.incarnation === fresh)!;
  assert.ok(["down", "removed"].includes(oldRow.status), oldRow.status);
  assert.equal(newRow.status, "up");
  assert.deepEqual(t.table.violations, []);
  assert.deepEqual(t.table.errors, []);
});

/** Restarts c with a new incarnation and waits until the old one is removed; its incarnation. */
async function restartC(t: TableMembers): Promise<string> {
  const old = t.m.cluster("c").self.incarnation;
  const removedBefore =
    t.m.events.get("a")!.filter((e) => e.type === "removed").length;
  await t.kill("c");
  await t.m.restart("c");
  await t.join(["c"]);
  await t.m.until(() => agree(t.m, THREE, THREE), 30_000, "new c up");
  await t.m.until(
    () =>
      t.m.events.get("a")!.filter((e) => e.type === "removed").length >
        removedBefore,
    20_000,
    "old c removed",
  );
  return old;
}

test("syncWithTable(): the oldest up member deletes the rows of members dead for deleteDefunctAfterMs, and nobody writes them back", async () => {
  await using t = await TableMembers.start({
    nodes: THREE,
    seed: 19,
    deleteDefunctAfterMs: 60_000,
  });
  await form(t, THREE);
  const old: string[] = [];
  for (let i = 0; i < 3; i++) old.push(await restartC(t));
  await t.m.tc.advance(3000);
  const dead = (await t.rows()).filter((r) => old.includes(r.incarnation));
  assert.equal(dead.length, 3, "the old incarnations' rows, before the delay");
  for (const row of dead) assert.ok(["down", "removed"].includes(row.status));
  await t.m.tc.advance(65_000);
  const rows = await t.rows();
  assert.deepEqual(
    rows.map((r) => `${r.node}:${r.status}`).sort(),
    ["a:up", "b:up", "c:up"],
  );
  assert.deepEqual(
    [...t.table.deleted].sort(),
    old.map((incarnation) => `c#${incarnation}`).sort(),
  );
  // Every member polls on: none writes a deleted row back.
  await t.m.tc.advance(10_000);
  assert.equal((await t.rows()).length, 3);
  assert.ok(agree(t.m, THREE, THREE));
  assert.ok(!THREE.some((n) => selfDowned(t.m, n)));
  assert.deepEqual(t.table.violations, []);
  assert.deepEqual(t.table.errors, []);
});

test("syncWithTable(): with deleteDefunctAfterMs Infinity, dead members' rows stay", async () => {
  await using t = await TableMembers.start({
    nodes: THREE,
    seed: 20,
    deleteDefunctAfterMs: Infinity,
  });
  await form(t, THREE);
  const old = await restartC(t);
  await t.m.tc.advance(120_000);
  assert.ok((await t.rows()).some((r) => r.incarnation === old));
  assert.deepEqual(t.table.deleted, []);
});

test("syncWithTable(): a new oldest member counts the delay from when it saw the rows dead", async () => {
  await using t = await TableMembers.start({
    nodes: THREE,
    seed: 21,
    deleteDefunctAfterMs: 60_000,
  });
  await form(t, THREE);
  const old = await restartC(t);
  await t.m.tc.advance(40_000);
  // a, the oldest, leaves the cluster: b becomes the table's oldest up member.
  const leaving = t.m.cluster("a").leave();
  await t.m.until(
    () => agree(t.m, ["b", "c"], ["b", "c"]),
    30_000,
    "a gone",
  );
  await leaving;
  assert.ok(!t.table.deleted.includes(`c#${old}`), "deleted before the delay");
  await t.m.tc.advance(30_000);
  // b saw the row dead about 70 s ago (it reads the table too), so it deletes it now.
  await t.m.until(
    () => t.table.deleted.includes(`c#${old}`),
    10_000,
    "the old c's row deleted",
  );
  assert.deepEqual(t.table.violations, []);
});

test("syncWithTable(): a member that finds its own row deleted downs itself, and does not write it back", async () => {
  await using t = await TableMembers.start({
    nodes: THREE,
    seed: 22,
    pollIntervalMs: 2000,
  });
  await form(t, THREE);
  // An operator writes c down and deletes its row between two of c's polls.
  const snapshot = await t.memory.read();
  const c = snapshot.rows.find((r) => r.node === "c")!;
  await t.memory.write(snapshot.version, [{ ...c, status: "down" }]);
  await t.memory.deleteDefunct(snapshot.version + 1, [c]);
  await t.m.until(() => selfDowned(t.m, "c"), 10_000, "c downs itself");
  assert.ok(
    t.m.logs.some((l) =>
      l.startsWith("c: ") && l.includes("deleted from the membership table")
    ),
    t.m.logs.join("\n"),
  );
  await t.m.until(() => agree(t.m, ["a", "b"], ["a", "b"]), 20_000, "c gone");
  await t.m.tc.advance(5000);
  assert.ok(!(await t.rows()).some((r) => r.node === "c"), "c written back");
});

test("syncWithTable(): after the table's store lost its data (the version went back), members write their rows again and keep running", async () => {
  // Without epochs, so that the version going back is what tells the reset.
  const resettable = new ResettableTable({ epochs: false });
  await using t = await TableMembers.start(
    { nodes: THREE, seed: 23 },
    resettable,
  );
  await form(t, THREE);
  resettable.reset();
  await t.m.tc.advance(3000);
  const rows = await t.rows();
  assert.deepEqual(
    rows.map((r) => `${r.node}:${r.status}`).sort(),
    ["a:up", "b:up", "c:up"],
  );
  assert.ok(!THREE.some((n) => selfDowned(t.m, n)));
  assert.ok(agree(t.m, THREE, THREE));
});

/**
 * A memory table whose data can be lost at once, as a Redis restarted without persistence;
 * `epochs: false` hides the table's epoch, as a table that has none.
 */
class ResettableTable implements MembershipTable {
  #inner = new MemoryMembershipTable();
  readonly #epochs: boolean;
  constructor(options: { epochs?: boolean } = {}) {
    this.#epochs = options.epochs ?? true;
  }
  /** The table after the loss (to write into it directly). */
  reset(): MemoryMembershipTable {
    this.#inner = new MemoryMembershipTable();
    return this.#inner;
  }
  #shown<T extends MembershipTableSnapshot | undefined>(snapshot: T): T {
    if (snapshot === undefined || this.#epochs) return snapshot;
    return { version: snapshot.version, rows: snapshot.rows } as T;
  }
  async read(signal?: AbortSignal): Promise<MembershipTableSnapshot> {
    return this.#shown(await this.#inner.read(signal));
  }
  async write(
    version: number,
    rows: readonly MemberRow[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    return this.#shown(await this.#inner.write(version, rows, signal));
  }
  async deleteDefunct(
    version: number,
    members: readonly MemberId[],
    signal?: AbortSignal,
  ): Promise<MembershipTableSnapshot | undefined> {
    return this.#shown(
      await this.#inner.deleteDefunct(version, members, signal),
    );
  }
  close(): Promise<void> {
    return this.#inner.close();
  }
}

/**
 * Forms a, b, c on a resettable table, then loses its data and, before any member reads
 * again, writes a's and b's rows back (as their syncs would) and more, until the version is
 * past the one every member last read; then lets them poll.
 */
async function resetPastTheOldVersion(
  resettable: ResettableTable,
  t: TableMembers,
): Promise<void> {
  await form(t, THREE);
  await t.m.tc.advance(3000);
  const before = await t.memory.read();
  const fresh = resettable.reset();
  const kept = before.rows.filter((r) => r.node !== "c");
  for (const row of kept) {
    await fresh.write((await fresh.read()).version, [row]);
  }
  while ((await fresh.read()).version <= before.version) {
    await fresh.write((await fresh.read()).version, kept); // same rows, version + 1
  }
  await t.m.tc.advance(5000);
}

test("syncWithTable(): a store reset is told by the table's epoch even when the version grew back past the old one: no member downs itself", async () => {
  const resettable = new ResettableTable();
  await using t = await TableMembers.start(
    { nodes: THREE, seed: 24 },
    resettable,
  );
  await resetPastTheOldVersion(resettable, t);
  assert.ok(!THREE.some((n) => selfDowned(t.m, n)), t.m.logs.join("\n"));
  assert.deepEqual(
    (await t.rows()).map((r) => `${r.node}:${r.status}`).sort(),
    ["a:up", "b:up", "c:up"],
  );
  assert.ok(agree(t.m, THREE, THREE));
  assert.ok(
    t.m.logs.some((l) => l.includes("store lost its data (epoch")),
    t.m.logs.join("\n"),
  );
});

test("control: without epochs, the same reset looks like c's row deleted, and c downs itself (the documented limit)", async () => {
  const resettable = new ResettableTable({ epochs: false });
  await using t = await TableMembers.start(
    { nodes: THREE, seed: 24 },
    resettable,
  );
  await resetPastTheOldVersion(resettable, t);
  assert.ok(selfDowned(t.m, "c"), t.m.logs.join("\n"));
});

test("syncWithTable(): an up row left by an earlier cluster (no process behind it) does not stop the oldest member from deleting dead rows", async () => {
  await using t = await TableMembers.start({
    nodes: THREE,
    seed: 25,
    deleteDefunctAfterMs: 60_000,
  });
  // An earlier cluster stopped all at once: its rows stay up, and its a came up first.
  await t.memory.write(0, [{
    node: "a",
    address: "127.0.0.1:1",
    incarnation: "0000000000000000",
    status: "up",
    roles: [],
    upNumber: 1,
  }]);
  await form(t, THREE);
  const old = await restartC(t);
  await t.m.tc.advance(65_000);
  await t.m.until(
    () => t.table.deleted.includes(`c#${old}`),
    10_000,
    "the old c's row deleted",
  );
  assert.deepEqual(t.table.violations, []);
});

test("syncWithTable() keeps polling through an unavailable table and logs it", async () => {
  await using t = await TableMembers.start({ nodes: ["a"], seed: 17 });
  await t.join(["a"]);
  const closed = t.memory.share();
  await closed.close();
  const sync = syncWithTable(t.m.cluster("a"), closed, {
    clock: t.m.tc.clock,
    pollIntervalMs: 500,
    logger: { error: (message) => t.m.logs.push(message) },
  });
  try {
    await assert.rejects(() => sync.sync());
    await t.m.tc.advance(1100);
    assert.ok(
      t.m.logs.filter((l) => l.includes("the next poll tries again")).length >=
        2,
      t.m.logs.join("\n"),
    );
  } finally {
    await sync.close();
  }
});

test("syncWithTable() rejects bad arguments at once", async () => {
  await using t = await TableMembers.start({ nodes: ["a"], seed: 18 });
  await t.join(["a"]);
  const table = new MemoryMembershipTable();
  const cluster = t.m.cluster("a");
  assert.throws(
    () => syncWithTable({} as typeof cluster, table),
    TypeError,
  );
  assert.throws(() => syncWithTable(cluster, {} as typeof table), TypeError);
  assert.throws(
    () => syncWithTable(cluster, table, { pollIntervalMs: 0 }),
    RangeError,
  );
  assert.throws(
    () => syncWithTable(cluster, table, { maxConflicts: 0 }),
    RangeError,
  );
  for (
    const deleteDefunctAfterMs of [0, -1, Number.NaN, "60000" as unknown]
  ) {
    assert.throws(
      () =>
        syncWithTable(cluster, table, {
          deleteDefunctAfterMs: deleteDefunctAfterMs as number,
        }),
      RangeError,
      String(deleteDefunctAfterMs),
    );
  }
});
