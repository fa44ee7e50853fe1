import assert from "node:assert/strict";
import fc from "fast-check";
import type { ActorRef } from "../../actor/mod.ts";
import { test } from "../../platform/test_harness.ts";
import { PubSubNodes } from "./_pubsub_kit_test.ts";
import { defineTopic, type Topic, type TopicSubscriber } from "./topic.ts";

const NODES = ["a", "b", "c", "d"] as const;
const FIRST = ["a", "b", "c"];
const TOPICS: readonly Topic<{ from: string; seq: number }>[] = [
  defineTopic("t1"),
  defineTopic<{ from: string; seq: number }>("t1").withKey("k"),
  defineTopic("t2"),
];
const IDS = ["s0", "s1", "s2"] as const;

type Step =
  | { kind: "sub" | "unsub"; node: string; id: string; topic: number }
  | { kind: "stop"; node: string; id: string }
  | { kind: "join" }
  | { kind: "kill"; node: string }
  | { kind: "wait"; ms: number };

const node = fc.constantFrom(...NODES);
const id = fc.constantFrom(...IDS);
const arbStep: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant("sub" as const),
      node,
      id,
      topic: fc.nat(2),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("unsub" as const),
      node,
      id,
      topic: fc.nat(2),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant("stop" as const), node, id }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("join" as const) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("kill" as const),
      node: fc.constantFrom("b", "c", "d"),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("wait" as const),
      ms: fc.integer({ min: 0, max: 2000 }),
    }),
  },
);

const key = (t: Topic<unknown>) => `${t.name}/${t.key ?? ""}`;

test("PubSub (property): after subscribers come and go while nodes join and crash, once the registry converges every subscriber gets every later publication exactly once, and nodes without subscribers get no frames of the topic", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbStep, { minLength: 3, maxLength: 8 }),
      fc.integer({ min: 1, max: 1000 }),
      async (steps, seed) => {
        await using s = await PubSubNodes.start(NODES, { seed });
        await s.join(FIRST);
        const refs = new Map<string, ActorRef<TopicSubscriber<unknown>>>();
        // The model: subscriber (node/id) → topics it subscribes to.
        const model = new Map<string, Set<number>>();
        let joined = false;
        let kills = 0;
        for (const step of steps) {
          if (step.kind === "join") {
            if (!joined) await s.join(["d"]);
            joined = true;
            continue;
          }
          if (step.kind === "wait") {
            await s.tc.advance(step.ms, { stepMs: 250 });
            continue;
          }
          if (!s.running.includes(step.node)) continue;
          const who = `${step.node}/${"id" in step ? step.id : ""}`;
          switch (step.kind) {
            case "sub": {
              let ref = refs.get(who);
              if (ref === undefined) {
                ref = await s.subscriber(step.node, step.id, []);
                refs.set(who, ref);
                model.set(who, new Set());
              }
              s.pubsub(step.node).subscribe(TOPICS[step.topic], ref);
              model.get(who)!.add(step.topic);
              break;
            }
            case "unsub": {
              const ref = refs.get(who);
              if (ref === undefined) break;
              s.pubsub(step.node).unsubscribe(TOPICS[step.topic], ref);
              model.get(who)!.delete(step.topic);
              break;
            }
            case "stop":
              await refs.get(who)?.stop();
              refs.delete(who);
              model.delete(who);
              break;
            case "kill":
              // Keep a majority running (keep-majority downing).
              if (kills > 0) break;
              kills++;
              await s.kill(step.node);
              for (const w of [...model.keys()]) {
                if (w.startsWith(`${step.node}/`)) model.delete(w);
              }
              break;
          }
        }
        await s.tc.until(
          () => s.membersSettled() && TOPICS.every((t) => s.converged(t)),
          { maxMs: 60_000, stepMs: 250, what: "membership and routes" },
        );
        const running = s.running;
        const before = new Map(
          running.flatMap((n) =>
            TOPICS.map((t) => [
              `${n}:${key(t)}`,
              s.pubsub(n).metrics(t).received,
            ])
          ),
        );
        const framesBefore = new Map(s.frames);
        s.log.length = 0;
        // Each running node publishes twice on each topic (keyed and unkeyed share a name, so
        // their frame counts are checked together, per name).
        for (let seq = 0; seq < 2; seq++) {
          for (const n of running) {
            for (const t of TOPICS) s.pubsub(n).publish(t, { from: n, seq });
          }
        }
        await s.tc.advance(200, { stepMs: 50 });
        for (const [who, topics] of model) {
          TOPICS.forEach((t, i) => {
            const got = s.log.filter(([w, p]) =>
              w === who && p.topic === t.name && p.key === t.key
            ).map(([, p]) => JSON.stringify(p.message)).sort();
            const want = topics.has(i)
              ? running.flatMap((n) =>
                [0, 1].map((seq) => JSON.stringify({ from: n, seq }))
              ).sort()
              : [];
            assert.deepEqual(got, want, `${who} on ${key(t)}`);
          });
        }
        // Frames per node and topic name: one per publication of another node when the node
        // has subscribers for the topic (or its keyed twin), none otherwise.
        for (const n of running) {
          for (const name of ["t1", "t2"]) {
            const ts = TOPICS.filter((t) => t.name === name);
            const expected = ts.reduce(
              (sum, t) =>
                sum +
                (s.pubsub(n).subscriberCount(t) > 0
                  ? 2 * (running.length - 1)
                  : 0),
              0,
            );
            const received = s.pubsub(n).metrics(ts[0]).received -
              before.get(`${n}:${key(ts[0])}`)!;
            assert.equal(received, expected, `frames of ${name} to ${n}`);
          }
          // Counted as frames on the wire: a node without subscribers got none at all.
          if (TOPICS.every((t) => s.pubsub(n).subscriberCount(t) === 0)) {
            assert.equal(
              (s.frames.get(n) ?? 0) - (framesBefore.get(n) ?? 0),
              0,
              `publication frames to ${n}`,
            );
          }
        }
      },
    ),
    { seed: 20261206, numRuns: 6, endOnFailure: true },
  );
});
