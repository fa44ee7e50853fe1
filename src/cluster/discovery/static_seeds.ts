// Static seed nodes: a fixed list of `host:port` addresses (development, tests, fixed fleets).
import type { DiscoveredNode, Discovery } from "../discovery.ts";
import { ClusterClosedError } from "../errors.ts";

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;
const IPV4 =
  /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

/** A node address taken apart by {@linkcode parseNodeAddress}. */
export interface NodeAddress {
  /** The host name or IP address (an IPv6 address without its brackets). */
  readonly host: string;
  /** The TCP port, 1 to 65535. */
  readonly port: number;
}

function isIpv6(host: string): boolean {
  if (!IPV6.test(host) || !host.includes(":")) return false;
  const parts = host.split("::");
  if (parts.length > 2) return false;
  const groups = parts.flatMap((part) => part === "" ? [] : part.split(":"));
  let count = 0;
  for (const [i, group] of groups.entries()) {
    if (i === groups.length - 1 && group.includes(".")) {
      if (!IPV4.test(group)) return false;
      count += 2;
    } else if (/^[0-9A-Fa-f]{1,4}$/.test(group)) count++;
    else return false;
  }
  return parts.length === 2 ? count <= 7 : count === 8;
}

/**
 * Checks a node address, `host:port` (an IPv6 host in brackets: `[::1]:4000`), and takes it
 * apart.
 *
 * @param address The address.
 * @returns Its host and port.
 * @throws {TypeError} When `address` is not a string of that form, the host is not a valid
 * host name or IP address, or the port is not 1 to 65535.
 * @example Usage
 * ```ts
 * import { parseNodeAddress } from "@troupe/troupe/cluster";
 * console.log(parseNodeAddress("[::1]:4000")); // { host: "::1", port: 4000 }
 * ```
 */
export function parseNodeAddress(address: unknown): NodeAddress {
  if (typeof address !== "string") {
    throw new TypeError(
      `Invalid node address: expected a "host:port" string, got ${typeof address}`,
    );
  }
  const shown = JSON.stringify(
    address.length > 80 ? `${address.slice(0, 80)}…` : address,
  );
  const match = /^(?:\[([^\]]*)\]|([^:\[\]]*)):(\d{1,5})$/.exec(address);
  if (match === null) {
    throw new TypeError(
      `Invalid node address ${shown}: expected "host:port" (an IPv6 host in brackets)`,
    );
  }
  const host = match[1] ?? match[2];
  const port = Number(match[3]);
  if (
    match[1] !== undefined
      ? !isIpv6(host)
      : !(IPV4.test(host) || HOST_NAME.test(host))
  ) {
    throw new TypeError(`Invalid node address ${shown}: bad host`);
  }
  if (port < 1 || port > 65535 || match[3].startsWith("0")) {
    throw new TypeError(
      `Invalid node address ${shown}: the port must be 1 to 65535`,
    );
  }
  return { host, port };
}

/**
 * Formats a host and port as a node address, with brackets around an IPv6 host.
 *
 * @param host A host name or IP address.
 * @param port The TCP port.
 * @returns `host:port`, or `[host]:port` for IPv6.
 * @throws {TypeError} When the result is not a valid address.
 * @example Usage
 * ```ts
 * import { formatNodeAddress } from "@troupe/troupe/cluster";
 * console.log(formatNodeAddress("fd00::7", 4000)); // [fd00::7]:4000
 * ```
 */
export function formatNodeAddress(host: string, port: number): string {
  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  parseNodeAddress(address);
  return address;
}

/**
 * Discovery from a fixed list of seed nodes: development, tests and fleets whose addresses do
 * not change. The list is checked when it is made; `discover()` returns it in the given order,
 * without duplicates.
 *
 * @example Usage
 * ```ts
 * import { StaticSeeds } from "@troupe/troupe/cluster";
 * const seeds = new StaticSeeds(["10.0.0.5:4000", "10.0.0.6:4000"]);
 * console.log((await seeds.discover()).map((n) => n.address)); // ["10.0.0.5:4000", "10.0.0.6:4000"]
 * await seeds.close();
 * ```
 */
export class StaticSeeds implements Discovery {
  /** `"static-seeds"`. */
  readonly name: string = "static-seeds";
  readonly #nodes: readonly DiscoveredNode[];
  #closed = false;

  /**
   * Makes the provider.
   *
   * @param seeds The seed nodes' addresses, `host:port`, best first.
   * @throws {TypeError} When `seeds` is not an array or an address is not valid.
   */
  constructor(seeds: readonly string[]) {
    if (!Array.isArray(seeds)) {
      throw new TypeError(
        'Cannot create StaticSeeds: seeds must be an array of "host:port"',
      );
    }
    const seen = new Set<string>();
    const nodes: DiscoveredNode[] = [];
    for (const seed of seeds) {
      parseNodeAddress(seed);
      if (seen.has(seed)) continue;
      seen.add(seed);
      nodes.push(Object.freeze({ address: seed }));
    }
    this.#nodes = Object.freeze(nodes);
  }

  /**
   * Lists the seeds.
   *
   * @param signal Aborts the call (it rejects with the signal's reason).
   * @returns The seeds, in the given order, without duplicates (a new array each call).
   * @throws {ClusterClosedError} After close().
   */
  discover(signal?: AbortSignal): Promise<DiscoveredNode[]> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#closed) {
      return Promise.reject(new ClusterClosedError("StaticSeeds"));
    }
    return Promise.resolve([...this.#nodes]);
  }

  /** Closes the provider; later discover() calls reject. Idempotent. */
  close(): Promise<void> {
    this.#closed = true;
    return Promise.resolve();
  }
}
