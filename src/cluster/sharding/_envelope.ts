// A message on its way to an entity, and the reply side of an ask: its deadline holds however
// long the message waits in a buffer.
import { AskTimeoutError } from "../../actor/mod.ts";
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import { entityActorId } from "./_entity.ts";

/** The reply side of an ask that waits in a buffer. */
export interface Reply {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  readonly deadline: number;
  readonly timeoutMs: number;
  timer: TimerHandle | undefined;
  done: boolean;
}

/** A message for an entity, as a region routes it. */
export interface Envelope {
  readonly id: string;
  /** The entity's shard. */
  readonly shard: number;
  readonly type: string;
  readonly payload: unknown;
  readonly reply: Reply | undefined;
  /**
   * The sender's W3C traceparent, taken when it was sent (undefined: no tracer, or no trace),
   * so that a message that waited in a buffer, or went to another node, stays in its trace.
   */
  readonly trace: string | undefined;
}

/** The AskTimeoutError of an ask whose time ran out. */
export function askTimeout(
  envelope: Envelope,
  entityType: string,
): AskTimeoutError {
  return new AskTimeoutError(
    entityActorId(entityType, envelope.id),
    envelope.type,
    envelope.reply!.timeoutMs,
  );
}

/** Fails an ask (a tell: nothing to do). */
export function failEnvelope(
  clock: Clock,
  envelope: Envelope,
  error: unknown,
): void {
  const reply = envelope.reply;
  if (reply === undefined || reply.done) return;
  reply.done = true;
  if (reply.timer !== undefined) clock.clearTimer(reply.timer);
  reply.reject(error);
}

/**
 * The time an ask has left (cancelling its buffer timer), or undefined when it is over (then it
 * is answered with AskTimeoutError).
 */
export function timeLeft(
  clock: Clock,
  envelope: Envelope,
  entityType: string,
): number | undefined {
  const reply = envelope.reply!;
  if (reply.done) return undefined;
  if (reply.timer !== undefined) {
    clock.clearTimer(reply.timer);
    reply.timer = undefined;
  }
  const left = reply.deadline - clock.now();
  if (left <= 0) {
    reply.done = true;
    reply.reject(askTimeout(envelope, entityType));
    return undefined;
  }
  return left;
}

/** The callbacks that pass an answer on to the asker. */
export function settlers(
  reply: Reply,
): [(value: unknown) => void, (error: unknown) => void] {
  return [
    (value) => {
      reply.done = true;
      reply.resolve(value);
    },
    (error) => {
      reply.done = true;
      reply.reject(error);
    },
  ];
}
