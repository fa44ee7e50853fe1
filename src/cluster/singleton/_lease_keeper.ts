// Holds a singleton's lease while its instance runs: takes it, renews it on a timer, and calls
// `onLost` as soon as it is lost or could not be confirmed for long enough that it may lapse
// soon, so that the instance stops BEFORE the lease's ttl ends and another node can take it.
//
// The time a grant is trusted is counted from when its request was SENT (not when the answer
// came), so a slow answer only makes the holder more careful.
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import type { Lease, LeaseGrant } from "../lease.ts";

/** The settings of a keeper. */
export interface LeaseKeeperSettings {
  readonly lease: Lease;
  /** The owner id (`node#incarnation`). */
  readonly owner: string;
  readonly ttlMs: number;
  /** How often a held lease is renewed; also the timeout of each lease call. */
  readonly renewIntervalMs: number;
  /** How long before a grant may lapse its holder gives up (stops the instance). */
  readonly safetyMarginMs: number;
  readonly clock: Clock;
  /** Called once when the held lease is lost or can no longer be trusted. */
  readonly onLost: (reason: string) => void;
  readonly logError: (message: string, error: unknown) => void;
}

/** One holding of a lease: from a successful {@linkcode LeaseKeeper.acquire} until lost or released. */
export class LeaseKeeper {
  readonly #s: LeaseKeeperSettings;
  #grant: LeaseGrant | undefined;
  /** Until when the grant is surely held (local clock). */
  #validUntil = 0;
  #renewTimer: TimerHandle | undefined;
  #deadlineTimer: TimerHandle | undefined;
  #holding = false;

  constructor(settings: LeaseKeeperSettings) {
    this.#s = settings;
  }

  /** The grant held now, if any. */
  get grant(): LeaseGrant | undefined {
    return this.#holding ? this.#grant : undefined;
  }

  /**
   * Tries to take the lease (once). On success the keeper renews it until
   * {@linkcode LeaseKeeper.release} or a loss.
   *
   * @returns The grant, or `undefined` when another owner holds it or the call failed.
   */
  async acquire(): Promise<LeaseGrant | undefined> {
    if (this.#holding) return this.#grant;
    const sentAt = this.#s.clock.now();
    const outcome = await this.#call((signal) =>
      this.#s.lease.acquire(this.#s.owner, this.#s.ttlMs, signal)
    );
    if (!outcome.ok || outcome.value === undefined) return undefined;
    const grant = outcome.value;
    if (
      this.#s.clock.now() >= sentAt + this.#s.ttlMs - this.#s.safetyMarginMs
    ) {
      // It came too late to be trusted for any time at all: give it back.
      void this.#call((signal) => this.#s.lease.release(this.#s.owner, signal));
      return undefined;
    }
    this.#holding = true;
    this.#grant = grant;
    this.#confirmed(sentAt);
    this.#scheduleRenewal();
    return grant;
  }

  /** Stops renewing and gives the lease up (best effort: an unreleased lease simply lapses). */
  async release(): Promise<void> {
    const held = this.#holding;
    this.#stop();
    if (held) {
      await this.#call((signal) =>
        this.#s.lease.release(this.#s.owner, signal)
      );
    }
  }

  /** Stops renewing without releasing (the lease lapses). */
  abandon(): void {
    this.#stop();
  }

  #stop(): void {
    this.#holding = false;
    if (this.#renewTimer !== undefined) {
      this.#s.clock.clearTimer(this.#renewTimer);
    }
    if (this.#deadlineTimer !== undefined) {
      this.#s.clock.clearTimer(this.#deadlineTimer);
    }
    this.#renewTimer = undefined;
    this.#deadlineTimer = undefined;
  }

  #lost(reason: string): void {
    if (!this.#holding) return;
    this.#stop();
    this.#s.onLost(reason);
  }

  #confirmed(sentAt: number): void {
    this.#validUntil = Math.max(this.#validUntil, sentAt + this.#s.ttlMs);
    if (this.#deadlineTimer !== undefined) {
      this.#s.clock.clearTimer(this.#deadlineTimer);
    }
    const stopAt = this.#validUntil - this.#s.safetyMarginMs;
    this.#deadlineTimer = this.#s.clock.setTimer(
      () =>
        this.#lost(
          `lease "${this.#s.lease.name}" could not be renewed in time`,
        ),
      Math.max(0, stopAt - this.#s.clock.now()),
    );
  }

  #scheduleRenewal(): void {
    this.#renewTimer = this.#s.clock.setTimer(
      () => void this.#renew(),
      this.#s.renewIntervalMs,
    );
  }

  async #renew(): Promise<void> {
    this.#renewTimer = undefined;
    if (!this.#holding) return;
    const token = this.#grant!.token;
    const sentAt = this.#s.clock.now();
    const outcome = await this.#call((signal) =>
      this.#s.lease.acquire(this.#s.owner, this.#s.ttlMs, signal)
    );
    if (!this.#holding) return;
    if (outcome.ok) {
      const grant = outcome.value;
      if (grant === undefined) {
        return this.#lost(`lease "${this.#s.lease.name}" is held by another`);
      }
      if (grant.token !== token) {
        // It lapsed in between and was taken again: the old token is stale.
        return this.#lost(
          `lease "${this.#s.lease.name}" lapsed (token ${token} became ${grant.token})`,
        );
      }
      this.#confirmed(sentAt);
    }
    this.#scheduleRenewal();
  }

  /**
   * Runs one lease call, aborted (and given up) after one renewal interval on the keeper's
   * clock; a failure is logged.
   */
  async #call<T>(
    call: (signal: AbortSignal) => Promise<T>,
  ): Promise<{ ok: true; value: T } | { ok: false }> {
    const controller = new AbortController();
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#s.clock.setTimer(() => {
        const error = new Error(
          `Lease "${this.#s.lease.name}" call timed out after ${this.#s.renewIntervalMs} ms`,
        );
        controller.abort(error);
        reject(error);
      }, this.#s.renewIntervalMs);
    });
    try {
      const pending = call(controller.signal);
      // A call that loses the race may still fail later: that is not unhandled.
      pending.catch(() => {});
      return { ok: true, value: await Promise.race([pending, timeout]) };
    } catch (error) {
      this.#s.logError(`Lease "${this.#s.lease.name}" call failed`, error);
      return { ok: false };
    } finally {
      this.#s.clock.clearTimer(timer!);
    }
  }
}
