import type { ActorCell } from "./_cell.ts";
import type { ActorDefinition, Handlers } from "./definition.ts";
import type {
  MessageType,
  PayloadOf,
  ProtocolOf,
  TellArgs,
  UnknownProtocol,
} from "./protocol.ts";
import { type ActorRef, watchLineOf } from "./ref.ts";
import type { ActorSystem, SpawnOptions } from "./system.ts";
import type { TimerMode } from "../timer/mod.ts";

/** Options of a periodic actor timer. */
export interface ActorTimerOptions {
  /** The interval in milliseconds (> 0). */
  readonly intervalMs: number;
  /** `"fixed-rate"` (default) keeps the schedule; `"fixed-delay"` waits the interval after each tick was handled. */
  readonly mode?: TimerMode;
  /** Delay before the first tick; defaults to the interval. */
  readonly initialDelayMs?: number;
}

/**
 * Timers that send messages to the actor itself. Keys name timers: starting a key in use
 * replaces the old timer, and a cancelled or replaced timer's ticks that are still queued are
 * discarded. All timers stop when the actor stops or restarts.
 */
export class ActorTimers<P> {
  #cell: ActorCell;

  /** @internal Timers are reached through `ctx.timers`. */
  constructor(cell: ActorCell) {
    this.#cell = cell;
  }

  /**
   * Sends `type` to the actor once, after `delayMs`.
   *
   * @param key Names the timer.
   * @param delayMs Delay in milliseconds (≥ 0).
   * @param type The message type to send.
   * @param payload Its payload.
   * @throws {RangeError} When `delayMs` is out of range.
   * @throws {TypeError} When the actor has no handler for `type`.
   */
  startSingle<K extends MessageType<P>>(
    key: string,
    delayMs: number,
    type: K,
    ...payload: TellArgs<PayloadOf<P, K>>
  ): void {
    this.#cell.startTimer(
      key,
      type,
      payload[0],
      (s, fire) => s.startSingle(key, delayMs, fire),
    );
  }

  /**
   * Sends `type` to the actor periodically.
   *
   * @param key Names the timer.
   * @param options Interval, mode and initial delay.
   * @param type The message type to send.
   * @param payload Its payload.
   * @throws {RangeError} When a delay is out of range.
   * @throws {TypeError} When the actor has no handler for `type`.
   */
  startPeriodic<K extends MessageType<P>>(
    key: string,
    options: ActorTimerOptions,
    type: K,
    ...payload: TellArgs<PayloadOf<P, K>>
  ): void {
    this.#cell.startTimer(
      key,
      type,
      payload[0],
      (s, fire) =>
        s.startPeriodic(
          key,
          options.intervalMs,
          options.mode ?? "fixed-rate",
          fire,
          {
            initialDelayMs: options.initialDelayMs,
          },
        ),
    );
  }

  /**
   * Cancels a timer.
   *
   * @param key The timer's key.
   * @returns `true` if it was active.
   */
  cancel(key: string): boolean {
    return this.#cell.cancelTimer(key);
  }

  /** Cancels every timer of the actor. */
  cancelAll(): void {
    this.#cell.cancelAllTimers();
  }

  /**
   * Whether a timer is active.
   *
   * @param key The timer's key.
   * @returns `true` while it is scheduled.
   */
  isActive(key: string): boolean {
    return this.#cell.timers?.isActive(key) ?? false;
  }
}

/**
 * What an actor's handlers and hooks get besides state and payload: the actor's own ref, its
 * system, children, watches, timers, and a way to stop.
 */
export class ActorContext<P> {
  #cell: ActorCell;
  #timers: ActorTimers<P> | undefined;

  /** @internal Contexts are made by the runtime. */
  constructor(cell: ActorCell) {
    this.#cell = cell;
  }

  /** This actor's ref. */
  get self(): ActorRef<P> {
    return this.#cell.ref as unknown as ActorRef<P>;
  }

  /** The system the actor runs in. */
  get system(): ActorSystem {
    return this.#cell.system.owner;
  }

  /**
   * Aborted when this incarnation of the actor ends: when a stop or a restart begins. Pass it to
   * anything long a hook or handler waits for (a fetch, a retry loop), so a stop does not have
   * to wait it out. Its `reason` is an `ActorStoppedError`. A restart gets a fresh signal.
   *
   * @example Give up a long wait when the actor stops
   * ```ts
   * import { ActorSystem, defineActor } from "@troupe/troupe";
   *
   * const poller = defineActor({
   *   name: "poller",
   *   init: () => ({}),
   *   started: async (_state, ctx) => {
   *     await new Promise<void>((resolve) => {
   *       const timer = setTimeout(resolve, 50);
   *       ctx.signal.addEventListener("abort", () => {
   *         clearTimeout(timer);
   *         resolve();
   *       }, { once: true });
   *     });
   *   },
   *   handlers: {},
   * });
   * await using system = new ActorSystem();
   * await system.spawn(poller, undefined);
   * ```
   */
  get signal(): AbortSignal {
    return this.#cell.signal;
  }

  /** The parent's ref; `undefined` for a top-level actor. */
  get parent(): ActorRef<UnknownProtocol> | undefined {
    return this.#cell.parent?.ref as ActorRef<UnknownProtocol> | undefined;
  }

  /** This actor's timers. */
  get timers(): ActorTimers<P> {
    return this.#timers ??= new ActorTimers(this.#cell);
  }

  /** The refs of the running children, in the order they were spawned. */
  children(): ActorRef<UnknownProtocol>[] {
    const children = this.#cell.children;
    return children === null
      ? []
      : [...children.values()].map((c) => c.ref as ActorRef<UnknownProtocol>);
  }

  /**
   * Spawns a child: it stops before this actor stops, and this actor supervises it.
   *
   * @param definition The child's actor type.
   * @param args Its start arguments.
   * @param options Its id (unique among this actor's children) and mailbox.
   * @returns The child's ref, once it has started.
   * @throws {ActorStartError} When the child's `init` or `started` throws.
   * @throws {DuplicateActorIdError} When a child with this id is running.
   */
  spawn<A, S, H extends Handlers<S>>(
    definition: ActorDefinition<A, S, H>,
    args: A,
    options?: SpawnOptions,
  ): Promise<ActorRef<ProtocolOf<H>>> {
    return this.#cell.system.spawn(
      this.#cell,
      definition as unknown as ActorDefinition<
        unknown,
        unknown,
        Handlers<unknown>
      >,
      args,
      options,
    ) as Promise<ActorRef<ProtocolOf<H>>>;
  }

  /**
   * Stops this actor once the current message has been handled (no further messages are).
   * Returns at once; do not await the actor's own stop from inside its handler.
   */
  stop(): void {
    void this.#cell.stop();
  }

  /**
   * Watches another actor, local or remote: the `terminated` hook runs when it stops (at
   * once if it already has; for a remote actor also when its node is lost).
   *
   * @param ref The actor to watch.
   * @throws {TypeError} When `ref` is not an actor ref, or is this actor.
   */
  watch(ref: ActorRef<object>): void {
    const line = watchLineOf(ref);
    if (line.id === this.#cell.device.id) {
      throw new TypeError(`Actor "${this.#cell.path}" cannot watch itself`);
    }
    this.#cell.watchLine(line, ref as ActorRef<UnknownProtocol>);
  }

  /**
   * Stops watching an actor; no `terminated` notice arrives for it afterwards.
   *
   * @param ref The actor.
   * @throws {TypeError} When `ref` is not an actor ref.
   */
  unwatch(ref: ActorRef<object>): void {
    this.#cell.unwatchLine(watchLineOf(ref));
  }
}
