// The hand-off before a close: the region asks the coordinator to move its node's shards to
// other nodes (their entities stop here after handling what they were sent, and later messages
// go to the new homes), and waits until it owns none.
import type { Clock } from "../../timer/mod.ts";
import type { CoordinatorProtocol } from "./_region_types.ts";
import type { ActorRef } from "../../actor/mod.ts";
import type { ShardRegion } from "./region.ts";

/**
 * Drains `region`: at most `handOffTimeoutMs`, never throws (a coordinator that does not
 * answer leaves the shards to move once the member is removed).
 */
export async function drainRegion(
  region: ShardRegion,
  coordinator: ActorRef<CoordinatorProtocol> | undefined,
  clock: Clock,
): Promise<void> {
  if (coordinator === undefined || region.closed) return;
  const { handOffTimeoutMs: timeoutMs, retryMs } = region.settings;
  const deadline = clock.now() + timeoutMs;
  try {
    const moving = await coordinator.ask("drain", region.registration(), {
      timeoutMs,
    });
    if (moving === 0) return;
  } catch {
    return;
  }
  while (region.stats().shards.length > 0 && clock.now() < deadline) {
    await new Promise<void>((resolve) => clock.setTimer(resolve, retryMs));
  }
}
