// The transport contract: how a node listens and dials. Connections are the platform's
// TcpConn contract (byte streams with an optional direct path), whatever carries them.
import {
  type ConnectOptions,
  type ListenOptions,
  platform,
  type TcpConn,
  type TcpListener,
} from "../../platform/mod.ts";

/**
 * How nodes reach each other: a listener at an address, and connections to an address. Every
 * implementation passes the one conformance suite (`transport/_conformance_test.ts`): the
 * platform's TCP and TLS ({@linkcode tcpTransport}) and the in-memory network
 * ({@linkcode MemoryNetwork}).
 *
 * @example Usage
 * ```ts
 * import { tcpTransport } from "./mod.ts";
 * const listener = await tcpTransport.listen({ hostname: "127.0.0.1", port: 0 });
 * const conn = await tcpTransport.connect({ port: listener.addr.port });
 * const accepted = await listener.accept();
 * conn.close();
 * accepted.close();
 * listener.close();
 * ```
 */
export interface Transport {
  /**
   * Listens at an address (`port` 0: any free port).
   *
   * @param options Where to listen, and TLS.
   * @returns The listener.
   */
  listen(options: ListenOptions): Promise<TcpListener>;
  /**
   * Connects to a listener. Aborting `options.signal` abandons the attempt.
   *
   * @param options Where to connect, TLS, and an abort signal.
   * @returns The connection.
   * @throws {Error} (as a rejection) When nothing listens there, or the attempt is aborted.
   */
  connect(options: ConnectOptions): Promise<TcpConn>;
}

/**
 * The platform's TCP (and, with `tls` options, TLS): the default transport of a node.
 *
 * @example Usage
 * ```ts
 * import { tcpTransport } from "./mod.ts";
 * console.log(typeof tcpTransport.connect); // "function"
 * ```
 */
export const tcpTransport: Transport = Object.freeze({
  listen: (options: ListenOptions) => platform.listen(options),
  connect: (options: ConnectOptions) => platform.connect(options),
});
