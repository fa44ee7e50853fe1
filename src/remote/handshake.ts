// Mutual challenge-response authentication with a shared secret (protocol version 2).
//
//   dialer   → Hello    (its nonce)
//   listener → Welcome  (its nonce; nothing derived from the secret)
//   dialer   → Proof    HMAC(secret, "dialer", cluster, both names, both nonces)
//   listener → Accepted HMAC(secret, "listener", ...), only once the dialer's proof verified
//
// The dialer proves first, so a client that knows only the cluster name learns nothing it could
// use to test guesses of the secret offline. The listener's nonce is fresh per connection, so a
// recorded dialer proof cannot be replayed; a proof for one role cannot be replayed as the other.
// During a rotation the listener accepts several secrets and answers under the one that matched.

import { platform } from "../platform/mod.ts";

const encoder = new TextEncoder();

/** The size of nonces and proofs, in bytes. */
export const NONCE_BYTES = 32;

/** The fewest bytes (UTF-8) a cluster secret may have. */
export const MIN_SECRET_BYTES = 16;

/** A fresh random nonce. */
export function newNonce(): Uint8Array {
  const nonce = new Uint8Array(NONCE_BYTES);
  crypto.getRandomValues(nonce);
  return nonce;
}

/**
 * Generates a strong cluster secret: 32 random bytes, base64url-encoded (43 characters).
 *
 * Give the same value to every node of the cluster as `secret` (see `RemoteNodeOptions`). Keep
 * it out of source control, like any credential.
 *
 * @returns A new secret.
 *
 * @example Generate a secret and start a node with it
 * ```ts
 * import { generateClusterSecret } from "@troupe/troupe";
 *
 * const secret = generateClusterSecret();
 * console.log(secret.length); // 43
 * ```
 */
export function generateClusterSecret(): string {
  const bytes = new Uint8Array(32);
  crypto.getRandomValues(bytes);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(
    /=+$/,
    "",
  );
}

/** The facts both sides of one handshake agree on. */
export interface HandshakeFacts {
  readonly cluster: string;
  readonly dialerNode: string;
  readonly listenerNode: string;
  readonly dialerNonce: Uint8Array;
  readonly listenerNonce: Uint8Array;
}

function hex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += b.toString(16).padStart(2, "0");
  return out;
}

/**
 * Checks a secret's length: at least {@linkcode MIN_SECRET_BYTES} UTF-8 bytes.
 *
 * @throws {RangeError} When it is not a string, or too short.
 */
export function checkSecret(secret: unknown, what = "secret"): string {
  if (
    typeof secret !== "string" ||
    encoder.encode(secret).byteLength < MIN_SECRET_BYTES
  ) {
    throw new RangeError(
      `Invalid cluster ${what}: it must be a string of at least ${MIN_SECRET_BYTES} bytes ` +
        `(use generateClusterSecret() for a strong one)`,
    );
  }
  return secret;
}

let cryptoInFlight = 0;

/**
 * How many of the handshakes' cryptographic operations (key imports, HMACs) are in progress in
 * this process. They complete on the runtime's thread pool, off any virtual clock: the test
 * cluster waits for them before it moves virtual time on, so that time cannot outrun a
 * handshake (on Bun it did, under load, when the harness only counted on the pool's order).
 *
 * @returns The number of operations in progress.
 */
export function handshakeCryptoInFlight(): number {
  return cryptoInFlight;
}

async function counted<T>(operation: () => Promise<T>): Promise<T> {
  cryptoInFlight++;
  try {
    return await operation();
  } finally {
    cryptoInFlight--;
  }
}

/** Imports a secret as an HMAC-SHA256 key (done once per node). */
export function importSecret(secret: string): Promise<CryptoKey> {
  checkSecret(secret);
  return counted(() =>
    crypto.subtle.importKey(
      "raw",
      encoder.encode(secret),
      { name: "HMAC", hash: "SHA-256" },
      false,
      ["sign"],
    )
  );
}

/** The proof that `role` knows the secret. */
export async function prove(
  key: CryptoKey,
  role: "dialer" | "listener",
  facts: HandshakeFacts,
): Promise<Uint8Array> {
  const message = [
    "troupe-handshake-v2",
    role,
    facts.cluster,
    facts.dialerNode,
    facts.listenerNode,
    hex(facts.dialerNonce),
    hex(facts.listenerNonce),
  ].join("\n");
  return new Uint8Array(
    await counted(() =>
      crypto.subtle.sign("HMAC", key, encoder.encode(message))
    ),
  );
}

/** Whether `proof` is the right proof for `role`, compared in constant time. */
export async function verify(
  key: CryptoKey,
  role: "dialer" | "listener",
  facts: HandshakeFacts,
  proof: Uint8Array,
): Promise<boolean> {
  const expected = await prove(key, role, facts);
  if (!(proof instanceof Uint8Array) || proof.length !== expected.length) {
    return false;
  }
  let diff = 0;
  for (let i = 0; i < expected.length; i++) diff |= expected[i] ^ proof[i];
  return diff === 0;
}

/**
 * The first of `keys` under which `proof` verifies, or `undefined` (each is tried, so the time
 * does not tell which one matched).
 */
export async function verifyAny(
  keys: readonly CryptoKey[],
  role: "dialer" | "listener",
  facts: HandshakeFacts,
  proof: Uint8Array,
): Promise<CryptoKey | undefined> {
  let matched: CryptoKey | undefined;
  for (const key of keys) {
    if (await verify(key, role, facts, proof)) matched ??= key;
  }
  return matched;
}

/** Options of {@linkcode AuthFailureLimiter}. */
export interface AuthFailureLimiterOptions {
  /** Failed proofs an address may make in a burst (the bucket's size). */
  readonly burst: number;
  /** One failure is forgiven every this many ms (the bucket's refill). */
  readonly refillMs: number;
  /** The most addresses tracked; the least recently failed are forgotten first. */
  readonly maxAddresses: number;
  /** The clock's now(), in ms. */
  readonly now?: () => number;
}

/**
 * A token bucket of failed proofs per source address: an address that failed `burst` times in
 * quick succession is blocked until the bucket refills. Memory is bounded by `maxAddresses`.
 */
export class AuthFailureLimiter {
  readonly #burst: number;
  readonly #refillMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  /** Tokens left and when they were counted, per address; Map order is the least recent first. */
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(options: AuthFailureLimiterOptions) {
    this.#burst = options.burst;
    this.#refillMs = options.refillMs;
    this.#maxAddresses = options.maxAddresses;
    this.#now = options.now ?? (() => platform.now());
  }

  /** How many addresses are tracked (a diagnostic). */
  get size(): number {
    return this.#buckets.size;
  }

  #tokens(address: string): number {
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) return this.#burst;
    const tokens = Math.min(
      this.#burst,
      bucket.tokens + (this.#now() - bucket.at) / this.#refillMs,
    );
    if (tokens >= this.#burst) this.#buckets.delete(address);
    return tokens;
  }

  /** Whether `address` may try to prove itself now (takes nothing). */
  allows(address: string): boolean {
    return this.#tokens(address) >= 1;
  }

  /**
   * Takes a token for one proof check from `address`, before the check: so that many proofs
   * sent at once on parallel connections cannot all pass before the first failure is counted.
   * Give it back with {@linkcode AuthFailureLimiter.refund} when the proof was valid.
   *
   * @returns Whether a token was left (when not, refuse without checking).
   */
  take(address: string): boolean {
    const tokens = this.#tokens(address);
    if (tokens < 1) return false;
    this.#set(address, tokens - 1);
    return true;
  }

  /** Gives back a token taken for a proof that turned out valid. */
  refund(address: string): void {
    this.#set(address, this.#tokens(address) + 1);
  }

  /** Counts a failed proof from `address` (for a check made without {@linkcode take}). */
  failed(address: string): void {
    this.#set(address, Math.max(0, this.#tokens(address) - 1));
  }

  #set(address: string, tokens: number): void {
    this.#buckets.delete(address);
    if (tokens >= this.#burst) return;
    this.#buckets.set(address, { tokens, at: this.#now() });
    while (this.#buckets.size > this.#maxAddresses) {
      this.#buckets.delete(this.#buckets.keys().next().value!);
    }
  }
}

/**
 * The key under which a source address is rate-limited: an IPv4 address as it is (also when it
 * comes IPv4-mapped, `::ffff:a.b.c.d`), an IPv6 address by its /64 prefix, since one host
 * commonly holds a whole /64 and could otherwise take a fresh budget per address.
 *
 * @param hostname The peer's address, as the socket reports it.
 * @returns The key.
 */
export function sourceKey(hostname: string): string {
  const address = hostname.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
  if (!address.includes(":")) return address;
  const mapped = /^(?:0*:)*:?ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1];
  const [head, tail] = address.split("::", 2) as [string, string | undefined];
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined ? front : [
    ...front,
    ...Array(Math.max(0, 8 - front.length - back.length)).fill("0"),
    ...back,
  ];
  return groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""))
    .join(":") + "::/64";
}

/** Where a node reports connection problems (the shape of `RemoteNodeOptions.logger`). */
export interface HandshakeLogger {
  /** Reports an error. */
  error(message: string, error: unknown): void;
}

/**
 * Passes at most `maxLines` lines per `intervalMs` to `logger`, and counts the rest; the count
 * is reported with the first line of a later interval. Unauthenticated peers cannot flood the
 * log this way.
 */
export class RateLimitedLogger implements HandshakeLogger {
  readonly #logger: HandshakeLogger;
  readonly #maxLines: number;
  readonly #intervalMs: number;
  readonly #now: () => number;
  #windowStart = -Infinity;
  #lines = 0;
  #suppressed = 0;

  constructor(
    logger: HandshakeLogger,
    options: { maxLines: number; intervalMs: number; now: () => number },
  ) {
    this.#logger = logger;
    this.#maxLines = options.maxLines;
    this.#intervalMs = options.intervalMs;
    this.#now = options.now;
  }

  error(message: string, error: unknown): void {
    const now = this.#now();
    if (now - this.#windowStart >= this.#intervalMs) {
      this.#windowStart = now;
      this.#lines = 0;
      if (this.flush()) this.#lines++;
    }
    if (this.#lines >= this.#maxLines) {
      this.#suppressed++;
      return;
    }
    this.#lines++;
    this.#logger.error(message, error);
  }

  /** Reports how many lines were suppressed since the last report, if any; returns whether it did. */
  flush(): boolean {
    const suppressed = this.#suppressed;
    if (suppressed === 0) return false;
    this.#suppressed = 0;
    this.#logger.error(
      `Suppressed ${suppressed} handshake log line(s) (at most ${this.#maxLines} per ${this.#intervalMs} ms)`,
      new Error(`${suppressed} line(s) suppressed`),
    );
    return true;
  }
}
