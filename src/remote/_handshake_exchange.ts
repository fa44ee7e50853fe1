// The messages of a handshake, in both roles: the dialer sends its Hello and proves first; the
// listener answers with a Welcome and proves itself only after checking the dialer's proof,
// under a rate limit on failed proofs per source address. A refusal is sent to the other side,
// logged, and thrown as a HandshakeRefusedError.
import type { Clock } from "../timer/mod.ts";
import type { Link, RemoteLogger } from "./_link.ts";
import type { AuthFailureSettings, Settings } from "./_settings.ts";
import { HandshakeRefusedError } from "./errors.ts";
import {
  AuthFailureLimiter,
  newNonce,
  prove,
  RateLimitedLogger,
  verify,
  verifyAny,
} from "./handshake.ts";
import { PROTOCOL_VERSION, type RemoteMessage } from "./protocol/mod.ts";

/** The most source addresses whose failed proofs are remembered. */
const AUTH_FAILURE_ADDRESSES = 4096;
/** At most this many handshake log lines per interval; the rest are counted. */
const HANDSHAKE_LOG_LINES = 10;
const HANDSHAKE_LOG_INTERVAL_MS = 10_000;
/** The reason of a refusal for too many failed proofs. */
export const RATE_LIMITED =
  "too many failed proofs from this address; try again later";

/** What a handshake learnt of the other node. */
export interface Greeted {
  readonly node: string;
  readonly extensions: ReadonlySet<string>;
}

/** Who this node is in its handshakes. */
export interface HandshakeExchangeOptions {
  readonly node: string;
  readonly address: string;
  /** This node proves itself with the first key, and accepts any of them. */
  readonly keys: readonly CryptoKey[];
  readonly settings: Settings;
  readonly authFailures: AuthFailureSettings;
  readonly clock: Clock;
  readonly logger: RemoteLogger;
  /** The extensions this node announces. */
  readonly extensions: readonly string[];
}

/** The handshake's steps, for every connection of one node. */
export class HandshakeExchange {
  readonly #node: string;
  readonly #address: string;
  readonly #keys: readonly CryptoKey[];
  readonly #settings: Settings;
  readonly #clock: Clock;
  readonly #logger: RemoteLogger;
  /** The Hello/Welcome field announcing this node's extensions (absent when none). */
  readonly #announce: { readonly extensions?: readonly string[] };
  readonly #authFailures: AuthFailureLimiter;
  readonly #loggedRefusals = new WeakSet<object>();
  /** The rate-limited log of what unauthenticated peers cause. */
  readonly log: RateLimitedLogger;

  constructor(options: HandshakeExchangeOptions) {
    this.#node = options.node;
    this.#address = options.address;
    this.#keys = options.keys;
    this.#settings = options.settings;
    this.#clock = options.clock;
    this.#logger = options.logger;
    this.#announce = options.extensions.length === 0
      ? {}
      : { extensions: [...options.extensions] };
    const now = () => options.clock.now();
    this.#authFailures = new AuthFailureLimiter({
      ...options.authFailures,
      maxAddresses: AUTH_FAILURE_ADDRESSES,
      now,
    });
    this.log = new RateLimitedLogger(options.logger, {
      maxLines: HANDSHAKE_LOG_LINES,
      intervalMs: HANDSHAKE_LOG_INTERVAL_MS,
      now,
    });
  }

  /** Whether `source` may still try a proof (see AuthFailureLimiter). */
  allows(source: string): boolean {
    return this.#authFailures.allows(source);
  }

  /** Whether `error` is a refusal that was logged already. */
  logged(error: unknown): boolean {
    return this.#loggedRefusals.has(error as object);
  }

  /** The peer has proved itself: full-size frames from now on. */
  #authenticated(link: Link): void {
    link.frames.maxFrameBytes = this.#settings.maxFrameBytes;
  }

  /** The next handshake message, within what is left of the handshake's time. */
  #next(link: Link, deadline: number): Promise<RemoteMessage> {
    return link.next(this.#clock, Math.max(1, deadline - this.#clock.now()));
  }

  /** The checks both sides make of the other's greeting (a Hello or a Welcome). */
  #checkGreeting(
    link: Link,
    greeting: { readonly protocolVersion: number; readonly cluster: string },
    logger: RemoteLogger,
  ): void {
    if (greeting.protocolVersion !== PROTOCOL_VERSION) {
      throw this.refuse(
        link,
        "version",
        `protocol version ${greeting.protocolVersion} is not supported: ` +
          `this node speaks version ${PROTOCOL_VERSION}`,
        logger,
      );
    }
    const cluster = this.#settings.cluster;
    if (greeting.cluster !== cluster) {
      throw this.refuse(
        link,
        "cluster",
        `cluster "${greeting.cluster}" is not "${cluster}"`,
        logger,
      );
    }
  }

  /** The dialer's side: hello, then the listener's welcome, proof, then its acceptance. */
  async dial(
    link: Link,
    expectedNode: string | undefined,
  ): Promise<Greeted> {
    const s = this.#settings;
    const deadline = this.#clock.now() + s.handshakeTimeoutMs;
    const dialerNonce = newNonce();
    link.send({
      kind: "hello",
      protocolVersion: PROTOCOL_VERSION,
      node: this.#node,
      address: this.#address,
      cluster: s.cluster,
      nonce: dialerNonce,
      ...this.#announce,
    });
    const welcome = await this.#next(link, deadline);
    if (welcome.kind === "refused") {
      throw new HandshakeRefusedError(welcome.code, welcome.reason);
    }
    if (welcome.kind !== "welcome") {
      throw this.refuse(
        link,
        "protocol",
        `expected welcome, got ${welcome.kind}`,
      );
    }
    this.#checkGreeting(link, welcome, this.#logger);
    if (expectedNode !== undefined && welcome.node !== expectedNode) {
      throw this.refuse(
        link,
        "node",
        `expected node "${expectedNode}" at this address, found "${welcome.node}"`,
      );
    }
    const facts = {
      cluster: s.cluster,
      dialerNode: this.#node,
      listenerNode: welcome.node,
      dialerNonce,
      listenerNonce: welcome.nonce,
    };
    // The dialer proves first, always with its current secret.
    link.send({
      kind: "proof",
      proof: await prove(this.#keys[0], "dialer", facts),
    });
    const accepted = await this.#next(link, deadline);
    if (accepted.kind === "refused") {
      throw new HandshakeRefusedError(accepted.code, accepted.reason);
    }
    if (accepted.kind !== "accepted") {
      throw this.refuse(
        link,
        "protocol",
        `expected accepted, got ${accepted.kind}`,
      );
    }
    if (!await verify(this.#keys[0], "listener", facts, accepted.proof)) {
      throw this.refuse(
        link,
        "auth",
        "the listener's proof does not match the cluster secret",
      );
    }
    this.#authenticated(link);
    return { node: welcome.node, extensions: new Set(welcome.extensions) };
  }

  /** The listener's side: the dialer's hello, welcome, its proof, then acceptance. */
  async listen(link: Link, source: string): Promise<Greeted> {
    const s = this.#settings;
    const deadline = this.#clock.now() + s.handshakeTimeoutMs;
    const log = this.log;
    const hello = await this.#next(link, deadline);
    if (hello.kind !== "hello") {
      throw this.refuse(
        link,
        "protocol",
        `expected hello, got ${hello.kind}`,
        log,
      );
    }
    this.#checkGreeting(link, hello, log);
    if (hello.node === this.#node) {
      throw this.refuse(
        link,
        "protocol",
        "a node cannot connect to itself",
        log,
      );
    }
    const listenerNonce = newNonce();
    const facts = {
      cluster: s.cluster,
      dialerNode: hello.node,
      listenerNode: this.#node,
      dialerNonce: hello.nonce,
      listenerNonce,
    };
    // Nothing derived from the secret goes out before the dialer's proof has been checked.
    link.send({
      kind: "welcome",
      protocolVersion: PROTOCOL_VERSION,
      node: this.#node,
      address: this.#address,
      cluster: s.cluster,
      nonce: listenerNonce,
      ...this.#announce,
    });
    const proof = await this.#next(link, deadline);
    if (proof.kind === "refused") {
      throw new HandshakeRefusedError(proof.code, proof.reason);
    }
    if (proof.kind !== "proof") {
      throw this.refuse(
        link,
        "protocol",
        `expected proof, got ${proof.kind}`,
        log,
      );
    }
    // The token is taken before the check, so proofs sent at once on parallel connections
    // cannot all be checked before the first failure counts; a valid proof gives it back.
    if (!this.#authFailures.take(source)) {
      throw this.refuse(link, "rate-limited", RATE_LIMITED, log);
    }
    const key = await verifyAny(this.#keys, "dialer", facts, proof.proof);
    if (key !== undefined) this.#authFailures.refund(source);
    if (key === undefined) {
      throw this.refuse(
        link,
        "auth",
        "the dialer's proof does not match the cluster secret",
        log,
      );
    }
    const answer = await prove(key, "listener", facts);
    if (link.closed) throw link.closeError;
    this.#authenticated(link);
    link.send({ kind: "accepted", proof: answer });
    return { node: hello.node, extensions: new Set(hello.extensions) };
  }

  /** Tells the other side why, logs it, and returns the error to throw. */
  refuse(
    link: Link,
    code: string,
    reason: string,
    logger: RemoteLogger = this.#logger,
  ): HandshakeRefusedError {
    const error = new HandshakeRefusedError(code, reason);
    this.#loggedRefusals.add(error);
    logger.error(`Refused ${link.description}`, error);
    link.sendAndClose({ kind: "refused", code, reason }, reason, this.#clock);
    return error;
  }
}
