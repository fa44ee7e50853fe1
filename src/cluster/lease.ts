// The contract of a lease: a named, time-limited right that at most one owner holds at a time.
// The lease-majority downing strategy takes one before its side of a partition keeps running, and
// the cluster singleton fences its instances with the token. Implementations: MemoryLease (one
// process, tests) and RedisLease (`@troupe/troupe/cluster/redis`); both run one conformance suite.

/** A lease that is held: by whom, with which fencing token, until when. */
export interface LeaseGrant {
  /** The owner that holds it. */
  readonly owner: string;
  /**
   * The fencing token: it grows every time the lease passes to a new owner (or to the same owner
   * after it lapsed), and stays the same while one owner renews it, so a resource that remembers
   * the highest token it has seen can refuse a stale holder.
   */
  readonly token: number;
  /** When the grant lapses unless renewed, in ms since the epoch of the lease's clock. */
  readonly expiresAt: number;
}

/**
 * A named lease. An owner takes it with {@linkcode Lease.acquire} and keeps it by calling
 * `acquire` again before it lapses; it is free again after {@linkcode Lease.release} or when
 * its time runs out. Two owners never hold it at once (within the clock drift the implementation
 * documents).
 */
export interface Lease {
  /** The lease's name (for example `"sbr"` or `"singleton:orders"`). */
  readonly name: string;
  /**
   * Takes the lease for `owner` for `ttlMs`, or renews it if `owner` holds it already.
   *
   * @param owner Who takes it: a stable id of one member (for example `node#incarnation`).
   * @param ttlMs How long it is held without renewal, in ms (at least 1).
   * @param signal Aborts the call (its outcome is then unknown: assume it is not held).
   * @returns The grant when `owner` holds it now, or `undefined` when another owner does.
   * @throws {RangeError} When `ttlMs` is not a positive integer.
   */
  acquire(
    owner: string,
    ttlMs: number,
    signal?: AbortSignal,
  ): Promise<LeaseGrant | undefined>;
  /**
   * Gives the lease up, if `owner` holds it.
   *
   * @param owner Who gives it up.
   * @param signal Aborts the call.
   * @returns Whether `owner` held it (and now does not).
   */
  release(owner: string, signal?: AbortSignal): Promise<boolean>;
  /**
   * Reads who holds the lease now.
   *
   * @param signal Aborts the read.
   * @returns The current grant, or `undefined` when nobody holds it.
   */
  holder(signal?: AbortSignal): Promise<LeaseGrant | undefined>;
  /** Releases what the lease object holds (connections, timers); a held lease simply lapses. */
  close(): Promise<void>;
}
