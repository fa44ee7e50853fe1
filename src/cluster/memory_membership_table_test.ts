import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { isClusterClosedError } from "./errors.ts";
import type { MemberRow } from "./membership_table.ts";
import { membershipTableConformance } from "./membership_table_conformance.ts";
import {
  checkMemberRow,
  MemoryMembershipTable,
} from "./memory_membership_table.ts";

for (
  const c of membershipTableConformance("MemoryMembershipTable", () => {
    const table = new MemoryMembershipTable();
    return Promise.resolve({ open: () => Promise.resolve(table.share()) });
  })
) test(c.name, c.fn);

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

test("MemoryMembershipTable: concurrent writers under random schedules (fast-check): one winner per version", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.scheduler(),
      fc.integer({ min: 2, max: 10 }),
      fc.integer({ min: 1, max: 4 }),
      async (s, writers, rounds) => {
        const table = new MemoryMembershipTable();
        let wins = 0;
        const winsAt = new Map<number, number>();
        // Each writer reads, then writes what it read plus its own row; the scheduler decides
        // when each read and each write is issued.
        const all = Promise.all(
          Array.from({ length: writers }, async (_, i) => {
            const handle = table.share();
            for (let r = 0; r < rounds; r++) {
              await s.schedule(Promise.resolve(), `read ${i}.${r}`);
              const { version } = await handle.read();
              await s.schedule(Promise.resolve(), `write ${i}.${r}`);
              const outcome = await handle.write(version, [row(`w${i}-${r}`)]);
              if (outcome !== undefined) {
                wins++;
                winsAt.set(version, (winsAt.get(version) ?? 0) + 1);
              }
            }
          }),
        );
        await s.waitFor(all);
        const final = await table.read();
        assert.equal(final.version, wins);
        assert.equal(final.rows.length, wins);
        for (const [version, count] of winsAt) {
          assert.equal(count, 1, `two writers won at version ${version}`);
        }
      },
    ),
    { numRuns: 50 },
  );
});

test("checkMemberRow() never throws anything but TypeError on random input (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.anything(),
        fc.record({
          node: fc.oneof(fc.string(), fc.anything()),
          address: fc.oneof(
            fc.constant("127.0.0.1:1"),
            fc.string(),
            fc.anything(),
          ),
          incarnation: fc.oneof(fc.string(), fc.anything()),
          status: fc.oneof(
            fc.constantFrom("joining", "up", "down"),
            fc.string(),
          ),
          roles: fc.oneof(fc.array(fc.string()), fc.anything()),
          upNumber: fc.oneof(fc.integer(), fc.double(), fc.anything()),
        }),
      ),
      (value) => {
        try {
          const checked = checkMemberRow(value);
          assert.ok(Object.isFrozen(checked));
        } catch (error) {
          assert.ok(error instanceof TypeError, String(error));
        }
      },
    ),
    { numRuns: 500 },
  );
});

test("MemoryMembershipTable.share() on a closed handle throws ClusterClosedError", async () => {
  const table = new MemoryMembershipTable();
  await table.close();
  assert.throws(() => table.share(), isClusterClosedError);
});
