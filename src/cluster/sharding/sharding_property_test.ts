// Random joins, graceful leaves and crashes while traffic flows, on the in-memory network under
// virtual time. Properties: no acknowledged message is lost, messages from one sender to one
// entity keep their order, no entity ever has two live incarnations, and once membership is
// stable the shards are balanced (max - min ≤ 1 per node).
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { incarnations, ShardingKit } from "./_sharding_kit_test.ts";
import { defaultShardOf } from "./shard_hash.ts";

const SHARDS = 8;

/** Ids that cover every shard, so every shard gets allocated. */
const IDS = (() => {
  const ids: string[] = [];
  const covered = new Set<number>();
  for (let i = 0; covered.size < SHARDS || ids.length < 12; i++) {
    const id = `e${i}`;
    const shard = defaultShardOf(id, SHARDS);
    if (!covered.has(shard) || ids.length < 12) {
      covered.add(shard);
      ids.push(id);
    }
  }
  return ids;
})();

type Step = { op: "join" } | { op: "leave"; pick: number } | {
  op: "crash";
  pick: number;
} | { op: "traffic"; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.constant<Step>({ op: "join" }) },
  {
    weight: 1,
    arbitrary: fc.nat(9).map((pick): Step => ({ op: "leave", pick })),
  },
  {
    weight: 1,
    arbitrary: fc.nat(9).map((pick): Step => ({ op: "crash", pick })),
  },
  {
    weight: 2,
    arbitrary: fc.integer({ min: 200, max: 1500 }).map((ms): Step => ({
      op: "traffic",
      ms,
    })),
  },
);

test("Sharding under random joins, leaves and crashes with traffic: no acknowledged message lost, per-sender order, one incarnation, balanced shards", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(step, { minLength: 2, maxLength: 5 }),
      async (steps) => {
        await using kit = await ShardingKit.start(["n1", "n2"], {
          numberOfShards: SHARDS,
          maxSimultaneousMoves: 2,
        });
        let next = 3;
        const acked = new Map<string, string[]>(); // entity → acknowledged records
        const seqs = new Map<string, number>(); // sender#entity → next seq
        const inFlight: Promise<void>[] = [];
        // Two messages per entity and sender each step, so buffers hold runs of one sender's
        // messages whose order is checked.
        const send = (from: string) => {
          for (const id of [...IDS, ...IDS]) {
            const key = `${from}#${id}`;
            const seq = seqs.get(key) ?? 0;
            seqs.set(key, seq + 1);
            const record = `${from}/${seq}`;
            inFlight.push(
              kit.log(from, id).ask("add", record, { timeoutMs: 20_000 }).then(
                () =>
                  void (acked.get(id) ?? acked.set(id, []).get(id)!).push(
                    record,
                  ),
                () => {},
              ),
            );
          }
        };
        const traffic = async (ms: number) => {
          for (let t = 0; t < ms; t += 100) {
            for (const from of kit.members.keys()) send(from);
            await kit.tc.advance(100);
          }
        };
        await kit.until(() => kit.converged(), 30_000, "convergence");
        for (const s of steps) {
          const names = [...kit.members.keys()];
          if (s.op === "join") {
            if (names.length < 4) await kit.add(`n${next++}`);
          } else if (s.op === "traffic") {
            await traffic(s.ms);
          } else if (names.length > 2) {
            // The oldest stays (it keeps the seed list reachable for joiners).
            const victim = names.slice(1)[s.pick % (names.length - 1)];
            if (s.op === "crash") await kit.kill(victim);
            else await kit.leave(victim);
          }
          await traffic(300);
        }
        await kit.settle(Promise.all(inFlight), 120_000);
        // Stable: every member up in every view, and the coordinator balanced.
        const first = [...kit.members.keys()][0];
        await kit.until(() => kit.converged(), 60_000, "stable membership");
        let stats: Record<string, { shards: number }> = {};
        await kit.until(
          () => {
            void kit.member(first).logs.clusterStats({ timeoutMs: 1000 }).then((
              s,
            ) => stats = s);
            const counts = [...kit.members.keys()].map((n) =>
              stats[n]?.shards ?? 0
            );
            const total = counts.reduce((a, b) => a + b, 0);
            return total === SHARDS &&
              Math.max(...counts) - Math.min(...counts) <= 1;
          },
          60_000,
          "balanced shards",
        );
        for (const id of IDS) {
          const records = await kit.settle(
            kit.log(first, id).ask("records", undefined, { timeoutMs: 20_000 }),
          );
          for (const record of acked.get(id) ?? []) {
            assert(
              records.includes(record),
              `${id} lost acknowledged ${record}`,
            );
          }
          const bySender = new Map<string, number[]>();
          for (const record of records) {
            const [from, seq] = record.split("/");
            (bySender.get(from) ?? bySender.set(from, []).get(from)!).push(
              Number(seq),
            );
          }
          for (const [from, list] of bySender) {
            assert.deepEqual(
              list,
              [...list].sort((a, b) => a - b),
              `order of ${from} at ${id}`,
            );
          }
        }
        assert.equal(
          incarnations.maxSeen,
          1,
          "two live incarnations of one entity",
        );
      },
    ),
    { numRuns: 3, seed: 12, endOnFailure: true },
  );
});
