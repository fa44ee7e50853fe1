/**
 * Where an actor lives: the node (an actor system) and its path there. Serializable as is,
 * and as a string `troupe://<node>/<path>`.
 */
export interface ActorAddress {
  /** The node (actor system) the actor runs on. */
  readonly node: string;
  /** The actor's path: its id, preceded by its parents' ids, separated by `/`. */
  readonly path: string;
}

const ID_PATTERN = /^[A-Za-z0-9_.:@=+$-]{1,200}$/;

/** Throws a TypeError when `id` cannot name an actor. */
export function checkActorId(id: string): void {
  if (typeof id !== "string" || !ID_PATTERN.test(id) || id.startsWith("$")) {
    throw new TypeError(
      `Invalid actor id ${
        JSON.stringify(id)
      }: use 1-200 of A-Z a-z 0-9 _ . : @ = + - (not starting with $)`,
    );
  }
}

/**
 * Formats an address as `troupe://<node>/<path>`.
 *
 * @param address The address.
 * @returns Its string form.
 *
 * @example Usage
 * ```ts
 * import { formatAddress } from "@troupe/troupe";
 * console.log(formatAddress({ node: "n1", path: "orders/42" })); // "troupe://n1/orders/42"
 * ```
 */
export function formatAddress(address: ActorAddress): string {
  return `troupe://${address.node}/${address.path}`;
}

/**
 * Parses the string form of an address.
 *
 * @param text `troupe://<node>/<path>`.
 * @returns The address.
 * @throws {TypeError} When `text` is not an address.
 *
 * @example Usage
 * ```ts
 * import { parseAddress } from "@troupe/troupe";
 * console.log(parseAddress("troupe://n1/orders/42").path); // "orders/42"
 * ```
 */
export function parseAddress(text: string): ActorAddress {
  const match = typeof text === "string"
    ? /^troupe:\/\/([^/]+)\/(.+)$/.exec(text)
    : null;
  if (match === null) {
    throw new TypeError(`Invalid actor address ${JSON.stringify(text)}`);
  }
  return { node: match[1], path: match[2] };
}
