// The heartbeat side of failure detection on one node: every interval it sends a heartbeat to
// each of its subjects (its slice of the monitor ring), answers every heartbeat it receives with
// an ack, feeds the acks into one φ-accrual detector per subject, and reports a subject
// unreachable (once) when φ crosses the threshold and reachable (once) when acks come back.
// Request/response rather than one-way heartbeats, as in Akka's ClusterHeartbeatSender: a frozen
// subject (socket open, nothing read) and a link that loses only the answers both look like
// silence here, so they are detected like a dead subject.
//
// Pure logic on an injected clock: the owner (the membership core) carries the messages.

import type { Clock, TimerHandle } from "../timer/mod.ts";
import {
  type FailureDetectorSettings,
  failureDetectorSettings,
} from "./failure_detector.ts";
import { ringSubjectsOf } from "./_monitor_ring.ts";
import { PhiAccrualDetector } from "./_phi_accrual.ts";

/**
 * A failure detector message between two nodes. `seq` is chosen by the monitor (one counter per
 * monitor, growing with every heartbeat it sends) and echoed in the ack; a monitor accepts an ack
 * only from a current subject, with a `seq` no newer than the last heartbeat it sent that subject
 * and newer than the last ack it accepted from it, so duplicated, reordered, stale or
 * made-up acks count once at most (and acks from before a subject was added not at all).
 */
export type HeartbeatMessage =
  | { readonly kind: "heartbeat"; readonly seq: number }
  | { readonly kind: "heartbeat-ack"; readonly seq: number };

/** What a {@linkcode HeartbeatMonitor} needs from its owner. */
export interface HeartbeatMonitorOptions {
  /** This node's member key (`node#incarnation`). */
  readonly self: string;
  /** The time source for the ticks and the detectors. */
  readonly clock: Clock;
  /**
   * Sends a message to another member. It should not throw; if it does, the message counts as
   * lost (exactly what a failing link means to the detector).
   */
  send(to: string, message: HeartbeatMessage): void;
  /**
   * Called once when a subject becomes suspected (`false`) and once when its acks come back
   * (`true`). Not called for a subject dropped by `setMembers`.
   */
  onReachability(subject: string, reachable: boolean): void;
  /** The detector's settings (see `failureDetectorSettings`). */
  readonly settings: FailureDetectorSettings;
}

interface Subject {
  readonly detector: PhiAccrualDetector;
  readonly addedAt: number;
  /** The detector has a first heartbeat: a real ack or the expected-response deadline. */
  started: boolean;
  lastSentSeq: number;
  lastAckedSeq: number;
  reachable: boolean;
  /** Still one of this node's ring subjects; when not, it is kept only until reachable again. */
  inRing: boolean;
}

const SETTING_NAMES: readonly (keyof FailureDetectorSettings)[] = [
  "heartbeatIntervalMs",
  "threshold",
  "acceptableHeartbeatPauseMs",
  "minStdDeviationMs",
  "maxSampleSize",
  "monitoredBy",
  "firstHeartbeatEstimateMs",
  "expectedResponseAfterMs",
];

/** Whether `message` is a well-formed {@linkcode HeartbeatMessage}. */
function isHeartbeatMessage(message: unknown): message is HeartbeatMessage {
  if (typeof message !== "object" || message === null) return false;
  const { kind, seq } = message as { kind?: unknown; seq?: unknown };
  return (kind === "heartbeat" || kind === "heartbeat-ack") &&
    typeof seq === "number" && Number.isSafeInteger(seq) && seq >= 0;
}

/**
 * The failure detector of one node: heartbeats to its subjects on the monitor ring, acks to
 * whoever heartbeats it, and reachability verdicts from φ-accrual detectors.
 *
 * - Every `heartbeatIntervalMs` (one tick) it first judges each subject (φ against the
 *   threshold) and then sends it a heartbeat with a fresh `seq`.
 * - A subject that has not answered since it became a subject is treated as having answered once
 *   `expectedResponseAfterMs` after that, so a subject that never answers is detected too.
 * - A tick that runs more than half an interval late means this process itself stalled: it sends
 *   but does not judge, so the acks that queued up meanwhile are read first.
 * - Unreachable subjects keep receiving heartbeats; the first accepted ack that makes φ fall
 *   below the threshold reports them reachable again.
 * - Inbound messages that are not well-formed (an unknown `kind`, a `seq` that is not a
 *   non-negative safe integer, a sender that is not a string) are ignored without throwing, as
 *   are acks from non-subjects and acks whose `seq` is newer than the last heartbeat sent to
 *   that subject or not newer than the last ack accepted from it.
 *
 * @example Wiring (the owner carries the messages and keeps the members current)
 * ```ts ignore
 * const monitor = new HeartbeatMonitor({
 *   self: "node-a#1",
 *   clock: systemClock,
 *   settings: DEFAULT_FAILURE_DETECTOR_SETTINGS,
 *   send: (to, message) => node.sendSystem(to, message), // must not queue behind user traffic
 *   onReachability: (subject, reachable) => membership.observe(subject, reachable),
 * });
 * monitor.setMembers(["node-a#1", "node-b#1", "node-c#1"]); // on every membership change
 * // for each failure detector message that arrives: monitor.receive(from, message);
 * monitor.close(); // on leave or shutdown
 * ```
 */
export class HeartbeatMonitor {
  readonly #self: string;
  readonly #clock: Clock;
  readonly #send: (to: string, message: HeartbeatMessage) => void;
  readonly #onReachability: (subject: string, reachable: boolean) => void;
  readonly #settings: FailureDetectorSettings;
  readonly #subjects = new Map<string, Subject>();
  #seq = 0;
  #dueAt: number;
  #timer: TimerHandle | undefined;
  #closed = false;

  /**
   * Starts the monitor with no subjects; its ticks run until {@linkcode HeartbeatMonitor.close}.
   *
   * @param options This node, the clock, the two callbacks and the settings.
   * @throws {TypeError} When `self` is not a non-empty string, `clock`, `send` or
   * `onReachability` is missing, or the settings are malformed.
   * @throws {RangeError} When a setting is out of range.
   */
  constructor(options: HeartbeatMonitorOptions) {
    if (typeof options !== "object" || options === null) {
      throw new TypeError(
        "Cannot create HeartbeatMonitor: options are required",
      );
    }
    const { self, clock, send, onReachability, settings } = options;
    if (typeof self !== "string" || self === "") {
      throw new TypeError(
        "Cannot create HeartbeatMonitor: self must be a non-empty member key",
      );
    }
    if (
      typeof clock !== "object" || clock === null ||
      typeof clock.now !== "function" || typeof clock.setTimer !== "function" ||
      typeof clock.clearTimer !== "function"
    ) {
      throw new TypeError(
        "Cannot create HeartbeatMonitor: clock must be a Clock",
      );
    }
    if (typeof send !== "function" || typeof onReachability !== "function") {
      throw new TypeError(
        "Cannot create HeartbeatMonitor: send and onReachability must be functions",
      );
    }
    if (typeof settings !== "object" || settings === null) {
      throw new TypeError(
        "Cannot create HeartbeatMonitor: settings are required",
      );
    }
    const given: Partial<Record<keyof FailureDetectorSettings, number>> = {};
    for (const name of SETTING_NAMES) given[name] = settings[name];
    this.#settings = failureDetectorSettings(given);
    this.#self = self;
    this.#clock = clock;
    this.#send = (to, message) => send.call(options, to, message);
    this.#onReachability = (subject, reachable) =>
      onReachability.call(options, subject, reachable);
    this.#dueAt = clock.now() + this.#settings.heartbeatIntervalMs;
    this.#timer = clock.setTimer(
      () => this.#tick(),
      this.#settings.heartbeatIntervalMs,
    );
  }

  /**
   * Sets the current members (this node included). The subjects become this node's slice of the
   * monitor ring of `keys`; new subjects start fresh, kept ones keep their history. A subject that
   * left the members is forgotten without a callback. One that is still a member but no longer in
   * this node's slice is dropped at once if reachable, and if unreachable it keeps being
   * heartbeated until it answers (reported reachable, then dropped), so its verdict is never left
   * standing. When `self` is not among `keys` this node monitors nobody.
   *
   * @param keys The member keys; order and duplicates do not matter.
   * @throws {TypeError} When `keys` is not an array of strings.
   */
  setMembers(keys: readonly string[]): void {
    const wanted = new Set(
      ringSubjectsOf(keys, this.#self, this.#settings.monitoredBy),
    );
    if (this.#closed) return;
    for (const [key, subject] of this.#subjects) {
      if (wanted.has(key)) {
        subject.inRing = true;
      } else if (subject.reachable || !keys.includes(key)) {
        // Reachable and out of the slice, or no longer a member: forgotten, no verdict.
        this.#subjects.delete(key);
      } else {
        subject.inRing = false;
      }
    }
    const now = this.#clock.now();
    for (const key of wanted) {
      if (this.#subjects.has(key)) continue;
      this.#subjects.set(key, {
        detector: new PhiAccrualDetector(this.#settings),
        addedAt: now,
        started: false,
        lastSentSeq: this.#seq,
        lastAckedSeq: this.#seq,
        reachable: true,
        inRing: true,
      });
    }
  }

  /**
   * Handles a failure detector message from another member: answers a heartbeat with an ack (to
   * any sender, subject or not), records an ack from a subject. Malformed messages are ignored.
   *
   * @param from The sender's member key.
   * @param message The message as it arrived (checked here).
   * @throws Whatever `onReachability` throws (the monitor's state is already updated).
   */
  receive(from: string, message: HeartbeatMessage): void {
    if (
      this.#closed || typeof from !== "string" || !isHeartbeatMessage(message)
    ) {
      return;
    }
    if (message.kind === "heartbeat") {
      this.#trySend(from, { kind: "heartbeat-ack", seq: message.seq });
      return;
    }
    const subject = this.#subjects.get(from);
    if (
      subject === undefined || message.seq <= subject.lastAckedSeq ||
      message.seq > subject.lastSentSeq
    ) return;
    subject.lastAckedSeq = message.seq;
    const now = this.#clock.now();
    subject.detector.heartbeat(now);
    subject.started = true;
    if (!subject.reachable && subject.detector.isAvailable(now)) {
      subject.reachable = true;
      if (!subject.inRing) this.#subjects.delete(from);
      this.#onReachability(from, true);
    }
  }

  /**
   * The members this node heartbeats now: its ring slice, plus former subjects still unreachable.
   *
   * @returns Their keys.
   */
  subjects(): readonly string[] {
    return [...this.#subjects.keys()];
  }

  /**
   * The current φ of a subject: how unlikely its silence is, given the heartbeats seen.
   *
   * @param subject A member key.
   * @returns φ, or `undefined` when this node does not monitor it or has no heartbeat yet.
   */
  phi(subject: string): number | undefined {
    const known = this.#subjects.get(subject);
    if (known === undefined || !known.started) return undefined;
    return known.detector.phi(this.#clock.now());
  }

  /** Stops the ticks and forgets every subject; later calls are ignored. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer !== undefined) this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#subjects.clear();
  }

  #tick(): void {
    if (this.#closed) return;
    const interval = this.#settings.heartbeatIntervalMs;
    const now = this.#clock.now();
    const judge = now - this.#dueAt <= interval / 2;
    this.#dueAt = now + interval;
    this.#timer = this.#clock.setTimer(() => this.#tick(), interval);
    const errors: unknown[] = [];
    for (const key of [...this.#subjects.keys()]) {
      if (this.#closed) return;
      const subject = this.#subjects.get(key);
      if (subject === undefined) continue;
      if (judge) {
        try {
          this.#judge(key, subject, now);
        } catch (error) {
          errors.push(error);
        }
      }
      // A callback may have changed the subjects (setMembers, close) meanwhile.
      const current = this.#subjects.get(key);
      if (current === undefined) continue;
      const seq = ++this.#seq;
      current.lastSentSeq = seq;
      this.#trySend(key, { kind: "heartbeat", seq });
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) {
      throw new AggregateError(
        errors,
        `HeartbeatMonitor: ${errors.length} onReachability callbacks threw`,
      );
    }
  }

  #judge(key: string, subject: Subject, now: number): void {
    const expected = subject.addedAt + this.#settings.expectedResponseAfterMs;
    if (!subject.started && now >= expected) {
      subject.detector.heartbeat(expected);
      subject.started = true;
    }
    if (
      subject.started && subject.reachable && !subject.detector.isAvailable(now)
    ) {
      subject.reachable = false;
      this.#onReachability(key, false);
    }
  }

  #trySend(to: string, message: HeartbeatMessage): void {
    try {
      this.#send(to, message);
    } catch {
      // A send that fails is a lost message; the detector is there to notice lost messages.
    }
  }
}
