// What the tracing tests share: an OpenTelemetry SDK provider recording spans in memory, and
// the assertion that one span is another's child.
import assert from "node:assert/strict";
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from "@opentelemetry/sdk-trace-base";

/** A tracer provider whose finished spans land in `exporter`. */
export function recorder(): {
  exporter: InMemorySpanExporter;
  provider: BasicTracerProvider;
} {
  const exporter = new InMemorySpanExporter();
  const provider = new BasicTracerProvider({
    spanProcessors: [new SimpleSpanProcessor(exporter)],
  });
  return { exporter, provider };
}

/** Asserts that `child` is a child of `parent` in the same trace. */
export function assertChild(child: ReadableSpan, parent: ReadableSpan): void {
  assert.equal(child.spanContext().traceId, parent.spanContext().traceId);
  assert.equal(
    child.parentSpanContext?.spanId,
    parent.spanContext().spanId,
    `"${child.name}" is a child of "${parent.name}"`,
  );
}
