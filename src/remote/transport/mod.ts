/**
 * The bytes layer of remoting: length-prefixed frames (4-byte big-endian length + payload) over
 * a TCP or TLS connection of the platform layer, with the batching that small frames need
 * (frames queued in one tick leave in one write), bounded buffering with backpressure, and
 * stall detection for a peer that stops reading. Runtime-neutral: it runs unchanged on Deno and
 * Node.
 *
 * What carries the bytes is a {@linkcode Transport}: {@linkcode tcpTransport} (the platform's TCP
 * and TLS) or a {@linkcode MemoryNetwork}'s, which runs hosts in one process with injectable
 * latency, loss, partitions, freezes and kills. Both pass the same conformance suite
 * (`_conformance_test.ts`).
 *
 * @example Echo frames over loopback
 * ```ts
 * import { connectFrames, listenFrames } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const listener = await listenFrames({ port: 0 }, (conn) => {
 *   conn.start({ onFrame: (payload) => conn.send(payload), onClose: () => {} });
 * });
 * const client = await connectFrames({ port: listener.addr.port });
 * const received: string[] = [];
 * await new Promise<void>((resolve) => {
 *   client.start({
 *     onFrame: (payload) => {
 *       received.push(new TextDecoder().decode(payload));
 *       if (received.length === 3) resolve();
 *     },
 *     onClose: () => {},
 *   });
 *   // Three frames, one write.
 *   for (const word of ["one", "two", "three"]) client.send(new TextEncoder().encode(word));
 * });
 * assert.deepEqual(received, ["one", "two", "three"]);
 * client.close();
 * await listener.close();
 * ```
 *
 * @module
 */
export {
  ConnectionClosedError,
  FrameTooLargeError,
  isConnectionClosedError,
  isFrameTooLargeError,
} from "./errors.ts";
export {
  FrameConnection,
  type FrameConnectionOptions,
  type FrameHandlers,
  type WhenWritableOptions,
} from "./frame_connection.ts";
export {
  connectFrames,
  type ConnectFramesOptions,
  type FrameListener,
  listenFrames,
  type ListenFramesOptions,
} from "./frame_endpoints.ts";
export { tcpTransport, type Transport } from "./transport.ts";
export {
  MemoryNetwork,
  type MemoryNetworkOptions,
} from "./memory_transport.ts";
/** The connection contract every transport carries (the platform's, re-exported). */
export type {
  ConnectOptions,
  ListenOptions,
  NetAddr,
  TcpConn,
  TcpListener,
} from "../../platform/mod.ts";
/** The clock a connection's stall timer runs on (re-exported: the options refer to it). */
export type { Clock } from "../../timer/mod.ts";
