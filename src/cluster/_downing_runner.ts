// Runs a downing strategy on one node: waits until the reachability has been stable for
// `stableAfterMs`, asks the strategy, and downs everything when it stays unstable too long.
import type { Clock, TimerHandle } from "../timer/mod.ts";
import {
  DEFAULT_STABLE_AFTER_MS,
  type DowningDecision,
  type DowningOptions,
  type DowningStrategy,
  keepMajority,
} from "./downing.ts";
import { memberKey } from "./_member_state.ts";
import type { MemberRow } from "./membership_table.ts";

/** What the runner does with a decision. */
export type DowningAction = DowningDecision | "down-all";

/** The view the runner is given after every change. */
export interface DowningView {
  /** Up, leaving and exiting members. */
  readonly members: readonly MemberRow[];
  /** Unreachable member keys. */
  readonly unreachable: ReadonlySet<string>;
}

/**
 * The default `stableAfterMs` with `members` members that count: DEFAULT_STABLE_AFTER_MS up to
 * 8 members, plus 1000 ms per doubling beyond (see DowningOptions.stableAfterMs for why).
 */
export function defaultStableAfterMs(members: number): number {
  const doublings = members > 8 ? Math.ceil(Math.log2(members / 8)) : 0;
  return DEFAULT_STABLE_AFTER_MS + 1000 * doublings;
}

export class DowningRunner {
  readonly strategy: DowningStrategy;
  /** The configured wait; undefined: {@linkcode defaultStableAfterMs} of the current view. */
  readonly #stableAfterMs: number | undefined;
  /** The configured extra wait before downing all; undefined: 3/4 of the stable wait. */
  readonly #downAllMs: number | false | undefined;
  readonly #clock: Clock;
  readonly #self: string;
  readonly #act: (action: DowningAction, why: string) => void;
  readonly #log: (message: string, error: unknown) => void;
  #fingerprint = "";
  #view: DowningView | undefined;
  #stableTimer: TimerHandle | undefined;
  #unstableTimer: TimerHandle | undefined;
  #deciding: AbortController | undefined;
  #closed = false;

  /**
   * @throws {RangeError} When an option is out of range.
   */
  constructor(
    options: DowningOptions | undefined,
    clock: Clock,
    self: string,
    act: (action: DowningAction, why: string) => void,
    log: (message: string, error: unknown) => void,
  ) {
    this.strategy = options?.strategy ?? keepMajority();
    const stable = options?.stableAfterMs;
    if (stable !== undefined && (!(stable >= 0) || !Number.isFinite(stable))) {
      throw new RangeError(
        `Invalid downing stableAfterMs ${stable}: expected a finite number ≥ 0`,
      );
    }
    this.#stableAfterMs = stable;
    const downAll = options?.downAllWhenUnstableMs;
    if (
      downAll !== undefined && downAll !== false &&
      (!(downAll >= 0) || !Number.isFinite(downAll))
    ) {
      throw new RangeError(
        `Invalid downAllWhenUnstableMs ${downAll}: expected a finite number ≥ 0 or false`,
      );
    }
    this.#downAllMs = downAll;
    this.#clock = clock;
    this.#self = self;
    this.#act = act;
    this.#log = log;
  }

  /** The stable wait for a view of `members` members that count. */
  stableAfterMs(members = 0): number {
    return this.#stableAfterMs ?? defaultStableAfterMs(members);
  }

  /**
   * After how long unstable reachability downs everything (undefined: never), for a view of
   * `members` members that count.
   */
  downAllAfterMs(members = 0): number | undefined {
    if (this.#downAllMs === false) return undefined;
    const stable = this.stableAfterMs(members);
    return stable + (this.#downAllMs ?? Math.round(stable * 0.75));
  }

  /** Takes the current view; restarts the stable timer when what matters changed. */
  update(view: DowningView): void {
    if (this.#closed) return;
    if (view.unreachable.size === 0 && this.#fingerprint === "") {
      this.#view = view;
      return; // nothing unreachable before or now: the common case, kept cheap
    }
    const fingerprint = view.unreachable.size === 0 ? "" : [
      [...view.unreachable].sort().join(","),
      view.members.map((m) => `${memberKey(m)}:${m.status}`).sort().join(","),
    ].join("|");
    this.#view = view;
    if (view.unreachable.size === 0) {
      this.#fingerprint = fingerprint;
      this.#reset();
      if (this.#unstableTimer !== undefined) {
        this.#clock.clearTimer(this.#unstableTimer);
        this.#unstableTimer = undefined;
      }
      return;
    }
    if (fingerprint === this.#fingerprint) return;
    this.#fingerprint = fingerprint;
    this.#reset();
    const stableAfterMs = this.stableAfterMs(view.members.length);
    this.#stableTimer = this.#clock.setTimer(() => {
      this.#stableTimer = undefined;
      // The reachability held still for the whole wait: it is not unstable, and a strategy
      // that takes its time (lease-majority's minority delay) must not be cut short by
      // down-all. A change while it decides aborts the decision and starts over.
      if (this.#unstableTimer !== undefined) {
        this.#clock.clearTimer(this.#unstableTimer);
        this.#unstableTimer = undefined;
      }
      this.#decide(fingerprint, stableAfterMs);
    }, stableAfterMs);
    const downAllAfterMs = this.downAllAfterMs(view.members.length);
    if (downAllAfterMs !== undefined && this.#unstableTimer === undefined) {
      this.#unstableTimer = this.#clock.setTimer(() => {
        this.#unstableTimer = undefined;
        if (this.#closed || this.#view?.unreachable.size === 0) return;
        // This node downs itself with everything it sees: nothing is left to decide.
        this.close();
        this.#act(
          "down-all",
          `the reachability stayed unstable for ${downAllAfterMs} ms`,
        );
      }, downAllAfterMs);
    }
  }

  close(): void {
    this.#closed = true;
    this.#reset();
    if (this.#unstableTimer !== undefined) {
      this.#clock.clearTimer(this.#unstableTimer);
      this.#unstableTimer = undefined;
    }
  }

  #reset(): void {
    if (this.#stableTimer !== undefined) {
      this.#clock.clearTimer(this.#stableTimer);
      this.#stableTimer = undefined;
    }
    this.#deciding?.abort();
    this.#deciding = undefined;
  }

  async #decide(fingerprint: string, stableAfterMs: number): Promise<void> {
    const view = this.#view;
    if (view === undefined) return;
    const controller = new AbortController();
    this.#deciding = controller;
    let decision: DowningDecision;
    try {
      decision = await this.strategy.decide({
        self: this.#self,
        members: view.members,
        unreachable: view.unreachable,
        signal: controller.signal,
        wait: (ms) =>
          new Promise((resolve) => {
            const timer = this.#clock.setTimer(resolve, ms);
            controller.signal.addEventListener("abort", () => {
              this.#clock.clearTimer(timer);
              resolve();
            }, { once: true });
          }),
      });
    } catch (error) {
      this.#log(
        `Downing strategy "${this.strategy.name}" failed; this side downs itself`,
        error,
      );
      decision = "down-self";
    }
    if (controller.signal.aborted || this.#closed) return;
    if (fingerprint !== this.#fingerprint) return;
    this.#deciding = undefined;
    if (this.#unstableTimer !== undefined) {
      this.#clock.clearTimer(this.#unstableTimer);
      this.#unstableTimer = undefined;
    }
    this.#act(
      decision,
      `strategy "${this.strategy.name}" decided "${decision}" with ${view.unreachable.size} unreachable of ${view.members.length} members, after ${stableAfterMs} ms of stable reachability`,
    );
  }
}
