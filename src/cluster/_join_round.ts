// One round of joining: ask discovery, dial what it found, and decide whether this node may
// form a new cluster.
import type { RemoteNode } from "../remote/mod.ts";
import type { Discovery } from "./discovery.ts";
import type { PeerLinks } from "./_peer_links.ts";

/** What a join round found. */
export interface JoinRound {
  /** The names of the nodes found and reached. */
  readonly reached: readonly string[];
  /**
   * Whether this node may form a cluster of its own: discovery found no other node, or this
   * node is the first found and none of the others answered (Akka's first-seed rule).
   */
  readonly mayForm: boolean;
}

/**
 * Runs discovery and dials the nodes found.
 *
 * @throws {unknown} What discovery throws.
 */
export async function joinRound(
  discovery: Discovery,
  node: RemoteNode,
  peers: PeerLinks,
  signal: AbortSignal,
): Promise<JoinRound> {
  const found = await discovery.discover(signal);
  const others = found.filter((d) =>
    d.address !== node.address && d.node !== node.node
  );
  const names = await Promise.all(others.map((d) => peers.dial(d.address)));
  const reached = names.filter((n): n is string => n !== undefined);
  const firstIsSelf = found.length > 0 &&
    (found[0].address === node.address || found[0].node === node.node);
  return {
    reached,
    mayForm: others.length === 0 || (firstIsSelf && reached.length === 0),
  };
}
