// What a region does with a control message from the coordinator or another region.
import type { ControlMessage } from "./_messages.ts";
import type { RegionStats } from "./_region_types.ts";
import type { ShardRegion } from "./region.ts";

/** Applies a control message to `region`; the result is the answer. */
export function controlRegion(
  region: ShardRegion,
  message: ControlMessage,
): Promise<boolean> | RegionStats | boolean {
  switch (message.k) {
    case "flush":
      // Everything this sender sent before the flush has reached the region by now.
      return true;
    case "begin":
      return region.beginHandOff(message.s);
    case "handoff":
      return region.handOff(message.s);
    case "released":
      region.released(message.s);
      return true;
    case "stats":
      return region.stats();
    case "host":
      region.hostShard(message.s);
      return true;
  }
}
