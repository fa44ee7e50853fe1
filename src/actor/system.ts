import {
  Device,
  type DeviceMessage,
  LinkMode,
  PROCESS_TAG,
} from "../backplane/mod.ts";
import { MetricsRegistry } from "../metrics/mod.ts";
import { type Clock, systemClock } from "../timer/mod.ts";
import { AskRegistry } from "./_ask.ts";
import {
  type ActorCell,
  ActorCell as Cell,
  LocalActorRef,
  STOPPED,
  STOPPING,
} from "./_cell.ts";
import {
  ActorMetrics,
  makeTypeInfo,
  Scheduler,
  type SystemCore,
  type TypeInfo,
} from "./_system_core.ts";
import { checkActorId } from "./address.ts";
import { type DeadLetterReason, DeadLetters } from "./dead_letters.ts";
import type { ActorDefinition, Handlers, StopNotice } from "./definition.ts";
import { ActorStoppedError, DuplicateActorIdError } from "./errors.ts";
import { checkMailboxOptions, type MailboxOptions } from "./mailbox.ts";
import type { ProtocolOf, UnknownProtocol } from "./protocol.ts";
import { type ActorRef, watchLineOf } from "./ref.ts";
import {
  checkStrategy,
  DEFAULT_STRATEGY,
  type SupervisionStrategy,
} from "./supervision.ts";
import { checkTracer, type MessageTracer } from "./tracing.ts";

type AnyDefinition = ActorDefinition<unknown, unknown, Handlers<unknown>>;

/** Where the runtime reports errors it handled (failures, throwing hooks). */
export interface ActorLogger {
  /** Reports an error. */
  error(message: string, error: unknown): void;
}

/** Options of an {@linkcode ActorSystem}. */
export interface ActorSystemOptions {
  /** This node's name in actor addresses. Default: `"node-<process tag>"`. */
  readonly node?: string;
  /** The clock for timeouts, timers and backoff. Default: the runtime's clock. */
  readonly clock?: Clock;
  /**
   * Default ask timeout in milliseconds. Default 5000. An ask times out no earlier than this,
   * and at most one tick (10 ms) plus the event loop's own lag later.
   */
  readonly askTimeoutMs?: number;
  /**
   * How long a stop (or restart) waits for the message in hand, in milliseconds. A handler
   * still running then is abandoned: the stop goes on and its late result is ignored.
   * Default 10 000.
   */
  readonly stopTimeoutMs?: number;
  /** How failures of top-level actors are handled. Default: one-for-one restart, 10 in 60 s. */
  readonly supervision?: SupervisionStrategy;
  /** Where metrics go. Default: a new registry, with a `node` label on every sample. */
  readonly metrics?: MetricsRegistry;
  /**
   * Mailbox wait and processing time are measured for every N-th message enqueued to each
   * actor, N being this option (a power of two; default 256): the rate is exactly 1 in N per
   * actor, however many sampled messages are still queued, so a backlog shows in
   * `troupe_actor_mailbox_wait_seconds` (with N = 32, a burst of 3,200 tells to one actor
   * gives 100 samples). A sampled message costs three clock reads (at enqueue, and before
   * and after its handler), the others a counter and a compare. A clock read costs 70-170 ns,
   * so at the default a message pays about 1.5 ns on average: about 5% of the cheapest tell
   * (a synchronous handler), less for any handler that does real work. Counters are exact.
   */
  readonly metricsSampleEvery?: number;
  /** Where handled errors are reported. Default: `console.error`. */
  readonly logger?: ActorLogger;
}

/** One actor as {@linkcode ActorSystem.actors} reports it. */
export interface ActorSummary {
  /** Its path: the ids from the top-level actor down, joined with `/`. */
  readonly path: string;
  /** Its type's name (the definition's `name`). */
  readonly type: string;
  /** How many messages wait in its mailbox. */
  readonly mailboxSize: number;
}

/** Options of a spawn. */
export interface SpawnOptions {
  /**
   * The actor's id: unique among the top-level actors (or among one parent's children).
   * Omit for a generated id starting with `$`.
   */
  readonly id?: string;
  /** Overrides the definition's mailbox options. */
  readonly mailbox?: MailboxOptions;
}

const CONSOLE_LOGGER: ActorLogger = {
  error(message, error) {
    console.error(`[troupe] ${message}:`, error);
  },
};

class Core implements SystemCore {
  readonly owner: ActorSystem;
  readonly node: string;
  readonly clock: Clock;
  readonly askTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly asks: AskRegistry;
  readonly sampleMask: number;
  readonly strategy: SupervisionStrategy;
  readonly metrics: ActorMetrics;
  readonly registry: MetricsRegistry;
  readonly deadLetters: DeadLetters;
  readonly logger: ActorLogger;
  readonly cells = new Map<string, ActorCell>();
  readonly types = new Map<AnyDefinition, TypeInfo>();
  readonly scheduler = new Scheduler();
  tracer: MessageTracer | null = null;
  anonymous = 0;
  closed = false;
  readonly deadLetterCounters = new Map<DeadLetterReason, { inc(): void }>();

  constructor(owner: ActorSystem, options: ActorSystemOptions) {
    this.owner = owner;
    this.node = options.node ?? `node-${PROCESS_TAG}`;
    this.clock = options.clock ?? systemClock;
    this.askTimeoutMs = options.askTimeoutMs ?? 5000;
    this.stopTimeoutMs = options.stopTimeoutMs ?? 10_000;
    this.strategy = options.supervision ?? DEFAULT_STRATEGY;
    this.logger = options.logger ?? CONSOLE_LOGGER;
    const every = options.metricsSampleEvery ?? 256;
    this.sampleMask = every - 1;
    this.registry = options.metrics ??
      new MetricsRegistry({ constLabels: { node: this.node } });
    this.metrics = new ActorMetrics(this.registry);
    this.asks = new AskRegistry(this.clock);
    this.deadLetters = new DeadLetters((error) =>
      this.logError("A dead-letter listener threw", error)
    );
  }

  now(): number {
    return this.clock.now();
  }

  random(): number {
    return Math.random();
  }

  schedule(cell: ActorCell): void {
    this.scheduler.schedule(cell);
  }

  deadLetter(
    path: string,
    type: string,
    payload: unknown,
    reason: DeadLetterReason,
  ): void {
    let counter = this.deadLetterCounters.get(reason);
    if (counter === undefined) {
      counter = this.metrics.deadLetters.labels(reason);
      this.deadLetterCounters.set(reason, counter);
    }
    counter.inc();
    this.deadLetters.publish({
      recipient: path,
      messageType: String(type),
      payload,
      reason,
    });
  }

  logError(message: string, error: unknown): void {
    try {
      this.logger.error(message, error);
    } catch {
      // A broken logger must not break the runtime.
    }
  }

  forget(cell: ActorCell): void {
    if (this.cells.get(cell.path) === cell) this.cells.delete(cell.path);
  }

  topLevel(): ActorCell[] {
    const top: ActorCell[] = [];
    for (const cell of this.cells.values()) {
      if (cell.parent === null) top.push(cell);
    }
    return top;
  }

  typeInfo(definition: AnyDefinition): TypeInfo {
    let info = this.types.get(definition);
    if (info === undefined) {
      info = makeTypeInfo(definition, this.metrics);
      this.types.set(definition, info);
    }
    return info;
  }

  spawn(
    parent: ActorCell | null,
    definition: AnyDefinition,
    args: unknown,
    options: SpawnOptions | undefined,
  ): Promise<ActorRef<UnknownProtocol>> {
    if (this.closed) {
      return Promise.reject(new ActorStoppedError("/", "spawn"));
    }
    if (
      typeof definition !== "object" || definition === null ||
      definition.kind !== "troupe.actor"
    ) {
      throw new TypeError(
        "Cannot spawn: the definition must come from defineActor()",
      );
    }
    if (parent !== null && parent.status >= 4) {
      return Promise.reject(new ActorStoppedError(parent.path, "spawn"));
    }
    let id = options?.id;
    if (id === undefined) {
      id = "$" + (++this.anonymous).toString(36);
    } else {
      checkActorId(id);
    }
    const mailbox = options?.mailbox ?? definition.mailbox;
    checkMailboxOptions(mailbox);
    const path = parent === null ? id : parent.path + "/" + id;
    if (this.cells.has(path)) {
      return Promise.reject(new DuplicateActorIdError(path));
    }
    const cell = new Cell(
      this,
      definition,
      this.typeInfo(definition),
      args,
      parent,
      id,
      mailbox,
    );
    this.cells.set(path, cell);
    if (parent !== null) parent.adopt(cell);
    const started = cell.start();
    cell.startPromise = started;
    return started.then(() => {
      cell.startPromise = null;
      return cell.ref;
    });
  }
}

/**
 * An actor system: spawns, finds and stops actors, and holds their shared machinery (the
 * scheduler, ask timeouts, metrics, dead letters). Dispose of it with `await using` or
 * {@linkcode ActorSystem.shutdown}.
 *
 * An actor's memory (state, mailbox, children table) is released when it stops; refs to it
 * stay valid objects that report it stopped.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, defineActor } from "@troupe/troupe";
 * const greeter = defineActor({
 *   name: "greeter",
 *   init: (greeting: string) => ({ greeting }),
 *   handlers: { greet: (state, name: string) => `${state.greeting}, ${name}!` },
 * });
 * await using system = new ActorSystem();
 * const ref = await system.spawn(greeter, "Hello", { id: "greeter" });
 * console.log(await ref.ask("greet", "Ada")); // "Hello, Ada!"
 * ```
 */
export class ActorSystem implements AsyncDisposable {
  #core: Core;
  #shutdown: Promise<void> | null = null;

  /**
   * Creates a system.
   *
   * @param options See {@linkcode ActorSystemOptions}.
   * @throws {RangeError} When an option is out of range.
   */
  constructor(options: ActorSystemOptions = {}) {
    const {
      askTimeoutMs,
      stopTimeoutMs,
      metricsSampleEvery,
      supervision,
      node,
    } = options;
    if (
      stopTimeoutMs !== undefined &&
      !(stopTimeoutMs >= 0 && Number.isFinite(stopTimeoutMs))
    ) {
      throw new RangeError(
        `Invalid stopTimeoutMs ${stopTimeoutMs}: must be a finite number ≥ 0`,
      );
    }
    if (
      askTimeoutMs !== undefined &&
      !(askTimeoutMs > 0 && Number.isFinite(askTimeoutMs))
    ) {
      throw new RangeError(
        `Invalid askTimeoutMs ${askTimeoutMs}: must be a finite number > 0`,
      );
    }
    if (
      metricsSampleEvery !== undefined &&
      !(Number.isInteger(metricsSampleEvery) && metricsSampleEvery >= 1 &&
        (metricsSampleEvery & (metricsSampleEvery - 1)) === 0)
    ) {
      throw new RangeError(
        `Invalid metricsSampleEvery ${metricsSampleEvery}: must be a power of two`,
      );
    }
    if (
      node !== undefined &&
      (typeof node !== "string" || !/^[A-Za-z0-9_.:-]{1,100}$/.test(node))
    ) {
      throw new TypeError(`Invalid node name ${JSON.stringify(node)}`);
    }
    if (supervision !== undefined) checkStrategy(supervision);
    this.#core = new Core(this, options);
  }

  /** This node's name, the first part of every actor address. */
  get node(): string {
    return this.#core.node;
  }

  /** The default ask timeout in milliseconds. */
  get askTimeoutMs(): number {
    return this.#core.askTimeoutMs;
  }

  /** The clock this system runs on. */
  get clock(): Clock {
    return this.#core.clock;
  }

  /**
   * The tracer of message handling, or `null` (the default): see {@linkcode MessageTracer}.
   * `installTracing()` of `@troupe/troupe/otel` sets an OpenTelemetry one. Messages sent while
   * a tracer is installed carry their sender's trace context (to actors on other nodes too, as
   * a W3C `traceparent`), and each is handled through the tracer. Without one, a send costs one
   * null check more.
   *
   * @returns The installed tracer, or `null`.
   */
  get tracer(): MessageTracer | null {
    return this.#core.tracer;
  }

  /**
   * Installs a tracer, or removes it with `null`. Messages already queued keep how they were
   * sent: a message sent with a tracer installed is handled without one if it was removed.
   *
   * @param tracer The tracer, or `null`.
   * @throws {TypeError} When `tracer` is neither `null` nor a {@linkcode MessageTracer}.
   */
  set tracer(tracer: MessageTracer | null) {
    checkTracer(tracer);
    this.#core.tracer = tracer;
  }

  /** The metrics registry with the actor metrics. */
  get metrics(): MetricsRegistry {
    return this.#core.registry;
  }

  /** The dead-letter stream. */
  get deadLetters(): DeadLetters {
    return this.#core.deadLetters;
  }

  /** How many actors are running (or starting). */
  get size(): number {
    return this.#core.cells.size;
  }

  /**
   * Every actor of this system that has not stopped, for diagnostics (the HTTP API's actor
   * tree): its path (a child's path extends its parent's with `/`), its type and how many
   * messages wait in its mailbox. A snapshot, in no particular order.
   *
   * @returns The actors.
   * @example List the actors
   * ```ts
   * import { ActorSystem, defineActor } from "@troupe/troupe";
   * import assert from "node:assert/strict";
   *
   * await using system = new ActorSystem();
   * const idle = defineActor({ name: "idle", init: () => null, handlers: {} });
   * await system.spawn(idle, undefined, { id: "a" });
   * assert.deepEqual(system.actors(), [{ path: "a", type: "idle", mailboxSize: 0 }]);
   * ```
   */
  actors(): ActorSummary[] {
    const result: ActorSummary[] = [];
    for (const cell of this.#core.cells.values()) {
      if (cell.status >= STOPPING) continue;
      result.push({
        path: cell.path,
        type: cell.info.name,
        mailboxSize: cell.mailbox.size,
      });
    }
    return result;
  }

  /**
   * Spawns a top-level actor.
   *
   * @param definition The actor type.
   * @param args Its start arguments (kept for restarts).
   * @param options Id and mailbox.
   * @returns The actor's ref, once `init` and `started` have run.
   * @throws {ActorStartError} When `init` or `started` throws.
   * @throws {DuplicateActorIdError} When an actor with this id is running.
   * @throws {TypeError} When the id or definition is invalid.
   */
  spawn<A, S, H extends Handlers<S>>(
    definition: ActorDefinition<A, S, H>,
    args: A,
    options?: SpawnOptions,
  ): Promise<ActorRef<ProtocolOf<H>>> {
    return this.#core.spawn(
      null,
      definition as unknown as AnyDefinition,
      args,
      options,
    ) as Promise<
      ActorRef<ProtocolOf<H>>
    >;
  }

  /**
   * Finds a running actor by path (its id for a top-level actor, `parent/child` for a child).
   * With a definition, only an actor of that type is found, and the ref is typed.
   *
   * @param path The actor's path.
   * @param definition The expected actor type.
   * @returns The ref, or `undefined`.
   */
  lookup<A, S, H extends Handlers<S>>(
    path: string,
    definition: ActorDefinition<A, S, H>,
  ): ActorRef<ProtocolOf<H>> | undefined;
  /**
   * Finds a running actor by path.
   *
   * @param path The actor's path.
   * @returns An untyped ref, or `undefined`.
   */
  lookup(path: string): ActorRef<UnknownProtocol> | undefined;
  lookup(path: string, definition?: unknown): unknown {
    const cell = this.#core.cells.get(path);
    if (cell === undefined || cell.status >= 4) return undefined;
    if (definition !== undefined && cell.definition !== definition) {
      return undefined;
    }
    return cell.ref;
  }

  /**
   * Calls `listener` once an actor has stopped, like {@linkcode ActorSystem.whenStopped} without
   * a promise: for a local actor it costs only the listener itself, so code that follows many
   * actors for their whole lives (a shard region follows every entity) keeps no promise per
   * actor. A listener that throws is logged; the others are still called.
   *
   * @example Usage
   * ```ts
   * import { ActorSystem, defineActor } from "@troupe/troupe";
   * await using system = new ActorSystem();
   * const ref = await system.spawn(defineActor({ name: "a", init: () => ({}), handlers: {} }), undefined);
   * system.onStopped(ref, (notice) => console.log(`${notice.ref.path} stopped`));
   * await ref.stop();
   * ```
   *
   * @param ref The actor (local or remote).
   * @param listener Called with its stop notice (at once, in a microtask, if it has stopped).
   * @throws {TypeError} When `ref` is not an actor ref.
   */
  onStopped(
    ref: ActorRef<object>,
    listener: (notice: StopNotice) => void,
  ): void {
    if (ref instanceof LocalActorRef && ref.cell.status !== STOPPED) {
      ref.cell.onStopped(listener);
      return;
    }
    this.whenStopped(ref).then(listener).catch((error) =>
      this.#core.logError(`A stop listener of actor "${ref.path}" threw`, error)
    );
  }

  /**
   * Waits for an actor to stop.
   *
   * @param ref The actor.
   * @returns Its stop notice (with the fault it stopped with, if any).
   * @throws {TypeError} When `ref` is not an actor ref.
   */
  whenStopped(ref: ActorRef<object>): Promise<StopNotice> {
    if (ref instanceof LocalActorRef && ref.cell.status !== STOPPED) {
      // A local actor tells its waiters itself, when its device disconnects: no watcher
      // device and link per wait (about 700 bytes, held for as long as the actor lives).
      return new Promise((resolve) => ref.cell.onStopped(resolve));
    }
    const line = watchLineOf(ref);
    return new Promise((resolve) => {
      const watcher: Device = new Device({
        onMessage: (message: DeviceMessage) => {
          if (message.kind !== "disconnected") return;
          watcher.disconnect();
          resolve({
            ref: ref as ActorRef<UnknownProtocol>,
            fault: message.fault,
          });
        },
      });
      watcher.linkLine(line, LinkMode.Monitor);
    });
  }

  /**
   * Stops every actor (children before parents) and the system's timers. Asks still
   * waiting reject with `ActorStoppedError`. Idempotent.
   *
   * @returns Resolves when everything has stopped.
   */
  shutdown(): Promise<void> {
    return this.#shutdown ??= this.#doShutdown();
  }

  async #doShutdown(): Promise<void> {
    const core = this.#core;
    core.closed = true;
    await Promise.all(core.topLevel().map((cell) => cell.stop()));
    core.asks.close();
    core.scheduler.close();
  }

  /** Shuts the system down (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.shutdown();
  }

  /** The Prometheus text exposition of this system's metrics. */
  prometheusText(): string {
    return this.#core.registry.prometheusText();
  }
}
