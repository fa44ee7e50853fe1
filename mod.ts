/**
 * Troupe: an actor runtime for TypeScript on Deno and Node, built on an Erlang-style backplane.
 *
 * - Actors: {@linkcode defineActor}, {@linkcode ActorSystem}, typed {@linkcode ActorRef}s with
 *   `tell` and `ask`, lifecycle hooks, supervision, timers, dead letters and metrics.
 * - The backplane underneath: {@linkcode Device}s that link to each other and are told, with
 *   the reason, when a linked device disconnects.
 * - Time: the {@linkcode Clock} every wait goes through; `ManualClock` and test probes are in
 *   `@troupe/troupe/testing`.
 * - Persistence: event-sourced actors ({@linkcode definePersistentActor}) with snapshots, on a
 *   provider contract; in-memory by default, Redis in `@troupe/troupe/redis`.
 * - Metrics: counters, gauges, histograms and Prometheus text.
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
 * const ref = await system.spawn(counter, 0);
 * ref.tell("add", 2);
 * console.log(await ref.ask("get")); // 2
 * ```
 *
 * @module
 */
export {
  cascadeFault,
  type Crash,
  describeFault,
  Device,
  DeviceDisconnectedError,
  type DeviceId,
  type DeviceMessage,
  type DeviceOptions,
  type Disconnected,
  DROPPED,
  type Err,
  err,
  errorFault,
  type Fault,
  isDeviceDisconnectedError,
  isDeviceId,
  isResult,
  Line,
  LinkMode,
  type Ok,
  ok,
  PROCESS_TAG,
  type Result,
  rootFault,
  type Shutdown,
  thrownFault,
} from "./src/backplane/mod.ts";
export {
  type ActorAddress,
  ActorContext,
  type ActorDefinition,
  type ActorDefinitionInput,
  type ActorErrorCode,
  type ActorLogger,
  type ActorRef,
  ActorStartError,
  ActorStoppedError,
  ActorSystem,
  type ActorSystemOptions,
  type ActorTimerOptions,
  ActorTimers,
  allForOne,
  type ArgsOf,
  type AskArgs,
  type AskOptions,
  AskTimeoutError,
  type BackoffOptions,
  type Codec,
  type DeadLetter,
  type DeadLetterListener,
  type DeadLetterReason,
  DeadLetters,
  defineActor,
  type Directive,
  DuplicateActorIdError,
  formatAddress,
  type Handler,
  type Handlers,
  isActorStartError,
  isActorStoppedError,
  isAskTimeoutError,
  isDuplicateActorIdError,
  isMailboxFullError,
  isMessageNotHandledError,
  isSupervisionEscalatedError,
  jsonCodec,
  MailboxFullError,
  type MailboxOptions,
  MessageNotHandledError,
  type MessageType,
  oneForOne,
  type OverflowPolicy,
  parseAddress,
  type PayloadOf,
  type Protocol,
  type ProtocolOf,
  type ProtocolOfDefinition,
  restForOne,
  type ResultOf,
  type SpawnOptions,
  type StopNotice,
  type StrategyOptions,
  SupervisionEscalatedError,
  type SupervisionStrategy,
  type TellArgs,
  type UnknownProtocol,
  WATCH_LINE,
  type WatchableRef,
  watchLineOf,
} from "./src/actor/mod.ts";
export {
  type Clock,
  type PeriodicTimerOptions,
  systemClock,
  type TimerFire,
  type TimerHandle,
  type TimerMode,
  TimerScheduler,
} from "./src/timer/mod.ts";
export {
  Counter,
  type CounterChild,
  type CounterSnapshot,
  DEFAULT_TIME_BUCKETS,
  Gauge,
  type GaugeChild,
  type GaugeSnapshot,
  Histogram,
  type HistogramChild,
  type HistogramOptions,
  type HistogramSampleSnapshot,
  type HistogramSnapshot,
  isValidLabelName,
  isValidMetricName,
  type Metric,
  type MetricKind,
  type MetricOptions,
  type MetricSnapshot,
  MetricsRegistry,
  type MetricsRegistryOptions,
  PROMETHEUS_CONTENT_TYPE,
  type SampleSnapshot,
} from "./src/metrics/mod.ts";
export {
  type AnyEventOf,
  type CompiledHandlers,
  CorruptRecordError,
  definePersistentActor,
  type EventAppliers,
  isCorruptRecordError,
  isJournalConflictError,
  isJournalUnavailableError,
  isPersistFailedError,
  isRecoveryError,
  type Journal,
  JournalConflictError,
  JournalUnavailableError,
  MemoryPersistence,
  type NewEvent,
  type PersistenceErrorCode,
  persistenceOf,
  type PersistenceProvider,
  type PersistentActorBuilder,
  type PersistentActorDefinition,
  type PersistentActorSpec,
  PersistentContext,
  type PersistentHandler,
  type PersistentHandlers,
  type PersistentHooks,
  type PersistentState,
  PersistFailedError,
  type PersistFailurePolicy,
  type ReadOptions,
  RecoveryError,
  type SnapshotStore,
  type StoredEvent,
  type StoredSnapshot,
  usePersistence,
} from "./src/persistence/mod.ts";
