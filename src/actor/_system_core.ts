// What an actor cell needs from its system, and the per-system tables behind the hot path.
import type { Clock } from "../timer/mod.ts";
import type {
  CounterChild,
  GaugeChild,
  HistogramChild,
  MetricsRegistry,
} from "../metrics/mod.ts";
import { DEFAULT_TIME_BUCKETS } from "../metrics/mod.ts";
import { platform, type TimerHandle } from "../platform/mod.ts";
import type { AskRegistry } from "./_ask.ts";
import type { ActorCell, HandlerEntry } from "./_cell.ts";
import type { ActorDefinition, Handlers } from "./definition.ts";
import type { DeadLetterReason } from "./dead_letters.ts";
import type { SupervisionStrategy } from "./supervision.ts";
import type { ActorSystem, SpawnOptions } from "./system.ts";
import type { MessageTracer } from "./tracing.ts";
import type { ActorRef } from "./ref.ts";
import type { UnknownProtocol } from "./protocol.ts";

type AnyDefinition = ActorDefinition<unknown, unknown, Handlers<unknown>>;

export interface SystemCore {
  readonly node: string;
  readonly clock: Clock;
  readonly askTimeoutMs: number;
  readonly stopTimeoutMs: number;
  readonly asks: AskRegistry;
  readonly sampleMask: number;
  readonly strategy: SupervisionStrategy;
  /** The installed tracer, or null (the default: sends check this and nothing else). */
  readonly tracer: MessageTracer | null;
  now(): number;
  random(): number;
  schedule(cell: ActorCell): void;
  /** The scheduler (a cell tells it when work arrives while it yields). */
  readonly scheduler: Scheduler;
  deadLetter(
    path: string,
    type: string,
    payload: unknown,
    reason: DeadLetterReason,
  ): void;
  logError(message: string, error: unknown): void;
  forget(cell: ActorCell): void;
  topLevel(): ActorCell[];
  /** The public facade. */
  readonly owner: ActorSystem;
  spawn(
    parent: ActorCell | null,
    definition: AnyDefinition,
    args: unknown,
    options: SpawnOptions | undefined,
  ): Promise<ActorRef<UnknownProtocol>>;
}

/** One actor type in one system: handler entries with their counters, and per-type metrics. */
export interface TypeInfo {
  readonly name: string;
  readonly entries: Map<string, HandlerEntry>;
  fallback(type: string): HandlerEntry | undefined;
  hook(kind: string): HandlerEntry;
  readonly created: CounterChild;
  readonly stopped: CounterChild;
  readonly restarts: CounterChild;
  readonly failures: CounterChild;
  readonly active: GaugeChild;
  readonly wait: HistogramChild;
  readonly processing: HistogramChild;
}

/** The actor metrics of one system, in the Prometheus naming style. */
export class ActorMetrics {
  readonly created;
  readonly stopped;
  readonly restarts;
  readonly failures;
  readonly active;
  readonly sent;
  readonly processed;
  readonly wait;
  readonly processing;
  readonly deadLetters;

  constructor(registry: MetricsRegistry) {
    const type = ["actor_type"];
    const typeAndMessage = ["actor_type", "message_type"];
    this.created = registry.counter(
      "troupe_actor_created_total",
      "Actors started.",
      type,
    );
    this.stopped = registry.counter(
      "troupe_actor_stopped_total",
      "Actors stopped.",
      type,
    );
    this.restarts = registry.counter(
      "troupe_actor_restarts_total",
      "Actor restarts by a supervisor.",
      type,
    );
    this.failures = registry.counter(
      "troupe_actor_failures_total",
      "Handler or lifecycle failures handed to a supervisor.",
      type,
    );
    this.active = registry.gauge(
      "troupe_actors_active",
      "Actors running now.",
      type,
    );
    this.sent = registry.counter(
      "troupe_actor_messages_sent_total",
      "Messages enqueued to actors.",
      typeAndMessage,
    );
    this.processed = registry.counter(
      "troupe_actor_messages_processed_total",
      "Messages handled by actors.",
      typeAndMessage,
    );
    this.wait = registry.histogram(
      "troupe_actor_mailbox_wait_seconds",
      "Time from enqueue to the start of handling (every metricsSampleEvery-th message per actor).",
      { labelNames: type, buckets: DEFAULT_TIME_BUCKETS },
    );
    this.processing = registry.histogram(
      "troupe_actor_processing_seconds",
      "Time a handler took (every metricsSampleEvery-th message per actor).",
      { labelNames: type, buckets: DEFAULT_TIME_BUCKETS },
    );
    this.deadLetters = registry.counter(
      "troupe_dead_letters_total",
      "Messages that could not be delivered.",
      ["reason"],
    );
  }
}

const MAX_CACHED_UNHANDLED = 256;

export function makeTypeInfo(
  definition: AnyDefinition,
  metrics: ActorMetrics,
): TypeInfo {
  const name = definition.name;
  const entries = new Map<string, HandlerEntry>();
  const entry = (type: string, fn: HandlerEntry["fn"]): HandlerEntry => ({
    type,
    fn,
    sent: metrics.sent.labels(name, type),
    processed: metrics.processed.labels(name, type),
    traced: null,
  });
  for (const [type, handler] of Object.entries(definition.handlers)) {
    entries.set(type, entry(type, handler as HandlerEntry["fn"]));
  }
  const unhandled = definition.unhandled;
  const fallbacks = new Map<string, HandlerEntry>();
  const hooks = new Map<string, HandlerEntry>();
  return {
    name,
    entries,
    fallback(type: string): HandlerEntry | undefined {
      if (unhandled === undefined || typeof type !== "string") return undefined;
      let e = fallbacks.get(type);
      if (e === undefined) {
        e = entry(
          type,
          (state, payload, ctx) =>
            unhandled(state, type, payload, ctx as never),
        );
        // Types that arrive from outside are unbounded: keep a bounded cache only.
        if (fallbacks.size < MAX_CACHED_UNHANDLED) fallbacks.set(type, e);
      }
      return e;
    },
    hook(kind: string): HandlerEntry {
      let e = hooks.get(kind);
      if (e === undefined) {
        const fn = kind === "$childStopped"
          ? definition.childStopped
          : definition.terminated;
        e = entry(kind, fn as HandlerEntry["fn"]);
        hooks.set(kind, e);
      }
      return e;
    },
    created: metrics.created.labels(name),
    stopped: metrics.stopped.labels(name),
    restarts: metrics.restarts.labels(name),
    failures: metrics.failures.labels(name),
    active: metrics.active.labels(name),
    wait: metrics.wait.labels(name),
    processing: metrics.processing.labels(name),
  };
}

// The time slice. The scheduler runs ready actors on the microtask queue, round robin, each for
// at most THROUGHPUT messages at a time. Every CHECK_EVERY units of work (a message handled or
// a cell turn, counted across flushes, so work that re-enters the scheduler from a handler or a
// settled promise counts like any other) it reads the clock, and every TURN_BUDGET units it
// ends the microtask turn (ending it more often costs remote throughput: the transport's reads
// then interleave with the work in smaller pieces). Once actor work has kept the event loop from
// running a macrotask for more than SLICE_MS, the rest runs in a macrotask (a 0 ms timer),
// after the timers and I/O callbacks that are due: a message storm delays a heartbeat or a
// socket read by about SLICE_MS, not by the storm.
//
// "Kept from running a macrotask" is measured by a sentinel, a 0 ms timer set once a burst has
// lasted SLICE_MS / 2: if it has run by a later check, the event loop is alive and the burst
// starts again; if it has not by SLICE_MS / 2 after it was set, the scheduler yields. (One
// timer per half slice at most: a timer per check also wakes the event loop more often, which
// costs throughput too.) A burst only counts as long as its sentinel says: a burst whose start
// was read long ago (the scheduler went idle without a sentinel, and nothing tells whether the
// event loop turned since) gets its sentinel and yields half a slice later, not at once.
const THROUGHPUT = 256;
const CHECK_EVERY = 1024;
const TURN_BUDGET = 8192;
const SLICE_MS = 20;
const MAX_WAIT_TURNS = 64;
const MAX_KEPT_READY = 4096;

export class Scheduler {
  // The ready cells are ready[head..tail); the array is reused from run to run (emptying it with
  // `length = 0` costs more than the rest of a one-message run).
  #ready: Array<ActorCell | undefined> = [];
  #head = 0;
  #tail = 0;
  // True while a flush is queued, running, or waiting for its macrotask: schedule() then only
  // appends, so nothing can queue a second flush that would bypass the slice.
  #pending = false;
  #work = 0;
  #turnWork = 0;
  #burstStart = -1;
  #sentinel: TimerHandle | null = null;
  #resumeTimer: TimerHandle | null = null;
  #flush = (): void => this.#guardedRun();
  /** True while the scheduler waits for its macrotask (see nudge()). */
  yielding = false;
  #yieldAt = 0;
  #nudges = 0;
  #resume = (): void => {
    // An immediate can run before the timers that are due (it does on Deno): wait a few more
    // turns of the event loop for the sentinel, which runs with them. A handful of immediates
    // costs far less than one nested 0 ms timer; after that the actors go on regardless.
    if (
      this.#sentinel !== null && !this.#othersStarve &&
      ++this.#waitTurns < MAX_WAIT_TURNS
    ) {
      this.#resumeTimer = platform.setImmediate(this.#resume);
      return;
    }
    this.#waitTurns = 0;
    this.yielding = false;
    this.#resumeTimer = null;
    this.#burstStart = -1;
    this.#guardedRun();
  };
  #waitTurns = 0;
  #sentinelFired = (): void => {
    this.#sentinel = null;
    this.#burstStart = -1;
    this.#othersStarve = false;
  };
  // Set when a yield had to be cut short because something else starves the timers (nudge());
  // until the event loop turns again (the sentinel runs) yielding cannot help, so none is made.
  #othersStarve = false;

  schedule(cell: ActorCell): void {
    cell.scheduled = true;
    this.#ready[this.#tail++] = cell;
    if (!this.#pending) {
      this.#pending = true;
      queueMicrotask(this.#flush);
    }
  }

  #guardedRun(): void {
    try {
      this.#run();
    } catch (error) {
      // Not expected (cells catch handler errors), but the other actors must not stall.
      queueMicrotask(this.#flush);
      throw error;
    }
  }

  #run(): void {
    const ready = this.#ready;
    while (this.#head < this.#tail) {
      const cell = ready[this.#head]!;
      ready[this.#head++] = undefined;
      const handled = cell.run(THROUGHPUT);
      if (cell.runnable && !cell.scheduled) {
        cell.scheduled = true;
        ready[this.#tail++] = cell;
      }
      if ((this.#work += handled + 1) >= CHECK_EVERY) {
        this.#turnWork += this.#work;
        this.#work = 0;
        if (this.#sliceOver()) {
          this.#turnWork = 0;
          this.#compact();
          this.yielding = true;
          this.#yieldAt = platform.now();
          this.#resumeTimer = platform.setImmediate(this.#resume);
          return;
        }
        if (this.#turnWork >= TURN_BUDGET && this.#head < this.#tail) {
          this.#turnWork = 0;
          this.#compact();
          queueMicrotask(this.#flush);
          return;
        }
      }
    }
    this.#head = this.#tail = 0;
    // Keep the array for the next run unless a crowd of ready cells once made it large.
    if (ready.length > MAX_KEPT_READY) this.#ready = [];
    this.#pending = false;
  }

  /**
   * Called when a message arrives for an actor that is already waiting to run while the
   * scheduler yields. Messages that keep arriving while the yield's 0 ms timer does not run mean
   * that something else keeps the event loop from its timers (on Deno, a storm of socket reads,
   * each resolved without a return to the event loop): the actors are not the cause, and
   * waiting on would only stall them for as long as the storm lasts. So after SLICE_MS the
   * scheduler resumes at once. Checked on every 256th call.
   */
  nudge(): void {
    if ((++this.#nudges & 255) !== 0) return;
    if (this.#resumeTimer === null) return;
    if (platform.now() - this.#yieldAt <= SLICE_MS) return;
    platform.clearTimer(this.#resumeTimer);
    this.#resumeTimer = null;
    this.#othersStarve = true;
    queueMicrotask(this.#resume);
  }

  #sliceOver(): boolean {
    const now = platform.now();
    if (this.#burstStart < 0) {
      this.#burstStart = now;
      return false;
    }
    const elapsed = now - this.#burstStart;
    if (elapsed <= SLICE_MS / 2) return false;
    if (this.#sentinel === null) {
      // Half a slice (or more: the start may be stale) without knowing whether the event loop
      // ran: ask it, and count the burst as half a slice from here.
      this.#sentinel = platform.setTimer(this.#sentinelFired, 0);
      this.#sentinel.unref();
      this.#burstStart = now - SLICE_MS / 2;
      return false;
    }
    return elapsed > SLICE_MS && !this.#othersStarve;
  }

  /** Cancels the scheduler's timers (the system has shut down; its actors are stopped). */
  close(): void {
    if (this.#sentinel !== null) platform.clearTimer(this.#sentinel);
    if (this.#resumeTimer !== null) {
      platform.clearTimer(this.#resumeTimer);
      this.#resumeTimer = null;
      this.#ready = [];
      this.#head = this.#tail = 0;
      this.#pending = false;
    }
    this.#sentinel = null;
    this.#burstStart = -1;
  }

  #compact(): void {
    if (this.#head > 1024) {
      this.#ready = this.#ready.slice(this.#head, this.#tail);
      this.#tail -= this.#head;
      this.#head = 0;
    }
  }
}
