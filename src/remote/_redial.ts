// Dialing one node for its association, and dialing it again after a failure: one dial at a
// time, exponential backoff (with jitter) between attempts, one backoff timer at a time, and a
// timer that dials only when something waits to be sent.
import type { TimerHandle } from "../platform/mod.ts";
import type { Handshaken } from "./_handshakes.ts";
import type { NodeContext } from "./_settings.ts";
import { NodeUnreachableError } from "./errors.ts";

/** What a Redial dials for: the sending side of an association (a Peer). */
export interface RedialTarget {
  /** The node's name; a dial to a listener of another name is refused in the handshake. */
  readonly node: string;
  /** Where to dial (it changes when the node moves). */
  readonly address: string;
  /** Whether the connection is up. */
  readonly connected: boolean;
  /** Why nothing may be dialed now (this node closes, or disconnected the node), or `null`. */
  readonly refusing: string | null;
  /** Whether something waits for the connection (a backoff timer dials only then). */
  readonly waiting: boolean;
  /** A dial to `address` succeeded: the connection is the target's. */
  adopt(handshaken: Handshaken, address: string): void;
  /** A dial failed with `error`: the target fails what waited, then arms the backoff. */
  failed(error: unknown): void;
}

export class Redial {
  readonly #owner: NodeContext;
  readonly #target: RedialTarget;
  #dialing = false;
  #attempt = 0;
  #timer: TimerHandle | null = null;

  constructor(owner: NodeContext, target: RedialTarget) {
    this.#owner = owner;
    this.#target = target;
  }

  /** Whether a backoff timer is armed. */
  get armed(): boolean {
    return this.#timer !== null;
  }

  /** Dials, unless connected, dialing already, waiting out the backoff, or refusing. */
  dial(): void {
    const target = this.#target;
    if (
      target.connected || this.#dialing || this.#timer !== null ||
      target.refusing !== null
    ) return;
    this.#dialing = true;
    const address = target.address;
    this.#owner.dial(address, target.node).then(
      (handshaken) => {
        this.#dialing = false;
        const link = handshaken.link;
        if (target.refusing !== null) {
          link.close(target.refusing);
        } else if (handshaken.peerNode !== target.node) {
          link.close("wrong node");
          target.failed(
            new NodeUnreachableError(
              target.node,
              `the node at ${address} is now "${handshaken.peerNode}"`,
            ),
          );
        } else if (address !== target.address) {
          // connect() moved the node meanwhile: this connection is to where it was.
          link.close("node moved");
          if (!target.connected) this.dial();
        } else {
          target.adopt(handshaken, address);
        }
      },
      (error) => {
        this.#dialing = false;
        // connect() may have succeeded meanwhile: then nothing failed.
        if (target.connected || target.refusing !== null) return;
        target.failed(
          error instanceof Error
            ? new NodeUnreachableError(target.node, error.message, error)
            : error,
        );
      },
    );
  }

  /** Arms the backoff timer for the next attempt (replacing one armed already). */
  arm(): void {
    const { minMs, maxMs, jitter = 0 } = this.#owner.settings.reconnect;
    const delay = Math.min(maxMs, minMs * 2 ** this.#attempt++) *
      (1 + jitter * Math.random());
    // One timer at a time: a stale one would dial at the wrong time.
    this.cancel();
    this.#timer = this.#owner.clock.setTimer(() => {
      this.#timer = null;
      // Reconnect only when something is waiting to be sent.
      if (this.#target.waiting) this.dial();
    }, delay);
  }

  /** A connection is up (or nothing is to be dialed any more): no timer, and backoff anew. */
  reset(): void {
    this.cancel();
    this.#attempt = 0;
  }

  /** Disarms the backoff timer. */
  cancel(): void {
    if (this.#timer !== null) this.#owner.clock.clearTimer(this.#timer);
    this.#timer = null;
  }
}
