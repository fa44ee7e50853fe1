// The internal state of a persistent actor and its compiled definition, shared by the files
// that implement it (persistent_actor.ts, _persist.ts, _recovery.ts, _compile.ts).
import type { BackoffOptions, Codec, UnknownProtocol } from "../actor/mod.ts";
import type { Clock } from "../timer/mod.ts";
import type {
  PersistFailedError,
  PersistOutcomeUnknownError,
} from "./errors.ts";
import type { NewEvent, PersistenceProvider } from "./journal.ts";
import type {
  JournalRetryPolicy,
  PersistentContext,
  PersistentState,
} from "./persistent_actor.ts";

/** A persistent actor type's definition, checked and with defaults filled in. */
export interface Spec {
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
  readonly deleteEventsOnSnapshot: boolean;
  readonly maxRetries: number;
  readonly backoff: BackoffOptions;
  readonly then: "escalate" | "stop" | "reject";
  readonly journalRetry: Required<JournalRetryPolicy>;
  readonly provider?: PersistenceProvider;
}

/** An append whose outcome is unknown, to settle from the journal before going on. */
export interface Unsettled {
  readonly expected: number;
  readonly encoded: readonly NewEvent[];
  readonly events: readonly { type: string; event: unknown }[];
}

/** The actor state of one persistent actor incarnation (the user's state is `user`). */
export interface Internal extends PersistentState {
  readonly args: unknown;
  user: unknown;
  pid: string;
  seq: number;
  /**
   * The sequence numbers of the snapshots this incarnation knows to be kept, oldest first (the
   * one it recovered from, then those it saved; at most `keepSnapshots`): the last is the
   * latest snapshot (when the next automatic one is due), the first what
   * `deleteEventsOnSnapshot` may delete up to.
   */
  keptSnapshots: number[];
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

/** Events read per page while recovering. */
export const READ_PAGE = 10_000;
/** The record type of snapshots (reserved: no event may have it). */
export const SNAPSHOT_TYPE = "$snapshot";
