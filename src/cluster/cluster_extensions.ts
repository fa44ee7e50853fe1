// The remote extensions membership needs on a node: they must be given to `RemoteNode.start`
// before the node runs, and are bound to the node's `Cluster` when it joins.
import type { RemoteExtension } from "../remote/mod.ts";
import {
  checkGossipMessage,
  checkHeartbeat,
  type GossipMessage,
  HEARTBEAT_EXTENSION,
  type HeartbeatEnvelope,
  type HeartbeatPayload,
  MEMBERSHIP_EXTENSION,
} from "./_gossip_messages.ts";

/** What receives the messages of one node's membership. */
export interface ClusterEndpoint {
  /** A gossip message for this node. */
  gossip(message: GossipMessage, fromNode: string): void;
  /** A heartbeat for this node; returns its ack (`null`: none). */
  heartbeat(
    envelope: HeartbeatEnvelope,
    fromNode: string,
  ): HeartbeatPayload | null;
}

const bindings = new WeakMap<ClusterExtensions, Map<string, ClusterEndpoint>>();

/**
 * The remote extensions of membership (`troupe.membership` for gossip, `troupe.heartbeat` for
 * the failure detector). Pass {@linkcode ClusterExtensions.remote} to `RemoteNode.start` in
 * its `extensions` option, and the object itself to `Cluster.join`. One object may serve
 * several nodes of one process (each message names the node it is for). Messages for a node
 * that has not joined (or has closed its cluster) are dropped.
 *
 * @example Usage
 * ```ts ignore
 * import { RemoteNode } from "@troupe/troupe";
 * import { Cluster, ClusterExtensions } from "@troupe/troupe/cluster";
 * const extensions = new ClusterExtensions();
 * const node = await RemoteNode.start(system, { cluster: "demo", secret, extensions: extensions.remote });
 * const cluster = await Cluster.join(node, { extensions, discovery });
 * ```
 */
export class ClusterExtensions {
  /** The extensions to register with `RemoteNode.start`. */
  readonly remote: readonly RemoteExtension[];

  /** Creates the extensions. */
  constructor() {
    const endpoints = new Map<string, ClusterEndpoint>();
    bindings.set(this, endpoints);
    const membership: RemoteExtension<unknown, void> = {
      name: MEMBERSHIP_EXTENSION,
      handle: (message, from) => {
        const checked = checkGossipMessage(message);
        endpoints.get(checked.to)?.gossip(checked, from.node);
      },
    };
    const heartbeat: RemoteExtension<unknown, HeartbeatPayload | null> = {
      name: HEARTBEAT_EXTENSION,
      handle: (message, from) => {
        const checked = checkHeartbeat(message);
        return endpoints.get(checked.to)?.heartbeat(checked, from.node) ?? null;
      },
    };
    this.remote = Object.freeze([membership, heartbeat]);
  }
}

/**
 * Routes the messages for `node` to `endpoint` until the returned function is called.
 *
 * @throws {TypeError} When another cluster of that node is bound already.
 */
export function bindEndpoint(
  extensions: ClusterExtensions,
  node: string,
  endpoint: ClusterEndpoint,
): () => void {
  const endpoints = bindings.get(extensions);
  if (endpoints === undefined) {
    throw new TypeError("Invalid extensions: expected a ClusterExtensions");
  }
  if (endpoints.has(node)) {
    throw new TypeError(
      `Node "${node}" has joined a cluster with these extensions already (close that Cluster first)`,
    );
  }
  endpoints.set(node, endpoint);
  return () => {
    if (endpoints.get(node) === endpoint) endpoints.delete(node);
  };
}
