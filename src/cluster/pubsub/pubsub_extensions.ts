// The remote extension pub/sub needs on a node: it must be given to `RemoteNode.start` before
// the node runs, and is bound to the node's `PubSub` when that starts.
import type { ExtensionSender, RemoteExtension } from "../../remote/mod.ts";
import {
  checkFrame,
  PUBSUB_CODEC,
  PUBSUB_EXTENSION,
  type PubSubFrame,
} from "./_wire.ts";

/** What receives the pub/sub frames of one node. */
export interface PubSubEndpoint {
  /** A checked frame for this node. */
  receive(frame: PubSubFrame, fromNode: string): void;
}

const bindings = new WeakMap<PubSubExtensions, Map<string, PubSubEndpoint>>();

/**
 * The remote extension of pub/sub (`troupe.pubsub`: registry gossip and publications). Pass
 * {@linkcode PubSubExtensions.remote} to `RemoteNode.start` in its `extensions` option, next to
 * the cluster's, and the object itself to `PubSub.start`. One object may serve several nodes of
 * one process (each frame names the node it is for). Frames for a node whose pub/sub has not
 * started (or is closed) are dropped.
 *
 * @example Usage
 * ```ts ignore
 * import { RemoteNode } from "@troupe/troupe";
 * import { ClusterExtensions, PubSubExtensions } from "@troupe/troupe/cluster";
 * const cluster = new ClusterExtensions();
 * const pubsub = new PubSubExtensions();
 * const node = await RemoteNode.start(system, {
 *   cluster: "demo",
 *   secret,
 *   extensions: [...cluster.remote, ...pubsub.remote],
 * });
 * ```
 */
export class PubSubExtensions {
  /** The extensions to register with `RemoteNode.start`. */
  readonly remote: readonly RemoteExtension[];

  /** Creates the extension. */
  constructor() {
    const endpoints = new Map<string, PubSubEndpoint>();
    bindings.set(this, endpoints);
    const extension: RemoteExtension<unknown, void> = {
      name: PUBSUB_EXTENSION,
      codec: PUBSUB_CODEC,
      handle: (message: unknown, from: ExtensionSender): void => {
        const frame = checkFrame(message);
        endpoints.get(frame.to)?.receive(frame, from.node);
      },
    };
    this.remote = Object.freeze([extension]);
  }
}

/**
 * Routes the frames for `node` to `endpoint` until the returned function is called.
 *
 * @throws {TypeError} When `extensions` is not a PubSubExtensions, or a pub/sub of that node
 * is bound already.
 */
export function bindPubSubEndpoint(
  extensions: PubSubExtensions,
  node: string,
  endpoint: PubSubEndpoint,
): () => void {
  const endpoints = bindings.get(extensions);
  if (endpoints === undefined) {
    throw new TypeError("Invalid extensions: expected a PubSubExtensions");
  }
  if (endpoints.has(node)) {
    throw new TypeError(
      `Node "${node}" has started a pub/sub with these extensions already (close it first)`,
    );
  }
  endpoints.set(node, endpoint);
  return () => {
    if (endpoints.get(node) === endpoint) endpoints.delete(node);
  };
}
