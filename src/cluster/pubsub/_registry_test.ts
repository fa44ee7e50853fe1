import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { TopicRegistry } from "./_registry.ts";

const NODES = ["a", "b", "c", "d"];

type Op =
  | { kind: "add" | "remove"; node: number; topic: number }
  | { kind: "gossip"; from: number; to: number };

const arbOp: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom("add" as const, "remove" as const),
    node: fc.nat(3),
    topic: fc.nat(4),
  }),
  fc.record({
    kind: fc.constant("gossip" as const),
    from: fc.nat(3),
    to: fc.nat(3),
  }),
);

/** One gossip exchange as PubSub runs it: status, delta back, and status back if behind. */
function exchange(from: TopicRegistry, to: TopicRegistry): void {
  const live = () => true;
  const status = from.versions();
  from.merge(to.delta(status), live);
  if (to.behind(status, live)) to.merge(from.delta(to.versions()), live);
}

test("TopicRegistry (property): after random changes and gossip, a full round of exchanges makes every node route every topic to exactly the nodes that have it", () => {
  fc.assert(
    fc.property(fc.array(arbOp, { maxLength: 60 }), (ops) => {
      const registries = NODES.map((n) => new TopicRegistry(n, `${n}-1`));
      for (const op of ops) {
        if (op.kind === "gossip") {
          if (op.from !== op.to) {
            exchange(registries[op.from], registries[op.to]);
          }
        } else if (op.kind === "add") {
          registries[op.node].addLocal(`t${op.topic}`);
        } else registries[op.node].removeLocal(`t${op.topic}`);
      }
      for (const r of registries) {
        for (const o of registries) if (r !== o) exchange(r, o);
      }
      for (let t = 0; t < 5; t++) {
        const having = NODES.filter((_, i) => registries[i].hasLocal(`t${t}`));
        registries.forEach((r, i) => {
          assert.deepEqual(
            [...r.nodesFor(`t${t}`)].sort(),
            having.filter((n) => n !== NODES[i]),
          );
        });
      }
    }),
    { numRuns: 200 },
  );
});

test("TopicRegistry takes a new incarnation's bucket, ignores dead members' and stale versions, and prunes", () => {
  const a = new TopicRegistry("a", "a-1");
  const live = new Set(["b/b-1"]);
  const isLive = (n: string, i: string) => live.has(`${n}/${i}`);
  assert.equal(
    a.merge(
      [{ node: "b", incarnation: "b-1", version: 2, topics: ["x"] }],
      isLive,
    ),
    true,
  );
  assert.equal(
    a.merge(
      [{ node: "b", incarnation: "b-1", version: 1, topics: [] }],
      isLive,
    ),
    false,
  );
  assert.deepEqual(a.nodesFor("x"), ["b"]);
  // A restarted b (new incarnation) at version 1 replaces the old one once it is live.
  assert.equal(
    a.merge(
      [{ node: "b", incarnation: "b-2", version: 1, topics: ["y"] }],
      isLive,
    ),
    false,
  );
  live.add("b/b-2");
  assert.equal(
    a.merge(
      [{ node: "b", incarnation: "b-2", version: 1, topics: ["y"] }],
      isLive,
    ),
    true,
  );
  assert.deepEqual(a.nodesFor("x"), []);
  assert.deepEqual(a.nodesFor("y"), ["b"]);
  // Its own bucket is never taken from others.
  a.merge(
    [{ node: "a", incarnation: "a-1", version: 9, topics: ["z"] }],
    () => true,
  );
  assert.equal(a.hasLocal("z"), false);
  live.clear();
  assert.equal(a.prune(isLive), true);
  assert.deepEqual(a.nodesFor("y"), []);
  assert.deepEqual(a.versions(), [["a", "a-1", 0]]);
});
