// The remote extension of sharding on one node: it must be given to `RemoteNode.start` before
// the node runs, and is bound to the node's `Sharding` when that starts.
import type { RemoteExtension } from "../../remote/mod.ts";
import { shardingCodec } from "./_delivery_codec.ts";
import {
  checkShardingMessage,
  SHARDING_EXTENSION,
  type ShardingMessage,
} from "./_messages.ts";
import { ShardingClosedError } from "./errors.ts";

/** What receives the sharding messages of one node. */
export type ShardingEndpoint = (
  message: ShardingMessage,
  from: string,
) => unknown;

const bindings = new WeakMap<
  ShardingExtensions,
  { endpoint: ShardingEndpoint | undefined }
>();

/**
 * The remote extension of sharding (`troupe.sharding`), for one node. Pass
 * {@linkcode ShardingExtensions.remote} to `RemoteNode.start` (with the cluster's extensions)
 * and the object itself to `Sharding.start`. Messages that arrive before sharding started on
 * the node, or after it closed, are refused with `ShardingClosedError`.
 *
 * @example Usage
 * ```ts ignore
 * import { RemoteNode } from "@troupe/troupe";
 * import { ClusterExtensions, ShardingExtensions } from "@troupe/troupe/cluster";
 * const cluster = new ClusterExtensions();
 * const sharding = new ShardingExtensions();
 * const node = await RemoteNode.start(system, {
 *   cluster: "demo",
 *   secret,
 *   extensions: [...cluster.remote, ...sharding.remote],
 * });
 * ```
 */
export class ShardingExtensions {
  /** The extensions to register with `RemoteNode.start`. */
  readonly remote: readonly RemoteExtension[];

  /** Creates the extension. */
  constructor() {
    const binding: { endpoint: ShardingEndpoint | undefined } = {
      endpoint: undefined,
    };
    bindings.set(this, binding);
    const extension: RemoteExtension<unknown, unknown> = {
      name: SHARDING_EXTENSION,
      codec: shardingCodec,
      handle: (message, from) => {
        const checked = checkShardingMessage(message);
        const endpoint = binding.endpoint;
        if (endpoint === undefined) {
          throw new ShardingClosedError(from.node, "not started on this node");
        }
        return endpoint(checked, from.node);
      },
    };
    this.remote = Object.freeze([extension]);
  }
}

/**
 * Routes the node's sharding messages to `endpoint` until the returned function is called.
 *
 * @throws {TypeError} When `extensions` is not a ShardingExtensions, or is bound already.
 */
export function bindSharding(
  extensions: ShardingExtensions,
  endpoint: ShardingEndpoint,
): () => void {
  const binding = bindings.get(extensions);
  if (binding === undefined) {
    throw new TypeError("Invalid extensions: expected a ShardingExtensions");
  }
  if (binding.endpoint !== undefined) {
    throw new TypeError(
      "These ShardingExtensions serve a running Sharding already (one per node)",
    );
  }
  binding.endpoint = endpoint;
  return () => {
    if (binding.endpoint === endpoint) binding.endpoint = undefined;
  };
}
