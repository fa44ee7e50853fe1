import {
  type ActorContext,
  type ActorDefinition,
  type ActorRef,
  type ActorSystem,
  type ActorTimers,
  type BackoffOptions,
  type Codec,
  defineActor,
  type Handlers,
  jsonCodec,
  type MailboxOptions,
  type ProtocolOf,
  type StopNotice,
  type SupervisionStrategy,
  type UnknownProtocol,
} from "../actor/mod.ts";
import type { Clock } from "../timer/mod.ts";
import {
  isCorruptRecordError,
  isJournalConflictError,
  isJournalUnavailableError,
  isRecoveryError,
  PersistFailedError,
  PersistOutcomeUnknownError,
  RecoveryError,
} from "./errors.ts";
import { persistenceOf } from "./extension.ts";
import type { NewEvent, PersistenceProvider, StoredEvent } from "./journal.ts";

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

interface Spec {
  readonly name: string;
  readonly persistenceId?: (args: unknown, path: string) => string;
  readonly init: (args: unknown) => unknown;
  readonly events: Record<string, (state: unknown, event: unknown) => unknown>;
  readonly codec: Codec;
  readonly eventVersions: Record<string, number | undefined>;
  readonly upcast?: (
    event: { type: string; version: number; data: unknown },
  ) => { type: string; data: unknown };
  readonly snapshotVersion: number;
  readonly upcastSnapshot?: (version: number, data: unknown) => unknown;
  readonly snapshotEvery: number;
  readonly keepSnapshots: number;
  readonly maxRetries: number;
  readonly backoff: BackoffOptions;
  readonly then: "escalate" | "stop" | "reject";
  readonly journalRetry: Required<JournalRetryPolicy>;
  readonly provider?: PersistenceProvider;
}

/** An append whose outcome is unknown, to settle from the journal before going on. */
interface Unsettled {
  readonly expected: number;
  readonly encoded: readonly NewEvent[];
  readonly events: readonly { type: string; event: unknown }[];
}

interface Internal extends PersistentState {
  readonly args: unknown;
  user: unknown;
  pid: string;
  seq: number;
  lastSnapshotSeq: number;
  provider: PersistenceProvider | null;
  chain: Promise<void>;
  /**
   * Persists and snapshots on the chain that have not finished. At 0 the chain is idle, so a
   * persist may start its append at once instead of a turn later behind `chain`.
   */
  busy: number;
  /** Takes one off `busy` (one function per actor, not a closure per persist). */
  readonly release: () => void;
  persistsStarted: number;
  failure: PersistFailedError | PersistOutcomeUnknownError | undefined;
  /** Set while the outcome of an append is unknown. */
  unsettled: Unsettled | undefined;
  clock: Clock | null;
  /** Aborted when this incarnation stops or restarts: journal waits give up then. */
  signal: AbortSignal | null;
  pctx: PersistentContext<unknown, unknown, UnknownProtocol> | null;
}

const READ_PAGE = 10_000;
const SNAPSHOT_TYPE = "$snapshot";

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

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

function persistEvents(
  internal: Internal,
  spec: Spec,
  actor: ActorContext<unknown>,
  events: readonly { type: string; event: unknown }[],
): Promise<void> {
  let encoded: NewEvent[];
  try {
    if (!Array.isArray(events) || events.length === 0) {
      throw new TypeError("Cannot persist: give at least one event");
    }
    const timestamp = Date.now();
    encoded = [];
    for (let i = 0; i < events.length; i++) {
      const { type, event } = events[i];
      if (typeof spec.events[type] !== "function") {
        throw new TypeError(
          `Cannot persist event "${type}": actor type "${spec.name}" has no applier for it`,
        );
      }
      encoded.push({
        type,
        version: spec.eventVersions[type] ?? 1,
        data: spec.codec.encode(type, event),
        timestamp,
      });
    }
  } catch (error) {
    return Promise.reject(error);
  }
  internal.persistsStarted++;
  // With nothing before it on the chain, the append goes out now, in the handler's turn.
  const run = internal.busy === 0
    ? appendWithPolicy(internal, spec, actor, encoded, events)
    : internal.chain.then(() =>
      appendWithPolicy(internal, spec, actor, encoded, events)
    );
  // The chain's handlers also mark `run` handled: a handler that does not await persist()
  // still learns of a failure through the policy.
  enqueue(internal, run);
  return run;
}

/** Puts `run` at the end of the chain. */
function enqueue(internal: Internal, run: Promise<void>): void {
  internal.busy++;
  internal.chain = run.then(internal.release, internal.release);
}

/**
 * Appends `encoded` after the actor's last sequence number, retrying by the policy, and applies
 * the events once stored. The usual case, a first attempt that succeeds, takes no async frame:
 * only a failed first attempt goes on in {@linkcode retryAppend}.
 */
function appendWithPolicy(
  internal: Internal,
  spec: Spec,
  actor: ActorContext<unknown>,
  encoded: NewEvent[],
  events: readonly { type: string; event: unknown }[],
): Promise<void> {
  if (internal.unsettled !== undefined || internal.signal?.aborted) {
    return retryAppend(internal, spec, actor, encoded, events, undefined);
  }
  const expected = internal.seq;
  let appending: Promise<void>;
  try {
    appending = internal.provider!.journal.append(
      internal.pid,
      expected,
      encoded,
    );
  } catch (error) {
    // A provider that throws instead of rejecting: the same as a failed first attempt.
    return retryAppend(internal, spec, actor, encoded, events, { error });
  }
  return appending.then(
    () => appended(internal, spec, expected, encoded.length, events),
    (error: unknown) =>
      retryAppend(internal, spec, actor, encoded, events, { error }),
  );
}

/** Applies appended events, then takes the automatic snapshot when one is due. */
function appended(
  internal: Internal,
  spec: Spec,
  expected: number,
  count: number,
  events: readonly { type: string; event: unknown }[],
): Promise<void> | undefined {
  applyPersisted(internal, spec, expected, count, events);
  if (
    spec.snapshotEvery > 0 &&
    internal.seq - internal.lastSnapshotSeq >= spec.snapshotEvery
  ) {
    // The events are durable; a failed automatic snapshot is retried at the next interval.
    return saveSnapshot(internal, spec).catch(() => {});
  }
  return undefined;
}

/**
 * The policy's attempts at an append: all of them, or those after a failed first attempt
 * (`first`, made by {@linkcode appendWithPolicy} at the actor's current sequence number).
 */
async function retryAppend(
  internal: Internal,
  spec: Spec,
  actor: ActorContext<unknown>,
  encoded: NewEvent[],
  events: readonly { type: string; event: unknown }[],
  first: { readonly error: unknown } | undefined,
): Promise<void> {
  if (first === undefined && internal.unsettled !== undefined) {
    try {
      await settleOutcome(internal, spec);
    } catch (error) {
      // Nothing of this call was sent; the actor fails whatever the policy (see settleOutcome).
      throw new PersistFailedError(internal.pid, 0, error);
    }
  }
  const journal = internal.provider!.journal;
  const expected = internal.seq;
  let lastError: unknown;
  let attempts = 0;
  // Whether an attempt failed in a way that leaves open whether it was stored.
  let maybeStored = false;
  const signal = internal.signal;
  let start = 0;
  if (first !== undefined) {
    lastError = first.error;
    attempts = 1;
    maybeStored = mayHaveBeenStored(first.error);
    // A conflict is final: no retry.
    start = isJournalConflictError(first.error) ? spec.maxRetries + 1 : 1;
  }
  for (let attempt = start; attempt <= spec.maxRetries; attempt++) {
    if (attempt > 0) {
      const { minMs, maxMs, jitter = 0 } = spec.backoff;
      const delay = Math.min(maxMs, minMs * 2 ** (attempt - 1)) *
        (1 + jitter * Math.random());
      await pause(actor.system.clock, delay, signal, false);
    }
    // An incarnation that was stopped or restarted (its handler abandoned) writes nothing more:
    // the next incarnation has recovered, or is recovering, from the journal as it is.
    if (signal?.aborted) {
      if (attempt === 0) lastError = signal.reason;
      break;
    }
    attempts++;
    try {
      await journal.append(internal.pid, expected, encoded);
      lastError = undefined;
      break;
    } catch (error) {
      lastError = error;
      if (isJournalConflictError(error)) break;
      if (mayHaveBeenStored(error)) maybeStored = true;
    }
  }
  if (lastError !== undefined && maybeStored) {
    // An earlier attempt may have been stored although its reply was lost: ask the journal.
    let stored: boolean | undefined;
    try {
      stored = await storedAfter(internal, expected, encoded);
    } catch {
      stored = undefined;
    }
    if (stored === true) lastError = undefined;
    else if (stored === undefined) {
      const unknown = new PersistOutcomeUnknownError(internal.pid, {
        fromSequenceNr: expected + 1,
        count: encoded.length,
        attempts,
        cause: lastError,
      });
      internal.unsettled = { expected, encoded, events };
      if (spec.then !== "reject") internal.failure ??= unknown;
      throw unknown;
    }
  }
  if (lastError !== undefined) {
    const failure = new PersistFailedError(internal.pid, attempts, lastError);
    if (spec.then !== "reject") internal.failure ??= failure;
    throw failure;
  }
  await appended(internal, spec, expected, encoded.length, events);
}

/** Whether a failed append may have been stored all the same (its reply was lost). */
function mayHaveBeenStored(error: unknown): boolean {
  return isJournalUnavailableError(error) && !error.notApplied;
}

function applyPersisted(
  internal: Internal,
  spec: Spec,
  expected: number,
  count: number,
  events: readonly { type: string; event: unknown }[],
): void {
  let state = internal.user;
  for (const { type, event } of events) {
    const next = spec.events[type](state, event);
    if (next !== undefined) state = next;
  }
  internal.user = state;
  internal.seq = expected + count;
}

/**
 * Whether the journal holds exactly `encoded` right after `expected`. Rejects when the journal
 * cannot be read.
 */
async function storedAfter(
  internal: Internal,
  expected: number,
  encoded: readonly NewEvent[],
): Promise<boolean> {
  const journal = internal.provider!.journal;
  if (await journal.lastSequenceNr(internal.pid) === expected) return false;
  const stored = await journal.read(internal.pid, expected + 1, {
    max: encoded.length,
  });
  return stored.length === encoded.length &&
    stored.every((s, i) =>
      s.sequenceNr === expected + 1 + i && s.type === encoded[i].type &&
      s.timestamp === encoded[i].timestamp &&
      s.data.length === encoded[i].data.length &&
      s.data.every((b, j) => b === encoded[i].data[j])
    );
}

/**
 * Settles an append whose outcome was unknown: waits for the journal (see JournalRetryPolicy)
 * and applies the events if they were stored, so that state and journal agree. When the journal
 * does not answer within the budget it rejects, and the message being handled fails whatever
 * the failure policy: the state might disagree with the journal, and a restart recovers it.
 */
async function settleOutcome(internal: Internal, spec: Spec): Promise<void> {
  const unsettled = internal.unsettled!;
  const stored = await withJournalRetry(
    spec,
    internal.clock!,
    internal.signal,
    () => storedAfter(internal, unsettled.expected, unsettled.encoded),
    isJournalUnavailableError,
  );
  if (internal.unsettled !== unsettled) return;
  internal.unsettled = undefined;
  // If not, nothing of it was stored: should another writer have appended instead, the next
  // append conflicts and the failure policy applies.
  if (stored) {
    applyPersisted(
      internal,
      spec,
      unsettled.expected,
      unsettled.encoded.length,
      unsettled.events,
    );
  }
}

/** Waits `delayMs` on `clock`, or less when `signal` aborts first. */
function pause(
  clock: Clock,
  delayMs: number,
  signal: AbortSignal | null,
  unref: boolean,
): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const wake = (): void => {
      clock.clearTimer(timer);
      resolve();
    };
    const timer = clock.setTimer(() => {
      signal?.removeEventListener("abort", wake);
      resolve();
    }, delayMs);
    if (unref) timer.unref();
    signal?.addEventListener("abort", wake, { once: true });
  });
}

/**
 * Runs `work` until it succeeds, retrying failures that `retryable` accepts with backoff and
 * jitter, for at most the policy's budget; then the last failure stands.
 */
async function withJournalRetry<T>(
  spec: Spec,
  clock: Clock,
  signal: AbortSignal | null,
  work: () => Promise<T>,
  retryable: (error: unknown) => boolean,
): Promise<T> {
  const { minDelayMs, maxDelayMs, budgetMs } = spec.journalRetry;
  let deadline = -1; // the budget runs from the first failure
  for (let attempt = 0;; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (deadline < 0) deadline = clock.now() + budgetMs;
      const left = deadline - clock.now();
      if (!retryable(error) || left <= 0) throw error;
      // A stop or restart of the actor ends the wait: it must not sit out the budget.
      if (signal?.aborted) throw signal.reason;
      const full = Math.min(
        maxDelayMs,
        minDelayMs * 2 ** Math.min(attempt, 30),
      );
      const delay = Math.min(left, full / 2 + Math.random() * full / 2);
      // Waiting for the journal never keeps the process alive by itself (e.g. after a
      // shutdown while a restarting actor still waits).
      await pause(clock, delay, signal, true);
      if (signal?.aborted) throw signal.reason;
    }
  }
}

async function saveSnapshot(internal: Internal, spec: Spec): Promise<void> {
  const provider = internal.provider!;
  await provider.snapshots.save({
    persistenceId: internal.pid,
    sequenceNr: internal.seq,
    type: SNAPSHOT_TYPE,
    version: spec.snapshotVersion,
    data: spec.codec.encode(SNAPSHOT_TYPE, internal.user),
    timestamp: Date.now(),
  });
  internal.lastSnapshotSeq = internal.seq;
  await provider.snapshots.keepLatest(internal.pid, spec.keepSnapshots);
}

async function recover(internal: Internal, spec: Spec): Promise<void> {
  const { journal, snapshots } = internal.provider!;
  const pid = internal.pid;
  let seq = 0;
  let state: unknown;
  let snapshot;
  try {
    snapshot = await snapshots.loadLatest(pid);
  } catch (error) {
    throw new RecoveryError(pid, failedAt(error, 0), error);
  }
  if (snapshot !== undefined) {
    try {
      const data = spec.codec.decode(SNAPSHOT_TYPE, snapshot.data);
      if (snapshot.version === spec.snapshotVersion) state = data;
      else if (spec.upcastSnapshot !== undefined) {
        state = spec.upcastSnapshot(snapshot.version, data);
      } else {throw new Error(
          `snapshot version ${snapshot.version} is not ${spec.snapshotVersion} and there is no upcastSnapshot`,
        );}
    } catch (error) {
      throw new RecoveryError(pid, snapshot.sequenceNr, error);
    }
    seq = snapshot.sequenceNr;
  } else {
    state = spec.init(internal.args);
  }
  while (true) {
    let page: StoredEvent[];
    try {
      page = await journal.read(pid, seq + 1, { max: READ_PAGE });
    } catch (error) {
      throw new RecoveryError(pid, failedAt(error, seq + 1), error);
    }
    for (const stored of page) {
      if (stored.sequenceNr !== seq + 1) {
        throw new RecoveryError(
          pid,
          seq + 1,
          new Error(`events ${seq + 1}..${stored.sequenceNr - 1} are missing`),
        );
      }
      try {
        state = applyStored(spec, state, stored);
      } catch (error) {
        throw new RecoveryError(pid, stored.sequenceNr, error);
      }
      seq = stored.sequenceNr;
    }
    if (page.length < READ_PAGE) break;
  }
  let last: number;
  try {
    last = await journal.lastSequenceNr(pid);
  } catch (error) {
    throw new RecoveryError(pid, seq + 1, error);
  }
  if (last > seq) {
    throw new RecoveryError(
      pid,
      seq + 1,
      new Error(
        `events ${seq + 1}..${last} are missing (deleted without a snapshot?)`,
      ),
    );
  }
  internal.user = state;
  internal.seq = seq;
  internal.lastSnapshotSeq = snapshot?.sequenceNr ?? 0;
}

/** The sequence number a failure names: the corrupt record's own, else `fallback`. */
function failedAt(error: unknown, fallback: number): number {
  return isCorruptRecordError(error) ? error.sequenceNr : fallback;
}

/** Whether a recovery failure is the journal not answering (worth waiting for). */
function journalDown(error: unknown): boolean {
  return isRecoveryError(error) && isJournalUnavailableError(error.cause);
}

function applyStored(spec: Spec, state: unknown, stored: StoredEvent): unknown {
  let type = stored.type;
  let data = spec.codec.decode(type, stored.data);
  const current = spec.eventVersions[type] ?? 1;
  if (stored.version !== current) {
    if (spec.upcast === undefined) {
      throw new Error(
        `event "${type}" has version ${stored.version}, current is ${current}, and there is no upcast`,
      );
    }
    ({ type, data } = spec.upcast({ type, version: stored.version, data }));
  }
  const apply = spec.events[type];
  if (typeof apply !== "function") {
    throw new Error(`no applier for event type "${type}"`);
  }
  const next = apply(state, data);
  return next === undefined ? state : next;
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

/** After a message's persists: escalates or stops on a failed persist, by the policy. */
function applyFailurePolicy(
  internal: Internal,
  spec: Spec,
  ctx: ActorContext<UnknownProtocol>,
): void {
  const failure = internal.failure;
  if (failure === undefined) return;
  internal.failure = undefined;
  if (spec.then === "escalate") throw failure;
  if (spec.then === "stop") ctx.stop();
}

function compile<A, H>(
  spec: Spec,
  input: PersistentActorSpec<A, unknown, unknown>,
  userHandlers: H,
  hooks: PersistentHooks<unknown, unknown, unknown>,
): PersistentActorDefinition<A, H> {
  const name = spec.name;
  if (typeof userHandlers !== "object" || userHandlers === null) {
    throw new TypeError(
      `Cannot define persistent actor "${name}": handlers must be an object`,
    );
  }
  for (
    const hookName of [
      "recovered",
      "stopped",
      "childStopped",
      "terminated",
    ] as const
  ) {
    if (
      hooks[hookName] !== undefined && typeof hooks[hookName] !== "function"
    ) {
      throw new TypeError(
        `Cannot define persistent actor "${name}": ${hookName} must be a function`,
      );
    }
  }
  type Ctx = ActorContext<UnknownProtocol>;
  type UserHook = (state: unknown, ...rest: unknown[]) => unknown;
  const contextOf = (internal: Internal, ctx: Ctx) =>
    internal.pctx ??= new PersistentContext(
      ctx,
      internal,
      spec,
    ) as PersistentContext<unknown, unknown, UnknownProtocol>;

  const handlers: Record<
    string,
    (internal: Internal, payload: unknown, ctx: Ctx) => unknown
  > = {};
  for (
    const [type, fn] of Object.entries(userHandlers as Record<string, unknown>)
  ) {
    if (typeof fn !== "function") {
      throw new TypeError(
        `Cannot define persistent actor "${name}": handler "${type}" is not a function`,
      );
    }
    const user = fn as unknown as (
      state: unknown,
      payload: unknown,
      ctx: unknown,
    ) => unknown;
    handlers[type] = (internal, payload, ctx) => {
      if (internal.unsettled !== undefined) {
        // The last append's outcome is unknown: learn it from the journal first.
        return internal.chain.then(() =>
          internal.unsettled === undefined
            ? undefined
            : settleOutcome(internal, spec)
        ).then(() => handlers[type](internal, payload, ctx));
      }
      const pctx = contextOf(internal, ctx);
      const before = internal.persistsStarted;
      const result = user(internal.user, payload, pctx);
      if (!isThenable(result) && internal.persistsStarted === before) {
        return result;
      }
      // Wait for the events this message persisted, then apply the failure policy. When the
      // handler's result settles with the chain idle (it returned or awaited its last
      // persist), they are done already.
      return Promise.resolve(result).then(
        (value) => {
          if (internal.busy === 0) {
            applyFailurePolicy(internal, spec, ctx);
            return value;
          }
          return internal.chain.then(() => {
            applyFailurePolicy(internal, spec, ctx);
            return value;
          });
        },
        (error) => {
          if (internal.busy === 0) {
            applyFailurePolicy(internal, spec, ctx);
            throw error;
          }
          return internal.chain.then(() => {
            applyFailurePolicy(internal, spec, ctx);
            throw error;
          });
        },
      );
    };
  }

  const hook = (fn: UserHook | undefined, settleFirst: boolean) =>
    fn === undefined ? undefined : (internal: Internal, ...rest: unknown[]) => {
      const run = () => {
        const ctx = rest.pop() as Ctx;
        return fn(internal.user, ...rest, contextOf(internal, ctx));
      };
      if (!settleFirst || internal.unsettled === undefined) return run();
      return internal.chain.then(() =>
        internal.unsettled === undefined
          ? undefined
          : settleOutcome(internal, spec)
      ).then(run);
    };

  const definition = defineActor({
    name,
    init: (args: unknown): Internal => {
      const internal: Internal = {
        persistent: true,
        args,
        user: undefined,
        pid: "",
        seq: 0,
        lastSnapshotSeq: 0,
        provider: null,
        chain: Promise.resolve(),
        busy: 0,
        release: () => {
          internal.busy--;
        },
        persistsStarted: 0,
        failure: undefined,
        unsettled: undefined,
        clock: null,
        signal: null,
        pctx: null,
      };
      return internal;
    },
    handlers: handlers as unknown as Handlers<Internal>,
    started: async (internal, ctx) => {
      const path = ctx.self.path;
      internal.pid = spec.persistenceId?.(internal.args, path) ?? path;
      internal.provider = spec.provider ?? persistenceOf(ctx.system);
      internal.clock = ctx.system.clock;
      internal.signal = ctx.signal;
      await withJournalRetry(
        spec,
        internal.clock,
        internal.signal,
        () => recover(internal, spec),
        journalDown,
      );
      const recovered = hooks.recovered as UserHook | undefined;
      if (recovered !== undefined) {
        await recovered(
          internal.user,
          contextOf(internal, ctx as unknown as Ctx),
        );
      }
    },
    stopped: hook(hooks.stopped as UserHook | undefined, false) as never,
    childStopped: hook(
      hooks.childStopped as UserHook | undefined,
      true,
    ) as never,
    terminated: hook(hooks.terminated as UserHook | undefined, true) as never,
    supervision: input.supervision,
    mailbox: input.mailbox,
  });
  return definition as unknown as PersistentActorDefinition<A, H>;
}
