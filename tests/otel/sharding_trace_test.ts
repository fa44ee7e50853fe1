// Tracing through sharding: a message to an entity on another node carries its sender's W3C
// trace context in the delivery, so the entity's span is a child of the sender's, whether the
// message went at once or waited in a buffer while its shard's home was looked up.
import assert from "node:assert/strict";
import { context } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { installTracing } from "../../src/otel/mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import { ShardingKit } from "../../src/cluster/sharding/_sharding_kit_test.ts";
import { assertChild, recorder } from "./spans.ts";

function spansNamed(
  spans: readonly ReadableSpan[],
  name: string,
): ReadableSpan[] {
  return spans.filter((span) => span.name === name);
}

test("Sharding carries the sender's trace context to an entity on another node: the entity's span is a child of the sender's, for tells and asks, buffered or not", async () => {
  context.disable();
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const { exporter, provider } = recorder();
  const kit = await ShardingKit.start(["n1", "n2"]);
  const handles = ["n1", "n2"].map((name) =>
    installTracing(kit.member(name).cluster.node.system, {
      tracerProvider: provider,
    })
  );
  try {
    await kit.until(() => kit.converged(), 30_000, "two members up");
    // n2 sends to some entities first, so their shards are placed (on both nodes) and n2 knows
    // where; n1 has not looked any of them up yet.
    const ids = Array.from({ length: 40 }, (_, i) => `e${i}`);
    await kit.settle(
      Promise.all(ids.map((id) => kit.log("n2", id).ask("add", "x"))),
    );
    const onN2 = kit.member("n2").logs.localStats().shards;
    const id = ids.find((id) =>
      onN2.includes(kit.member("n1").logs.shardOf(id))
    );
    assert.ok(id !== undefined, "an entity lives on n2");
    const tracer = provider.getTracer("test");
    exporter.reset();
    // n1's first message to the entity waits while n1 asks the coordinator where its shard is.
    await kit.settle(tracer.startActiveSpan("ask buffered", async (span) => {
      try {
        return await kit.log("n1", id).ask("add", "a");
      } finally {
        span.end();
      }
    }));
    // Once the home is known, a tell and an ask go at once (in one batch).
    tracer.startActiveSpan("tell", (span) => {
      kit.log("n1", id).tell("add", "b");
      span.end();
    });
    const records = await kit.settle(
      tracer.startActiveSpan("ask", async (span) => {
        try {
          return await kit.log("n1", id).ask("records");
        } finally {
          span.end();
        }
      }),
    );
    assert.deepEqual(records, ["x", "a", "b"]);
    await provider.forceFlush();
    const spans = exporter.getFinishedSpans();
    const parents = ["ask buffered", "tell", "ask"].map((name) => {
      const found = spansNamed(spans, name);
      assert.equal(found.length, 1, name);
      return found[0];
    });
    const children = parents.map((parent) =>
      // (The buffered ask's lookup of the shard's home is a child of it too.)
      spans.find((s) =>
        s.name.startsWith("log ") &&
        s.parentSpanContext?.spanId === parent.spanContext().spanId
      )
    );
    assert.deepEqual(
      children.map((span) => span?.name),
      ["log add", "log add", "log records"],
      JSON.stringify(spans.map((s) => s.name)),
    );
    for (let i = 0; i < parents.length; i++) {
      const span = children[i]!;
      assertChild(span, parents[i]);
      assert.equal(span.attributes["troupe.node"], "n2");
      assert.equal(span.parentSpanContext?.isRemote, true);
    }
  } finally {
    for (const handle of handles) handle.uninstall();
    await kit.close();
    await provider.forceFlush();
    await provider.shutdown();
    context.disable();
  }
});
