import type {
  ActorContext,
  ActorDefinition,
  ActorRef,
  ActorSystem,
  ActorTimers,
  BackoffOptions,
  Codec,
  MailboxOptions,
  ProtocolOf,
  StopNotice,
  SupervisionStrategy,
  UnknownProtocol,
} from "../actor/mod.ts";
import { jsonCodec } from "../actor/mod.ts";
import type { PersistenceProvider } from "./journal.ts";
import {
  type Internal,
  SNAPSHOT_TYPE,
  type Spec,
} from "./_persistent_internal.ts";
import {
  enqueue,
  persistEvents,
  saveSnapshot,
  settleOutcome,
} from "./_persist.ts";
import { compile } from "./_compile.ts";

/**
 * Event appliers by event type: apply an event to the state (mutate it, or return a new one).
 * `EV` maps each event type name to its event type.
 */
export type EventAppliers<S, EV> = {
  readonly [K in keyof EV]: (state: S, event: EV[K]) => S | void;
};

/** One event of any type of the event map `EV`, as `{ type, event }`. */
export type AnyEventOf<EV> = {
  [K in keyof EV & string]: { readonly type: K; readonly event: EV[K] };
}[keyof EV & string];

/** A handler of a persistent actor: like an actor handler, with a {@linkcode PersistentContext}. */
export type PersistentHandler<S, EV> = (
  state: S,
  payload: never,
  ctx: PersistentContext<S, EV, UnknownProtocol>,
) => unknown;

/** The handlers of a persistent actor. */
export type PersistentHandlers<S, EV> = Record<
  string,
  PersistentHandler<S, EV>
>;

/** What happens when events cannot be persisted. */
export interface PersistFailurePolicy {
  /** Retries after the first attempt (default 3). Conflicts with another writer are never retried. */
  readonly maxRetries?: number;
  /** Delay between attempts (default 100 ms doubling to 2 s). */
  readonly backoff?: BackoffOptions;
  /**
   * After the last attempt, `persist()` rejects with `PersistFailedError` (or
   * `PersistOutcomeUnknownError` when the events may have been stored) and then:
   * - `"escalate"` (default): the handler fails when it finishes (even if it caught the
   *   error), so the supervisor decides; a restart recovers from the journal;
   * - `"stop"`: the actor stops when the handler finishes;
   * - `"reject"`: nothing more; the handler decides. After an unknown outcome the actor learns
   *   from the journal whether the events were stored before its next message (waiting for it
   *   as `journalRetry` allows); should that fail, that message fails and the supervisor
   *   decides, whatever this policy says.
   */
  readonly then?: "escalate" | "stop" | "reject";
}

/**
 * How long a persistent actor waits for a journal that does not answer (it rejects with
 * `JournalUnavailableError`) before it gives up: while it recovers, and while it settles an
 * append whose outcome is unknown. Attempts are spaced by exponential backoff with jitter: the
 * n-th delay is a random value between half and all of `min(maxDelayMs, minDelayMs * 2^n)`.
 * Stored data that cannot be read (`CorruptRecordError`, missing events, a failing applier) is
 * never retried.
 */
export interface JournalRetryPolicy {
  /** The first delay, in milliseconds (default 100). */
  readonly minDelayMs?: number;
  /** The largest delay, in milliseconds (default 5000). */
  readonly maxDelayMs?: number;
  /**
   * How long to keep trying in total, in milliseconds, from the first failure (default 60000;
   * 0: do not retry). When it is used up, the last failure stands: recovery fails with
   * `RecoveryError` and the supervisor decides.
   */
  readonly budgetMs?: number;
}

/** What {@linkcode definePersistentActor} takes: everything but the handlers and hooks. */
export interface PersistentActorSpec<A, S, EV> {
  /** The actor type's name. */
  readonly name: string;
  /** The persistence id of an actor (default: its path, e.g. `"accounts/42"`). */
  readonly persistenceId?: (args: A, path: string) => string;
  /** The state before any event. */
  readonly init: (args: A) => S;
  /** How each event type changes the state; the keys are the event type names. */
  readonly events: EventAppliers<S, EV>;
  /** Encodes events and snapshots (default: JSON). */
  readonly codec?: Codec;
  /** The current schema version of each event type (default 1). */
  readonly eventVersions?: { readonly [K in keyof NoInfer<EV>]?: number };
  /** Migrates an event stored with another version than the current one, on read. */
  readonly upcast?: (
    event: { type: string; version: number; data: unknown },
  ) => { type: string; data: unknown };
  /** The schema version of snapshots (default 1). */
  readonly snapshotVersion?: number;
  /** Migrates a snapshot stored with another version, on read. */
  readonly upcastSnapshot?: (version: number, data: unknown) => S;
  /** Take a snapshot after every this many events (default: only when asked). */
  readonly snapshotEvery?: number;
  /** How many snapshots to keep (default 2). */
  readonly keepSnapshots?: number;
  /**
   * Delete the events that the kept snapshots make unnecessary, after each snapshot (default
   * false: events are kept for good): the events up to the oldest of the `keepSnapshots` kept
   * snapshots, so that each of them can still be recovered with the events after it (with
   * `keepSnapshots: 1`, up to the new snapshot itself). After a recovery, deleting starts once
   * the actor has saved enough snapshots to know every kept one. Sequence numbers are never
   * reused, and a failed deletion is retried with the next snapshot. The events are gone for
   * any other reader of the stream too.
   */
  readonly deleteEventsOnSnapshot?: boolean;
  /** What happens when events cannot be persisted. */
  readonly persistFailure?: PersistFailurePolicy;
  /**
   * How long to wait for an unavailable journal while recovering (and while settling an append
   * whose outcome is unknown), so that a short storage outage does not use up the supervisor's
   * restart budget. Default: backoff from 100 ms to 5 s, for up to 60 s.
   */
  readonly journalRetry?: JournalRetryPolicy;
  /** A provider for this actor type, instead of the system's (see `usePersistence`). */
  readonly provider?: PersistenceProvider;
  /** How this actor supervises its children. */
  readonly supervision?: SupervisionStrategy;
  /** The mailbox. */
  readonly mailbox?: MailboxOptions;
}

/** The lifecycle hooks of a persistent actor. */
export interface PersistentHooks<S, EV, P> {
  /** Runs after recovery, before the first message. */
  readonly recovered?: (
    state: S,
    ctx: PersistentContext<S, EV, P>,
  ) => void | Promise<void>;
  /** Runs when the actor stops or before a restart. */
  readonly stopped?: (
    state: S,
    ctx: PersistentContext<S, EV, P>,
  ) => void | Promise<void>;
  /** Runs, as a message, when a child stops. */
  readonly childStopped?: (
    state: S,
    notice: StopNotice,
    ctx: PersistentContext<S, EV, P>,
  ) => void | Promise<void>;
  /** Runs, as a message, when a watched actor stops. */
  readonly terminated?: (
    state: S,
    notice: StopNotice,
    ctx: PersistentContext<S, EV, P>,
  ) => void | Promise<void>;
}

/**
 * The first step of {@linkcode definePersistentActor}: state and events are fixed, so the
 * handlers given to {@linkcode PersistentActorBuilder.handlers} get a fully typed `ctx.persist`.
 */
export interface PersistentActorBuilder<A, S, EV> {
  /**
   * Completes the definition with message handlers (and optional hooks).
   *
   * @param handlers The message handlers; they persist events with `ctx.persist()`.
   * @param hooks Lifecycle hooks.
   * @returns An actor definition to spawn with `system.spawn`.
   */
  handlers<H extends PersistentHandlers<S, EV>>(
    handlers: H,
    hooks?: PersistentHooks<S, EV, ProtocolOf<H>>,
  ): PersistentActorDefinition<A, H>;
}

/**
 * The handler map an ordinary actor definition sees for persistent handlers `H`: the same
 * protocol, over the internal state.
 */
export type CompiledHandlers<H> = {
  [K in keyof H]: H[K] extends (state: never, ...rest: infer A) => infer R
    ? (A extends [infer P, ...unknown[]]
      ? (state: PersistentState, payload: P) => R
      : (state: PersistentState) => R)
    : never;
};

/** The internal state of a persistent actor (opaque). */
export interface PersistentState {
  /** Brand. */
  readonly persistent: true;
}

/** A persistent actor type: spawn it with `system.spawn` like any actor. */
export type PersistentActorDefinition<A, H> = ActorDefinition<
  A,
  PersistentState,
  CompiledHandlers<H>
>;

/**
 * The context of a persistent actor's handlers and hooks: persist events, take snapshots, and
 * everything an actor context offers.
 */
export class PersistentContext<S, EV, P> {
  #actor: ActorContext<P>;
  #internal: Internal;
  #spec: Spec;

  /** @internal Made by the runtime. */
  constructor(actor: ActorContext<P>, internal: Internal, spec: Spec) {
    this.#actor = actor;
    this.#internal = internal;
    this.#spec = spec;
  }

  /** The current state (events persisted so far are applied). */
  get state(): S {
    return this.#internal.user as S;
  }

  /** The persistence id. */
  get persistenceId(): string {
    return this.#internal.pid;
  }

  /** The sequence number of the last event persisted or recovered (0 when none). */
  get lastSequenceNr(): number {
    return this.#internal.seq;
  }

  /** The underlying actor context. */
  get actor(): ActorContext<P> {
    return this.#actor;
  }

  /** This actor's ref. */
  get self(): ActorRef<P> {
    return this.#actor.self;
  }

  /** The actor system. */
  get system(): ActorSystem {
    return this.#actor.system;
  }

  /** This actor's timers. */
  get timers(): ActorTimers<P> {
    return this.#actor.timers;
  }

  /** Stops this actor after the current message. */
  stop(): void {
    this.#actor.stop();
  }

  /**
   * Persists one event: resolves once the journal has durably appended it and the event has
   * been applied to the state. On failure the state is unchanged and it rejects with
   * `PersistFailedError` (see the failure policy). When the journal cannot tell whether the
   * event was stored (the reply was lost and the journal could not be read), it rejects with
   * `PersistOutcomeUnknownError` instead: the event may be durable. The actor then settles the
   * question from the journal before its next message (applying the event if it was stored).
   * Calls are applied in order; the actor handles no other message until the events of the
   * current one are persisted.
   *
   * @param type The event type.
   * @param event The event.
   * @throws {PersistFailedError} When the events were certainly not persisted.
   * @throws {PersistOutcomeUnknownError} When it is unknown whether they were.
   * @throws {TypeError} When `type` has no applier or the event cannot be encoded.
   */
  persist<K extends keyof EV & string>(type: K, event: EV[K]): Promise<void> {
    return persistEvents(this.#internal, this.#spec, this.#actor, [{
      type,
      event,
    }]);
  }

  /**
   * Persists several events atomically (all or none), in order.
   *
   * @param events The events.
   * @throws {PersistFailedError} When the events were certainly not persisted.
   * @throws {PersistOutcomeUnknownError} When it is unknown whether they were.
   * @throws {TypeError} When an event type has no applier or an event cannot be encoded.
   */
  persistAll(events: readonly AnyEventOf<EV>[]): Promise<void> {
    return persistEvents(
      this.#internal,
      this.#spec,
      this.#actor,
      events as readonly { type: string; event: unknown }[],
    );
  }

  /**
   * Saves a snapshot of the current state (after the events persisted so far), then prunes
   * old snapshots. Waits for persists in flight first.
   *
   * @throws {JournalUnavailableError} When the snapshot could not be saved.
   */
  snapshot(): Promise<void> {
    const internal = this.#internal;
    const spec = this.#spec;
    const run = internal.chain.then(async () => {
      if (internal.unsettled !== undefined) await settleOutcome(internal, spec);
      await saveSnapshot(internal, spec);
    });
    enqueue(internal, run);
    return run;
  }
}

function checkPositiveInt(
  name: string,
  value: number | undefined,
  min: number,
): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min)) {
    throw new RangeError(
      `Invalid ${name} ${String(value)}: must be an integer ≥ ${min}`,
    );
  }
}

/**
 * Defines an event-sourced actor: its state changes only through events, which are persisted
 * before they are applied. On start (and restart) it recovers: the latest snapshot, then every
 * later event in order, then the `recovered` hook; messages sent meanwhile wait. While the
 * journal does not answer, recovery waits for it (see `journalRetry`: by default up to 60 s,
 * with backoff), so a short storage outage neither fails the start nor uses up the
 * supervisor's restart budget; corrupt stored data fails recovery at once.
 *
 * @param input The definition.
 * @returns An actor definition to spawn with `system.spawn`.
 * @throws {TypeError} When a field has the wrong type.
 * @throws {RangeError} When a number is out of range.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, definePersistentActor } from "@troupe/troupe";
 * const account = definePersistentActor({
 *   name: "account",
 *   init: () => ({ balance: 0 }),
 *   events: {
 *     deposited: (state, e: { amount: number }) => {
 *       state.balance += e.amount;
 *     },
 *   },
 * }).handlers({
 *   deposit: async (state, amount: number, ctx) => {
 *     await ctx.persist("deposited", { amount });
 *     return state.balance;
 *   },
 *   balance: (state) => state.balance,
 * });
 * await using system = new ActorSystem();
 * const ref = await system.spawn(account, undefined, { id: "acct-1" });
 * await ref.ask("deposit", 10);
 * await ref.stop();
 * const again = await system.spawn(account, undefined, { id: "acct-1" });
 * console.log(await again.ask("balance")); // 10
 * ```
 */
export function definePersistentActor<A, S, EV>(
  input: PersistentActorSpec<A, S, EV>,
): PersistentActorBuilder<A, S, EV> {
  if (typeof input !== "object" || input === null) {
    throw new TypeError(
      "Cannot define persistent actor: the definition must be an object",
    );
  }
  const name = input.name;
  if (typeof input.init !== "function") {
    throw new TypeError(
      `Cannot define persistent actor "${name}": init must be a function`,
    );
  }
  if (typeof input.events !== "object" || input.events === null) {
    throw new TypeError(
      `Cannot define persistent actor "${name}": events must be an object`,
    );
  }
  for (const [type, apply] of Object.entries(input.events)) {
    if (typeof apply !== "function") {
      throw new TypeError(
        `Cannot define persistent actor "${name}": event applier "${type}" is not a function`,
      );
    }
    if (type === SNAPSHOT_TYPE) {
      throw new TypeError(
        `Cannot define persistent actor "${name}": "${SNAPSHOT_TYPE}" is reserved`,
      );
    }
  }
  if (
    input.persistenceId !== undefined &&
    typeof input.persistenceId !== "function"
  ) {
    throw new TypeError(
      `Cannot define persistent actor "${name}": persistenceId must be a function`,
    );
  }
  const codec = input.codec ?? jsonCodec;
  if (
    typeof codec.encode !== "function" || typeof codec.decode !== "function"
  ) {
    throw new TypeError(
      `Cannot define persistent actor "${name}": codec needs encode and decode`,
    );
  }
  checkPositiveInt("snapshotEvery", input.snapshotEvery, 1);
  checkPositiveInt("keepSnapshots", input.keepSnapshots, 1);
  checkPositiveInt("snapshotVersion", input.snapshotVersion, 1);
  if (
    input.deleteEventsOnSnapshot !== undefined &&
    typeof input.deleteEventsOnSnapshot !== "boolean"
  ) {
    throw new TypeError(
      `Cannot define persistent actor "${name}": deleteEventsOnSnapshot must be a boolean`,
    );
  }
  checkPositiveInt(
    "persistFailure.maxRetries",
    input.persistFailure?.maxRetries,
    0,
  );
  const journalRetry = input.journalRetry ?? {};
  if (typeof journalRetry !== "object" || journalRetry === null) {
    throw new TypeError(
      `Cannot define persistent actor "${name}": journalRetry must be an object`,
    );
  }
  const retry = {
    minDelayMs: journalRetry.minDelayMs ?? 100,
    maxDelayMs: journalRetry.maxDelayMs ?? 5000,
    budgetMs: journalRetry.budgetMs ?? 60_000,
  };
  for (const [key, value] of Object.entries(retry)) {
    if (
      typeof value !== "number" || !Number.isFinite(value) ||
      value < (key === "budgetMs" ? 0 : 1)
    ) {
      throw new RangeError(
        `Invalid journalRetry.${key} ${
          String(value)
        }: must be a finite number ≥ ${key === "budgetMs" ? 0 : 1}`,
      );
    }
  }
  if (retry.maxDelayMs < retry.minDelayMs) {
    throw new RangeError(
      "Invalid journalRetry.maxDelayMs: must be ≥ journalRetry.minDelayMs",
    );
  }
  for (const [type, version] of Object.entries(input.eventVersions ?? {})) {
    checkPositiveInt(`eventVersions.${type}`, version as number | undefined, 1);
  }
  const then = input.persistFailure?.then ?? "escalate";
  if (then !== "escalate" && then !== "stop" && then !== "reject") {
    throw new TypeError(
      `Cannot define persistent actor "${name}": persistFailure.then must be escalate, stop or reject`,
    );
  }
  const spec: Spec = {
    name,
    persistenceId: input.persistenceId as Spec["persistenceId"],
    init: input.init as Spec["init"],
    events: input.events as unknown as Spec["events"],
    codec,
    eventVersions: (input.eventVersions ?? {}) as Record<
      string,
      number | undefined
    >,
    upcast: input.upcast,
    snapshotVersion: input.snapshotVersion ?? 1,
    upcastSnapshot: input.upcastSnapshot as Spec["upcastSnapshot"],
    snapshotEvery: input.snapshotEvery ?? 0,
    keepSnapshots: input.keepSnapshots ?? 2,
    deleteEventsOnSnapshot: input.deleteEventsOnSnapshot ?? false,
    maxRetries: input.persistFailure?.maxRetries ?? 3,
    backoff: input.persistFailure?.backoff ?? { minMs: 100, maxMs: 2000 },
    then,
    journalRetry: retry,
    provider: input.provider,
  };

  return {
    handlers: <H extends PersistentHandlers<S, EV>>(
      handlers: H,
      hooks: PersistentHooks<S, EV, ProtocolOf<H>> = {},
    ): PersistentActorDefinition<A, H> =>
      compile(
        spec,
        input,
        handlers,
        hooks as PersistentHooks<unknown, unknown, unknown>,
      ),
  };
}
