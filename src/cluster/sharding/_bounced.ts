// What an entity that stopped by itself (ctx.stop(), or a failure its supervision stopped it
// for) had not handled: the messages queued behind the one it stopped in, and those that came
// while it stopped. The actor system makes them dead letters (tells) and rejects their asks with
// ActorStoppedError; the region takes them back, in the order they were queued, and delivers
// them to the entity's next incarnation (started for them), so none is lost.
import type { DeadLetter } from "../../actor/mod.ts";
import type { Envelope } from "./_envelope.ts";
import type { EntityState } from "./_region_types.ts";

/** A message an entity did not handle because it stopped (an ask once its rejection came). */
export interface Bounced {
  envelope: Envelope;
}

/** Keeps the dead letter of a message `entity` did not handle, in queue order. */
export function bounce(entity: EntityState, letter: DeadLetter): void {
  (entity.bounced ??= []).push({
    envelope: {
      id: entity.id,
      shard: entity.shard.shard,
      type: letter.messageType,
      payload: letter.payload,
      reply: undefined,
      trace: undefined,
    },
  });
}

/**
 * An ask to `entity` was rejected because it stopped: its dead letter (kept by `bounce` just
 * before) becomes the ask again, in its place in the queue. False when there is none (the
 * entity's queue was taken back already, or the rejection has another cause).
 */
export function rescue(entity: EntityState, envelope: Envelope): boolean {
  const bounced = entity.bounced;
  if (bounced === undefined) return false;
  for (const slot of bounced) {
    const kept = slot.envelope;
    if (
      kept.reply === undefined && kept.type === envelope.type &&
      Object.is(kept.payload, envelope.payload)
    ) {
      slot.envelope = envelope;
      return true;
    }
  }
  return false;
}

/** The messages to deliver again, in order: those it did not handle, then those that waited. */
export function takeUnhandled(entity: EntityState): Envelope[] {
  const bounced = entity.bounced;
  const pending = entity.pending;
  entity.bounced = undefined;
  entity.pending = [];
  if (bounced === undefined) return pending;
  return [...bounced.map((slot) => slot.envelope), ...pending];
}
