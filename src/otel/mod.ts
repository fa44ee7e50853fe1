/**
 * Distributed tracing with OpenTelemetry, as its own entry point (`@troupe/troupe/otel`), so
 * that only users who trace load `@opentelemetry/api` (an optional peer dependency).
 * {@linkcode installTracing} puts a tracer into an actor system: every tell and ask then carries
 * its sender's W3C trace context, across nodes too (the `traceparent` field of the wire
 * envelope), and each handled message gets a span, the child of its sender's span, with the
 * actor type and message type as attributes. Without it, the runtime pays one null check per
 * send and imports nothing of OpenTelemetry.
 *
 * Install it on every node's system, with a tracer provider (the SDK's, registered globally or
 * given in the options) and, for spans to follow handlers across `await`, a context manager
 * (such as `AsyncLocalStorageContextManager` of `@opentelemetry/context-async-hooks`).
 *
 * Not carried: the W3C `tracestate` and baggage (only `traceparent` crosses nodes); the span of
 * a remote ask ends when the handler does, and the reply is not traced.
 *
 * @example Trace a request across two nodes
 * ```ts
 * import { ActorSystem, defineActor, RemoteNode } from "@troupe/troupe";
 * import { installTracing } from "@troupe/troupe/otel";
 *
 * const secret = "an example secret, not for production";
 * await using a = new ActorSystem({ node: "a" });
 * await using b = new ActorSystem({ node: "b" });
 * using _ta = installTracing(a);
 * using _tb = installTracing(b);
 * await b.spawn(defineActor({
 *   name: "echo",
 *   init: () => null,
 *   handlers: { say: (_state, text: string) => text },
 * }), undefined, { id: "echo" });
 * await using nodeA = await RemoteNode.start(a, { cluster: "demo", secret });
 * await using nodeB = await RemoteNode.start(b, { cluster: "demo", secret });
 * await nodeA.connect(nodeB.address);
 * // The span of "echo say" on b is a child of the span active here, on a.
 * console.log(await nodeA.ref("b", "echo").ask("say", "hi")); // "hi"
 * ```
 *
 * @module
 */
export {
  DEFAULT_TRACER_NAME,
  installTracing,
  SPAN_ATTRIBUTES,
  type TracerProviderLike,
  type TracingHandle,
  type TracingOptions,
} from "./otel_tracer.ts";
export {
  formatTraceparent,
  parseTraceparent,
  type TraceParent,
} from "./traceparent.ts";
// The core types the API names in its signatures, so this entry point documents itself.
export type * from "../../mod.ts";
