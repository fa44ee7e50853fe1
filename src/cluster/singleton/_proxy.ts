// The proxy of a singleton on one node: an ActorRef that sends straight to the instance once it
// knows where it runs, and buffers (bounded, in order) while it does not: before the first
// identification, and from the moment the host changes or the instance is seen to stop until
// the new instance is identified.
import {
  type ActorAddress,
  type ActorRef,
  type ActorSystem,
  type AskArgs,
  AskTimeoutError,
  formatAddress,
  isActorStoppedError,
  type PayloadOf,
  type ResultOf,
  type TellArgs,
} from "../../actor/mod.ts";
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import { SingletonBufferFullError, SingletonClosedError } from "./errors.ts";

interface BufferedTell {
  readonly kind: "tell";
  readonly type: string;
  readonly payload: unknown;
}

interface BufferedAsk {
  readonly kind: "ask";
  readonly type: string;
  readonly payload: unknown;
  readonly deadline: number;
  readonly timeoutMs: number;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
  timer: TimerHandle | undefined;
}

type Buffered = BufferedTell | BufferedAsk;

/** A ref whose protocol is not known here (the proxy forwards what its caller typed). */
type Untyped = ActorRef<Record<string, (payload: unknown) => unknown>>;

function untyped<P>(ref: ActorRef<P>): Untyped {
  return ref as unknown as Untyped;
}

/** What the proxy needs of its node. */
export interface ProxySettings {
  /** The singleton's name. */
  readonly name: string;
  readonly system: ActorSystem;
  readonly clock: Clock;
  /** The address the proxy ref reports (its forwarding actor on this node). */
  readonly address: ActorAddress;
  readonly bufferSize: number;
  /** Called when the proxy finds its instance stopped (so that the manager looks again). */
  readonly onStale: () => void;
}

/** The proxy ref of one singleton on one node. */
export class SingletonProxy<P> implements ActorRef<P> {
  readonly #s: ProxySettings;
  readonly #buffer: Buffered[] = [];
  /** Asks sent to `#target` and not answered yet (see `abandon`). */
  readonly #inFlight = new Set<BufferedAsk>();
  #target: ActorRef<P> | undefined;
  #closed = false;

  constructor(settings: ProxySettings) {
    this.#s = settings;
  }

  /** The address of the proxy's forwarding actor on this node. */
  get address(): ActorAddress {
    return this.#s.address;
  }

  /** The path of the proxy's forwarding actor. */
  get path(): string {
    return this.#s.address.path;
  }

  /** The id of the proxy's forwarding actor. */
  get id(): string {
    return this.#s.address.path;
  }

  /** Whether this node's part of the singleton is closed. */
  get stopped(): boolean {
    return this.#closed;
  }

  /** How many messages wait for the instance. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** The instance the proxy sends to now, if it knows one. */
  get target(): ActorRef<P> | undefined {
    return this.#target;
  }

  /**
   * Sends to the instance, or buffers while it moves.
   *
   * @param type The message type.
   * @param payload The payload.
   */
  tell<K extends keyof P & string>(
    type: K,
    ...payload: TellArgs<PayloadOf<P, K>>
  ): void {
    const body = payload[0];
    if (this.#closed) {
      return this.#deadLetter(type, body, "actor-stopped");
    }
    const target = this.#target;
    if (target !== undefined && this.#buffer.length === 0) {
      untyped(target).tell(type as string, body);
      return;
    }
    if (this.#buffer.length >= this.#s.bufferSize) {
      return this.#deadLetter(type, body, "mailbox-full");
    }
    this.#buffer.push({ kind: "tell", type, payload: body });
  }

  /**
   * Asks the instance, or buffers the ask while it moves (its timeout runs meanwhile).
   *
   * @param type The message type.
   * @param args The payload and the ask's options.
   * @returns The instance's reply.
   */
  ask<K extends keyof P & string>(
    type: K,
    ...args: AskArgs<PayloadOf<P, K>>
  ): Promise<ResultOf<P, K>> {
    const [payload, options] = args as [unknown, { timeoutMs?: number }?];
    if (this.#closed) {
      return Promise.reject(new SingletonClosedError(this.#s.name));
    }
    const timeoutMs = options?.timeoutMs ?? this.#s.system.askTimeoutMs;
    return new Promise<ResultOf<P, K>>((resolve, reject) => {
      const entry: BufferedAsk = {
        kind: "ask",
        type,
        payload,
        deadline: this.#s.clock.now() + timeoutMs,
        timeoutMs,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer: undefined,
      };
      const target = this.#target;
      if (target !== undefined && this.#buffer.length === 0) {
        this.#send(target, entry);
      } else {
        this.#bufferAsk(entry, undefined);
      }
    });
  }

  /** Buffers an ask until its deadline; `failure` rejects it when the buffer is full. */
  #bufferAsk(entry: BufferedAsk, failure: unknown): void {
    if (this.#buffer.length >= this.#s.bufferSize) {
      entry.reject(
        failure ??
          new SingletonBufferFullError(
            this.#s.name,
            entry.type,
            this.#s.bufferSize,
          ),
      );
      return;
    }
    entry.timer = this.#s.clock.setTimer(() => {
      entry.timer = undefined;
      const at = this.#buffer.indexOf(entry);
      if (at >= 0) this.#buffer.splice(at, 1);
      entry.reject(
        new AskTimeoutError(this.path, entry.type, entry.timeoutMs),
      );
    }, Math.max(0, entry.deadline - this.#s.clock.now()));
    this.#buffer.push(entry);
  }

  /**
   * Asks the instance. An ask that finds it stopped (it was not handled: the instance stopped
   * before it came to it) waits again in the buffer for the next instance, until its deadline.
   */
  #send(target: ActorRef<P>, entry: BufferedAsk): void {
    const left = entry.deadline - this.#s.clock.now();
    this.#inFlight.add(entry);
    untyped(target).ask(entry.type, entry.payload, {
      timeoutMs: Math.max(1, left),
    }).then((value) => {
      this.#inFlight.delete(entry);
      entry.resolve(value);
    }, (error) => {
      // Abandoned already (its host is gone): it was rejected then.
      if (!this.#inFlight.delete(entry)) return;
      if (
        !isActorStoppedError(error) || this.#closed ||
        this.#s.clock.now() >= entry.deadline
      ) {
        return entry.reject(error);
      }
      if (this.#target === target) {
        this.#target = undefined;
        this.#s.onStale();
      }
      if (this.#target !== undefined && this.#buffer.length === 0) {
        this.#send(this.#target, entry);
      } else {
        this.#bufferAsk(entry, error);
      }
    });
  }

  /**
   * Stops the current instance (the singleton's manager starts a new one).
   *
   * @returns Once it stopped, or at once when no instance is known.
   */
  async stop(): Promise<void> {
    await this.#target?.stop();
  }

  /** The address of the proxy's forwarding actor, `troupe://node/path`. */
  toJSON(): string {
    return formatAddress(this.#s.address);
  }

  /**
   * Points the proxy at an instance (sending what is buffered, in order) or at none (buffering
   * from now on).
   */
  retarget(target: ActorRef<P> | undefined): void {
    this.#target = target;
    if (target === undefined) return;
    const to = untyped(target);
    for (const entry of this.#buffer.splice(0)) {
      if (entry.kind === "tell") {
        to.tell(entry.type, entry.payload);
        continue;
      }
      if (entry.timer !== undefined) this.#s.clock.clearTimer(entry.timer);
      entry.timer = undefined;
      this.#send(target, entry);
    }
  }

  /**
   * The instance the asks in flight went to is gone with its node (downed or removed): they
   * reject now with `error` instead of waiting out their timeouts (an answer from there can no
   * longer come; a caller that asks again reaches the next instance). They are not sent again:
   * the old instance may have handled them before its node died.
   *
   * @param error Why they failed.
   */
  abandon(error: unknown): void {
    const inFlight = [...this.#inFlight];
    this.#inFlight.clear();
    for (const entry of inFlight) entry.reject(error);
  }

  /** Closes the proxy: buffered asks reject, buffered tells become dead letters. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#target = undefined;
    for (const entry of this.#buffer.splice(0)) {
      if (entry.kind === "tell") {
        this.#deadLetter(entry.type, entry.payload, "actor-stopped");
        continue;
      }
      if (entry.timer !== undefined) this.#s.clock.clearTimer(entry.timer);
      entry.reject(new SingletonClosedError(this.#s.name));
    }
  }

  #deadLetter(
    type: string,
    payload: unknown,
    reason: "mailbox-full" | "actor-stopped",
  ): void {
    this.#s.system.deadLetters.publish({
      recipient: this.path,
      messageType: type,
      payload,
      reason,
    });
  }
}
