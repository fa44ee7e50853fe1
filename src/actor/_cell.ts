// The actor cell: one actor's mailbox, state, lifecycle and place in the supervision tree.
// The hot path (tell → enqueue → drain → handler) allocates nothing per message but the
// payload the caller made; asks add one PendingAsk and its promise.
import {
  cascadeFault,
  Device,
  type DeviceId,
  type DeviceMessage,
  type Fault,
  type Line,
  LinkMode,
  thrownFault,
} from "../backplane/mod.ts";
import type { TimerHandle } from "../platform/mod.ts";
import { TimerScheduler } from "../timer/mod.ts";
import { PendingAsk } from "./_ask.ts";
import type { Scheduler, SystemCore, TypeInfo } from "./_system_core.ts";
import type { ActorAddress } from "./address.ts";
import { ActorContext } from "./context.ts";
import type { ActorDefinition, Handlers, StopNotice } from "./definition.ts";
import {
  ActorStartError,
  ActorStoppedError,
  MailboxFullError,
  MessageNotHandledError,
  SupervisionEscalatedError,
} from "./errors.ts";
import { Mailbox, type MailboxOptions } from "./mailbox.ts";
import type { AskOptions, UnknownProtocol } from "./protocol.ts";
import { type ActorRef, WATCH_LINE } from "./ref.ts";
import {
  DEFAULT_STRATEGY,
  RestartTracker,
  type SupervisionStrategy,
} from "./supervision.ts";
import type { MessageTracer, TracedMessage } from "./tracing.ts";

export const STARTING = 0;
export const RUNNING = 1;
export const SUSPENDED = 2;
export const RESTARTING = 3;
export const STOPPING = 4;
export const STOPPED = 5;

type AnyDefinition = ActorDefinition<unknown, unknown, Handlers<unknown>>;
type HandlerFn = (
  state: unknown,
  payload: unknown,
  ctx: ActorContext<UnknownProtocol>,
) => unknown;

/** One message type of one actor type in one system: its handler and counters. */
export interface HandlerEntry {
  readonly type: string;
  readonly fn: HandlerFn;
  readonly sent: { inc(): void };
  readonly processed: { inc(): void };
  /** Its twin for messages sent while a tracer is installed (see tracedEntry); made on first use. */
  traced: HandlerEntry | null;
}

/**
 * A message sent while a tracer was installed: the payload, with the sender's trace context.
 * It takes the payload's place in the mailbox, under the traced twin of the handler entry, so
 * that the hot path (enqueue, run, #invoke) is the same with tracing on or off.
 */
class TracedEnvelope implements TracedMessage {
  readonly parent: unknown;
  readonly messageType: string;
  readonly payload: unknown;
  readonly #cell: ActorCell;

  constructor(
    cell: ActorCell,
    messageType: string,
    payload: unknown,
    parent: unknown,
  ) {
    this.#cell = cell;
    this.messageType = messageType;
    this.payload = payload;
    this.parent = parent;
  }

  get node(): string {
    return this.#cell.system.node;
  }

  get path(): string {
    return this.#cell.path;
  }

  get actorType(): string {
    return this.#cell.info.name;
  }
}

/** The payload a message was sent with (a traced one's is inside its envelope). */
function payloadOf(payload: unknown): unknown {
  return payload instanceof TracedEnvelope ? payload.payload : payload;
}

/**
 * The twin of `entry` whose payloads are TracedEnvelopes: it runs the handler through the tracer
 * (or directly, if the tracer was removed since the message was sent).
 */
function tracedEntry(entry: HandlerEntry, system: SystemCore): HandlerEntry {
  return entry.traced ??= {
    type: entry.type,
    fn: (state, message, ctx) => {
      const payload = (message as TracedEnvelope).payload;
      const tracer = system.tracer;
      if (tracer === null) return entry.fn(state, payload, ctx);
      return tracer.handle(
        message as TracedEnvelope,
        () => entry.fn(state, payload, ctx),
      );
    },
    sent: entry.sent,
    processed: entry.processed,
    traced: null,
  };
}

/** A timer tick in a mailbox; stale once its timer is cancelled or replaced. */
export class TimerToken {
  live = true;
  done: () => void = noop;
}

/** A hook call (childStopped, terminated) queued as a message. */
class HookCall {
  constructor(readonly notice: StopNotice) {}
}

function noop(): void {}

export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return value !== null &&
    (typeof value === "object" || typeof value === "function") &&
    typeof (value as { then?: unknown }).then === "function";
}

type Reply = PendingAsk | TimerToken | HookCall | null;

export class ActorCell {
  readonly system: SystemCore;
  readonly definition: AnyDefinition;
  readonly info: TypeInfo;
  readonly args: unknown;
  readonly parent: ActorCell | null;
  readonly path: string;
  readonly id: string;
  readonly device: Device;
  readonly ref: LocalActorRef;
  readonly capacity: number;
  readonly overflow: MailboxOptions["overflow"];
  status = STARTING;
  state: unknown = undefined;
  startedOk = false;
  busy = false;
  scheduled = false;
  mailbox: Mailbox<HandlerEntry, unknown, Reply> = new Mailbox();
  children: Map<DeviceId, ActorCell> | null = null;
  watching: Map<DeviceId, ActorRef<UnknownProtocol>> | null = null;
  ctx: ActorContext<UnknownProtocol> | null = null;
  timers: TimerScheduler | null = null;
  tracker: RestartTracker | null = null;
  stopPromise: Promise<void> | null = null;
  startPromise: Promise<void> | null = null;
  #idleWaiters: Array<() => void> | null = null;
  // Told when the actor has stopped (right after its device disconnects): the cheap path of
  // onStopped/whenStopped for local actors. One waiter is held as is; more as an array.
  #stopWaiters:
    | ((notice: StopNotice) => void)
    | Array<(notice: StopNotice) => void>
    | null = null;
  #inFlight: Reply = null;
  #backoff: { handle: TimerHandle; wake: () => void } | null = null;
  // Aborted when this incarnation ends (a stop or a restart begins); made on first use.
  #incarnation: AbortController | null = null;
  #lastEntry: HandlerEntry | null = null;
  #enqueued = 0;
  #dequeued = 0;
  #sampleIndex = -1;
  #sampleAt = 0;
  readonly #sampleMask: number;
  readonly #scheduler: Scheduler;
  #sampleTimes: number[] | null = null;
  #sampleTimesHead = 0;
  #turn = 0;

  constructor(
    system: SystemCore,
    definition: AnyDefinition,
    info: TypeInfo,
    args: unknown,
    parent: ActorCell | null,
    id: string,
    mailbox: MailboxOptions | undefined,
  ) {
    this.system = system;
    this.#sampleMask = system.sampleMask;
    this.#scheduler = system.scheduler;
    this.definition = definition;
    this.info = info;
    this.args = args;
    this.parent = parent;
    this.id = id;
    this.path = parent === null ? id : parent.path + "/" + id;
    this.capacity = mailbox?.capacity ?? Infinity;
    this.overflow = mailbox?.overflow ?? "drop-newest";
    this.device = new Device({
      onMessage: (message) => this.#onDevice(message),
    });
    this.ref = new LocalActorRef(this);
  }

  get context(): ActorContext<UnknownProtocol> {
    return this.ctx ??= new ActorContext(this);
  }

  // ---- sending ----------------------------------------------------------------------------

  entryFor(type: string): HandlerEntry | undefined {
    return this.info.entries.get(type) ?? this.info.fallback(type);
  }

  tell(type: string, payload: unknown): void {
    let entry: HandlerEntry | null | undefined = this.#lastEntry;
    if (entry === null || entry.type !== type) {
      entry = this.info.entries.get(type) ?? this.info.fallback(type);
      if (entry !== undefined) this.#lastEntry = entry;
    }
    if (entry === undefined || entry === null) {
      this.system.deadLetter(this.path, type, payload, "not-handled");
      return;
    }
    const tracer = this.system.tracer;
    if (tracer !== null) {
      this.#enqueueTraced(tracer.capture(), entry, payload, null);
      return;
    }
    this.enqueue(entry, payload, null);
  }

  // A message sent while a tracer is installed: it goes in with its sender's context.
  #enqueueTraced(
    parent: unknown,
    entry: HandlerEntry,
    payload: unknown,
    reply: Reply,
  ): void {
    this.enqueue(
      tracedEntry(entry, this.system),
      new TracedEnvelope(this, entry.type, payload, parent),
      reply,
    );
  }

  ask(
    type: string,
    payload: unknown,
    options: AskOptions | undefined,
  ): Promise<unknown> {
    const entry = this.info.entries.get(type) ?? this.info.fallback(type);
    if (entry === undefined) {
      this.system.deadLetter(this.path, type, payload, "not-handled");
      return Promise.reject(
        new MessageNotHandledError(this.path, this.info.name, type),
      );
    }
    if (this.status >= STOPPING) {
      this.system.deadLetter(this.path, type, payload, "actor-stopped");
      return Promise.reject(new ActorStoppedError(this.path, type));
    }
    const timeoutMs = options?.timeoutMs ?? this.system.askTimeoutMs;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(
        new RangeError(
          `Invalid ask timeout ${
            String(timeoutMs)
          }: must be a finite number > 0`,
        ),
      );
    }
    const tracer = this.system.tracer;
    if (tracer !== null) {
      return this.#askTraced(tracer, entry, payload, timeoutMs);
    }
    const asks = this.system.asks;
    const promise = asks.open(this.path, type, timeoutMs);
    this.enqueue(entry, payload, asks.last);
    asks.last = null;
    return promise;
  }

  #askTraced(
    tracer: MessageTracer,
    entry: HandlerEntry,
    payload: unknown,
    timeoutMs: number,
  ): Promise<unknown> {
    // Captured before the ask is opened: the tracer's code must not run between open and
    // enqueue (an ask it made there would take asks.last).
    const parent = tracer.capture();
    const asks = this.system.asks;
    const promise = asks.open(this.path, entry.type, timeoutMs);
    this.#enqueueTraced(parent, entry, payload, asks.last);
    asks.last = null;
    return promise;
  }

  // The hot path of every send; what does not run for every message is in methods of its own
  // (see #invoke).
  enqueue(entry: HandlerEntry, payload: unknown, reply: Reply): void {
    if (this.status >= STOPPING) {
      this.#undeliverable(entry, payload, reply, "actor-stopped");
      return;
    }
    const mailbox = this.mailbox;
    if (
      mailbox.size >= this.capacity && !(reply instanceof HookCall) &&
      !this.#makeRoom(entry, payload, reply)
    ) return;
    mailbox.push(entry, payload, reply);
    entry.sent.inc();
    if ((++this.#enqueued & this.#sampleMask) === 0) this.#takeSample();
    if (!this.scheduled && !this.busy && this.status === RUNNING) {
      this.#scheduler.schedule(this);
    } else if (this.#scheduler.yielding) {
      this.#scheduler.nudge();
    }
  }

  // The mailbox is full: applies the overflow policy. Returns whether the message can go in
  // (the oldest was dropped); otherwise it went to dead letters, or throws for "reject".
  #makeRoom(entry: HandlerEntry, payload: unknown, reply: Reply): boolean {
    if (this.overflow === "drop-oldest") {
      this.#dropOldest();
      return true;
    }
    const error = new MailboxFullError(this.path, entry.type, this.capacity);
    this.#undeliverable(entry, payload, reply, "mailbox-full", error);
    if (this.overflow === "reject" && reply === null) throw error;
    return false;
  }

  #undeliverable(
    entry: HandlerEntry,
    payload: unknown,
    reply: Reply,
    reason: "actor-stopped" | "mailbox-full" | "dropped-oldest",
    error?: Error,
  ): void {
    if (reply instanceof TimerToken) {
      // A dropped tick still ends its period, or a fixed-delay timer would never re-arm.
      reply.done();
      return;
    }
    if (reply instanceof HookCall) return;
    this.system.deadLetter(this.path, entry.type, payloadOf(payload), reason);
    if (reply !== null) {
      reply.fail(
        error ??
          (reason === "actor-stopped"
            ? new ActorStoppedError(this.path, entry.type)
            : new MailboxFullError(this.path, entry.type, this.capacity)),
      );
    }
  }

  // Drops the oldest user message. Stop notices (hook calls) are never dropped: they are
  // taken out, kept in order and put back in front.
  #dropOldest(): void {
    const mailbox = this.mailbox;
    const kept: Array<[HandlerEntry, unknown, Reply]> = [];
    while (mailbox.size > 0) {
      const item: [HandlerEntry, unknown, Reply] = [
        mailbox.firstA(),
        mailbox.firstB(),
        mailbox.firstC(),
      ];
      mailbox.removeFirst();
      this.#skipSample();
      if (item[2] instanceof HookCall) {
        kept.push(item);
        continue;
      }
      this.#undeliverable(item[0], item[1], item[2], "dropped-oldest");
      break;
    }
    for (let i = kept.length - 1; i >= 0; i--) {
      mailbox.unshift(kept[i][0], kept[i][1], kept[i][2]);
      this.#dequeued--;
    }
  }

  #skipSample(): void {
    if (this.#dequeued === this.#sampleIndex) this.#nextSample();
    this.#dequeued++;
  }

  // Timing samples: every N-th enqueued message (N = #sampleMask + 1) carries its enqueue time,
  // however many others are still queued, so a backlog shows in the wait histogram. Messages
  // leave in the order they came (a drop-oldest puts back what it keeps, and #dequeued follows
  // it), and #dequeued + mailbox.size is #enqueued at all times, so the sampled messages are
  // those at places N - 1, 2N - 1, ... in dequeue order: only their times need keeping. The
  // oldest sample waiting is #sampleIndex (its place, -1 if none) and #sampleAt (its enqueue
  // time); the times of later ones queue in #sampleTimes. (Storing the places too, in one
  // array with the times, made #sampleIndex a double field, and every message's check slower.)
  #takeSample(): void {
    const at = this.system.now();
    if (this.#sampleIndex < 0) {
      this.#sampleIndex = this.#enqueued - 1;
      this.#sampleAt = at;
    } else {
      (this.#sampleTimes ??= []).push(at);
    }
  }

  #nextSample(): void {
    const times = this.#sampleTimes;
    const head = this.#sampleTimesHead;
    if (times === null || head >= times.length) {
      this.#sampleIndex = -1;
      return;
    }
    this.#sampleIndex += this.#sampleMask + 1;
    this.#sampleAt = times[head];
    if (head + 1 === times.length) {
      this.#sampleTimes = null;
      this.#sampleTimesHead = 0;
    } else if (head >= 1024 && head * 2 >= times.length) {
      // An actor that never catches up never empties the queue: drop what was taken.
      times.splice(0, head + 1);
      this.#sampleTimesHead = 0;
    } else {
      this.#sampleTimesHead = head + 1;
    }
  }

  // ---- processing -------------------------------------------------------------------------

  /** Handles up to `budget` messages; returns how many. Called by the scheduler. */
  run(budget: number): number {
    this.scheduled = false;
    const mailbox = this.mailbox;
    let n = 0;
    for (;;) {
      // The messages before the next sampled one, in a loop of their own that has no timing
      // in it (one loop for both made a tell about 3% slower, sampled or not).
      while (
        n < budget && this.status === RUNNING && !this.busy &&
        mailbox.size > 0 && this.#dequeued !== this.#sampleIndex
      ) {
        const entry = mailbox.firstA();
        const payload = mailbox.firstB();
        const reply = mailbox.firstC();
        mailbox.removeFirst();
        n++;
        this.#dequeued++;
        this.#invoke(entry, payload, reply, -1);
      }
      if (
        !(n < budget && this.status === RUNNING && !this.busy &&
          mailbox.size > 0)
      ) return n;
      // The next message is a sampled one.
      const entry = mailbox.firstA();
      const payload = mailbox.firstB();
      const reply = mailbox.firstC();
      mailbox.removeFirst();
      n++;
      this.#dequeued++;
      this.#invoke(entry, payload, reply, this.#sampleStart());
    }
  }

  get runnable(): boolean {
    return this.status === RUNNING && !this.busy && this.mailbox.size > 0;
  }

  // Handles one message; `started` is its start time if it is sampled, else -1. The hot path:
  // everything that does not run for every message (a sample, an async handler, a failure)
  // is in a method of its own, so that this one stays small enough to be inlined into run()
  // and allocates nothing (a closure here would make every call allocate the variables it
  // captures).
  #invoke(
    entry: HandlerEntry,
    payload: unknown,
    reply: Reply,
    started: number,
  ): void {
    if (reply instanceof TimerToken && !reply.live) return;
    entry.processed.inc();
    let result: unknown;
    try {
      result = entry.fn(
        this.state,
        reply instanceof HookCall ? reply.notice : payload,
        this.context,
      );
    } catch (error) {
      this.#handlerFailed(error, reply, entry);
      return;
    }
    if (isThenable(result)) {
      this.#awaitResult(result, entry, reply, started);
      return;
    }
    if (started >= 0) this.#sampleEnd(started);
    if (reply !== null) settle(reply, result);
  }

  // A sampled message starts: its mailbox wait is observed; returns the start time.
  #sampleStart(): number {
    const started = this.system.now();
    this.info.wait.observe((started - this.#sampleAt) / 1000);
    this.#nextSample();
    return started;
  }

  // A sampled message (started at `started`) is done: its processing time is observed.
  #sampleEnd(started: number): void {
    this.info.processing.observe((this.system.now() - started) / 1000);
  }

  // An async handler returned `result`: the actor is busy until it settles.
  #awaitResult(
    result: PromiseLike<unknown>,
    entry: HandlerEntry,
    reply: Reply,
    started: number,
  ): void {
    this.busy = true;
    this.#inFlight = reply;
    // The completion belongs to this message in hand: once a stop or restart has abandoned
    // it (#abandon), a late result must not touch the next incarnation.
    const turn = ++this.#turn;
    result.then(
      (value) => {
        if (turn === this.#turn) this.#asyncDone(value, reply, started);
      },
      (error) => {
        if (turn === this.#turn) this.#asyncFailed(error, reply, entry);
        else this.#lateFailure(error, entry);
      },
    );
  }

  #asyncDone(value: unknown, reply: Reply, started: number): void {
    if (started >= 0) this.#sampleEnd(started);
    if (reply !== null) settle(reply, value);
    this.#becomeIdle();
  }

  #asyncFailed(error: unknown, reply: Reply, entry: HandlerEntry): void {
    this.#handlerFailed(error, reply, entry);
    this.#becomeIdle();
  }

  #becomeIdle(): void {
    this.busy = false;
    this.#inFlight = null;
    const waiters = this.#idleWaiters;
    if (waiters !== null) {
      this.#idleWaiters = null;
      for (const wake of waiters) wake();
    }
    if (this.runnable && !this.scheduled) this.system.schedule(this);
  }

  // Waits for the message in hand, but at most the system's stopTimeoutMs: a handler that
  // never settles must not block a stop (and with it a shutdown) forever. Its late result is
  // then ignored.
  #boundedWait(idle: Promise<void>): Promise<void> {
    const clock = this.system.clock;
    return new Promise((resolve) => {
      const timer = clock.setTimer(() => {
        this.system.logError(
          `Actor "${this.path}" did not finish its message within ${this.system.stopTimeoutMs} ms; stopping anyway`,
          undefined,
        );
        this.#abandon();
        resolve();
      }, this.system.stopTimeoutMs);
      idle.then(() => {
        clock.clearTimer(timer);
        resolve();
      });
    });
  }

  // Gives up the message in hand: its ask fails now, and whatever its handler does later is
  // ignored (a late failure is only logged), so it can neither clear `busy` for the next
  // incarnation's message nor fail that incarnation.
  #abandon(): void {
    if (!this.busy) return;
    this.#turn++;
    this.busy = false;
    const abandoned = this.#inFlight;
    this.#inFlight = null;
    if (abandoned instanceof PendingAsk) {
      abandoned.fail(new ActorStoppedError(this.path));
    }
    const waiters = this.#idleWaiters;
    if (waiters !== null) {
      this.#idleWaiters = null;
      for (const wake of waiters) wake();
    }
  }

  #lateFailure(error: unknown, entry: HandlerEntry): void {
    this.system.logError(
      `Actor "${this.path}" failed handling "${entry.type}" after the message was abandoned`,
      error,
    );
  }

  #whenIdle(): Promise<void> | undefined {
    if (!this.busy) return undefined;
    return new Promise((resolve) => (this.#idleWaiters ??= []).push(resolve));
  }

  #handlerFailed(error: unknown, reply: Reply, entry: HandlerEntry): void {
    if (reply instanceof TimerToken) reply.done();
    else if (reply !== null && !(reply instanceof HookCall)) reply.fail(error);
    this.info.failures.inc();
    this.system.logError(
      `Actor "${this.path}" failed handling "${entry.type}"`,
      error,
    );
    this.fail(error);
  }

  /** Suspends the actor and hands the failure to its supervisor. */
  fail(error: unknown): void {
    if (this.status !== RUNNING && this.status !== STARTING) return;
    this.status = SUSPENDED;
    supervise(this, error);
  }

  // ---- lifecycle --------------------------------------------------------------------------

  /** Runs init and started; on failure cleans up and throws ActorStartError. */
  async start(): Promise<void> {
    const definition = this.definition;
    try {
      let state = definition.init(this.args);
      if (isThenable(state)) state = await state;
      this.state = state;
      if (this.status === STARTING && definition.started !== undefined) {
        const done = definition.started(state, this.context);
        if (isThenable(done)) await done;
      }
      this.startedOk = true;
    } catch (error) {
      if (this.status !== STARTING) {
        // stop() was called while the actor was starting, and the hook gave up on the signal.
        this.#abortStart(undefined);
        throw new ActorStoppedError(this.path);
      }
      this.#abortStart(thrownFault(error));
      throw new ActorStartError(this.path, error);
    }
    if (this.status !== STARTING) {
      // stop() was called while the actor was starting.
      await this.#runStoppedHook();
      this.#abortStart(undefined);
      throw new ActorStoppedError(this.path);
    }
    this.status = RUNNING;
    this.info.created.inc();
    this.info.active.inc();
    if (this.mailbox.size > 0 && !this.scheduled) this.system.schedule(this);
  }

  #abortStart(fault: Fault | undefined): void {
    this.status = STOPPING;
    this.cancelAllTimers();
    this.parent?.children?.delete(this.device.id);
    this.#rejectQueued();
    this.system.forget(this);
    this.#release();
    this.status = STOPPED;
    this.#disconnect(fault);
  }

  #rejectQueued(): void {
    const mailbox = this.mailbox;
    while (mailbox.size > 0) {
      const entry = mailbox.firstA();
      const payload = mailbox.firstB();
      const reply = mailbox.firstC();
      mailbox.removeFirst();
      this.#undeliverable(entry, payload, reply, "actor-stopped");
    }
  }

  /**
   * The signal of the current incarnation (see `ActorContext.signal`). Once a stop or restart
   * has begun it is aborted, also for a handler or hook that asks for it only then; a restart
   * starts a new incarnation with a fresh signal just before `init`.
   */
  get signal(): AbortSignal {
    let incarnation = this.#incarnation;
    if (incarnation === null) {
      incarnation = this.#incarnation = new AbortController();
      if (this.status >= STOPPING || this.status === RESTARTING) {
        incarnation.abort(new ActorStoppedError(this.path));
      }
    }
    return incarnation.signal;
  }

  // Tells whatever waits on the current incarnation's signal that the incarnation is over.
  #endIncarnation(): void {
    const incarnation = this.#incarnation;
    if (incarnation === null || incarnation.signal.aborted) return;
    incarnation.abort(new ActorStoppedError(this.path));
  }

  /** Restarts the actor after `delayMs`: fresh state from the start arguments. */
  async restart(delayMs: number): Promise<void> {
    if (
      this.status >= STOPPING || this.status === RESTARTING ||
      this.status === STARTING
    ) return;
    this.status = RESTARTING;
    this.#endIncarnation();
    const idle = this.#whenIdle();
    if (idle !== undefined) await this.#boundedWait(idle);
    await this.#stopChildren();
    this.cancelAllTimers();
    await this.#runStoppedHook();
    if (delayMs > 0) {
      await new Promise<void>((wake) => {
        const handle = this.system.clock.setTimer(() => {
          this.#backoff = null;
          wake();
        }, delayMs);
        this.#backoff = { handle, wake };
      });
    }
    if (this.status !== RESTARTING) return;
    const definition = this.definition;
    // The new incarnation's signal: live while it starts and runs.
    this.#incarnation = new AbortController();
    try {
      let state = definition.init(this.args);
      if (isThenable(state)) state = await state;
      if (this.status !== RESTARTING) return;
      this.state = state;
      if (definition.started !== undefined) {
        const done = definition.started(state, this.context);
        if (isThenable(done)) await done;
      }
    } catch (error) {
      if (this.status !== RESTARTING) return;
      this.info.failures.inc();
      this.system.logError(`Actor "${this.path}" failed to restart`, error);
      this.status = RUNNING;
      this.fail(error);
      return;
    }
    if (this.status !== RESTARTING) return;
    this.startedOk = true;
    this.info.restarts.inc();
    this.status = RUNNING;
    if (this.runnable && !this.scheduled) this.system.schedule(this);
  }

  /** Resumes a suspended actor with its state as it was. */
  resume(): void {
    if (this.status !== SUSPENDED) return;
    this.status = RUNNING;
    if (this.runnable && !this.scheduled) this.system.schedule(this);
  }

  stop(fault?: Fault): Promise<void> {
    return this.stopPromise ??= this.#stop(fault);
  }

  /** Calls `waiter` with the stop notice once the actor has stopped (the caller checks it has not). */
  onStopped(waiter: (notice: StopNotice) => void): void {
    const waiters = this.#stopWaiters;
    if (waiters === null) this.#stopWaiters = waiter;
    else if (typeof waiters === "function") {
      this.#stopWaiters = [waiters, waiter];
    } else waiters.push(waiter);
  }

  #disconnect(fault: Fault | undefined): void {
    const waiters = this.#stopWaiters;
    this.#stopWaiters = null;
    try {
      this.device.disconnect(fault);
    } finally {
      if (waiters !== null) {
        const notice: StopNotice = {
          ref: this.ref as ActorRef<UnknownProtocol>,
          fault,
        };
        if (typeof waiters === "function") this.#tell(waiters, notice);
        else for (const waiter of waiters) this.#tell(waiter, notice);
      }
    }
  }

  #tell(waiter: (notice: StopNotice) => void, notice: StopNotice): void {
    try {
      waiter(notice);
    } catch (error) {
      this.system.logError(
        `A stop listener of actor "${this.path}" threw`,
        error,
      );
    }
  }

  async #stop(fault: Fault | undefined): Promise<void> {
    const wasStarting = this.status === STARTING;
    this.status = STOPPING;
    this.#endIncarnation();
    if (this.#backoff !== null) {
      this.system.clock.clearTimer(this.#backoff.handle);
      this.#backoff.wake();
      this.#backoff = null;
    }
    // start() sees the status, cleans up and rejects the spawn.
    if (wasStarting) return this.startPromise?.then(noop, noop);
    const idle = this.#whenIdle();
    if (idle !== undefined) await this.#boundedWait(idle);
    if (this.children !== null && this.children.size > 0) {
      await this.#stopChildren();
    }
    this.cancelAllTimers();
    if (this.startedOk && this.definition.stopped !== undefined) {
      await this.#runStoppedHook();
    }
    this.#rejectQueued();
    this.system.forget(this);
    this.info.stopped.inc();
    this.info.active.dec();
    this.#release();
    this.status = STOPPED;
    this.#disconnect(fault);
  }

  #release(): void {
    this.state = undefined;
    this.ctx = null;
    this.timers = null;
    this.watching = null;
    this.children = null;
    this.tracker = null;
    this.#sampleTimes = null;
    this.mailbox = EMPTY_MAILBOX as Mailbox<HandlerEntry, unknown, Reply>;
  }

  async #runStoppedHook(): Promise<void> {
    if (!this.startedOk) return;
    this.startedOk = false;
    const stopped = this.definition.stopped;
    if (stopped === undefined) return;
    try {
      const done = stopped(this.state, this.context);
      if (isThenable(done)) await done;
    } catch (error) {
      this.system.logError(
        `Actor "${this.path}" threw in its stopped hook`,
        error,
      );
    }
  }

  async #stopChildren(): Promise<void> {
    const children = this.children;
    if (children === null || children.size === 0) return;
    await Promise.all([...children.values()].map((child) => child.stop()));
  }

  // ---- links ------------------------------------------------------------------------------

  adopt(child: ActorCell): void {
    (this.children ??= new Map()).set(child.device.id, child);
    this.device.link(child.device, LinkMode.Peer);
  }

  watchLine(line: Line, ref: ActorRef<UnknownProtocol>): void {
    (this.watching ??= new Map()).set(line.id, ref);
    this.device.linkLine(line, LinkMode.Monitor);
  }

  unwatchLine(line: Line): void {
    this.watching?.delete(line.id);
    this.device.unlinkLine(line, LinkMode.Monitor);
  }

  #onDevice(message: DeviceMessage): void {
    if (message.kind === "shutdown") {
      void this.stop();
      return;
    }
    const child = this.children?.get(message.id);
    if (child !== undefined) {
      this.children!.delete(message.id);
      const hook = this.definition.childStopped;
      if (hook !== undefined && this.status === RUNNING) {
        this.#enqueueHook(CHILD_STOPPED, {
          ref: child.ref as ActorRef<UnknownProtocol>,
          fault: message.fault,
        });
      }
      return;
    }
    if (this.parent !== null && message.id === this.parent.device.id) {
      // The parent went down without stopping its children first (it never does so itself):
      // follow it.
      void this.stop(
        cascadeFault(
          message.id,
          message.fault ?? thrownFault("parent stopped"),
        ),
      );
      return;
    }
    const watched = this.watching?.get(message.id);
    if (watched !== undefined) {
      this.watching!.delete(message.id);
      if (this.definition.terminated !== undefined && this.status < STOPPING) {
        this.#enqueueHook(TERMINATED, { ref: watched, fault: message.fault });
      }
    }
  }

  #enqueueHook(
    kind: typeof CHILD_STOPPED | typeof TERMINATED,
    notice: StopNotice,
  ): void {
    this.enqueue(this.info.hook(kind), undefined, new HookCall(notice));
  }

  // ---- timers -----------------------------------------------------------------------------

  startTimer(
    key: string,
    type: string,
    payload: unknown,
    start: (
      scheduler: TimerScheduler,
      fire: (done: () => void) => void,
    ) => void,
  ): void {
    if (this.status >= STOPPING) {
      throw new ActorStoppedError(this.path);
    }
    const entry = this.entryFor(type);
    if (entry === undefined) {
      throw new TypeError(
        `Cannot start timer "${key}": actor type "${this.info.name}" has no handler for "${type}"`,
      );
    }
    const scheduler = this.timers ??= new TimerScheduler(this.system.clock);
    const token = new TimerToken();
    // start() validates its arguments before it replaces anything, so a rejected call leaves
    // the timer under this key as it was.
    start(scheduler, (done) => {
      token.done = done;
      // A tick starts a trace of its own: its timer may run for the actor's whole life.
      if (this.system.tracer !== null) {
        this.#enqueueTraced(undefined, entry, payload, token);
      } else {
        this.enqueue(entry, payload, token);
      }
    });
    // Replacing a key makes the old timer's ticks that are still queued stale.
    const tokens = this.#tokens ??= new Map();
    const old = tokens.get(key);
    if (old !== undefined) old.live = false;
    tokens.set(key, token);
  }

  cancelTimer(key: string): boolean {
    const token = this.#tokens?.get(key);
    if (token !== undefined) {
      token.live = false;
      this.#tokens!.delete(key);
    }
    return this.timers?.cancel(key) ?? false;
  }

  cancelAllTimers(): void {
    if (this.#tokens !== null) {
      for (const token of this.#tokens.values()) token.live = false;
    }
    this.#tokens = null;
    this.timers?.cancelAll();
  }

  #tokens: Map<string, TimerToken> | null = null;
}

export const CHILD_STOPPED = "$childStopped";
export const TERMINATED = "$terminated";

const EMPTY_MAILBOX = new Mailbox<unknown, unknown, unknown>();

function settle(
  reply: PendingAsk | TimerToken | HookCall,
  value: unknown,
): void {
  if (reply instanceof PendingAsk) reply.ok(value);
  else if (reply instanceof TimerToken) reply.done();
}

// ---- supervision ----------------------------------------------------------------------------

function siblingsOf(cell: ActorCell): ActorCell[] {
  const parent = cell.parent;
  if (parent === null) return cell.system.topLevel();
  return parent.children === null ? [] : [...parent.children.values()];
}

function affected(cell: ActorCell, strategy: SupervisionStrategy): ActorCell[] {
  if (strategy.kind === "one-for-one") return [cell];
  const siblings = siblingsOf(cell);
  if (strategy.kind === "all-for-one") {
    return siblings.includes(cell) ? siblings : [cell];
  }
  const i = siblings.indexOf(cell);
  return i === -1 ? [cell] : siblings.slice(i);
}

/** Applies the supervisor's strategy to a failed actor. */
export function supervise(cell: ActorCell, error: unknown): void {
  const system = cell.system;
  const parent = cell.parent;
  const strategy = parent === null
    ? system.strategy
    : parent.definition.supervision ?? DEFAULT_STRATEGY;
  let directive;
  try {
    directive = strategy.decide?.(error, cell.path) ?? "restart";
  } catch (decideError) {
    system.logError(
      `Supervision strategy of "${cell.path}" threw; escalating`,
      decideError,
    );
    directive = "escalate" as const;
  }
  switch (directive) {
    case "resume":
      cell.resume();
      return;
    case "stop":
      for (const c of affected(cell, strategy)) {
        void c.stop(c === cell ? thrownFault(error) : undefined);
      }
      return;
    case "restart": {
      const delay = (cell.tracker ??= new RestartTracker()).next(
        strategy,
        system.clock.now(),
        system.random,
      );
      if (delay !== undefined) {
        for (const c of affected(cell, strategy)) void c.restart(delay);
        return;
      }
      const max = strategy.maxRestarts ?? 10;
      const within = strategy.withinMs ?? 60_000;
      escalate(cell, `more than ${max} restarts within ${within} ms`, error);
      return;
    }
    default:
      escalate(cell, "the supervision strategy escalated", error);
  }
}

function escalate(cell: ActorCell, reason: string, error: unknown): void {
  const escalated = new SupervisionEscalatedError(cell.path, reason, error);
  void cell.stop(thrownFault(error));
  const parent = cell.parent;
  if (parent === null) {
    cell.system.logError(
      `Actor "${cell.path}" stopped: ${escalated.message}`,
      error,
    );
    return;
  }
  parent.info.failures.inc();
  parent.fail(escalated);
}

// ---- refs -----------------------------------------------------------------------------------

/** The ref of a local actor. */
export class LocalActorRef implements ActorRef<UnknownProtocol> {
  readonly cell: ActorCell;
  #address: ActorAddress | undefined;

  constructor(cell: ActorCell) {
    this.cell = cell;
  }

  get address(): ActorAddress {
    return this.#address ??= Object.freeze({
      node: this.cell.system.node,
      path: this.cell.path,
    });
  }

  get path(): string {
    return this.cell.path;
  }

  get id(): string {
    return this.cell.id;
  }

  get stopped(): boolean {
    return this.cell.status === STOPPED;
  }

  tell(type: string, payload?: unknown): void {
    this.cell.tell(type, payload);
  }

  ask(type: string, payload?: unknown, options?: AskOptions): Promise<never> {
    return this.cell.ask(type, payload, options) as Promise<never>;
  }

  stop(): Promise<void> {
    return this.cell.stop();
  }

  toJSON(): string {
    return `troupe://${this.cell.system.node}/${this.cell.path}`;
  }

  [WATCH_LINE](): Line {
    return this.cell.device.line;
  }
}
