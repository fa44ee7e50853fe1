// The persist path of a persistent actor: appending events with the failure policy's retries,
// settling an append whose outcome is unknown, waiting for the journal, and snapshots.
import type { ActorContext } from "../actor/mod.ts";
import type { Clock } from "../timer/mod.ts";
import {
  isJournalConflictError,
  isJournalUnavailableError,
  PersistFailedError,
  PersistOutcomeUnknownError,
} from "./errors.ts";
import type { NewEvent } from "./journal.ts";
import {
  type Internal,
  SNAPSHOT_TYPE,
  type Spec,
} from "./_persistent_internal.ts";

/**
 * Encodes `events` and appends them after the actor's last sequence number: at once when the
 * chain is idle, else after what is on it. Resolves once they are stored and applied.
 */
export function persistEvents(
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
export function enqueue(internal: Internal, run: Promise<void>): void {
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
    // Since the latest snapshot (the last of the kept ones; none: since the start).
    internal.seq - (internal.keptSnapshots.at(-1) ?? 0) >= spec.snapshotEvery
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
export async function settleOutcome(
  internal: Internal,
  spec: Spec,
): Promise<void> {
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
export async function withJournalRetry<T>(
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

/**
 * Saves a snapshot of the current state, then prunes old snapshots to `keepSnapshots` and, with
 * `deleteEventsOnSnapshot`, the events the kept snapshots cover (see its documentation).
 */
export async function saveSnapshot(
  internal: Internal,
  spec: Spec,
): Promise<void> {
  const provider = internal.provider!;
  const at = internal.seq;
  await provider.snapshots.save({
    persistenceId: internal.pid,
    sequenceNr: at,
    type: SNAPSHOT_TYPE,
    version: spec.snapshotVersion,
    data: spec.codec.encode(SNAPSHOT_TYPE, internal.user),
    timestamp: Date.now(),
  });
  const kept = internal.keptSnapshots;
  // A second snapshot at the same sequence number replaces the first.
  if (kept.at(-1) !== at) kept.push(at);
  if (kept.length > spec.keepSnapshots) kept.shift();
  await provider.snapshots.keepLatest(internal.pid, spec.keepSnapshots);
  // Up to the oldest kept snapshot, once every kept one is known (after a recovery, the ones
  // older than the snapshot recovered from are not): each kept snapshot can still be recovered
  // with the events after it. Best effort: the snapshot is saved either way, and the next one
  // deletes up to its own bound, which covers what this one missed.
  if (spec.deleteEventsOnSnapshot && kept.length === spec.keepSnapshots) {
    await provider.journal.deleteTo(internal.pid, kept[0]).catch(() => {});
  }
}
