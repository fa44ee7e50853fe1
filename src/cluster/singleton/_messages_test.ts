import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { checkIdentity, instanceId } from "./_messages.ts";

test("checkIdentity() accepts the answering node's own instance only", () => {
  const path = instanceId("orders");
  assert.deepEqual(checkIdentity({ node: "b", path, token: 3 }, "b"), {
    node: "b",
    path,
    token: 3,
  });
  assert.deepEqual(checkIdentity({ node: "b", path, token: null }, "b"), {
    node: "b",
    path,
    token: null,
  });
  assert.equal(checkIdentity(null, "b"), null);
  assert.equal(checkIdentity({ node: "c", path, token: 3 }, "b"), null);
  assert.equal(
    checkIdentity({ node: "b", path: "control", token: 3 }, "b"),
    null,
  );
  assert.equal(checkIdentity({ node: "b", path, token: 1.5 }, "b"), null);
  assert.equal(checkIdentity({ node: "b", path, token: "3" }, "b"), null);
});

test("checkIdentity() (property): any decoded value gives a valid identity or null, never a throw", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.anything(),
        fc.record({
          node: fc.oneof(fc.constant("b"), fc.anything()),
          path: fc.oneof(
            fc.constant(instanceId("x")),
            fc.string(),
            fc.anything(),
          ),
          token: fc.oneof(fc.integer(), fc.constant(null), fc.anything()),
        }),
      ),
      (value) => {
        const identity = checkIdentity(value, "b");
        if (identity === null) return;
        assert.equal(identity.node, "b");
        assert.ok(identity.path.startsWith("troupe.singleton."));
        assert.ok(
          identity.token === null || Number.isSafeInteger(identity.token),
        );
      },
    ),
    { numRuns: 300 },
  );
});
