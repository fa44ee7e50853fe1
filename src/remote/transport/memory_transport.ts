// An in-memory network for multi-node tests in one process: a Transport per host, with
// injectable latency and loss, one-way and two-way partitions, hosts that freeze (stop reading
// without closing) and hosts that are killed (every connection reset). Runtime-neutral.
import type { ConnectOptions, ListenOptions } from "../../platform/mod.ts";
import type { Clock } from "../../timer/mod.ts";
import { check, Medium } from "./_memory_medium.ts";
import { ConnectionClosedError } from "./errors.ts";
import type { Transport } from "./transport.ts";

/** Options of a {@linkcode MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** The clock latency runs on (default: the runtime's clock). */
  readonly clock?: Clock;
  /** How long bytes take from one host to another, in ms (default 0: the next microtask). */
  readonly latencyMs?: number;
  /**
   * The probability (0 to 1) that a write is lost as a whole (default 0). A lost write can cut a
   * frame that spans writes, which the reader sees as a malformed stream, as on a real network
   * that corrupts data.
   */
  readonly lossRate?: number;
  /** The seed of the loss decisions (default 1): the same seed loses the same writes. */
  readonly seed?: number;
  /**
   * How many bytes may be written and not yet read, per direction of a connection, before
   * writes wait (default 1 MiB): a host that stops reading holds its peers' writes back.
   */
  readonly windowBytes?: number;
}

/**
 * A network in one process: each host gets a {@linkcode Transport} from
 * {@linkcode MemoryNetwork.transport}, listens at `host:port` and dials other hosts by name.
 * Faults are set on the network: latency and loss, partitions (one-way or two-way: bytes wait
 * until the partition heals, and new connections across it wait, as SYNs would), freezing a
 * host (it stops reading and accepting; its peers' writes back up), and killing a host (every
 * connection of it is reset, its listeners close). TLS options are ignored: the memory network
 * is private to the process.
 *
 * @example Two hosts, one partition
 * ```ts
 * import { MemoryNetwork } from "./mod.ts";
 * import assert from "node:assert/strict";
 * const network = new MemoryNetwork();
 * const listener = await network.transport("b").listen({ port: 7000 });
 * const a = await network.transport("a").connect({ hostname: "b", port: 7000 });
 * const b = await listener.accept();
 * const received: number[] = [];
 * b.startReading!((chunk) => received.push(...chunk), () => {});
 * network.partition("a", "b", { oneWay: true });
 * await a.write!(new Uint8Array([1, 2]));
 * await new Promise((resolve) => setTimeout(resolve, 1));
 * assert.deepEqual(received, []); // held by the partition
 * network.heal();
 * await new Promise((resolve) => setTimeout(resolve, 1));
 * assert.deepEqual(received, [1, 2]);
 * a.close();
 * b.close();
 * listener.close();
 * ```
 */
export class MemoryNetwork {
  readonly #medium: Medium;

  /**
   * Creates an empty network.
   *
   * @param options Clock, latency, loss, seed and window.
   * @throws {RangeError} When a number is out of range.
   */
  constructor(options: MemoryNetworkOptions = {}) {
    this.#medium = new Medium(options);
  }

  /**
   * The transport of the host `name` (created on first use).
   *
   * @param name The host's name: others dial it as `hostname`.
   * @returns Its transport.
   * @throws {TypeError} When the name is empty.
   */
  transport(name: string): Transport {
    const medium = this.#medium;
    const host = medium.host(name);
    return {
      listen: (options: ListenOptions) => medium.listen(host, options),
      connect: (options: ConnectOptions) => medium.connect(host, options),
    };
  }

  /**
   * Cuts the network between two hosts: bytes (and new connections) wait until
   * {@linkcode MemoryNetwork.heal}. With `oneWay`, only what goes from `from` to `to`.
   *
   * @param from A host.
   * @param to Another host.
   * @param options `oneWay`: block only `from` → `to`.
   */
  partition(
    from: string,
    to: string,
    options: { readonly oneWay?: boolean } = {},
  ): void {
    const blocked = this.#medium.blocked;
    blocked.add(`${from}\u0000${to}`);
    if (options.oneWay !== true) blocked.add(`${to}\u0000${from}`);
  }

  /**
   * Heals a partition (both directions between `from` and `to`), or every partition when
   * called without hosts; what waited is delivered, in order.
   *
   * @param from A host.
   * @param to Another host.
   */
  heal(from?: string, to?: string): void {
    const blocked = this.#medium.blocked;
    if (from === undefined || to === undefined) blocked.clear();
    else {
      blocked.delete(`${from}\u0000${to}`);
      blocked.delete(`${to}\u0000${from}`);
    }
    this.#medium.wake();
  }

  /**
   * Freezes a host: it stops reading its connections and accepting new ones, without closing
   * anything, as a process that hangs. Its peers' writes back up to the window.
   *
   * @param name The host.
   */
  freeze(name: string): void {
    this.#medium.host(name).frozen = true;
  }

  /**
   * Thaws a frozen host: it reads and accepts what waited.
   *
   * @param name The host.
   */
  thaw(name: string): void {
    this.#medium.host(name).frozen = false;
    this.#medium.wake();
  }

  /**
   * Kills a host: every connection of it is reset (its peers see the reset once it reaches
   * them) and its listeners close, as when its process dies.
   *
   * @param name The host.
   */
  kill(name: string): void {
    const host = this.#medium.host(name);
    for (const listener of [...host.listeners.values()]) listener.close();
    for (const conn of [...host.conns]) {
      conn.reset(new ConnectionClosedError(`host "${name}" was killed`));
    }
  }

  /**
   * Resets every connection between two hosts, both ways (each side sees a reset, as when a
   * middlebox drops the connections); new connections can be made at once.
   *
   * @example Usage
   * ```ts
   * import { MemoryNetwork } from "./mod.ts";
   * const network = new MemoryNetwork();
   * const listener = await network.transport("b").listen({ port: 7000 });
   * const conn = await network.transport("a").connect({ hostname: "b", port: 7000 });
   * const accepted = await listener.accept();
   * network.reset("a", "b");
   * await conn.write!(new Uint8Array(1)).catch((e) => console.log(e.name)); // "ConnectionClosedError"
   * accepted.close();
   * listener.close();
   * ```
   *
   * @param from A host.
   * @param to Another host.
   */
  reset(from: string, to: string): void {
    this.#medium.reset(
      from,
      to,
      new ConnectionClosedError(
        `the connections between "${from}" and "${to}" were reset`,
      ),
    );
  }

  /**
   * How many connections `from` has opened to `to` so far (those it dialed, not those it
   * accepted): a count of reconnects.
   *
   * @example Usage
   * ```ts
   * import { MemoryNetwork } from "./mod.ts";
   * const network = new MemoryNetwork();
   * const listener = await network.transport("b").listen({ port: 7000 });
   * const conn = await network.transport("a").connect({ hostname: "b", port: 7000 });
   * console.log(network.connectionsOpened("a", "b")); // 1
   * conn.close();
   * listener.close();
   * ```
   *
   * @param from The dialing host.
   * @param to The host dialed.
   * @returns The count.
   */
  connectionsOpened(from: string, to: string): number {
    return this.#medium.opened(from, to);
  }

  /**
   * Sets the latency of bytes sent from now on.
   *
   * @param ms The latency in ms (0: the next microtask).
   * @throws {RangeError} When out of range.
   */
  setLatency(ms: number): void {
    this.#medium.latencyMs = check("latencyMs", ms, 0, 3.6e6);
  }

  /**
   * Sets the probability that a write is lost.
   *
   * @param rate From 0 to 1.
   * @throws {RangeError} When out of range.
   */
  setLossRate(rate: number): void {
    this.#medium.lossRate = check("lossRate", rate, 0, 1);
  }
}
