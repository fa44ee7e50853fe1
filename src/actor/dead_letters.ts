/** Why a message became a dead letter. */
export type DeadLetterReason =
  | "actor-stopped"
  | "mailbox-full"
  | "dropped-oldest"
  | "not-handled"
  | "node-unreachable";

/** A message that could not be delivered. */
export interface DeadLetter {
  /** The path of the actor it was for. */
  readonly recipient: string;
  /** The message type. */
  readonly messageType: string;
  /** The payload. */
  readonly payload: unknown;
  /** Why it was not delivered. */
  readonly reason: DeadLetterReason;
}

/** A listener of dead letters. */
export type DeadLetterListener = (letter: DeadLetter) => void;

/**
 * The dead-letter stream of an actor system: messages to stopped actors, messages dropped by
 * bounded mailboxes, and messages no handler accepts. They are counted (see the
 * `troupe_dead_letters_total` metric) and passed to subscribers.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem } from "@troupe/troupe";
 * await using system = new ActorSystem();
 * const unsubscribe = system.deadLetters.subscribe((letter) => console.log(letter.reason));
 * unsubscribe();
 * ```
 */
export class DeadLetters {
  #listeners: DeadLetterListener[] = [];
  #count = 0;
  #onError: (error: unknown) => void;

  /**
   * Creates the stream.
   *
   * @param onError Called when a listener throws.
   */
  constructor(onError: (error: unknown) => void) {
    this.#onError = onError;
  }

  /** How many dead letters there have been. */
  get count(): number {
    return this.#count;
  }

  /**
   * Calls `listener` for every dead letter from now on.
   *
   * @param listener Called synchronously; it must not throw (an error is logged and ignored).
   * @returns A function that unsubscribes.
   */
  subscribe(listener: DeadLetterListener): () => void {
    if (typeof listener !== "function") {
      throw new TypeError(
        "Cannot subscribe to dead letters: listener must be a function",
      );
    }
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** Publishes a dead letter. */
  publish(letter: DeadLetter): void {
    this.#count++;
    for (const listener of this.#listeners) {
      try {
        listener(letter);
      } catch (error) {
        this.#onError(error);
      }
    }
  }
}
