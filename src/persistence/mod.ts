/**
 * Event-sourced persistence: persistent actors whose state changes only through events that
 * are appended to a journal before they are applied, recovered from the latest snapshot and the
 * events after it. Providers implement one written-down contract (see `journal.ts`): the
 * in-memory one is the default; Redis is in `@troupe/troupe/redis`.
 *
 * An appended event is as durable as the provider's storage: the in-memory provider loses
 * everything when the process exits, and the Redis provider keeps acknowledged events across a
 * Redis restart only when the server runs with `appendonly yes` (it checks this when it
 * connects; see `RedisPersistence`).
 *
 * Outages: while the journal does not answer, recovery waits for it with backoff and jitter
 * (`journalRetry`, up to 60 s by default) instead of failing, so a short storage outage does
 * not use up the supervisor's restart budget; corrupt data fails recovery at once. A failed
 * append rejects with `PersistFailedError` when its events were certainly not stored, and with
 * `PersistOutcomeUnknownError` when that is unknown (the reply was lost and the journal could
 * not be read): the actor then settles the question from the journal before its next message.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, definePersistentActor, MemoryPersistence, usePersistence } from "@troupe/troupe";
 * const counter = definePersistentActor({
 *   name: "counter",
 *   init: () => ({ n: 0 }),
 *   events: { added: (state, e: { by: number }) => void (state.n += e.by) },
 * }).handlers({
 *   add: (_s, by: number, ctx) => ctx.persist("added", { by }),
 *   get: (s) => s.n,
 * });
 * await using system = new ActorSystem();
 * usePersistence(system, new MemoryPersistence());
 * const ref = await system.spawn(counter, undefined, { id: "c" });
 * await ref.ask("add", 2);
 * console.log(await ref.ask("get")); // 2
 * ```
 *
 * @module
 */
export {
  CorruptRecordError,
  DurabilityError,
  isCorruptRecordError,
  isDurabilityError,
  isJournalConflictError,
  isJournalQueueFullError,
  isJournalUnavailableError,
  isPersistFailedError,
  isPersistOutcomeUnknownError,
  isRecoveryError,
  JournalConflictError,
  JournalQueueFullError,
  JournalUnavailableError,
  type JournalUnavailableErrorOptions,
  type PersistenceErrorCode,
  PersistFailedError,
  PersistOutcomeUnknownError,
  type PersistOutcomeUnknownErrorOptions,
  RecoveryError,
} from "./errors.ts";
export { persistenceOf, usePersistence } from "./extension.ts";
export type {
  Journal,
  NewEvent,
  PersistenceProvider,
  ReadOptions,
  SnapshotStore,
  StoredEvent,
  StoredSnapshot,
} from "./journal.ts";
export { MemoryPersistence } from "./memory.ts";
export {
  type AnyEventOf,
  type CompiledHandlers,
  definePersistentActor,
  type EventAppliers,
  type JournalRetryPolicy,
  type PersistentActorBuilder,
  type PersistentActorDefinition,
  type PersistentActorSpec,
  PersistentContext,
  type PersistentHandler,
  type PersistentHandlers,
  type PersistentHooks,
  type PersistentState,
  type PersistFailurePolicy,
} from "./persistent_actor.ts";
