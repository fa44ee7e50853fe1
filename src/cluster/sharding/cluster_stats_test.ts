import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import type { ActorRef } from "../../actor/mod.ts";
import {
  checkHomes,
  checkRegionStats,
  clusterStatsOf,
} from "./_cluster_stats.ts";
import type { CoordinatorProtocol } from "./_region_types.ts";
import {
  isInvalidShardingMessageError,
  isShardCoordinatorUnavailableError,
} from "./errors.ts";

test("checkRegionStats() and checkHomes() accept well-formed answers and refuse any other input with InvalidShardingMessageError", () => {
  const good = { shards: [1, 4], shardEntities: [0, 7], entities: 9 };
  assert.deepEqual(checkRegionStats(good), good);
  assert.deepEqual(checkHomes({ n1: [0, 2], n2: [] }), { n1: [0, 2], n2: [] });
  for (
    const bad of [
      null,
      [],
      { shards: [1], shardEntities: [], entities: 1 },
      { shards: [1.5], shardEntities: [1], entities: 1 },
      { shards: [1], shardEntities: [-1], entities: 1 },
      { shards: [1], shardEntities: [1], entities: "1" },
      { shards: [1], entities: 1 },
    ]
  ) {
    assert.throws(() => checkRegionStats(bad), isInvalidShardingMessageError);
  }
  for (const bad of [null, [], { n1: [-1] }, { n1: "0" }, { n1: [0.5] }]) {
    assert.throws(() => checkHomes(bad), isInvalidShardingMessageError);
  }
  const refusedOrValid = (check: (v: unknown) => unknown) => (v: unknown) => {
    try {
      check(v);
      return true;
    } catch (error) {
      return isInvalidShardingMessageError(error);
    }
  };
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue(),
        fc.record({
          shards: fc.array(fc.integer({ min: -2, max: 20 })),
          shardEntities: fc.array(fc.integer({ min: -2, max: 20 })),
          entities: fc.oneof(fc.nat(), fc.double()),
        }),
      ),
      (value) =>
        refusedOrValid(checkRegionStats)(value) &&
        refusedOrValid(checkHomes)(value),
    ),
    { numRuns: 300 },
  );
});

test("clusterStatsOf() lists every allocated or hostable node, leaves out the figures of a node that does not answer or answers nonsense, and rejects without a coordinator", async () => {
  const coordinator = (answer: () => Promise<unknown>) =>
    ({ ask: answer }) as unknown as ActorRef<CoordinatorProtocol>;
  const logged: string[] = [];
  const sources = {
    entityType: "log",
    hostable: ["n1", "n2", "n4"],
    timeoutMs: 100,
    logError: (message: string) => void logged.push(message),
    control: (node: string) => {
      if (node === "n1") {
        return Promise.resolve({
          shards: [0, 3],
          shardEntities: [2, 0],
          entities: 3,
        });
      }
      if (node === "n2") return Promise.resolve({ shards: "x" });
      return Promise.reject(new Error(`${node} does not answer`));
    },
  };
  const stats = await clusterStatsOf({
    ...sources,
    coordinator: coordinator(() =>
      Promise.resolve({ n1: [3, 0], n2: [1], n3: [2] })
    ),
  });
  assert.deepEqual(stats, {
    n1: {
      shards: 2,
      allocated: [0, 3],
      entities: 3,
      shardEntities: { 0: 2, 3: 0 },
    },
    n2: { shards: 1, allocated: [1] },
    n3: { shards: 1, allocated: [2] },
    n4: { shards: 0, allocated: [] },
  });
  assert.deepEqual(logged, ['Bad stats of "log" from "n2"']);
  await assert.rejects(
    clusterStatsOf({ ...sources, coordinator: undefined }),
    isShardCoordinatorUnavailableError,
  );
  await assert.rejects(
    clusterStatsOf({
      ...sources,
      coordinator: coordinator(() => Promise.reject(new Error("timeout"))),
    }),
    (e: Error) =>
      isShardCoordinatorUnavailableError(e) && e.cause !== undefined,
  );
  await assert.rejects(
    clusterStatsOf({
      ...sources,
      coordinator: coordinator(() => Promise.resolve({ n1: "nonsense" })),
    }),
    isShardCoordinatorUnavailableError,
  );
});
