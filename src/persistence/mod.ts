/**
 * Event-sourced persistence: persistent actors whose state changes only through events that
 * are durably appended before they are applied, recovered from the latest snapshot and the
 * events after it. Providers implement one written-down contract (see `journal.ts`): the
 * in-memory one is the default; Redis is in `@troupe/troupe/redis`.
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
