// What the managers of one singleton say to each other (through their actors, at the same
// well-known id on every node), and the check of an answer that came over the network.

/** What a manager answers to `identify`: where its instance runs, if it runs one. */
export interface Identity {
  /** The node the instance runs on (the answering node). */
  readonly node: string;
  /** The instance's actor path there. */
  readonly path: string;
  /** Its fencing token (`null` without a lease). */
  readonly token: number | null;
}

/** The protocol of a manager's actor. */
export interface ManagerProtocol {
  /** Where this manager's instance runs, or `null` when it runs none. */
  identify(): Identity | null;
  /**
   * Another member takes over: stop the instance here (then release the lease) and answer
   * `true`, or `false` while this member still is the host in its own view.
   */
  relinquish(requester: string): boolean;
}

/** The manager's actor id for a singleton (the same on every node). */
export function managerId(name: string): string {
  return `troupe.singleton.${name}`;
}

/** The instance's actor id for a singleton. */
export function instanceId(name: string): string {
  return `${managerId(name)}.instance`;
}

/**
 * Checks an `identify` answer from `node`: only its own instance, at a path of the form the
 * managers use, is accepted.
 *
 * @param value The answer, as decoded.
 * @param node The node that answered.
 * @returns The identity, or `null` when the answer names no instance or is malformed (a
 * malformed answer is treated as "not found", so the proxy asks again later).
 */
export function checkIdentity(value: unknown, node: string): Identity | null {
  if (typeof value !== "object" || value === null) return null;
  const { node: at, path, token } = value as Record<string, unknown>;
  if (at !== node || typeof path !== "string") return null;
  if (!path.startsWith("troupe.singleton.") || !path.endsWith(".instance")) {
    return null;
  }
  if (token !== null && !Number.isSafeInteger(token)) return null;
  return { node: at, path, token: token as number | null };
}
