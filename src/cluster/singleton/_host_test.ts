import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import type { ClusterMember } from "../member_event.ts";
import { MEMBER_STATUSES } from "../membership_table.ts";
import { singletonHost } from "./_host.ts";

function member(
  node: string,
  upNumber: number,
  status: ClusterMember["status"] = "up",
  roles: string[] = [],
): ClusterMember {
  return {
    node,
    address: `${node}:1`,
    incarnation: "i",
    status,
    roles,
    upNumber,
    reachable: true,
  };
}

test("singletonHost() is the oldest up member with the role; leaving, exiting and down members are no hosts", () => {
  const members = [
    member("a", 1, "leaving"),
    member("b", 2, "up", ["x"]),
    member("c", 3),
    member("d", 0, "down"),
  ];
  assert.equal(singletonHost(members, undefined)?.node, "b");
  assert.equal(singletonHost(members, "x")?.node, "b");
  assert.equal(singletonHost(members, "y"), undefined);
  assert.equal(
    singletonHost([member("c", 3), member("b", 3)], undefined)?.node,
    "b",
  );
  assert.equal(singletonHost([], undefined), undefined);
});

test("singletonHost() (property): every node that holds the same members, in any order, picks the same host", () => {
  const arbMember = fc.record({
    node: fc.constantFrom("a", "b", "c", "d", "e"),
    address: fc.constant("h:1"),
    incarnation: fc.constantFrom("1", "2"),
    status: fc.constantFrom(...MEMBER_STATUSES),
    roles: fc.subarray(["x", "y"]),
    upNumber: fc.integer({ min: 0, max: 5 }),
    reachable: fc.boolean(),
  });
  fc.assert(
    fc.property(
      fc.uniqueArray(arbMember, {
        selector: (m) => `${m.node}#${m.incarnation}`,
      }),
      fc.constantFrom(undefined, "x"),
      (members, role) => {
        const host = singletonHost(members, role);
        const reversed = singletonHost([...members].reverse(), role);
        assert.equal(host, reversed);
        if (host === undefined) {
          assert.ok(
            members.every((m) =>
              m.status !== "up" ||
              (role !== undefined && !m.roles.includes(role))
            ),
          );
          return;
        }
        assert.equal(host.status, "up");
        for (const m of members) {
          if (
            m.status !== "up" || (role !== undefined && !m.roles.includes(role))
          ) continue;
          assert.ok(m.upNumber >= host.upNumber);
        }
      },
    ),
    { numRuns: 200 },
  );
});
