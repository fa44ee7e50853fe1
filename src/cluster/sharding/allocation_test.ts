import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { leastShardsStrategy } from "./allocation.ts";

test("leastShardsStrategy().allocate() picks the node with the fewest shards (ties by name)", () => {
  const strategy = leastShardsStrategy();
  assert.equal(
    strategy.allocate(9, new Map([["b", [1]], ["a", [2]], ["c", []]])),
    "c",
  );
  assert.equal(strategy.allocate(9, new Map([["b", []], ["a", []]])), "a");
  assert.throws(() => strategy.allocate(0, new Map()), RangeError);
  assert.throws(() => leastShardsStrategy({ maxSimultaneous: 0 }), RangeError);
});

test("leastShardsStrategy().rebalance() moves at most maxSimultaneous shards, and repeated rounds end with max - min ≤ 1", () => {
  fc.assert(
    fc.property(
      fc.array(fc.nat(40), { minLength: 1, maxLength: 6 }),
      fc.integer({ min: 1, max: 4 }),
      (sizes, max) => {
        const strategy = leastShardsStrategy({ maxSimultaneous: max });
        let next = 0;
        const nodes = new Map(
          sizes.map((
            size,
            i,
          ) => [`n${i}`, Array.from({ length: size }, () => next++)]),
        );
        for (let round = 0; round < 200; round++) {
          const moves = strategy.rebalance(nodes, 0);
          assert(moves.length <= max);
          assert.deepEqual(strategy.rebalance(nodes, max), []);
          if (moves.length === 0) break;
          for (const shard of moves) {
            for (const list of nodes.values()) {
              const i = list.indexOf(shard);
              if (i >= 0) list.splice(i, 1);
            }
            nodes.get(strategy.allocate(shard, nodes))!.push(shard);
          }
        }
        const counts = [...nodes.values()].map((l) => l.length);
        assert(Math.max(...counts) - Math.min(...counts) <= 1);
        assert.equal(counts.reduce((a, b) => a + b, 0), next);
      },
    ),
    { numRuns: 100 },
  );
});
