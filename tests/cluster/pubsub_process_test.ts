// Pub/sub with real processes on loopback (tests/cluster/pubsub_main.ts): three members, a
// subscriber on each, publications from each. Every subscriber gets every publication once, in
// order per publisher, and each node receives each publication of another node once.
import assert from "node:assert/strict";
import { test } from "../../src/platform/test_harness.ts";
import type { ActorRef } from "../../mod.ts";
import type { TopicMetrics } from "../../src/cluster/mod.ts";
import {
  Controller,
  dump,
  startMembers,
  stopAll,
  waitUntil,
} from "./support.ts";

interface PubSubControl {
  routes(): string[];
  publish(n: number): number;
  received(): Record<string, { count: number; inOrder: boolean }>;
  metrics(): TopicMetrics | null;
  exit(): string;
}

const PER_NODE = 200;

test("PubSub across 3 processes: a subscriber on each, publications from each, once and in order", async () => {
  const members = await startMembers(3, {
    script: new URL("./pubsub_main.ts", import.meta.url),
  });
  await using controller = await Controller.start();
  try {
    const controls = await Promise.all(
      members.map(async (m) =>
        (await controller.control(
          m.address()!,
        )) as unknown as ActorRef<PubSubControl>
      ),
    );
    const names = members.map((m) => m.node);
    let routes: string[][] = [];
    await waitUntil(
      async () => {
        routes = await Promise.all(controls.map((c) => c.ask("routes")));
        return routes.every((r, i) =>
          JSON.stringify(r) ===
            JSON.stringify(names.filter((_, j) => j !== i).sort())
        );
      },
      () => `routes ${JSON.stringify(routes)}\n${dump(members)}`,
      12_000,
    );
    await Promise.all(controls.map((c) => c.ask("publish", PER_NODE)));
    let got: Record<string, { count: number; inOrder: boolean }>[] = [];
    await waitUntil(
      async () => {
        got = await Promise.all(controls.map((c) => c.ask("received")));
        return got.every((g) =>
          names.every((n) => (g[n]?.count ?? 0) >= PER_NODE)
        );
      },
      () => `received ${JSON.stringify(got)}`,
      5_000,
    );
    for (const [i, g] of got.entries()) {
      assert.deepEqual(
        g,
        Object.fromEntries(
          names.map((n) => [n, { count: PER_NODE, inOrder: true }]),
        ),
        names[i],
      );
    }
    const metrics = await Promise.all(controls.map((c) => c.ask("metrics")));
    for (const m of metrics) {
      assert.deepEqual(m, {
        publishes: PER_NODE,
        deliveries: 3 * PER_NODE,
        dropped: 0,
        received: 2 * PER_NODE,
      });
    }
    await Promise.all(controls.map((c) => c.ask("exit")));
  } finally {
    await stopAll(members);
  }
});
