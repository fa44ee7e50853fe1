// What waits for a connection to another node: tells, requests and watches, encoded when they
// are queued, so their size is checked then and a replay cannot fail on size.
import type { Link } from "./_link.ts";
import { FrameTooLargeError, NodeUnreachableError } from "./errors.ts";
import { encodeMessage, type Tell } from "./protocol/mod.ts";

/**
 * What waits in a peer's outbox for the connection. Entries are encoded when they are queued, so
 * their size is checked then, and replaying them cannot fail on size.
 */
export type Queued =
  | {
    readonly kind: "tells";
    readonly frame: Uint8Array;
    readonly tells: readonly Tell[];
    /** The values told, for dead letters. */
    readonly payloads: readonly unknown[];
  }
  | {
    readonly kind: "request";
    readonly frame: Uint8Array;
    readonly id: number;
  }
  | {
    readonly kind: "watch" | "unwatch";
    readonly frame: Uint8Array;
    readonly target: string;
  }
  | {
    /** A message of an extension that expects no answer. */
    readonly kind: "extension";
    readonly frame: Uint8Array;
  };

function countOf(entries: readonly Queued[]): number {
  let n = 0;
  for (const m of entries) n += m.kind === "tells" ? m.tells.length : 1;
  return n;
}

/** A peer's outbox, in sending order, and how many messages it holds (each tell counts). */
export class Outbox {
  #entries: Queued[] = [];
  #count = 0;

  /** Messages waiting (each tell counts). */
  get count(): number {
    return this.#count;
  }

  /** Whether nothing waits. */
  get empty(): boolean {
    return this.#entries.length === 0;
  }

  /** Takes every entry out, in order. */
  take(): Queued[] {
    const entries = this.#entries;
    this.#entries = [];
    this.#count = 0;
    return entries;
  }

  /** Keeps only the tells (a request or watch waiting here was failed with its connection). */
  keepTells(): void {
    this.#entries = this.#entries.filter((m) => m.kind === "tells");
    this.#count = countOf(this.#entries);
  }

  /**
   * Puts back, in front, the tells of what a replay had not sent yet when its connection was
   * lost (its requests and watches were failed with the connection).
   */
  putBackTells(unsent: readonly Queued[]): void {
    const kept: Queued[] = unsent.filter((m) => m.kind === "tells");
    this.#entries = kept.concat(this.#entries);
    this.#count = countOf(this.#entries);
  }

  /**
   * Sends what waited, on a new connection to `node`. Never throws: what cannot go out goes to
   * `giveUp`, a request no longer `waiting` (it timed out while queued) is dropped, and if the
   * connection is lost meanwhile the tells not sent yet are kept for the next one.
   */
  replay(
    link: Link,
    node: string,
    waiting: (id: number) => boolean,
    giveUp: (
      entry: Queued,
      error: unknown,
      reason: "node-unreachable" | "mailbox-full",
    ) => void,
  ): void {
    const outbox = this.take();
    for (let i = 0; i < outbox.length; i++) {
      const entry = outbox[i];
      if (link.closed) {
        // Lost again while replaying: keep the tells for the next connection (the requests and
        // watches were failed with the connection).
        this.putBackTells(outbox.slice(i));
        return;
      }
      if (entry.kind === "request" && !waiting(entry.id)) {
        // Timed out while queued: its caller has its answer; the other node must not act on it.
        continue;
      }
      if (!link.fits(entry.frame.byteLength)) {
        giveUp(
          entry,
          new NodeUnreachableError(node, "the send buffer to it is full"),
          "mailbox-full",
        );
        continue;
      }
      try {
        link.sendEncoded(entry.frame);
      } catch (error) {
        if (link.closed) {
          i--; // handled as a loss at the top of the loop
          continue;
        }
        giveUp(entry, error, "node-unreachable");
      }
    }
  }

  /**
   * Queues an encoded message (a request or a watch).
   *
   * @throws {FrameTooLargeError} When it is over `maxFrameBytes`.
   */
  push(entry: Queued, maxFrameBytes: number): void {
    if (entry.frame.byteLength > maxFrameBytes) {
      throw new FrameTooLargeError(entry.frame.byteLength, maxFrameBytes);
    }
    this.#entries.push(entry);
    this.#count += entry.kind === "tells" ? entry.tells.length : 1;
  }

  /**
   * Queues tells in frames within `maxFrameBytes`, halving a batch that is over it; a tell over
   * it alone goes to `tooLarge`.
   */
  pushTells(
    tells: readonly Tell[],
    payloads: readonly unknown[],
    maxFrameBytes: number,
    tooLarge: (entry: Queued & { kind: "tells" }, error: unknown) => void,
  ): void {
    if (tells.length === 0) return;
    const frame = encodeMessage({ kind: "tells", tells });
    if (frame.byteLength <= maxFrameBytes) {
      this.#entries.push({ kind: "tells", frame, tells, payloads });
      this.#count += tells.length;
      return;
    }
    if (tells.length === 1) {
      tooLarge(
        { kind: "tells", frame, tells, payloads },
        new FrameTooLargeError(frame.byteLength, maxFrameBytes),
      );
      return;
    }
    const half = tells.length >> 1;
    this.pushTells(
      tells.slice(0, half),
      payloads.slice(0, half),
      maxFrameBytes,
      tooLarge,
    );
    this.pushTells(
      tells.slice(half),
      payloads.slice(half),
      maxFrameBytes,
      tooLarge,
    );
  }
}
