/**
 * The actor runtime: typed actors with ask and tell, lifecycle hooks, supervision, timers,
 * dead letters and metrics, on top of the backplane (every actor owns a `Device`; watching,
 * death notices and the parent-child tie are backplane links).
 *
 * Scheduling: actors run on the microtask queue, round robin, each for up to 256 messages
 * at a time. So that a message storm cannot starve timers and I/O (heartbeats, socket reads),
 * the scheduler keeps a time slice: once actor work has kept the event loop from running a
 * macrotask for more than 20 ms, the rest of the work continues in a macrotask, after the
 * timers and I/O callbacks that are due. Every path counts: messages sent from handlers, and
 * actors woken by settled promises between scheduler turns. The clock is read once per 1,024
 * messages handled, so a handler that blocks for long delays the yield by as much.
 *
 * Metrics: message counts are exact; mailbox wait and processing time are timed for every
 * 256th message enqueued to each actor (`metricsSampleEvery`), however many are queued.
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
 * const ref = await system.spawn(counter, 0, { id: "counter" });
 * ref.tell("add", 5);
 * console.log(await ref.ask("get")); // 5
 * ```
 *
 * @module
 */
export { type ActorAddress, formatAddress, parseAddress } from "./address.ts";
export { type Codec, jsonCodec } from "./codec.ts";
export {
  ActorContext,
  type ActorTimerOptions,
  ActorTimers,
} from "./context.ts";
export {
  type DeadLetter,
  type DeadLetterListener,
  type DeadLetterReason,
  DeadLetters,
} from "./dead_letters.ts";
export {
  type ActorDefinition,
  type ActorDefinitionInput,
  type ArgsOf,
  defineActor,
  type Handler,
  type Handlers,
  type ProtocolOfDefinition,
  type StopNotice,
} from "./definition.ts";
export {
  type ActorErrorCode,
  ActorStartError,
  ActorStoppedError,
  AskTimeoutError,
  DuplicateActorIdError,
  isActorStartError,
  isActorStoppedError,
  isAskTimeoutError,
  isDuplicateActorIdError,
  isMailboxFullError,
  isMessageNotHandledError,
  isSupervisionEscalatedError,
  MailboxFullError,
  MessageNotHandledError,
  SupervisionEscalatedError,
} from "./errors.ts";
export type { MailboxOptions, OverflowPolicy } from "./mailbox.ts";
export type {
  AskArgs,
  AskOptions,
  MessageType,
  PayloadOf,
  Protocol,
  ProtocolOf,
  ResultOf,
  TellArgs,
  UnknownProtocol,
} from "./protocol.ts";
export {
  type ActorRef,
  WATCH_LINE,
  type WatchableRef,
  watchLineOf,
} from "./ref.ts";
export {
  allForOne,
  type BackoffOptions,
  type Directive,
  oneForOne,
  restForOne,
  type StrategyOptions,
  type SupervisionStrategy,
} from "./supervision.ts";
export type { MessageTracer, TracedMessage } from "./tracing.ts";
export {
  type ActorLogger,
  type ActorSummary,
  ActorSystem,
  type ActorSystemOptions,
  type SpawnOptions,
} from "./system.ts";
