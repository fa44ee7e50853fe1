import type { Fault } from "../backplane/mod.ts";
import type { ActorContext } from "./context.ts";
import { checkMailboxOptions, type MailboxOptions } from "./mailbox.ts";
import type { ProtocolOf, UnknownProtocol } from "./protocol.ts";
import type { ActorRef } from "./ref.ts";
import { checkStrategy, type SupervisionStrategy } from "./supervision.ts";

/**
 * A message handler: gets the actor's state, the payload and the context, and returns the
 * result an ask resolves with (or a promise of it). Handlers run one at a time per actor.
 * Inside a handler, `ctx.self` accepts any message; hooks get a fully typed context.
 */
export type Handler<S> = (
  state: S,
  payload: never,
  ctx: ActorContext<UnknownProtocol>,
) => unknown;

/** An actor's handlers by message type. */
export type Handlers<S> = Record<string, Handler<S>>;

/** A notice that a child or a watched actor stopped. */
export interface StopNotice {
  /** The actor that stopped. */
  readonly ref: ActorRef<UnknownProtocol>;
  /** Why it stopped: `undefined` for a clean stop, else the backplane fault (e.g. `thrown`). */
  readonly fault: Fault | undefined;
}

/** What {@linkcode defineActor} takes. */
export interface ActorDefinitionInput<A, S, H extends Handlers<S>> {
  /** The actor type's name (used in metrics and errors). */
  readonly name: string;
  /** Builds fresh state from the start arguments; runs again on every restart. */
  readonly init: (args: A) => S | Promise<S>;
  /** The message handlers. */
  readonly handlers: H;
  /** Runs after `init`, before the first message; a throw is a start failure. */
  readonly started?: (
    state: S,
    ctx: ActorContext<ProtocolOf<H>>,
  ) => void | Promise<void>;
  /** Runs when the actor stops, and before a restart replaces the state. */
  readonly stopped?: (
    state: S,
    ctx: ActorContext<ProtocolOf<H>>,
  ) => void | Promise<void>;
  /** Runs, as a message, when a child stops. */
  readonly childStopped?: (
    state: S,
    notice: StopNotice,
    ctx: ActorContext<ProtocolOf<H>>,
  ) => void | Promise<void>;
  /** Runs, as a message, when a watched actor stops (see `ctx.watch`). */
  readonly terminated?: (
    state: S,
    notice: StopNotice,
    ctx: ActorContext<ProtocolOf<H>>,
  ) => void | Promise<void>;
  /**
   * Handles messages without a handler (which can only arrive when types are bypassed or from
   * outside the type system). Without it they are dead letters and asks reject with
   * `MessageNotHandledError`.
   */
  readonly unhandled?: (
    state: S,
    type: string,
    payload: unknown,
    ctx: ActorContext<ProtocolOf<H>>,
  ) => unknown;
  /** How this actor supervises its children (default: one-for-one, restart). */
  readonly supervision?: SupervisionStrategy;
  /** The mailbox (default: unbounded). */
  readonly mailbox?: MailboxOptions;
}

/** An actor type, made by {@linkcode defineActor}; spawn it with `system.spawn`. */
export interface ActorDefinition<A, S, H extends Handlers<S>>
  extends ActorDefinitionInput<A, S, H> {
  /** Brand: this object went through `defineActor`. */
  readonly kind: "troupe.actor";
}

/** The protocol of an actor definition, for typing refs: `ActorRef<ProtocolOfDefinition<typeof counter>>`. */
export type ProtocolOfDefinition<D> = D extends
  ActorDefinition<infer _A, infer _S, infer H> ? ProtocolOf<H>
  : never;

/** The start-argument type of an actor definition. */
export type ArgsOf<D> = D extends ActorDefinition<infer A, infer _S, infer _H>
  ? A
  : never;

const HOOKS = [
  "started",
  "stopped",
  "childStopped",
  "terminated",
  "unhandled",
] as const;

/**
 * Defines an actor type: its start arguments, state, handlers and hooks. The protocol
 * (message types, payloads, results) is inferred from the handlers.
 *
 * @param input The definition.
 * @returns A frozen, validated definition.
 * @throws {TypeError} When a field has the wrong type.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, defineActor } from "@troupe/troupe";
 * const counter = defineActor({
 *   name: "counter",
 *   init: (start: number) => ({ count: start }),
 *   handlers: {
 *     add: (state, by: number) => {
 *       state.count += by;
 *     },
 *     get: (state) => state.count,
 *   },
 * });
 * await using system = new ActorSystem();
 * const ref = await system.spawn(counter, 40);
 * ref.tell("add", 2);
 * console.log(await ref.ask("get")); // 42
 * ```
 */
export function defineActor<A, S, H extends Handlers<S>>(
  input: ActorDefinitionInput<A, S, H>,
): ActorDefinition<A, S, H> {
  if (typeof input !== "object" || input === null) {
    throw new TypeError(
      "Cannot define actor: the definition must be an object",
    );
  }
  if (typeof input.name !== "string" || input.name.length === 0) {
    throw new TypeError("Cannot define actor: name must be a non-empty string");
  }
  if (typeof input.init !== "function") {
    throw new TypeError(
      `Cannot define actor "${input.name}": init must be a function`,
    );
  }
  if (typeof input.handlers !== "object" || input.handlers === null) {
    throw new TypeError(
      `Cannot define actor "${input.name}": handlers must be an object`,
    );
  }
  for (const [type, handler] of Object.entries(input.handlers)) {
    if (typeof handler !== "function") {
      throw new TypeError(
        `Cannot define actor "${input.name}": handler "${type}" is not a function`,
      );
    }
  }
  for (const hook of HOOKS) {
    if (input[hook] !== undefined && typeof input[hook] !== "function") {
      throw new TypeError(
        `Cannot define actor "${input.name}": ${hook} must be a function`,
      );
    }
  }
  if (input.supervision !== undefined) checkStrategy(input.supervision);
  checkMailboxOptions(input.mailbox);
  return Object.freeze({
    ...input,
    handlers: Object.freeze({ ...input.handlers }),
    kind: "troupe.actor",
  });
}
