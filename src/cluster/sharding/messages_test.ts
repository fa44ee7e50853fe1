import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { checkShardingMessage } from "./_messages.ts";
import { isInvalidShardingMessageError } from "./errors.ts";
import { ShardingExtensions } from "./sharding_extensions.ts";
import { isShardingClosedError } from "./errors.ts";

test("checkShardingMessage() accepts well-formed messages and refuses any other input with InvalidShardingMessageError", () => {
  assert.equal(checkShardingMessage({ k: "begin", t: "log", s: 3 }).k, "begin");
  for (
    const bad of [
      null,
      [],
      { k: "deliver", t: "log", i: "a", m: "add" },
      { k: "deliveries", t: "log", items: [] },
      { k: "replies", t: "log", items: [] },
      { k: "begin", t: "log", s: -1 },
      { k: "begin", t: "", s: 1 },
      { k: "nope", t: "log", s: 1 },
    ]
  ) {
    assert.throws(
      () => checkShardingMessage(bad),
      isInvalidShardingMessageError,
    );
  }
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      try {
        checkShardingMessage(value);
        return true;
      } catch (error) {
        return isInvalidShardingMessageError(error);
      }
    }),
    { numRuns: 300 },
  );
});

test("ShardingExtensions refuses messages while no Sharding is bound with ShardingClosedError", () => {
  const extensions = new ShardingExtensions();
  assert.throws(
    () =>
      extensions.remote[0].handle({ k: "stats", t: "log", s: 0 }, {
        node: "n2",
      }),
    isShardingClosedError,
  );
});
