// Tracing with OpenTelemetry (@troupe/troupe/otel): one trace across two nodes (TCP on
// loopback, in this process), spans recorded by the SDK's in-memory exporter.
import assert from "node:assert/strict";
import { context, SpanStatusCode, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import fc from "fast-check";
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  RemoteNode,
} from "../../mod.ts";
import { installTracing, parseTraceparent } from "../../src/otel/mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import { ManualClock } from "../../src/testing/mod.ts";
import { waitFor } from "../remote/support.ts";
import { assertChild, recorder } from "./spans.ts";

const SECRET = "tracing test secret, not for production";
const quiet = { error() {} };

function byName(spans: readonly ReadableSpan[], name: string): ReadableSpan {
  const found = spans.filter((span) => span.name === name);
  assert.equal(found.length, 1, `one span "${name}" in ${names(spans)}`);
  return found[0];
}

function names(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(spans.map((span) => span.name));
}

test("installTracing() makes one trace of a request that crosses two nodes, with a span per handled message", async () => {
  context.disable();
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  const { exporter, provider } = recorder();
  const a = new ActorSystem({ node: "a", logger: quiet });
  const b = new ActorSystem({ node: "b", logger: quiet });
  const tracingA = installTracing(a, { tracerProvider: provider });
  using _tracingB = installTracing(b, { tracerProvider: provider });
  const common = { cluster: "tracing", secret: SECRET, logger: quiet };
  const nodeA = await RemoteNode.start(a, common);
  const nodeB = await RemoteNode.start(b, common);
  try {
    await nodeA.connect(nodeB.address);
    const audited: string[] = [];
    const audit = await b.spawn(
      defineActor({
        name: "audit",
        init: () => null,
        handlers: {
          record: (_state, entry: string) => {
            audited.push(entry);
          },
        },
      }),
      undefined,
      { id: "audit" },
    );
    await b.spawn(
      defineActor({
        name: "inventory",
        init: (log: ActorRef<{ record(entry: string): void }>) => ({ log }),
        handlers: {
          reserve: (state, item: string) => {
            state.log.tell("record", `reserved ${item}`);
            return `reserved ${item}`;
          },
          ship: (_state, _item: string) => {},
        },
      }),
      audit,
      { id: "inventory" },
    );
    const inventory = nodeA.ref<
      { reserve(item: string): string; ship(item: string): void }
    >("b", "inventory");
    const orders = await a.spawn(
      defineActor({
        name: "orders",
        init: () => null,
        handlers: {
          // Asks the other node, then (after an await) tells it.
          place: async (_state, item: string) => {
            const answer = await inventory.ask("reserve", item);
            inventory.tell("ship", item);
            return answer;
          },
        },
      }),
      undefined,
      { id: "orders" },
    );

    const tracer = provider.getTracer("test");
    const answer = await tracer.startActiveSpan("request", async (span) => {
      try {
        return await orders.ask("place", "book");
      } finally {
        span.end();
      }
    });
    assert.equal(answer, "reserved book");
    await waitFor(
      () => exporter.getFinishedSpans().length >= 5,
      "five finished spans",
    );
    const spans = exporter.getFinishedSpans();
    assert.equal(spans.length, 5, names(spans));
    const request = byName(spans, "request");
    const place = byName(spans, "orders place");
    const reserve = byName(spans, "inventory reserve");
    const record = byName(spans, "audit record");
    const ship = byName(spans, "inventory ship");
    assertChild(place, request);
    assertChild(reserve, place); // a → b, an ask
    assertChild(record, reserve); // b → b, a tell
    assertChild(ship, place); // a → b, a tell after an await
    assert.equal(reserve.parentSpanContext?.isRemote, true);
    assert.notEqual(record.parentSpanContext?.isRemote, true);
    assert.deepEqual(reserve.attributes, {
      "troupe.actor.type": "inventory",
      "troupe.message.type": "reserve",
      "troupe.actor.path": "inventory",
      "troupe.node": "b",
    });
    assert.equal(place.attributes["troupe.node"], "a");
    assert.deepEqual(audited, ["reserved book"]);

    // A node without a tracer sends no context: the far side starts a trace of its own.
    tracingA.uninstall();
    assert.equal(a.tracer, null);
    exporter.reset();
    await tracer.startActiveSpan("untraced sender", async (span) => {
      try {
        assert.equal(await inventory.ask("reserve", "pen"), "reserved pen");
      } finally {
        span.end();
      }
    });
    await waitFor(
      () => exporter.getFinishedSpans().length >= 3,
      "three finished spans",
    );
    const untraced = exporter.getFinishedSpans();
    const lone = byName(untraced, "inventory reserve");
    assert.equal(lone.parentSpanContext, undefined);
    assert.notEqual(
      lone.spanContext().traceId,
      byName(untraced, "untraced sender").spanContext().traceId,
    );
    assertChild(byName(untraced, "audit record"), lone);
  } finally {
    await nodeA.close();
    await nodeB.close();
    await a.shutdown();
    await b.shutdown();
    await provider.forceFlush(); // the exporter reports each export from a 0 ms timer
    await provider.shutdown();
    context.disable();
  }
});

test("installTracing() without a context manager: a synchronous handler's sends are its children; failures end spans with ERROR; a timer tick starts a trace", async () => {
  context.disable(); // no context manager: the tracer's own fallback carries the context
  const { exporter, provider } = recorder();
  const clock = new ManualClock();
  await using system = new ActorSystem({ node: "solo", logger: quiet, clock });
  using tracing = installTracing(system, { tracerProvider: provider });
  assert.equal(system.tracer, tracing.tracer);
  const sink = await system.spawn(
    defineActor({
      name: "sink",
      init: () => [] as string[],
      handlers: {
        put: (state, text: string) => {
          state.push(text);
        },
        fail: (_state, text: string): never => {
          throw new RangeError(text);
        },
        failLater: async (_state, text: string): Promise<never> => {
          await Promise.resolve();
          throw new TypeError(text);
        },
      },
    }),
    undefined,
    { id: "sink" },
  );
  const relay = await system.spawn(
    defineActor({
      name: "relay",
      init: () => null,
      handlers: {
        pass: (_state, text: string) => sink.tell("put", text),
        arm: (_state, _: undefined, ctx) =>
          ctx.timers.startSingle("later", 50, "pass", "from a timer"),
      },
    }),
    undefined,
    { id: "relay" },
  );
  relay.tell("pass", "x");
  await assert.rejects(sink.ask("fail", "bad"), RangeError);
  await assert.rejects(sink.ask("failLater", "worse"), TypeError);
  await waitFor(() => exporter.getFinishedSpans().length >= 4, "four spans");
  const spans = exporter.getFinishedSpans();
  const pass = byName(spans, "relay pass");
  assert.equal(pass.parentSpanContext, undefined); // sent with no span active: a new trace
  assertChild(byName(spans, "sink put"), pass);
  for (
    const [name, type] of [["sink fail", "RangeError"], [
      "sink failLater",
      "TypeError",
    ]]
  ) {
    const failed = byName(spans, name);
    assert.equal(failed.status.code, SpanStatusCode.ERROR);
    assert.equal(failed.events[0]?.name, "exception");
    assert.equal(failed.events[0]?.attributes?.["exception.type"], type);
  }
  // A tick of a timer armed by a traced handler is the root of a trace of its own.
  exporter.reset();
  relay.tell("arm");
  await waitFor(() => exporter.getFinishedSpans().length >= 1, "arm's span");
  await clock.advance(50);
  await waitFor(() => exporter.getFinishedSpans().length >= 3, "the tick's");
  const timed = exporter.getFinishedSpans();
  const arm = byName(timed, "relay arm");
  const tick = byName(timed, "relay pass");
  assert.equal(tick.parentSpanContext, undefined);
  assert.notEqual(tick.spanContext().traceId, arm.spanContext().traceId);
  assertChild(byName(timed, "sink put"), tick);
  // Uninstalled: messages are handled without spans.
  tracing.uninstall();
  exporter.reset();
  assert.equal(await sink.ask("put", "y"), undefined);
  assert.equal(exporter.getFinishedSpans().length, 0);
  await provider.forceFlush(); // the exporter reports each export from a 0 ms timer
  await provider.shutdown();
});

test("MessageTracer.withTraceparent() of installTracing() continues a valid traceparent and ignores anything else", async () => {
  context.disable();
  const { provider } = recorder();
  await using system = new ActorSystem({ node: "w", logger: quiet });
  using tracing = installTracing(system, { tracerProvider: provider });
  const tracer = tracing.tracer;
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.tuple(
          fc.constantFrom("00", "01", "ff", "0g"),
          fc.stringMatching(/^[0-9a-f]{32}$/),
          fc.stringMatching(/^[0-9a-f]{16}$/),
          fc.stringMatching(/^[0-9a-f]{2}$/),
          fc.constantFrom("", "-x"),
        ).map(([v, t, s, f, rest]) => `${v}-${t}-${s}-${f}${rest}`),
      ),
      (header) => {
        const captured = tracer.withTraceparent(header, () => tracer.capture());
        const sent = tracer.traceparent(captured);
        const parsed = parseTraceparent(header);
        if (parsed === undefined) {
          assert.equal(sent, undefined);
        } else {
          const flags = parsed.traceFlags.toString(16).padStart(2, "0");
          assert.equal(sent, `00-${parsed.traceId}-${parsed.spanId}-${flags}`);
        }
      },
    ),
    { numRuns: 200 },
  );
  // Outside of it, nothing is current.
  assert.equal(tracer.traceparent(tracer.capture()), undefined);
  assert.equal(trace.getActiveSpan(), undefined);
});
