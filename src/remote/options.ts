// The options of a remote node, as users write them.
import type { BackoffOptions } from "../actor/mod.ts";
import type { Clock } from "../timer/mod.ts";
import type { Transport } from "./transport/mod.ts";
import type { RemoteLogger } from "./_link.ts";
import type { CodecOptions } from "./codecs.ts";
import type { RemoteExtension } from "./extension.ts";

/** TLS for a node's listener (PEM strings). */
export interface RemoteTlsServerOptions {
  /** The certificate chain. */
  readonly certificate: string;
  /** The private key. */
  readonly privateKey: string;
}

/** TLS for a node's outgoing connections. */
export interface RemoteTlsClientOptions {
  /** Extra trusted CA certificates (PEM). */
  readonly caCertificates?: readonly string[];
  /** The name to verify the server certificate against. */
  readonly serverName?: string;
}

/** Options of {@linkcode RemoteNode.start}. */
export interface RemoteNodeOptions extends CodecOptions {
  /** The cluster's name: nodes of different clusters refuse each other. */
  readonly cluster: string;
  /**
   * The cluster's shared secret: at least 16 bytes (UTF-8), best made by
   * `generateClusterSecret()`. It never crosses the wire. This node proves itself with it when
   * dialing, and accepts it (and `acceptSecrets`) from nodes that dial in.
   */
  readonly secret: string;
  /**
   * More secrets accepted from nodes that dial in, for a rotation (each at least 16 bytes):
   * first give every node the new secret here, then make it `secret` everywhere (with the old
   * one here), then drop the old one. The listener answers under the secret that matched.
   */
  readonly acceptSecrets?: readonly string[];
  /** The interface to listen on (default `"127.0.0.1"`). */
  readonly hostname?: string;
  /** The port to listen on (default 0: any free port). */
  readonly port?: number;
  /** Listen with TLS. */
  readonly tls?: RemoteTlsServerOptions;
  /** Dial other nodes with TLS. */
  readonly connectTls?: RemoteTlsClientOptions;
  /** Send a ping after this much idle time, in ms (default 1000). */
  readonly heartbeatIntervalMs?: number;
  /** Close a connection that has been silent this long, in ms (default 5000). */
  readonly heartbeatTimeoutMs?: number;
  /**
   * How long a whole handshake may take, in ms (default 3000). Past it the connection is
   * refused with code `timeout` (sent to the peer) and closed.
   */
  readonly handshakeTimeoutMs?: number;
  /**
   * How many inbound connections may be in their handshake at once (default 64). Over the cap a
   * new connection is refused (code `busy`) and closed at once. Until its handshake is done a
   * connection may send only frames of up to 4 KiB.
   */
  readonly maxPendingHandshakes?: number;
  /**
   * How many of those one source address may hold at once (default 8; an IPv6 address counts
   * by its /64), so that a single host cannot take every slot and lock the cluster's own nodes
   * out. Over it a connection is refused with code `busy`.
   */
  readonly maxPendingHandshakesPerAddress?: number;
  /**
   * How many failed proofs a source address may make in a burst (default 5); then it is refused
   * (code `rate-limited`, without checking anything) until one failure is forgiven every
   * `authFailureRefillMs`.
   */
  readonly maxAuthFailures?: number;
  /** One failed proof per address is forgiven every this many ms (default 2000). */
  readonly authFailureRefillMs?: number;
  /** Reconnect delays (default 100 ms doubling to 5 s, jitter 0.2). */
  readonly reconnect?: BackoffOptions;
  /**
   * How many messages to keep for a node that is unreachable (default 10 000); beyond that,
   * tells become dead letters and requests reject with `NodeUnreachableError`. Their size is
   * checked as they are kept: a tell over `maxFrameBytes` is a dead letter at once, such a
   * request rejects with `FrameTooLargeError`. What is still kept when the node closes becomes
   * a dead letter (reason `node-unreachable`) or rejects with `NodeUnreachableError`.
   */
  readonly maxBufferedMessages?: number;
  /**
   * How many bytes may wait for the socket on one connection (default 64 MiB). Past that,
   * tells to that node become dead letters (reason `mailbox-full`) and requests reject with
   * `NodeUnreachableError`, so a producer faster than the network gets bounded memory and
   * keeps its connection.
   */
  readonly maxSendBufferBytes?: number;
  /** The largest frame accepted or sent, in bytes (default 8 MiB). */
  readonly maxFrameBytes?: number;
  /**
   * How the node listens and dials (default: the platform's TCP, with TLS when `tls` or
   * `connectTls` is set). A `MemoryNetwork`'s transport runs nodes in one process.
   */
  readonly transport?: Transport;
  /**
   * The clock of heartbeats, handshake timeouts, reconnect backoff, request timeouts and the
   * stall detection of connections (default: the actor system's clock for the first ones, the
   * platform's for stall detection). A `ManualClock` here puts the node under virtual time.
   */
  readonly clock?: Clock;
  /**
   * Message kinds of higher layers that this node handles (at most 64, distinct names taking
   * at most 2 KiB together): it
   * announces their names in every handshake, and sends them with
   * {@linkcode RemoteNode.extension}.
   */
  // deno-lint-ignore no-explicit-any -- each extension has its own message and reply types
  readonly extensions?: readonly RemoteExtension<any, any>[];
  /** Where connection problems are reported (default: the console). */
  readonly logger?: RemoteLogger;
}
