// How the coordinator of one entity type reaches the regions: control messages to each node
// (this one included), each with the type's hand-off timeout.
import type { CoordinatorRegions } from "./coordinator.ts";
import type { ControlMessage } from "./_messages.ts";

/** Sends a control message to a node's region and waits for its answer. */
export type SendControl = (
  node: string,
  message: ControlMessage,
  timeoutMs: number,
) => Promise<unknown>;

/** The regions of `entityType`, as its coordinator sees them. */
export function coordinatorRegions(
  entityType: string,
  control: SendControl,
  timeoutMs: number,
): CoordinatorRegions {
  const send = (node: string, k: ControlMessage["k"], shard: number) =>
    control(node, { k, t: entityType, s: shard }, timeoutMs);
  return {
    beginHandOff: async (nodes, shard) => {
      await Promise.allSettled(nodes.map((n) => send(n, "begin", shard)));
    },
    handOff: async (node, shard) => {
      await send(node, "handoff", shard);
    },
    host: (node, shard) => {
      send(node, "host", shard).catch(() => {});
    },
    released: (nodes, shard) => {
      for (const n of nodes) send(n, "released", shard).catch(() => {});
    },
  };
}
