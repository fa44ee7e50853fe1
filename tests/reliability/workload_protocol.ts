// What the reliability suite's node script (stream_main.ts) and the test's clients exchange.

/** One entry of a stream: who appended it, that client's sequence number, and a unique token. */
export interface Entry {
  /** The client that appended it. */
  readonly client: string;
  /** The client's own sequence number (1, 2, 3… in the order it issued its appends). */
  readonly seq: number;
  /** `client:seq`, unique across the run. */
  readonly token: string;
}

/** A failed call, with the error's stable code (looked through remoting's wrapper). */
export interface Failure {
  readonly ok: false;
  /** The error's `code` (e.g. `PERSIST_FAILED`, `ASK_TIMEOUT`), or `UNTYPED`. */
  readonly code: string;
  /** The code of its cause, when it has one (e.g. `JOURNAL_UNAVAILABLE`). */
  readonly cause?: string;
  /** The error's message. */
  readonly message: string;
}

/** The answer to an append: the stream's length after it, or why it failed. */
export type AppendOutcome =
  | { readonly ok: true; readonly length: number }
  | Failure;

/** The answer to a read: every entry in order, or why it failed. */
export type ReadOutcome =
  | { readonly ok: true; readonly entries: Entry[] }
  | Failure;

/** Membership as one node sees it. */
export interface WorkloadView {
  /** This node's own status (`up`, `down`, …; `joining` before it joined). */
  readonly status: string;
  /** The up members, sorted. */
  readonly up: string[];
  /** Whether its view has converged. */
  readonly converged: boolean;
}

/** One node's figures, for the leak checks. */
export interface WorkloadStats {
  /** Actors running (or starting). */
  readonly actors: number;
  /** Actors by type. */
  readonly byType: Record<string, number>;
  /** Stream shards this node owns. */
  readonly shards: number;
  /** Stream entities running here. */
  readonly entities: number;
  /** `troupe_sharding_journal_conflicts_total{type="stream"}` here. */
  readonly conflicts: number;
  /** Live timers of the node's process (`platform.liveTimers()`: set, neither run nor cancelled). */
  readonly timers: number;
}

/** The protocol of the node script's "workload" actor. */
export interface WorkloadProtocol {
  append(
    a: { stream: string; entry: Entry; timeoutMs: number },
  ): AppendOutcome;
  read(r: { stream: string; timeoutMs: number }): ReadOutcome;
  view(): WorkloadView;
  stats(): WorkloadStats;
  /** The heap in use after a full garbage collection, when the process can force one. */
  heap(): HeapFigure;
}

/** What the "heap" message answers. */
export interface HeapFigure {
  /** The V8 heap in use, in MiB (after a full collection when `collected`). */
  readonly usedMiB: number;
  /** Whether a full collection ran first (the process exposes `gc`, or is Bun). */
  readonly collected: boolean;
}

/**
 * An error's stable code, looking through the wrapper remoting puts around a remote failure
 * (`REMOTE_FAILURE` with the remote error's code in `remoteCode`); `UNTYPED` when it has none.
 *
 * @param error Anything thrown.
 * @returns The code.
 */
export function errorCode(error: unknown): string {
  const e = error as { code?: unknown; remoteCode?: unknown } | null;
  if (e?.code === "REMOTE_FAILURE" && typeof e.remoteCode === "string") {
    return e.remoteCode;
  }
  return typeof e?.code === "string" ? e.code : "UNTYPED";
}
