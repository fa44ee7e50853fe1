// The lease in memory (one process: tests, simulations), on an injected clock so that tests
// make it lapse under virtual time; and the argument checks every lease shares.
import { type Clock, systemClock } from "../timer/mod.ts";
import { ClusterClosedError } from "./errors.ts";
import type { Lease, LeaseGrant } from "./lease.ts";

// deno-lint-ignore no-control-regex -- control characters are what it looks for
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Checks the arguments of `Lease.acquire`.
 *
 * @param owner Who takes the lease: a string of 1 to 255 characters without control characters.
 * @param ttlMs How long, in ms: a positive safe integer.
 * @throws {TypeError} When `owner` is not valid.
 * @throws {RangeError} When `ttlMs` is not a positive integer.
 * @example Usage
 * ```ts
 * import { checkLeaseAcquire } from "@troupe/troupe/cluster";
 * checkLeaseAcquire("node-a#1", 5000); // fine
 * ```
 */
export function checkLeaseAcquire(owner: unknown, ttlMs: unknown): void {
  checkLeaseOwner(owner);
  if (
    typeof ttlMs !== "number" || !Number.isSafeInteger(ttlMs) || ttlMs < 1
  ) {
    throw new RangeError(
      `Invalid lease ttlMs ${
        String(ttlMs)
      }: expected a positive integer number of ms`,
    );
  }
}

/**
 * Checks a lease owner.
 *
 * @param owner The owner: a string of 1 to 255 characters without control characters.
 * @throws {TypeError} When it is not valid.
 * @example Usage
 * ```ts
 * import { checkLeaseOwner } from "@troupe/troupe/cluster";
 * checkLeaseOwner("node-a#1"); // fine
 * ```
 */
export function checkLeaseOwner(owner: unknown): void {
  if (
    typeof owner !== "string" || owner.length === 0 || owner.length > 255 ||
    CONTROL.test(owner)
  ) {
    throw new TypeError(
      `Invalid lease owner ${
        JSON.stringify(owner) ?? String(owner)
      }: expected a string of 1 to 255 characters without control characters`,
    );
  }
}

/**
 * Checks a lease name.
 *
 * @param name The name: 1 to 200 characters, without control characters, `{` or `}`.
 * @returns It.
 * @throws {TypeError} When it is not valid.
 * @example Usage
 * ```ts
 * import { checkLeaseName } from "@troupe/troupe/cluster";
 * console.log(checkLeaseName("sbr")); // sbr
 * ```
 */
export function checkLeaseName(name: unknown): string {
  if (
    typeof name !== "string" || name.length === 0 || name.length > 200 ||
    CONTROL.test(name) || /[{}]/.test(name)
  ) {
    throw new TypeError(
      `Invalid lease name ${
        JSON.stringify(name) ?? String(name)
      }: expected 1 to 200 characters without control characters, "{" or "}"`,
    );
  }
  return name;
}

/** Options of {@linkcode MemoryLease}. */
export interface MemoryLeaseOptions {
  /** The clock the lease lapses by (default the runtime's clock; `ManualClock` in tests). */
  readonly clock?: Clock;
}

interface LeaseState {
  grant: LeaseGrant | undefined;
  lastToken: number;
}

/**
 * A {@linkcode Lease} in memory: for tests, simulations and a single process. Time comes from
 * the injected clock, so under a `ManualClock` a grant lapses exactly when virtual time passes
 * its `expiresAt`.
 *
 * @example Usage
 * ```ts
 * import { MemoryLease } from "@troupe/troupe/cluster";
 * import { ManualClock } from "@troupe/troupe/testing";
 * const clock = new ManualClock();
 * const lease = new MemoryLease("sbr", { clock });
 * const a = await lease.acquire("a", 1000);
 * console.log(await lease.acquire("b", 1000)); // undefined: a holds it
 * await clock.advance(1000);
 * const b = await lease.acquire("b", 1000);
 * console.log(b!.token > a!.token); // true
 * await lease.close();
 * ```
 */
export class MemoryLease implements Lease {
  /** The lease's name. */
  readonly name: string;
  readonly #clock: Clock;
  #state: LeaseState = { grant: undefined, lastToken: 0 };
  #closed = false;

  /**
   * Makes a free lease.
   *
   * @param name The lease's name.
   * @param options The clock.
   * @throws {TypeError} When `name` is not valid.
   */
  constructor(name: string, options: MemoryLeaseOptions = {}) {
    this.name = checkLeaseName(name);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Another handle on the same lease, as a second node of a simulated cluster would have;
   * closing one handle leaves the others open.
   *
   * @returns The new handle (on the same clock).
   * @throws {ClusterClosedError} When this handle is closed.
   */
  share(): MemoryLease {
    this.#check(undefined);
    const handle = new MemoryLease(this.name, { clock: this.#clock });
    handle.#state = this.#state;
    return handle;
  }

  /**
   * Takes the lease for `owner`, or renews it if `owner` holds it (keeping the token).
   *
   * @param owner Who takes it.
   * @param ttlMs How long it is held without renewal, in ms.
   * @param signal Aborts the call (it rejects with the signal's reason and takes nothing).
   * @returns The grant, or `undefined` when another owner holds it.
   * @throws {RangeError} When `ttlMs` is not a positive integer.
   * @throws {TypeError} When `owner` is not valid.
   * @throws {ClusterClosedError} After close().
   */
  acquire(
    owner: string,
    ttlMs: number,
    signal?: AbortSignal,
  ): Promise<LeaseGrant | undefined> {
    try {
      this.#check(signal);
      checkLeaseAcquire(owner, ttlMs);
      const now = this.#clock.now();
      const current = this.#current(now);
      const state = this.#state;
      if (current !== undefined && current.owner !== owner) {
        return Promise.resolve(undefined);
      }
      const token = current?.token ?? ++state.lastToken;
      state.grant = Object.freeze({ owner, token, expiresAt: now + ttlMs });
      return Promise.resolve(state.grant);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Gives the lease up, if `owner` holds it.
   *
   * @param owner Who gives it up.
   * @param signal Aborts the call.
   * @returns Whether `owner` held it.
   * @throws {TypeError} When `owner` is not valid.
   * @throws {ClusterClosedError} After close().
   */
  release(owner: string, signal?: AbortSignal): Promise<boolean> {
    try {
      this.#check(signal);
      checkLeaseOwner(owner);
      const current = this.#current(this.#clock.now());
      if (current === undefined || current.owner !== owner) {
        return Promise.resolve(false);
      }
      this.#state.grant = undefined;
      return Promise.resolve(true);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Reads who holds the lease.
   *
   * @param signal Aborts the read.
   * @returns The grant, or `undefined` when nobody holds it.
   * @throws {ClusterClosedError} After close().
   */
  holder(signal?: AbortSignal): Promise<LeaseGrant | undefined> {
    try {
      this.#check(signal);
      return Promise.resolve(this.#current(this.#clock.now()));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** Closes this handle; its later calls reject with ClusterClosedError. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }

  #current(now: number): LeaseGrant | undefined {
    const grant = this.#state.grant;
    return grant !== undefined && grant.expiresAt > now ? grant : undefined;
  }

  #check(signal: AbortSignal | undefined): void {
    signal?.throwIfAborted();
    if (this.#closed) {
      throw new ClusterClosedError(`MemoryLease "${this.name}"`);
    }
  }
}
