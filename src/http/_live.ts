// The dashboard's live feed: server-sent events of one JSON state (members, leader, rates, actor
// tree, sharding). It samples on a timer while someone listens, and at once on a membership
// event, and sends a frame only when the state changed (plus a comment now and then, so
// proxies keep the stream open). Nothing runs while nobody listens.
import type { Clock, TimerHandle } from "../timer/mod.ts";
import { platform } from "../platform/mod.ts";
import type { ShardingStatsProvider } from "./sharding.ts";
import {
  actorTree,
  counterTotals,
  members,
  metricName,
  type Sources,
} from "./_views.ts";

const encoder = new TextEncoder();
/** A keep-alive comment after this many quiet ticks. */
const KEEP_ALIVE_TICKS = 40;
/** The dashboard's actor tree: shallower than the API's, it is re-sent on every change. */
const LIVE_TREE_DEPTH = 4;
const LIVE_TREE_CHILDREN = 50;
/**
 * How long a sample waits for the sharding figures (real time). A slower answer (the
 * coordinator handing over, a node not answering) is shown by the next sample, and the rest of
 * the state (members above all) is not held up by it.
 */
const SHARDING_WAIT_MS = 200;

/** One type's figures on the dashboard, or why they are missing. */
interface ShardingTypeView {
  readonly type: string;
  readonly nodes: readonly unknown[];
  readonly unavailable?: string;
}

/** Whether `promise` settles within `ms` (real time). */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = platform.setTimer(() => resolve(false), ms);
    promise.then(
      () => {
        platform.clearTimer(timer);
        resolve(true);
      },
      () => {
        platform.clearTimer(timer);
        resolve(true);
      },
    );
  });
}

interface Listener {
  readonly controller: ReadableStreamDefaultController<Uint8Array>;
  lastSent: string;
  quietTicks: number;
}

export interface LiveFeedOptions {
  readonly sources: Sources;
  readonly sharding?: ShardingStatsProvider;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly onError: (message: string, error: unknown) => void;
}

export class LiveFeed {
  readonly #options: LiveFeedOptions;
  readonly #listeners = new Set<Listener>();
  #timer: TimerHandle | undefined;
  #events: AbortController | undefined;
  #previous: { at: number; processed: number; dead: number } | undefined;
  #rates = { messagesPerSecond: 0, deadLettersPerSecond: 0 };
  #sampling = false;
  #again = false;
  #closed = false;
  /** The last sharding figures read, and the reading in progress. */
  #sharding: ShardingTypeView[] | null = null;
  #readingSharding: Promise<void> | undefined;

  constructor(options: LiveFeedOptions) {
    this.#options = options;
  }

  /**
   * A new SSE stream; it ends when the feed closes, and is dropped when the client goes away
   * (the server cancels the body; the request's signal is not used, as Deno also aborts it
   * after every successful response).
   */
  open(): ReadableStream<Uint8Array> {
    let listener: Listener | undefined;
    return new ReadableStream<Uint8Array>({
      start: (controller) => {
        if (this.#closed) {
          controller.close();
          return;
        }
        listener = { controller, lastSent: "", quietTicks: 0 };
        this.#listeners.add(listener);
        controller.enqueue(encoder.encode("retry: 1000\n\n"));
        this.#start();
        void this.#sample();
      },
      cancel: () => {
        if (listener !== undefined) this.#drop(listener);
      },
    });
  }

  /** How many streams are open. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Ends every stream and stops sampling; no stream opens after it. */
  close(): void {
    this.#closed = true;
    this.endStreams();
  }

  /** Ends the streams open now (and so stops sampling); new ones may open. */
  endStreams(): void {
    for (const listener of [...this.#listeners]) {
      this.#drop(listener);
      try {
        listener.controller.close();
      } catch {
        // already closed or errored
      }
    }
  }

  #drop(listener: Listener): void {
    if (!this.#listeners.delete(listener)) return;
    if (this.#listeners.size === 0) this.#stop();
  }

  #start(): void {
    const { clock, intervalMs, sources } = this.#options;
    if (this.#timer === undefined) {
      const tick = () => {
        this.#timer = clock.setTimer(tick, intervalMs);
        void this.#sample();
      };
      this.#timer = clock.setTimer(tick, intervalMs);
    }
    if (this.#events === undefined && sources.cluster !== undefined) {
      const events = new AbortController();
      this.#events = events;
      void (async () => {
        try {
          for await (const _ of sources.cluster!.events(events.signal)) {
            void this.#sample();
          }
        } catch (error) {
          this.#options.onError(
            "The dashboard stopped following membership events",
            error,
          );
        }
      })();
    }
  }

  #stop(): void {
    if (this.#timer !== undefined) this.#options.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#events?.abort();
    this.#events = undefined;
    this.#previous = undefined;
  }

  async #sample(): Promise<void> {
    if (this.#sampling) {
      this.#again = true;
      return;
    }
    this.#sampling = true;
    try {
      do {
        this.#again = false;
        const state = JSON.stringify(await this.#state());
        this.#send(state);
      } while (this.#again && this.#listeners.size > 0);
    } catch (error) {
      this.#options.onError(
        "The dashboard failed to read the node's state",
        error,
      );
    } finally {
      this.#sampling = false;
    }
  }

  #send(state: string): void {
    const frame = encoder.encode(`event: state\ndata: ${state}\n\n`);
    for (const listener of this.#listeners) {
      try {
        if (listener.lastSent !== state) {
          listener.controller.enqueue(frame);
          listener.lastSent = state;
          listener.quietTicks = 0;
        } else if (++listener.quietTicks >= KEEP_ALIVE_TICKS) {
          listener.controller.enqueue(encoder.encode(": keep-alive\n\n"));
          listener.quietTicks = 0;
        }
      } catch {
        this.#drop(listener);
      }
    }
  }

  #updateRates(): void {
    const { system } = this.#options.sources;
    const metrics = system.metrics.snapshot();
    const now = this.#options.clock.now();
    const processed = counterTotals(
      metrics,
      metricName(system, "troupe_actor_messages_processed_total"),
    ).total;
    const dead = system.deadLetters.count;
    const previous = this.#previous;
    // At most one rate per 500 ms, so the shown rate does not jitter with the sampling.
    if (previous === undefined) {
      this.#previous = { at: now, processed, dead };
    } else if (now - previous.at >= 500) {
      const seconds = (now - previous.at) / 1000;
      this.#rates = {
        messagesPerSecond: Math.round(
          (processed - previous.processed) / seconds,
        ),
        deadLettersPerSecond: Math.round((dead - previous.dead) / seconds),
      };
      this.#previous = { at: now, processed, dead };
    }
  }

  /**
   * The sharding figures: read now if that is quick, else the last ones read (the reading goes
   * on, and samples again when it ends).
   */
  async #shardingView(
    sharding: ShardingStatsProvider,
  ): Promise<ShardingTypeView[] | null> {
    let reading = this.#readingSharding;
    if (reading === undefined) {
      reading = this.#readSharding(sharding).finally(() => {
        this.#readingSharding = undefined;
      });
      this.#readingSharding = reading;
    }
    if (!await within(reading, SHARDING_WAIT_MS)) {
      void reading.then(() => {
        if (this.#listeners.size > 0) void this.#sample();
      });
    }
    return this.#sharding;
  }

  /**
   * Reads every type's figures in parallel. A type whose figures are not available now (the
   * coordinator handing over) is listed with the problem's code; when even the types cannot be
   * read, the last figures stay.
   */
  async #readSharding(sharding: ShardingStatsProvider): Promise<void> {
    let types: readonly string[];
    try {
      types = await sharding.types();
    } catch {
      return; // the API's provider wrapper logged it if it was unexpected
    }
    const views = await Promise.all(
      types.map(async (type): Promise<ShardingTypeView | undefined> => {
        try {
          const one = await sharding.stats(type);
          return one === undefined
            ? undefined
            : { type: one.type, nodes: one.nodes };
        } catch (error) {
          const code = (error as { code?: unknown })?.code;
          return {
            type,
            nodes: [],
            unavailable: typeof code === "string" ? code : "UNAVAILABLE",
          };
        }
      }),
    );
    this.#sharding = views.filter((v) => v !== undefined);
  }

  async #state(): Promise<Record<string, unknown>> {
    const { sources, sharding } = this.#options;
    this.#updateRates();
    const shardingView = sharding === undefined
      ? null
      : await this.#shardingView(sharding);
    return {
      node: sources.system.node,
      cluster: sources.cluster === undefined ? null : members(sources.cluster),
      rates: this.#rates,
      deadLetters: sources.system.deadLetters.count,
      actors: actorTree(
        sources.system.actors(),
        LIVE_TREE_DEPTH,
        LIVE_TREE_CHILDREN,
      ),
      sharding: shardingView,
    };
  }
}
