import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import type { MemberRow } from "../membership_table.ts";
import { MemoryMembershipTable } from "../memory_membership_table.ts";
import { discoveryConformance } from "./discovery_conformance.ts";
import { TableDiscovery } from "./table_discovery.ts";

for (
  const c of discoveryConformance("TableDiscovery", async (nodes) => {
    const table = new MemoryMembershipTable();
    await table.write(
      0,
      nodes.map((n, i) => ({
        node: n.node!,
        address: n.address,
        incarnation: "1",
        status: "up",
        roles: [],
        upNumber: i + 1,
      })),
    );
    return {
      discovery: new TableDiscovery(table),
      dispose: () => table.close(),
    };
  })
) test(c.name, c.fn);

function row(
  node: string,
  status: MemberRow["status"],
  upNumber: number,
  extra: Partial<MemberRow> = {},
): MemberRow {
  return {
    node,
    address: `10.0.0.${node.charCodeAt(0) - 96}:4000`,
    incarnation: "1",
    status,
    roles: [],
    upNumber,
    ...extra,
  };
}

test("TableDiscovery returns up members oldest first, then leaving, then joining; never exiting, down or removed", async () => {
  const table = new MemoryMembershipTable();
  await table.write(0, [
    row("a", "joining", 0),
    row("b", "up", 7),
    row("c", "up", 2),
    row("d", "leaving", 1),
    row("e", "exiting", 3),
    row("f", "down", 4),
    row("g", "removed", 5),
    // A restarted process at b's address: the old incarnation is down, the new one joining.
    row("b", "down", 6, { incarnation: "0" }),
  ]);
  const discovery = new TableDiscovery(table);
  try {
    assert.deepEqual(await discovery.discover(), [
      { address: "10.0.0.3:4000", node: "c" },
      { address: "10.0.0.2:4000", node: "b" },
      { address: "10.0.0.4:4000", node: "d" },
      { address: "10.0.0.1:4000", node: "a" },
    ]);
  } finally {
    await discovery.close();
    await table.close();
  }
});

test("TableDiscovery.close() leaves the table open", async () => {
  const table = new MemoryMembershipTable();
  const discovery = new TableDiscovery(table);
  await discovery.close();
  assert.equal((await table.read()).version, 0);
  await table.close();
  assert.throws(
    () => new TableDiscovery({} as MemoryMembershipTable),
    TypeError,
  );
});
