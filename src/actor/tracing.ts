// The hook through which message handling is traced. The runtime knows nothing of a tracing
// library: while no tracer is installed (the default) a send pays one null check and nothing
// else; `@troupe/troupe/otel` installs one that speaks OpenTelemetry.

/**
 * One message sent while a tracer was installed, as the tracer sees it when the message is
 * handled.
 */
export interface TracedMessage {
  /**
   * The sender's trace context: what {@linkcode MessageTracer.capture} returned when the message
   * was sent, or `undefined` for none (then the handling starts a new trace; timer ticks never
   * have a parent).
   */
  readonly parent: unknown;
  /** The name of the node of the receiving actor. */
  readonly node: string;
  /** The receiving actor's path. */
  readonly path: string;
  /** The receiving actor's type (its definition's `name`). */
  readonly actorType: string;
  /** The message type. */
  readonly messageType: string;
}

/**
 * Traces message handling: one span (or whatever the tracer makes) per handled message, whose
 * parent is the context of the sender, on this node or another. Install one with
 * {@linkcode ActorSystem.tracer}; `@troupe/troupe/otel` has one for OpenTelemetry.
 *
 * The runtime calls it as follows. At every tell and ask to a local actor, and at every tell
 * and ask to an actor on another node, `capture()` takes the sender's context (for another node
 * it goes over the wire as the W3C `traceparent` that `traceparent()` makes of it). When the
 * message is handled, `handle()` runs the handler. A message that arrived from another node is
 * delivered inside `withTraceparent()`, so that `capture()` then returns the remote sender's
 * context instead of whatever is current on this node.
 *
 * @example A tracer that logs each handled message
 * ```ts
 * import { ActorSystem, defineActor, type MessageTracer } from "@troupe/troupe";
 *
 * const handled: string[] = [];
 * const logging: MessageTracer = {
 *   capture: () => undefined,
 *   handle(message, run) {
 *     handled.push(`${message.actorType} ${message.messageType}`);
 *     return run();
 *   },
 *   traceparent: () => undefined,
 *   withTraceparent: (_traceparent, send) => send(),
 * };
 * await using system = new ActorSystem();
 * system.tracer = logging;
 * const echo = defineActor({
 *   name: "echo",
 *   init: () => null,
 *   handlers: { say: (_state, text: string) => text },
 * });
 * const ref = await system.spawn(echo, undefined);
 * console.log(await ref.ask("say", "hi")); // "hi"
 * console.log(handled); // ["echo say"]
 * ```
 */
export interface MessageTracer {
  /**
   * The current trace context of the code that sends a message, kept with the message until it
   * is handled. Called once per tell and ask, synchronously inside the send.
   *
   * @returns An opaque value for `handle()` and `traceparent()`, or `undefined` for none.
   */
  capture(): unknown;
  /**
   * Runs the handler of one message. Must call `run` exactly once, synchronously, and return
   * what it returned: for an async handler that is a promise, and whatever the tracer returns
   * in its place (such as a promise that settles the same way once the span has ended) is what
   * the actor waits for. An error `run` throws must be thrown on.
   *
   * @param message The message and its sender's context.
   * @param run Runs the handler.
   * @returns What `run` returned (or a promise that settles as it does).
   */
  handle(message: TracedMessage, run: () => unknown): unknown;
  /**
   * The W3C `traceparent` of a captured context, sent with a message to another node.
   *
   * @param captured What `capture()` returned.
   * @returns The header value, or `undefined` when there is no trace to continue.
   */
  traceparent(captured: unknown): string | undefined;
  /**
   * Runs `send`, which delivers a message that came from another node with `traceparent` (`""`
   * when the sender sent none), so that `capture()` within it returns the remote sender's
   * context. A `traceparent` that is not valid must be ignored (the message starts a new trace).
   *
   * @param traceparent The W3C `traceparent` from the wire, or `""`.
   * @param send Delivers the message to a local actor.
   * @returns What `send` returned.
   */
  withTraceparent<T>(traceparent: string, send: () => T): T;
}

/**
 * Checks that a value looks like a {@linkcode MessageTracer} (or is `null`).
 *
 * @throws {TypeError} When it does not.
 */
export function checkTracer(value: unknown): void {
  if (value === null) return;
  const tracer = value as Partial<Record<keyof MessageTracer, unknown>>;
  if (
    typeof value !== "object" ||
    typeof tracer.capture !== "function" ||
    typeof tracer.handle !== "function" ||
    typeof tracer.traceparent !== "function" ||
    typeof tracer.withTraceparent !== "function"
  ) {
    throw new TypeError(
      "Invalid tracer: expected null or an object with capture, handle, traceparent and withTraceparent methods",
    );
  }
}
