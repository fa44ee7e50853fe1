import type { Line } from "../backplane/mod.ts";
import type { ActorAddress } from "./address.ts";
import type {
  AskArgs,
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
 * with `ActorStoppedError`. A ref may also stand for an actor on another node (see
 * `RemoteNode.ref` and `RemoteNode.spawn`), with the same API; `address` is what identifies the
 * actor across nodes, and a ref serializes as it.
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
  // `keyof P & string` is spelled out (not MessageType<P>) so that a wrong name's type error
  // shows the valid names as a union rather than the alias.
  /**
   * Sends a message without waiting for a reply (fire and forget). Messages from one sender
   * are handled in the order sent. If the actor is stopped or drops the message, it goes to
   * dead letters.
   *
   * @param type The message type.
   * @param payload The payload (omitted for messages without one).
   * @throws {MailboxFullError} When the actor's bounded mailbox is full and its policy is `reject`.
   */
  tell<K extends keyof P & string>(
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
  ask<K extends keyof P & string>(
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

/**
 * The key of the method through which a ref gives the backplane {@linkcode Line} of the actor
 * it stands for. Watching (`ctx.watch`, `system.whenStopped`) links to that line, so any ref
 * that provides one can be watched: a local actor's own device, or the proxy device a remote
 * node keeps for an actor on another node (it disconnects when that actor stops or its node is
 * lost).
 */
export const WATCH_LINE: unique symbol = Symbol.for("troupe.actor.watchLine");

/** A ref that can be watched through the backplane. */
export interface WatchableRef {
  /** The line of the device that disconnects when the actor stops. */
  [WATCH_LINE](): Line;
}

/**
 * The line to watch for a ref.
 *
 * @param ref Anything.
 * @returns Its line.
 * @throws {TypeError} When `ref` is not a watchable actor ref.
 */
export function watchLineOf(ref: unknown): Line {
  const method = (ref as Partial<WatchableRef> | null)?.[WATCH_LINE];
  if (typeof method !== "function") {
    throw new TypeError("Expected an actor ref (local or remote)");
  }
  return method.call(ref);
}
