import type { ActorAddress } from "./address.ts";
import type {
  AskArgs,
  MessageType,
  PayloadOf,
  ResultOf,
  TellArgs,
  UnknownProtocol,
} from "./protocol.ts";

/**
 * A handle to an actor: the only way to talk to it. The type parameter is the actor's
 * protocol, so only messages it handles can be sent, with the right payload, and an ask's
 * result type is known.
 *
 * A ref stays valid after the actor stops: sends then go to dead letters and asks reject
 * with `ActorStoppedError`. Refs are designed to also stand for actors on other nodes, with
 * the same API; `address` is what identifies the actor across nodes.
 */
export interface ActorRef<P = UnknownProtocol> {
  /** Node and path of the actor. */
  readonly address: ActorAddress;
  /** The actor's path (its id, preceded by its parents' ids). */
  readonly path: string;
  /** The actor's id: the last segment of its path. */
  readonly id: string;
  /** Whether the actor has stopped for good. */
  readonly stopped: boolean;
  /**
   * Sends a message without waiting for a reply (fire and forget). Messages from one sender
   * are handled in the order sent. If the actor is stopped or drops the message, it goes to
   * dead letters.
   *
   * @param type The message type.
   * @param payload The payload (omitted for messages without one).
   * @throws {MailboxFullError} When the actor's bounded mailbox is full and its policy is `reject`.
   */
  tell<K extends MessageType<P>>(
    type: K,
    ...payload: TellArgs<PayloadOf<P, K>>
  ): void;
  /**
   * Sends a message and waits for the handler's result.
   *
   * @param type The message type.
   * @param args The payload (omitted for messages without one) and options.
   * @returns The handler's result.
   * @throws {AskTimeoutError} No reply within the timeout (the system default or `timeoutMs`).
   * @throws {ActorStoppedError} The actor stopped before handling the message.
   * @throws {MessageNotHandledError} The actor has no handler for `type`.
   * @throws {MailboxFullError} The actor's bounded mailbox did not take the message.
   * @throws {unknown} Whatever the handler threw.
   */
  ask<K extends MessageType<P>>(
    type: K,
    ...args: AskArgs<PayloadOf<P, K>>
  ): Promise<ResultOf<P, K>>;
  /**
   * Stops the actor: it finishes the message in hand, its children stop, its `stopped` hook
   * runs, queued asks reject with `ActorStoppedError` and queued tells become dead letters.
   *
   * @returns Resolves when the actor has stopped.
   */
  stop(): Promise<void>;
  /** The string form of the address, so refs serialize as their address. */
  toJSON(): string;
}
