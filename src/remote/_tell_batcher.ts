// The tells to one node, batched: encoded as they come into one frame, sent once the current
// task is done (or as soon as the frame is full), and kept boundedly in the outbox while there
// is no connection. What cannot go out is a dead letter, never a lost connection.
import type { Link } from "./_link.ts";
import type { Outbox, Queued } from "./_outbox.ts";
import { EMPTY_BODY } from "./_requests.ts";
import type { NodeContext, Settings } from "./_settings.ts";
import type { MessageCodecs } from "./codecs.ts";
import { isFrameTooLargeError } from "./errors.ts";
import { decodeMessage, type Tell, TellBatchWriter } from "./protocol/mod.ts";

const TELLS_PER_FRAME = 4096;
const BYTES_PER_FRAME = 256 * 1024;
/** The envelope and a tell's tags and length prefixes, at most. */
const TELL_OVERHEAD_BYTES = 64;

/** Why a message did not go out, as a dead letter says it. */
export type GiveUpReason = "node-unreachable" | "mailbox-full";

/** What a TellBatcher sends for: the sending side of an association (a Peer). */
export interface TellTarget {
  readonly node: string;
  readonly owner: NodeContext;
  /** The connection, when it is up. */
  readonly liveLink: Link | null;
  /** Gives up on queued messages: tells become dead letters. */
  give(entry: Queued, error: unknown, reason: GiveUpReason): void;
  /** Has the node dialed (something waits in the outbox). */
  dial(): void;
}

export class TellBatcher {
  readonly #target: TellTarget;
  readonly #outbox: Outbox;
  readonly #codecs: MessageCodecs;
  readonly #settings: Settings;
  /** Tells not sent yet, encoded as they come; their values are kept for dead letters. */
  readonly #batch = new TellBatchWriter();
  #payloads: unknown[] = [];
  #scheduled = false;
  #sendBufferFull = false;

  constructor(target: TellTarget, outbox: Outbox) {
    this.#target = target;
    this.#outbox = outbox;
    this.#codecs = target.owner.codecs;
    this.#settings = target.owner.settings;
  }

  /** Tells in the batch. */
  get count(): number {
    return this.#batch.count;
  }

  /**
   * Adds a tell (with its sender's W3C trace context, when traced) to the batch; the batch goes
   * out once the current task is done, or when full.
   */
  add(
    path: string,
    type: string,
    payload: unknown,
    traceparent: string | undefined,
  ): void {
    const codecs = this.#codecs;
    const codec = codecs.nameFor(type);
    // JSON goes into the batch as text: no buffer of its own per tell.
    const text = codecs.jsonText(codec, type, payload);
    const body = text ?? codecs.encode(codec, type, payload);
    const batch = this.#batch;
    if (batch.count > 0) {
      // Keep the batch within the frame limit: only a tell over it on its own is refused.
      const bound = batch.byteLength + TELL_OVERHEAD_BYTES + body.length * 3 +
        (path.length + type.length + codec.length) * 3 +
        (traceparent === undefined ? 0 : traceparent.length * 3);
      if (bound > this.#settings.maxFrameBytes) this.flush();
    }
    batch.add(path, type, codec, body, traceparent);
    this.#payloads.push(payload);
    // Bounded frames: a burst of tells never makes one oversized frame.
    if (
      batch.count >= TELLS_PER_FRAME || batch.byteLength >= BYTES_PER_FRAME
    ) {
      this.flush();
    } else {
      this.schedule();
    }
  }

  /** Flushes the batch once the current task is done (if anything is in it). */
  schedule(): void {
    if (this.#scheduled || this.#batch.count === 0) return;
    this.#scheduled = true;
    queueMicrotask(this.#task);
  }

  readonly #task = (): void => {
    this.#scheduled = false;
    this.flush();
  };

  /** Sends the batch on the connection, or keeps it (boundedly) for the next one. */
  flush(): void {
    const batch = this.#batch;
    if (batch.count === 0) return;
    const target = this.#target;
    const payloads = this.#payloads;
    const link = target.liveLink;
    if (link !== null) {
      const frame = batch.finish();
      if (!link.fits(frame.byteLength)) {
        // The network is slower than the producer: refuse what does not fit, as a bounded
        // mailbox does, instead of buffering without bound or losing the connection.
        if (!this.#sendBufferFull) {
          this.#sendBufferFull = true;
          target.owner.logger.error(
            `Send buffer to node "${target.node}" is full; tells become dead letters until it drains`,
            undefined,
          );
        }
        this.#giveUp(this.take().tells, payloads, undefined, "mailbox-full");
        return;
      }
      this.#sendBufferFull = false;
      try {
        link.sendEncoded(frame);
        batch.reset();
        this.#payloads = [];
        return;
      } catch (error) {
        if (isFrameTooLargeError(error)) {
          // Over the frame limit, so never sendable: each of them is a dead letter.
          target.owner.logger.error(
            `Dropped ${batch.count} tells for node "${target.node}"`,
            error,
          );
          this.#giveUp(this.take().tells, payloads, error, "node-unreachable");
          return;
        }
        // The connection closed under us: keep them for the next one, as below.
      }
    }
    this.#keep();
  }

  /** Not connected: keeps the batch (boundedly) in the outbox, and has the node dialed. */
  #keep(): void {
    const target = this.#target;
    const { tells, payloads } = this.take();
    const settings = this.#settings;
    const room = Math.max(0, settings.maxBufferedMessages - this.#outbox.count);
    if (room < tells.length) {
      this.#giveUp(
        tells.slice(room),
        payloads.slice(room),
        undefined,
        "node-unreachable",
      );
    }
    if (room > 0) {
      // In frames within the frame limit; a tell over it alone is a dead letter.
      this.#outbox.pushTells(
        tells.slice(0, room),
        payloads.slice(0, room),
        settings.maxFrameBytes,
        (entry, error) => {
          target.owner.logger.error(
            `Dropped "${entry.tells[0].type}" for "${
              entry.tells[0].recipient
            }" on node "${target.node}"`,
            error,
          );
          target.give(entry, error, "node-unreachable");
        },
      );
    }
    target.dial();
  }

  #giveUp(
    tells: readonly Tell[],
    payloads: readonly unknown[],
    error: unknown,
    reason: GiveUpReason,
  ): void {
    this.#target.give(
      { kind: "tells", frame: EMPTY_BODY, tells, payloads },
      error,
      reason,
    );
  }

  /**
   * Gives up on everything buffered (the outbox, then the batch): tells become dead letters
   * (`node-unreachable`, logged), requests and watches fail with `error`.
   */
  discardAll(error: unknown): void {
    const target = this.#target;
    let dropped = 0;
    for (const entry of this.#outbox.take()) {
      if (entry.kind === "tells") dropped += entry.tells.length;
      target.give(entry, error, "node-unreachable");
    }
    if (this.#batch.count > 0) {
      const { tells, payloads } = this.take();
      dropped += tells.length;
      this.#giveUp(tells, payloads, undefined, "node-unreachable");
    }
    if (dropped > 0) {
      target.owner.logger.error(
        `${dropped} tells for node "${target.node}" became dead letters`,
        error,
      );
    }
  }

  /** Empties the batch into Tell objects (for the slow paths: buffering, dead letters). */
  take(): { tells: readonly Tell[]; payloads: unknown[] } {
    const payloads = this.#payloads;
    // A copy: the writer's buffer is reused, the payloads are views into it.
    const message = decodeMessage(this.#batch.finish().slice());
    this.#batch.reset();
    this.#payloads = [];
    return { tells: message.kind === "tells" ? message.tells : [], payloads };
  }
}
