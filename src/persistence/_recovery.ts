// Recovery of a persistent actor: the latest snapshot, then every later event in order.
import {
  isCorruptRecordError,
  isJournalUnavailableError,
  isRecoveryError,
  RecoveryError,
} from "./errors.ts";
import type { StoredEvent } from "./journal.ts";
import {
  type Internal,
  READ_PAGE,
  SNAPSHOT_TYPE,
  type Spec,
} from "./_persistent_internal.ts";

/**
 * Recovers the actor's state: the latest snapshot, then every later event in order. Rejects
 * with RecoveryError when the journal cannot be read or the stored data cannot be applied.
 */
export async function recover(internal: Internal, spec: Spec): Promise<void> {
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
  internal.keptSnapshots = snapshot === undefined ? [] : [snapshot.sequenceNr];
}

/** The sequence number a failure names: the corrupt record's own, else `fallback`. */
function failedAt(error: unknown, fallback: number): number {
  return isCorruptRecordError(error) ? error.sequenceNr : fallback;
}

/** Whether a recovery failure is the journal not answering (worth waiting for). */
export function journalDown(error: unknown): boolean {
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
