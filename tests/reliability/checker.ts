// The reliability suite's checker, the Jepsen way: the clients record every operation they
// invoked and how it completed (the history); after the faults, the streams are read back from
// the cluster and from the journal; only then does this compare the two and give a verdict.
//
// An operation completes `ok` (acknowledged), `fail` (definitely not applied: the entity said
// its events were not persisted) or `info` (indeterminate: a timeout, a lost node, an unknown
// outcome; it may or may not have been applied). The verdict holds when:
// - every acknowledged append is present exactly once, in the stream it was sent to;
// - no failed append is present; an indeterminate one is present at most once;
// - nothing is present that no client ever sent;
// - each client's appends appear in the order it issued them, as far as it knew their outcome:
//   an acknowledged append comes before every later one of that client. An indeterminate one
//   (say, timed out) may land after the client's later appends (its outcome was never known,
//   so it is concurrent with them, as Jepsen treats it); those are counted as `late`;
// - the journal's sequence numbers run 1..n without a gap, and what the cluster serves for a
//   stream equals what its journal holds.
import type { Entry } from "./workload_protocol.ts";

/** How an operation completed. */
export type Completion = "ok" | "fail" | "info";

/** One append in the history. */
export interface Op {
  /** The client that invoked it. */
  readonly client: string;
  /** The stream it was sent to. */
  readonly stream: string;
  /** The client's sequence number. */
  readonly seq: number;
  /** `client:seq`. */
  readonly token: string;
  /** The node it was sent through. */
  readonly node: string;
  /** Wall clock (ms) when it was invoked. */
  readonly invokedAt: number;
  /** Wall clock (ms) when it completed. */
  readonly completedAt: number;
  /** How it completed. */
  readonly completion: Completion;
  /** The error's code when it did not complete `ok`. */
  readonly code?: string;
}

/** A stream as read back after the run. */
export interface StreamState {
  /** The stream id. */
  readonly stream: string;
  /** The journal's events, in order. */
  readonly journal: readonly Entry[];
  /** The journal's sequence numbers, in the same order. */
  readonly sequenceNrs: readonly number[];
  /** What the cluster served for it (a read through a node), or undefined when it did not answer. */
  readonly served: readonly Entry[] | undefined;
}

/** The checker's findings. */
export interface Verdict {
  /** Whether nothing below is wrong. */
  readonly valid: boolean;
  /** Appends invoked. */
  readonly invoked: number;
  /** Appends acknowledged. */
  readonly acknowledged: number;
  /** Appends that failed definitely. */
  readonly failed: number;
  /** Appends whose outcome was indeterminate. */
  readonly indeterminate: number;
  /** Entries present in the journals. */
  readonly present: number;
  /** Acknowledged appends present (exactly once). */
  readonly acknowledgedPresent: number;
  /** Indeterminate appends that turned out present. */
  readonly indeterminatePresent: number;
  /** Tokens of acknowledged appends that are missing. */
  readonly lost: readonly string[];
  /** Tokens present more than once. */
  readonly duplicated: readonly string[];
  /** Tokens of definitely failed appends that are present. */
  readonly failedButPresent: readonly string[];
  /** Tokens present that no client sent (or sent to another stream). */
  readonly phantom: readonly string[];
  /** `client@stream` where an acknowledged append appears after a later one of the client. */
  readonly reordered: readonly string[];
  /** Indeterminate appends that landed after later appends of their client (allowed). */
  readonly late: number;
  /** Streams whose journal has a gap, or whose served entries differ from the journal. */
  readonly divergent: readonly string[];
}

function sameEntries(a: readonly Entry[], b: readonly Entry[]): boolean {
  return a.length === b.length &&
    a.every((e, i) => e.token === b[i].token && e.client === b[i].client);
}

/**
 * Compares the history with the streams as read back.
 *
 * @param history Every append the clients invoked, with its completion.
 * @param states Every stream the history touched, as read back.
 * @returns The verdict.
 */
export function check(
  history: readonly Op[],
  states: readonly StreamState[],
): Verdict {
  const sent = new Map<string, Op>();
  for (const op of history) {
    if (sent.has(op.token)) {
      throw new TypeError(`history has token ${op.token} twice`);
    }
    sent.set(op.token, op);
  }
  const seen = new Map<string, number>();
  const duplicated = new Set<string>();
  const phantom: string[] = [];
  const reordered = new Set<string>();
  const divergent: string[] = [];
  let present = 0;
  let late = 0;
  for (const state of states) {
    const gapless = state.sequenceNrs.every((n, i) => n === i + 1) &&
      state.sequenceNrs.length === state.journal.length;
    if (
      !gapless ||
      (state.served !== undefined && !sameEntries(state.served, state.journal))
    ) {
      divergent.push(state.stream);
    }
    const lastSeq = new Map<string, number>();
    for (const entry of state.journal) {
      present++;
      const count = (seen.get(entry.token) ?? 0) + 1;
      seen.set(entry.token, count);
      if (count > 1) duplicated.add(entry.token);
      const op = sent.get(entry.token);
      if (
        op === undefined || op.stream !== state.stream ||
        op.client !== entry.client || op.seq !== entry.seq
      ) {
        phantom.push(entry.token);
        continue;
      }
      const highest = lastSeq.get(entry.client) ?? 0;
      if (entry.seq < highest) {
        if (op.completion === "ok") {
          reordered.add(`${entry.client}@${state.stream}`);
        } else late++;
      }
      lastSeq.set(entry.client, Math.max(highest, entry.seq));
    }
  }
  const lost: string[] = [];
  const failedButPresent: string[] = [];
  let acknowledged = 0;
  let failed = 0;
  let indeterminate = 0;
  let acknowledgedPresent = 0;
  let indeterminatePresent = 0;
  for (const op of history) {
    const count = seen.get(op.token) ?? 0;
    if (op.completion === "ok") {
      acknowledged++;
      if (count === 0) lost.push(op.token);
      else if (count === 1) acknowledgedPresent++;
    } else if (op.completion === "fail") {
      failed++;
      if (count > 0) failedButPresent.push(op.token);
    } else {
      indeterminate++;
      if (count === 1) indeterminatePresent++;
    }
  }
  const valid = lost.length === 0 && duplicated.size === 0 &&
    failedButPresent.length === 0 && phantom.length === 0 &&
    reordered.size === 0 && divergent.length === 0;
  return {
    valid,
    invoked: history.length,
    acknowledged,
    failed,
    indeterminate,
    present,
    acknowledgedPresent,
    indeterminatePresent,
    lost,
    duplicated: [...duplicated],
    failedButPresent,
    phantom,
    reordered: [...reordered],
    late,
    divergent,
  };
}

/**
 * The verdict in one line, with the scenario's own figures after it.
 *
 * @param scenario The scenario's name.
 * @param verdict The checker's verdict.
 * @param figures More figures (`name=value`), e.g. the recovery time.
 * @returns The line.
 */
export function verdictLine(
  scenario: string,
  verdict: Verdict,
  figures: Readonly<Record<string, string | number>> = {},
): string {
  const list = (name: string, items: readonly string[]) =>
    items.length === 0
      ? []
      : [`${name}=${items.length} (${items.slice(0, 5).join(", ")})`];
  const parts = [
    `acknowledged=${verdict.acknowledged}`,
    `present=${verdict.acknowledgedPresent}/${verdict.acknowledged}`,
    `failed=${verdict.failed}`,
    `indeterminate=${verdict.indeterminate} (present ${verdict.indeterminatePresent}, late ${verdict.late})`,
    `journal=${verdict.present}`,
    ...list("LOST", verdict.lost),
    ...list("DUPLICATED", verdict.duplicated),
    ...list("FAILED-BUT-PRESENT", verdict.failedButPresent),
    ...list("PHANTOM", verdict.phantom),
    ...list("REORDERED", verdict.reordered),
    ...list("DIVERGENT", verdict.divergent),
    ...Object.entries(figures).map(([k, v]) => `${k}=${v}`),
  ];
  return `reliability ${scenario}: ${verdict.valid ? "PASS" : "FAIL"} | ${
    parts.join(" | ")
  }`;
}
