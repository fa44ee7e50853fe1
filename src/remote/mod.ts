/**
 * Remoting: actor systems on different processes and machines talk as if they were local.
 * A {@linkcode RemoteNode} listens and dials over TCP (optionally TLS); every connection starts
 * with an authenticated handshake; remote refs have the same API as local ones; death watch
 * spans nodes. The wire protocol is protobuf (proto/troupe_remote.proto) in length-prefixed
 * frames, coalesced in user space.
 *
 * The network and the clock are options of a node: `transport` (a {@linkcode Transport}; the
 * default, {@linkcode tcpTransport}, is the platform's TCP and TLS) and `clock`. Every transport
 * passes one conformance suite; `MemoryNetwork` (in `@troupe/troupe/testing`) runs nodes in one
 * process with latency, loss, partitions and frozen or killed hosts, and `TestCluster` there
 * runs N nodes on it under virtual time.
 *
 * Higher layers add their own message kinds without editing this module: a
 * {@linkcode RemoteExtension} (name, codec, handler) given in the `extensions` option is
 * announced to every peer in the handshake, and {@linkcode RemoteNode.extension} sends its
 * messages and gets replies. A message for an extension the peer does not handle is refused with
 * {@linkcode ExtensionUnsupportedError}, and the connection stays up. Extension messages go both
 * ways between associated nodes (see {@linkcode RemoteNode.peers}).
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, RemoteNode } from "@troupe/troupe";
 * await using system = new ActorSystem({ node: "n1" });
 * await using node = await RemoteNode.start(system, { cluster: "demo", secret: "correct horse battery" });
 * console.log(node.address.startsWith("127.0.0.1:")); // true
 * ```
 *
 * @module
 */
export type { RemoteLogger } from "./_link.ts";
export type { CodecOptions } from "./codecs.ts";
export {
  CodecError,
  ConnectionClosedError,
  ExtensionUnsupportedError,
  FrameTooLargeError,
  HandshakeRefusedError,
  isCodecError,
  isConnectionClosedError,
  isExtensionUnsupportedError,
  isFrameTooLargeError,
  isHandshakeRefusedError,
  isNodeUnreachableError,
  isProtocolError,
  isRemoteFailureError,
  NodeUnreachableError,
  ProtocolError,
  type RemoteErrorCode,
  RemoteFailureError,
} from "./errors.ts";
export { generateClusterSecret, handshakeCryptoInFlight } from "./handshake.ts";
export { type PeerChange, type PeerInfo, RemoteNode } from "./node.ts";
export type {
  ExtensionChannel,
  ExtensionSender,
  RemoteExtension,
} from "./extension.ts";
export {
  type ConnectOptions,
  type ListenOptions,
  MemoryNetwork,
  type MemoryNetworkOptions,
  type NetAddr,
  type TcpConn,
  type TcpListener,
  tcpTransport,
  type Transport,
} from "./transport/mod.ts";
export type {
  RemoteNodeOptions,
  RemoteTlsClientOptions,
  RemoteTlsServerOptions,
} from "./options.ts";
