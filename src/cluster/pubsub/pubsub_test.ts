import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { type DeadLetter, defineActor } from "../../actor/mod.ts";
import type { MemberEvent } from "../member_event.ts";
import { isPubSubClosedError } from "./errors.ts";
import { PubSubNodes, recorder, type Seen } from "./_pubsub_kit_test.ts";
import { MEMBER_EVENTS } from "./system_topics.ts";
import { defineTopic, type Publication } from "./topic.ts";
import { PubSub } from "./pubsub.ts";
import { PubSubExtensions } from "./pubsub_extensions.ts";

const THREE = ["a", "b", "c"];
const news = defineTopic<{ n: number }>("news");

function messages(
  log: readonly Seen[],
  who: string,
  topic = "news",
): { n: number }[] {
  return log.filter(([w, p]) => w === who && p.topic === topic).map(([, p]) =>
    p.message as { n: number }
  );
}

test("PubSub.publish() reaches the subscribers of every node, one frame per node and turn, in order", async () => {
  await using s = await PubSubNodes.start(THREE, { seed: 3 });
  await s.join(THREE);
  await s.subscriber("a", "a1", [news]);
  await s.subscriber("a", "a2", [news]);
  await s.subscriber("b", "b1", [news]);
  await s.tc.until(() => s.converged(news), { stepMs: 100, what: "routes" });
  for (let n = 0; n < 5; n++) s.pubsub("c").publish(news, { n });
  s.pubsub("a").publish(news, { n: 5 });
  await s.tc.advance(100);
  // In order per publisher (no order between publishers).
  const fromC = [0, 1, 2, 3, 4].map((n) => ({ n }));
  for (const who of ["a/a1", "a/a2", "b/b1"]) {
    const seen = messages(s.log, who);
    assert.deepEqual(seen.filter((m) => m.n !== 5), fromC, who);
    assert.equal(seen.length, 6, who);
  }
  assert.equal(s.log.find(([w]) => w === "b/b1")![1].publisher, "c");
  // a got c's five publications once for its two subscribers, in one frame (one turn); c,
  // without subscribers, got none of a's.
  assert.equal(s.frames.get("a"), 1);
  assert.equal(s.frames.get("b"), 2);
  assert.equal(s.frames.get("c"), undefined);
  assert.equal(s.pubsub("a").metrics(news).received, 5);
  assert.equal(s.pubsub("b").metrics(news).received, 6);
  assert.equal(s.pubsub("c").metrics(news).received, 0);
  assert.deepEqual(s.pubsub("c").metrics(news), {
    publishes: 5,
    deliveries: 0,
    dropped: 0,
    received: 0,
  });
  assert.equal(s.pubsub("a").metrics(news).deliveries, 2 * 6);
  assert.match(
    s.tc.system("a").prometheusText(),
    /troupe_pubsub_deliveries_total\{node="a",topic="news"\} 12/,
  );
});

test("PubSub keys a topic: a subscription is to one exact topic and key", async () => {
  await using s = await PubSubNodes.start(["a", "b"], { seed: 4 });
  await s.join(["a", "b"]);
  const room1 = news.withKey("room-1");
  await s.subscriber("b", "r1", [room1]);
  await s.subscriber("b", "all", [news]);
  await s.tc.until(() => s.converged(room1) && s.converged(news));
  s.pubsub("a").publish(room1, { n: 1 });
  s.pubsub("a").publish(news.withKey("room-2"), { n: 2 });
  s.pubsub("a").publish(news, { n: 3 });
  await s.tc.advance(100);
  assert.deepEqual(messages(s.log, "b/r1"), [{ n: 1 }]);
  assert.deepEqual(messages(s.log, "b/all"), [{ n: 3 }]);
  assert.equal(s.log.find(([w]) => w === "b/r1")![1].key, "room-1");
  // room-2 has no subscriber anywhere: nothing was sent for it.
  assert.equal(s.pubsub("b").metrics(news).received, 2);
});

test("PubSub.publishLocal() and unsubscribe() stay on this node", async () => {
  await using s = await PubSubNodes.start(["a", "b"], { seed: 5 });
  await s.join(["a", "b"]);
  const a1 = await s.subscriber("a", "a1", [news]);
  await s.subscriber("b", "b1", [news]);
  await s.tc.until(() => s.converged(news));
  s.pubsub("a").publishLocal(news, { n: 1 });
  await s.tc.advance(100);
  assert.deepEqual(messages(s.log, "a/a1"), [{ n: 1 }]);
  assert.deepEqual(messages(s.log, "b/b1"), []);
  assert.equal(s.pubsub("a").subscribe(news, a1), false);
  assert.equal(s.pubsub("a").unsubscribe(news, a1), true);
  assert.equal(s.pubsub("a").unsubscribe(news, a1), false);
  await s.tc.until(() => s.converged(news));
  assert.deepEqual(s.pubsub("b").nodesFor(news), []);
});

test("PubSub: a stopped subscriber leaves its topics, and other nodes stop sending", async () => {
  await using s = await PubSubNodes.start(["a", "b"], { seed: 6 });
  await s.join(["a", "b"]);
  const b1 = await s.subscriber("b", "b1", [news, news.withKey("k")]);
  await s.tc.until(() => s.converged(news));
  assert.deepEqual(s.pubsub("a").nodesFor(news), ["b"]);
  await b1.stop();
  assert.equal(s.pubsub("b").subscriberCount(news), 0);
  assert.equal(s.pubsub("b").subscriberCount(news.withKey("k")), 0);
  await s.tc.until(() => s.pubsub("a").nodesFor(news).length === 0);
  s.pubsub("a").publish(news, { n: 1 });
  await s.tc.advance(100);
  assert.equal(s.pubsub("b").metrics(news).received, 0);
});

test("PubSub counts what a full mailbox drops, and the drops are dead letters", async () => {
  await using s = await PubSubNodes.start(["a"], { seed: 7 });
  await s.join(["a"]);
  const system = s.tc.system("a");
  const letters: DeadLetter[] = [];
  system.deadLetters.subscribe((l) => letters.push(l));
  const log: Seen[] = [];
  const slow = await system.spawn(recorder, { log, name: "slow" }, {
    mailbox: { capacity: 2 },
  });
  const strict = await system.spawn(recorder, { log, name: "strict" }, {
    mailbox: { capacity: 2, overflow: "reject" },
  });
  s.pubsub("a").subscribe(news, slow);
  s.pubsub("a").subscribe(news, strict);
  for (let n = 0; n < 5; n++) s.pubsub("a").publish(news, { n });
  await s.tc.advance(100);
  assert.deepEqual(messages(log, "slow"), [{ n: 0 }, { n: 1 }]);
  assert.deepEqual(messages(log, "strict"), [{ n: 0 }, { n: 1 }]);
  assert.deepEqual(s.pubsub("a").metrics(news), {
    publishes: 5,
    deliveries: 10,
    dropped: 6,
    received: 0,
  });
  assert.equal(letters.length, 6);
  assert.ok(letters.every((l) => l.reason === "mailbox-full"));
  assert.deepEqual(
    letters.map((l) => (l.payload as Publication<{ n: number }>).message.n),
    [2, 2, 3, 3, 4, 4],
  );
});

test("PubSub: MEMBER_EVENTS carries membership events; a crashed node's subscriptions end", async () => {
  await using s = await PubSubNodes.start(THREE, { seed: 8 });
  await s.join(THREE);
  const watcher = await s.subscriber("a", "watcher", [MEMBER_EVENTS]);
  await s.subscriber("c", "c1", [news]);
  await s.tc.until(() => s.converged(news));
  assert.deepEqual(s.pubsub("a").nodesFor(news), ["c"]);
  // System topics are not routed.
  assert.deepEqual(s.pubsub("b").nodesFor(MEMBER_EVENTS), []);
  await s.kill("c");
  await s.tc.until(() => s.membersSettled(), {
    maxMs: 60_000,
    stepMs: 100,
    what: "c removed",
  });
  assert.deepEqual(s.pubsub("a").nodesFor(news), []);
  const events = s.log.filter(([w]) => w === "a/watcher").map(([, p]) =>
    p.message as MemberEvent
  );
  const types = events.map((e) => e.type);
  for (const type of ["unreachable", "downed", "removed"]) {
    assert.ok(
      types.includes(type as MemberEvent["type"]),
      `${type} in ${types}`,
    );
  }
  assert.ok(
    events.every((e) => !("member" in e) || e.member.node === "c"),
    JSON.stringify(events),
  );
  // Nothing is sent to the removed node, so nothing is dropped for it.
  s.pubsub("a").publish(news, { n: 1 });
  assert.equal(s.pubsub("a").metrics(news).dropped, 0);
  assert.throws(
    () => s.pubsub("a").publish(MEMBER_EVENTS, events[0]),
    TypeError,
  );
  await watcher.stop();
  assert.equal(s.pubsub("a").subscriberCount(MEMBER_EVENTS), 0);
});

test("PubSub: a publication to an unreachable subscriber node is a counted dead letter", async () => {
  await using s = await PubSubNodes.start(["a", "b"], { seed: 9 });
  await s.join(["a", "b"]);
  await s.subscriber("b", "b1", [news]);
  await s.tc.until(() => s.converged(news));
  const letters: DeadLetter[] = [];
  s.tc.system("a").deadLetters.subscribe((l) => letters.push(l));
  // b's node closes without pub/sub or membership saying goodbye: a still routes to it.
  await s.tc.stop("b");
  s.killed.add("b");
  let sent = 0;
  await s.tc.until(() => {
    s.pubsub("a").publish(news, { n: sent++ });
    return s.pubsub("a").metrics(news).dropped > 0;
  }, { maxMs: 10_000, what: "a drop" });
  assert.equal(letters.at(-1)?.reason, "node-unreachable");
  assert.equal(letters.at(-1)?.recipient, "b/troupe.pubsub");
});

test("PubSub rejects misuse with TypeError and use after close with PubSubClosedError", async () => {
  await using s = await PubSubNodes.start(["a", "b"], { seed: 10 });
  await s.join(["a", "b"]);
  const pubsub = s.pubsub("a");
  assert.throws(() => defineTopic("troupe.mine"), TypeError);
  assert.throws(() => defineTopic(""), TypeError);
  assert.throws(() => defineTopic("a\u0000b"), TypeError);
  assert.throws(() => news.withKey("x").withKey("y"), TypeError);
  assert.throws(
    () => pubsub.publish({ name: "news" } as never, { n: 1 }),
    TypeError,
  );
  const remote = s.tc.node("a").ref<never>("b", "b1");
  assert.throws(() => pubsub.subscribe(news, remote), TypeError);
  assert.throws(
    () =>
      PubSub.start(s.tc.node("a"), s.clusters.get("a")!, {
        extensions: s.pubsubExtensions,
      }),
    TypeError,
  );
  assert.throws(
    () =>
      PubSub.start(s.tc.node("a"), s.clusters.get("a")!, {
        extensions: new PubSubExtensions(),
        gossipIntervalMs: 0,
      }),
    RangeError,
  );
  // A message that cannot cross nodes fails before anything is delivered.
  await s.subscriber("b", "b1", [news]);
  const a1 = await s.subscriber("a", "a1", [news]);
  await s.tc.until(() => s.converged(news));
  assert.throws(() => pubsub.publish(news, { n: 1n } as never), TypeError);
  await s.tc.advance(100);
  assert.deepEqual(s.log, []);
  await pubsub.close();
  await pubsub.close();
  assert.throws(() => pubsub.publish(news, { n: 1 }), isPubSubClosedError);
  assert.throws(() => pubsub.subscribe(news, a1), isPubSubClosedError);
  // b learns that a has no subscribers any more.
  await s.tc.advance(100);
  assert.deepEqual(s.pubsub("b").nodesFor(news), []);
});

test("PubSub: an actor that subscribes to several topics tells them apart", async () => {
  await using s = await PubSubNodes.start(["a"], { seed: 11 });
  await s.join(["a"]);
  const alerts = defineTopic<string>("alerts");
  const seen: string[] = [];
  const both = defineActor({
    name: "both",
    init: () => ({}),
    handlers: {
      publication: (_s, p: Publication<{ n: number } | string>) => {
        seen.push(`${p.topic}:${JSON.stringify(p.message)}`);
      },
    },
  });
  const ref = await s.tc.system("a").spawn(both, undefined);
  s.pubsub("a").subscribe(news, ref);
  s.pubsub("a").subscribe(alerts, ref);
  s.pubsub("a").publish(alerts, "fire");
  s.pubsub("a").publish(news, { n: 1 });
  await s.tc.advance(10);
  assert.deepEqual(seen, ['alerts:"fire"', 'news:{"n":1}']);
});
