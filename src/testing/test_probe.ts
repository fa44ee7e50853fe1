import {
  type ActorRef,
  type ActorSystem,
  defineActor,
  type StopNotice,
  type UnknownProtocol,
} from "../actor/mod.ts";
import type { TimerHandle } from "../platform/mod.ts";
import { isProbeExpectationError, ProbeExpectationError } from "./errors.ts";

/** A message a probe received. */
export interface ProbeMessage {
  /** The message type. */
  readonly type: string;
  /** Its payload. */
  readonly payload: unknown;
}

/** Options of a probe expectation. */
export interface ExpectOptions {
  /** How long to wait, in milliseconds of the system's clock. Default: the probe's default. */
  readonly timeoutMs?: number;
}

/** Options of {@linkcode TestProbe.create}. */
export interface TestProbeOptions {
  /** The probe actor's id (default: generated). */
  readonly id?: string;
  /** Default wait of expectations, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
}

interface Waiter {
  readonly accept: (message: ProbeMessage) => boolean;
  readonly resolve: (message: ProbeMessage) => void;
}

interface ProbeState {
  readonly inbox: ProbeMessage[];
  waiter: Waiter | null;
}

const probeActor = defineActor({
  name: "troupe.test_probe",
  init: (state: ProbeState) => state,
  handlers: {},
  unhandled: (state, type, payload) => {
    const message = { type, payload };
    const waiter = state.waiter;
    if (waiter === null) {
      state.inbox.push(message);
    } else if (waiter.accept(message)) {
      state.waiter = null;
      waiter.resolve(message);
    }
    // Otherwise an expectation of another type is waiting: skipped messages are dropped.
    return undefined;
  },
});

/**
 * An actor for tests: it records every message sent to it (asks to it resolve `undefined`)
 * and lets the test expect messages and stops within a deadline. Deadlines run on the system's
 * clock, so with a `ManualClock` they pass only as the test advances it.
 *
 * @typeParam P The protocol its ref claims, so it can stand in for a real actor.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem } from "@troupe/troupe";
 * import { TestProbe } from "@troupe/troupe/testing";
 * await using system = new ActorSystem();
 * await using probe = await TestProbe.create<{ ping(n: number): void }>(system);
 * probe.ref.tell("ping", 1);
 * const message = await probe.expectMessage("ping");
 * console.log(message.payload); // 1
 * ```
 */
export class TestProbe<P = UnknownProtocol> implements AsyncDisposable {
  #system: ActorSystem;
  #ref: ActorRef<UnknownProtocol>;
  #state: ProbeState;
  #timeoutMs: number;

  private constructor(
    system: ActorSystem,
    ref: ActorRef<UnknownProtocol>,
    state: ProbeState,
    timeoutMs: number,
  ) {
    this.#system = system;
    this.#ref = ref;
    this.#state = state;
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Spawns a probe in `system`.
   *
   * @param system The system.
   * @param options Id and default timeout.
   * @returns The probe.
   */
  static async create<P = UnknownProtocol>(
    system: ActorSystem,
    options: TestProbeOptions = {},
  ): Promise<TestProbe<P>> {
    const timeoutMs = options.timeoutMs ?? 3000;
    if (!(timeoutMs > 0)) {
      throw new RangeError(`Invalid probe timeout ${timeoutMs}: must be > 0`);
    }
    const state: ProbeState = { inbox: [], waiter: null };
    const ref = await system.spawn(probeActor, state, { id: options.id });
    return new TestProbe<P>(
      system,
      ref as ActorRef<UnknownProtocol>,
      state,
      timeoutMs,
    );
  }

  /** The probe's ref, typed as the protocol it stands in for. */
  get ref(): ActorRef<P> {
    return this.#ref as unknown as ActorRef<P>;
  }

  /** Messages received and not yet taken by an expectation. */
  get pending(): readonly ProbeMessage[] {
    return [...this.#state.inbox];
  }

  /**
   * Waits for the next message (of `type`, if given; other messages before it are skipped and
   * dropped).
   *
   * @param type The expected message type.
   * @param options Timeout.
   * @returns The message.
   * @throws {ProbeExpectationError} When none arrives in time.
   */
  expectMessage(type?: string, options?: ExpectOptions): Promise<ProbeMessage> {
    const inbox = this.#state.inbox;
    while (inbox.length > 0) {
      const message = inbox.shift()!;
      if (type === undefined || message.type === type) {
        return Promise.resolve(message);
      }
    }
    const timeoutMs = options?.timeoutMs ?? this.#timeoutMs;
    return this.#wait(
      (message) => type === undefined || message.type === type,
      timeoutMs,
      () =>
        `Expected ${
          type === undefined ? "a message" : `message "${type}"`
        } within ${timeoutMs} ms, got none`,
    );
  }

  /**
   * Expects no message for `ms` milliseconds.
   *
   * @param ms How long.
   * @throws {ProbeExpectationError} When a message arrives (or was already waiting).
   */
  async expectNoMessage(ms: number): Promise<void> {
    const early = this.#state.inbox.shift();
    if (early !== undefined) {
      throw new ProbeExpectationError(
        `Expected no message, got "${early.type}"`,
      );
    }
    let got: ProbeMessage | undefined;
    try {
      got = await this.#wait(() => true, ms, () => "");
    } catch (error) {
      if (isProbeExpectationError(error)) return;
      throw error;
    }
    throw new ProbeExpectationError(
      `Expected no message for ${ms} ms, got "${got.type}"`,
    );
  }

  /**
   * Waits for an actor to stop.
   *
   * @param ref The actor.
   * @param options Timeout.
   * @returns Its stop notice.
   * @throws {ProbeExpectationError} When it does not stop in time.
   */
  expectTerminated(
    ref: ActorRef<object>,
    options?: ExpectOptions,
  ): Promise<StopNotice> {
    const timeoutMs = options?.timeoutMs ?? this.#timeoutMs;
    const clock = this.#system.clock;
    return new Promise((resolve, reject) => {
      const timer = clock.setTimer(() => {
        reject(
          new ProbeExpectationError(
            `Expected actor "${ref.path}" to stop within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.#system.whenStopped(ref).then((notice) => {
        clock.clearTimer(timer);
        resolve(notice);
      });
    });
  }

  /** Stops the probe actor. */
  stop(): Promise<void> {
    return this.#ref.stop();
  }

  /** Stops the probe actor (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.stop();
  }

  #wait(
    accept: (message: ProbeMessage) => boolean,
    timeoutMs: number,
    describe: () => string,
  ): Promise<ProbeMessage> {
    const state = this.#state;
    if (state.waiter !== null) {
      return Promise.reject(
        new TypeError("A probe expectation is already waiting"),
      );
    }
    const clock = this.#system.clock;
    return new Promise((resolve, reject) => {
      let timer: TimerHandle | undefined = undefined;
      state.waiter = {
        accept,
        resolve: (message) => {
          if (timer !== undefined) clock.clearTimer(timer);
          resolve(message);
        },
      };
      timer = clock.setTimer(() => {
        state.waiter = null;
        reject(new ProbeExpectationError(describe()));
      }, timeoutMs);
    });
  }
}
