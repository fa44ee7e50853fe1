import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import type { ClusterMember } from "../member_event.ts";
import type { MemberStatus } from "../membership_table.ts";
import { nodeNow } from "./_node_now.ts";

function member(
  node: string,
  incarnation: string,
  status: MemberStatus,
  reachable = true,
): ClusterMember {
  return {
    node,
    incarnation,
    status,
    reachable,
    address: `127.0.0.1:${node.length}`,
    roles: [],
    upNumber: 1,
  };
}

test("nodeNow(): a restarted node's name stays live and reachable whatever its earlier incarnations are (down, removed)", () => {
  const restarted = [
    member("n3", "old", "removed"),
    member("n3", "older", "down"),
    member("n3", "new", "up"),
    member("n1", "a", "up"),
  ];
  assert.deepEqual(nodeNow(restarted, "n3"), { live: true, reachable: true });
  assert.deepEqual(nodeNow([member("n3", "new", "joining")], "n3"), {
    live: true,
    reachable: true,
  });
});

test("nodeNow(): a name whose every incarnation is down or removed is neither live nor reachable; a live but unreachable one is live only", () => {
  assert.deepEqual(
    nodeNow([member("n3", "old", "down"), member("n3", "x", "removed")], "n3"),
    { live: false, reachable: false },
  );
  assert.deepEqual(nodeNow([member("n1", "a", "up")], "n3"), {
    live: false,
    reachable: false,
  });
  assert.deepEqual(nodeNow([member("n3", "new", "up", false)], "n3"), {
    live: true,
    reachable: false,
  });
});
