// tableDowning and syncWithTable on the real RedisMembershipTable (the shared Redis, under a key
// prefix of its own, deleted afterwards). Skipped loudly without Redis, a failure on CI.
import assert from "node:assert/strict";
import {
  deleteKeys,
  randomPrefix,
  REDIS_URL,
  redisTest,
} from "../../persistence/redis/_helpers_test.ts";
import { type DowningDecision, staticQuorum } from "../downing.ts";
import type { MemberRow } from "../membership_table.ts";
import { contextKey, tableDowning } from "../table_downing.ts";
import { TableMembers } from "../_table_kit_test.ts";
import { RedisMembershipTable } from "./redis_membership_table.ts";

const NODES = ["a", "b", "c", "d", "e"];
const ROWS: MemberRow[] = NODES.map((node, i) => ({
  node,
  address: `10.0.0.${i + 1}:4000`,
  incarnation: "1",
  status: "up",
  roles: [],
  upNumber: i + 1,
}));

redisTest(
  "tableDowning(staticQuorum(2)) on RedisMembershipTable: five nodes of a 3|2 split race on their own connections, and exactly one side wins",
  async () => {
    const prefix = randomPrefix("table-downing");
    const tables = await Promise.all(
      NODES.map(() =>
        RedisMembershipTable.connect({ url: REDIS_URL, keyPrefix: prefix })
      ),
    );
    try {
      assert.ok(await tables[0].write(0, ROWS));
      const sides = [["a", "b", "c"], ["d", "e"]];
      const decisions = await Promise.all(NODES.map((node, i) => {
        const side = sides.find((s) => s.includes(node))!;
        const strategy = tableDowning(tables[i], staticQuorum(2), {
          logger: { error() {} },
        });
        return strategy.decide({
          self: `${node}#1`,
          members: ROWS,
          unreachable: new Set(
            ROWS.filter((r) => !side.includes(r.node)).map(contextKey),
          ),
          wait: () => Promise.resolve(),
          signal: new AbortController().signal,
        });
      }));
      const byNode = new Map<string, DowningDecision>(
        NODES.map((n, i) => [n, decisions[i]]),
      );
      const winners = sides.filter((side) =>
        side.every((n) => byNode.get(n) === "down-unreachable")
      );
      const losers = sides.filter((side) =>
        side.every((n) => byNode.get(n) === "down-self")
      );
      assert.equal(winners.length, 1, `decisions ${decisions}`);
      assert.equal(losers.length, 1, `decisions ${decisions}`);
      const stored = (await tables[0].read()).rows;
      for (const row of stored) {
        assert.equal(
          row.status,
          winners[0].includes(row.node) ? "up" : "down",
          row.node,
        );
      }
    } finally {
      for (const table of tables) await table.close();
      await deleteKeys(prefix);
    }
  },
);

redisTest(
  "syncWithTable() on RedisMembershipTable: three nodes form a cluster through the table, and an operator's down lands in it",
  async () => {
    const prefix = randomPrefix("table-membership");
    const table = await RedisMembershipTable.connect({
      url: REDIS_URL,
      keyPrefix: prefix,
    });
    try {
      await using t = await TableMembers.start(
        { nodes: ["a", "b", "c"], seed: 21 },
        table,
      );
      await t.join(["a"]);
      await t.join(["b", "c"]);
      const clusterA = t.m.cluster("a");
      await t.m.until(
        () => clusterA.members().filter((m) => m.status === "up").length === 3,
        30_000,
        "three up",
      );
      for (const n of ["a", "b", "c"]) await t.syncs.get(n)!.sync();
      const rows = (await table.read()).rows;
      assert.equal(rows.length, 3);
      for (const row of rows) {
        const member = clusterA.members().find((m) => m.node === row.node)!;
        assert.equal(row.status, "up");
        assert.equal(row.incarnation, member.incarnation);
        assert.equal(row.upNumber, member.upNumber);
      }
      clusterA.down("c");
      await t.m.until(
        () => t.m.events.get("c")!.some((e) => e.type === "self-downed"),
        20_000,
        "c downed",
      );
      let c: MemberRow | undefined;
      for (let i = 0; i < 40; i++) {
        c = (await table.read()).rows.find((r) => r.node === "c");
        if (c?.status === "down" || c?.status === "removed") break;
        await t.m.tc.advance(500);
      }
      assert.ok(c?.status === "down" || c?.status === "removed", c?.status);
      assert.deepEqual(t.table.violations, []);
      assert.deepEqual(t.table.errors, []);
    } finally {
      await deleteKeys(prefix);
    }
  },
);
