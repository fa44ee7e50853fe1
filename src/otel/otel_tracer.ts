// The OpenTelemetry MessageTracer: a span per handled message, parented to the sender's span,
// on this node or (through the W3C traceparent on the wire) on another.
import {
  type Context,
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type {
  ActorSystem,
  MessageTracer,
  TracedMessage,
} from "../actor/mod.ts";
import { parseTraceparent } from "./traceparent.ts";

/** The tracer name spans are made under, unless the options name another. */
export const DEFAULT_TRACER_NAME = "@troupe/troupe";

/** The attributes of each message's span. */
export const SPAN_ATTRIBUTES = {
  /** The receiving actor's type (its definition's `name`). */
  actorType: "troupe.actor.type",
  /** The message type. */
  messageType: "troupe.message.type",
  /** The receiving actor's path. */
  actorPath: "troupe.actor.path",
  /** The receiving actor's node. */
  node: "troupe.node",
} as const;

/**
 * Where tracers come from: an OpenTelemetry `TracerProvider` (such as the SDK's
 * `BasicTracerProvider`), described only as far as it is used here.
 */
export interface TracerProviderLike {
  /**
   * A tracer of the given name.
   *
   * @param name The tracer's name.
   * @returns An OpenTelemetry `Tracer`.
   */
  getTracer(name: string): unknown;
}

/** Options of {@linkcode installTracing}. */
export interface TracingOptions {
  /**
   * Where the tracer comes from. Default: the global provider of `@opentelemetry/api` (what
   * `trace.setGlobalTracerProvider()` or an SDK's `register()` set; without one, spans are
   * not recorded).
   */
  readonly tracerProvider?: TracerProviderLike;
  /** The tracer's name. Default {@linkcode DEFAULT_TRACER_NAME}. */
  readonly tracerName?: string;
}

/** An installed tracer; removing it stops the tracing of messages sent from then on. */
export interface TracingHandle extends Disposable {
  /** The tracer installed in the system. */
  readonly tracer: MessageTracer;
  /** Removes the tracer from the system, unless another has replaced it since. */
  uninstall(): void;
}

function isContext(value: unknown): value is Context {
  return typeof value === "object" && value !== null &&
    typeof (value as Partial<Context>).getValue === "function";
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

function failed(span: Span, error: unknown): void {
  if (error instanceof Error) span.recordException(error);
  else span.recordException(String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
}

/**
 * The OpenTelemetry tracer of message handling (see {@linkcode installTracing}).
 *
 * The sender's context is the active OpenTelemetry context (so a span a user started around a
 * send is its parent); where no context manager is registered, a handler's span is still the
 * parent of what the handler sends before it returns or first awaits. With a context manager
 * (such as `AsyncLocalStorageContextManager` from `@opentelemetry/context-async-hooks`, which
 * the Node SDK registers), also of what it sends after an `await`.
 */
class OtelMessageTracer implements MessageTracer {
  readonly #tracer: Tracer;
  /** The context of the handler running synchronously now, if any. */
  #current: Context | undefined = undefined;
  /** The remote sender's context while a message from another node is delivered. */
  #remote: Context | undefined = undefined;
  // The last context sent and its traceparent, and the last traceparent received and its
  // context: a handler's sends, and the tells of one batch, usually share them.
  #sentContext: Context | undefined = undefined;
  #sentTraceparent: string | undefined = undefined;
  #receivedTraceparent = "";
  #receivedContext: Context = ROOT_CONTEXT;

  constructor(tracer: Tracer) {
    this.#tracer = tracer;
  }

  capture(): unknown {
    const remote = this.#remote;
    if (remote !== undefined) return remote;
    const active = context.active();
    return trace.getSpan(active) !== undefined ? active : this.#current;
  }

  handle(message: TracedMessage, run: () => unknown): unknown {
    const captured = message.parent;
    const parent = isContext(captured) ? captured : ROOT_CONTEXT;
    const span = this.#tracer.startSpan(
      `${message.actorType} ${message.messageType}`,
      {
        kind: SpanKind.CONSUMER,
        attributes: {
          [SPAN_ATTRIBUTES.actorType]: message.actorType,
          [SPAN_ATTRIBUTES.messageType]: message.messageType,
          [SPAN_ATTRIBUTES.actorPath]: message.path,
          [SPAN_ATTRIBUTES.node]: message.node,
        },
      },
      parent,
    );
    const active = trace.setSpan(parent, span);
    const outer = this.#current;
    this.#current = active;
    let result: unknown;
    try {
      result = context.with(active, run);
    } catch (error) {
      failed(span, error);
      span.end();
      throw error;
    } finally {
      this.#current = outer;
    }
    if (!isThenable(result)) {
      span.end();
      return result;
    }
    return result.then(
      (value) => {
        span.end();
        return value;
      },
      (error: unknown) => {
        failed(span, error);
        span.end();
        throw error;
      },
    );
  }

  traceparent(captured: unknown): string | undefined {
    if (captured === this.#sentContext) return this.#sentTraceparent;
    if (!isContext(captured)) return undefined;
    const span = trace.getSpanContext(captured);
    let traceparent: string | undefined;
    if (span !== undefined && isSpanContextValid(span)) {
      const flags = span.traceFlags & 0xff;
      traceparent = `00-${span.traceId}-${span.spanId}-${
        flags < 16 ? "0" : ""
      }${flags.toString(16)}`;
    }
    this.#sentContext = captured;
    this.#sentTraceparent = traceparent;
    return traceparent;
  }

  withTraceparent<T>(traceparent: string, send: () => T): T {
    if (traceparent !== this.#receivedTraceparent) {
      const parent = traceparent === ""
        ? undefined
        : parseTraceparent(traceparent);
      this.#receivedTraceparent = traceparent;
      this.#receivedContext = parent === undefined
        ? ROOT_CONTEXT
        : trace.setSpanContext(ROOT_CONTEXT, { ...parent, isRemote: true });
    }
    const outer = this.#remote;
    this.#remote = this.#receivedContext;
    try {
      return send();
    } finally {
      this.#remote = outer;
    }
  }
}

/**
 * Traces an actor system's messages with OpenTelemetry: every message sent from now on carries
 * its sender's trace context (to actors on other nodes as a W3C `traceparent` in the wire
 * envelope), and is handled in a span of its own, a child of the sender's span, named
 * `"<actor type> <message type>"`, of kind `CONSUMER`, with the attributes of
 * {@linkcode SPAN_ATTRIBUTES}. A handler that throws or rejects ends its span with status
 * `ERROR` and the exception recorded. A timer tick, and a message sent with no span active,
 * starts a new trace. Replaces a tracer already installed.
 *
 * For a trace to cross nodes, install it on each node's system. `@opentelemetry/api` is a peer
 * dependency of this entry point only: the rest of Troupe neither imports it nor pays anything
 * for tracing while no tracer is installed.
 *
 * @example Trace a system's messages
 * ```ts
 * import { ActorSystem, defineActor } from "@troupe/troupe";
 * import { installTracing } from "@troupe/troupe/otel";
 *
 * await using system = new ActorSystem();
 * using _tracing = installTracing(system); // spans go to the global tracer provider
 * const echo = defineActor({
 *   name: "echo",
 *   init: () => null,
 *   handlers: { say: (_state, text: string) => text },
 * });
 * const ref = await system.spawn(echo, undefined);
 * console.log(await ref.ask("say", "traced")); // "traced" (in a span "echo say")
 * ```
 *
 * @param system The actor system.
 * @param options Where the tracer comes from.
 * @returns The installation (dispose of it, or call `uninstall()`, to stop tracing).
 * @throws {TypeError} When `system` is not an actor system, or an option has the wrong type.
 */
export function installTracing(
  system: ActorSystem,
  options: TracingOptions = {},
): TracingHandle {
  if (
    typeof system !== "object" || system === null || !("tracer" in system)
  ) {
    throw new TypeError("Cannot install tracing: expected an ActorSystem");
  }
  const { tracerProvider, tracerName = DEFAULT_TRACER_NAME } = options;
  if (typeof tracerName !== "string" || tracerName === "") {
    throw new TypeError(
      `Invalid tracerName ${
        JSON.stringify(tracerName)
      }: expected a non-empty string`,
    );
  }
  if (
    tracerProvider !== undefined &&
    typeof tracerProvider?.getTracer !== "function"
  ) {
    throw new TypeError(
      "Invalid tracerProvider: expected an object with a getTracer method",
    );
  }
  const tracer = new OtelMessageTracer(
    tracerProvider === undefined
      ? trace.getTracer(tracerName)
      : tracerProvider.getTracer(tracerName) as Tracer,
  );
  system.tracer = tracer;
  const uninstall = (): void => {
    if (system.tracer === tracer) system.tracer = null;
  };
  return { tracer, uninstall, [Symbol.dispose]: uninstall };
}
