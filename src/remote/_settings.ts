// What a node runs by: its options checked and completed with defaults, and the view of the
// node that its associations, sessions and handshakes work through.
import type {
  ActorDefinition,
  ActorSystem,
  BackoffOptions,
  Handlers,
} from "../actor/mod.ts";
import type { Clock } from "../timer/mod.ts";
import type { Handshaken } from "./_handshakes.ts";
import type { RemoteLogger } from "./_link.ts";
import type { ExtensionRegistry } from "./extension.ts";
import type { MessageCodecs } from "./codecs.ts";
import { checkSecret } from "./handshake.ts";
import type { RemoteNodeOptions, RemoteTlsClientOptions } from "./options.ts";
import { tcpTransport, type Transport } from "./transport/mod.ts";

/** A node's settings: its options, checked, with the defaults filled in. */
export interface Settings {
  readonly cluster: string;
  readonly heartbeatIntervalMs: number;
  readonly heartbeatTimeoutMs: number;
  readonly handshakeTimeoutMs: number;
  readonly maxPendingHandshakes: number;
  readonly maxPendingHandshakesPerAddress: number;
  readonly reconnect: BackoffOptions;
  readonly maxBufferedMessages: number;
  readonly maxFrameBytes: number;
  readonly maxSendBufferBytes: number;
  readonly connectTls?: RemoteTlsClientOptions;
  /** How the node listens and dials. */
  readonly transport: Transport;
  /** The clock given in the options, if any (connections' stall detection runs on it then). */
  readonly clock?: Clock;
}

/** How many failed proofs an address may make in a burst, and how fast they are forgiven. */
export interface AuthFailureSettings {
  readonly burst: number;
  readonly refillMs: number;
}

/**
 * Checks a node's options and fills in the defaults.
 *
 * @throws {TypeError} When an option is invalid.
 * @throws {RangeError} When a number is out of range, or a secret is shorter than 16 bytes.
 */
export function resolveSettings(options: RemoteNodeOptions): {
  settings: Settings;
  authFailures: AuthFailureSettings;
  /** The secret this node proves itself with, then the others it accepts. */
  secrets: string[];
} {
  if (
    typeof options?.cluster !== "string" ||
    !/^[A-Za-z0-9_.:-]{1,100}$/.test(options.cluster)
  ) {
    throw new TypeError(
      `Invalid cluster name ${JSON.stringify(options?.cluster)}`,
    );
  }
  const positive = (
    name: string,
    value: number | undefined,
    fallback: number,
  ): number => {
    const v = value ?? fallback;
    if (!(v > 0) || !Number.isFinite(v)) {
      throw new RangeError(`Invalid ${name} ${String(value)}: must be > 0`);
    }
    return v;
  };
  const transport = options.transport;
  if (
    transport !== undefined &&
    (typeof transport?.listen !== "function" ||
      typeof transport.connect !== "function")
  ) {
    throw new TypeError(
      "Invalid transport: expected an object with listen() and connect()",
    );
  }
  const clock = options.clock;
  if (
    clock !== undefined &&
    (typeof clock?.now !== "function" ||
      typeof clock.setTimer !== "function" ||
      typeof clock.clearTimer !== "function")
  ) {
    throw new TypeError(
      "Invalid clock: expected an object with now(), setTimer() and clearTimer()",
    );
  }
  const settings: Settings = {
    cluster: options.cluster,
    heartbeatIntervalMs: positive(
      "heartbeatIntervalMs",
      options.heartbeatIntervalMs,
      1000,
    ),
    heartbeatTimeoutMs: positive(
      "heartbeatTimeoutMs",
      options.heartbeatTimeoutMs,
      5000,
    ),
    handshakeTimeoutMs: positive(
      "handshakeTimeoutMs",
      options.handshakeTimeoutMs,
      3000,
    ),
    maxPendingHandshakes: positive(
      "maxPendingHandshakes",
      options.maxPendingHandshakes,
      64,
    ),
    maxPendingHandshakesPerAddress: positive(
      "maxPendingHandshakesPerAddress",
      options.maxPendingHandshakesPerAddress,
      8,
    ),
    reconnect: options.reconnect ?? { minMs: 100, maxMs: 5000, jitter: 0.2 },
    maxBufferedMessages: positive(
      "maxBufferedMessages",
      options.maxBufferedMessages,
      10_000,
    ),
    maxFrameBytes: positive(
      "maxFrameBytes",
      options.maxFrameBytes,
      8 * 1024 * 1024,
    ),
    maxSendBufferBytes: positive(
      "maxSendBufferBytes",
      options.maxSendBufferBytes,
      64 * 1024 * 1024,
    ),
    connectTls: options.connectTls,
    transport: options.transport ?? tcpTransport,
    ...(options.clock === undefined ? {} : { clock: options.clock }),
  };
  const authFailures = {
    burst: positive("maxAuthFailures", options.maxAuthFailures, 5),
    refillMs: positive(
      "authFailureRefillMs",
      options.authFailureRefillMs,
      2000,
    ),
  };
  checkSecret(options?.secret);
  const accepted = options.acceptSecrets ?? [];
  if (!Array.isArray(accepted)) {
    throw new TypeError(
      "Invalid acceptSecrets: expected an array of strings",
    );
  }
  accepted.forEach((secret, i) => checkSecret(secret, `acceptSecrets[${i}]`));
  return {
    settings,
    authFailures,
    secrets: [options.secret, ...accepted],
  };
}

/** The node as its parts (peers, sessions, handshakes) see it. */
export interface NodeContext {
  /** This node's name. */
  readonly node: string;
  readonly system: ActorSystem;
  /** Whether close() was called. */
  readonly closed: boolean;
  readonly settings: Settings;
  readonly codecs: MessageCodecs;
  readonly clock: Clock;
  readonly logger: RemoteLogger;
  /** Dials and handshakes; with `expectedNode`, refuses a listener of another name. */
  dial(address: string, expectedNode?: string): Promise<Handshaken>;
  /** The extensions this node handles. */
  readonly extensions: ExtensionRegistry;
  /** Publishes a message that could not be sent as a dead letter. */
  deadLetter(
    node: string,
    path: string,
    type: string,
    payload: unknown,
    reason?: "node-unreachable" | "mailbox-full",
  ): void;
  /** The actor type registered under `name`, if any. */
  factory(
    name: string,
  ): ActorDefinition<unknown, unknown, Handlers<unknown>> | undefined;
}
