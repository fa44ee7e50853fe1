// The shard region of one entity type on one node: routes each message to the node that owns
// its shard (to another node through _deliveries.ts, batched), runs the entities of the shards
// this node owns (_region_entities.ts), buffers the messages of a shard whose home is unknown or
// moving, and hands shards over. Everything is delivered synchronously in arrival order (no
// spawned deliveries), so messages from one sender to one entity keep their order.
import type { Counter } from "../../metrics/mod.ts";
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import type { Delivery } from "./_delivery_codec.ts";
import { isNodeUnreachableError } from "../../remote/mod.ts";
import { RegionEntities } from "./_region_entities.ts";
import {
  askTimeout,
  type Envelope,
  failEnvelope,
  type Reply,
  settlers,
  timeLeft,
} from "./_envelope.ts";
import { ShardBufferFullError, ShardingClosedError } from "./errors.ts";
import {
  type CoordinatorProtocol,
  newShardState,
  type RegionHost,
  type RegionSettings,
  type RegionStats,
  regionStats,
  type ShardState,
} from "./_region_types.ts";

export type { CoordinatorProtocol, RegionHost, RegionSettings, RegionStats };

/** The region of one entity type on one node. */
export class ShardRegion {
  readonly settings: RegionSettings;
  readonly #host: RegionHost;
  readonly #clock: Clock;
  readonly #shards = new Map<number, ShardState>();
  readonly #entities: RegionEntities;
  readonly #dropped: Counter;
  #registerTimer: TimerHandle | undefined;
  #closed = false;
  /** Tells this region from an earlier one on the same node (for the coordinator). */
  readonly #incarnation = crypto.randomUUID();

  constructor(settings: RegionSettings, host: RegionHost) {
    this.settings = settings;
    this.#host = host;
    this.#clock = host.system.clock;
    this.#dropped = host.system.metrics.counter(
      "troupe_sharding_dropped_total",
      "Tells to entities dropped because a shard's buffer was full",
      ["type"],
    );
    this.#entities = new RegionEntities(settings, host, {
      isClosed: () => this.#closed,
      handBack: (state: ShardState, envelopes: readonly Envelope[]) => {
        for (let i = envelopes.length - 1; i >= 0; i--) {
          this.#buffer(state, envelopes[i], true);
        }
      },
    });
    this.#registerTimer = this.#clock.setTimer(() => this.#register(), 0);
  }

  /** The shard of an entity id. */
  shardOf(id: string): number {
    const shard = this.settings.shardOf(id, this.settings.numberOfShards);
    if (
      !Number.isSafeInteger(shard) || shard < 0 ||
      shard >= this.settings.numberOfShards
    ) {
      throw new RangeError(
        `The shard extractor of "${this.settings.entityType}" returned ${shard} for id ${
          JSON.stringify(id)
        }: expected an integer from 0 to ${this.settings.numberOfShards - 1}`,
      );
    }
    return shard;
  }

  /** Sends a tell to an entity (`shard`: its shard, when the caller knows it). */
  tell(
    id: string,
    type: string,
    payload: unknown,
    shard: number = this.shardOf(id),
  ): void {
    if (this.#closed) {
      throw new ShardingClosedError(this.#host.self, `cannot send "${type}"`);
    }
    this.#route({
      id,
      shard,
      type,
      payload,
      reply: undefined,
      trace: this.#trace(),
    });
  }

  /** The current trace context as a W3C traceparent, when a tracer is installed. */
  #trace(): string | undefined {
    const tracer = this.#host.system.tracer;
    return tracer === null ? undefined : tracer.traceparent(tracer.capture());
  }

  /** Sends an ask to an entity (`shard`: its shard, when the caller knows it). */
  ask(
    id: string,
    type: string,
    payload: unknown,
    timeoutMs: number,
    shard: number = this.shardOf(id),
  ): Promise<unknown> {
    if (this.#closed) {
      return Promise.reject(
        new ShardingClosedError(this.#host.self, `cannot ask "${type}"`),
      );
    }
    // The fast path: a running local entity with nothing queued before this message.
    const fast = this.#entities.askRunning(id, type, payload, timeoutMs);
    if (fast !== undefined) return fast;
    const trace = this.#trace();
    // The other fast path: a shard known to live on another reachable node, nothing buffered.
    if (this.#entities.get(id) === undefined) {
      const state = this.#shards.get(shard);
      const home = state?.home;
      if (
        home !== undefined && !state!.owned && !state!.blocked &&
        state!.buffer.length === 0 && this.#host.reachable(home)
      ) {
        try {
          return this.#host.ask(home, id, type, payload, timeoutMs, trace);
        } catch {
          // Not sendable now (or a bad payload): the slow path below says what to do.
        }
      }
    }
    return new Promise((resolve, reject) => {
      const reply: Reply = {
        resolve,
        reject,
        deadline: this.#clock.now() + timeoutMs,
        timeoutMs,
        timer: undefined,
        done: false,
      };
      this.#route({ id, shard, type, payload, reply, trace });
    });
  }

  /**
   * A message for an entity from another node's region; the answer to an ask goes to `onValue`
   * or `onError`.
   */
  inbound(
    delivery: Delivery,
    onValue: ((value: unknown) => void) | undefined,
    onError: ((error: unknown) => void) | undefined,
  ): void {
    const { entityId, type, payload, ms } = delivery;
    if (onValue === undefined || onError === undefined) {
      return this.tell(entityId, type, payload);
    }
    // The fast path without a promise of its own: the answer goes straight to the reply.
    if (
      !this.#closed &&
      this.#entities.askRunningTo(entityId, type, payload, ms, onValue, onError)
    ) return;
    this.ask(entityId, type, payload, ms).then(onValue, onError);
  }

  /** A node left: shards believed to live there are looked up again. */
  nodeGone(node: string): void {
    for (const state of this.#shards.values()) {
      if (state.home === node && !state.owned) state.home = undefined;
    }
  }

  /** What this region holds. */
  stats(): RegionStats {
    return regionStats(this.#shards.values(), this.#entities.size);
  }

  /** How this region registers with the coordinator. */
  registration(): { node: string; incarnation: string } {
    return { node: this.#host.self, incarnation: this.#incarnation };
  }

  /** Whether it is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops the entities and refuses further messages (buffered asks are rejected). */
  async close(reason: "closed" | "downed" = "closed"): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#registerTimer) this.#clock.clearTimer(this.#registerTimer);
    const error = new ShardingClosedError(this.#host.self);
    for (const state of this.#shards.values()) {
      if (state.owned) this.#host.events.stopped(state.shard, reason);
      if (state.blockTimer) this.#clock.clearTimer(state.blockTimer);
      if (state.retryTimer) this.#clock.clearTimer(state.retryTimer);
      for (const envelope of state.buffer) this.#fail(envelope, error);
      state.buffer = [];
    }
    await this.#entities.close(error);
  }

  #shard(shard: number): ShardState {
    let state = this.#shards.get(shard);
    if (state === undefined) {
      state = newShardState(shard);
      this.#shards.set(shard, state);
    }
    return state;
  }

  #route(envelope: Envelope): void {
    const state = this.#shard(envelope.shard);
    if (state.buffer.length === 0) {
      // The owner keeps delivering while a hand-off begins: every sender has flushed its
      // messages to it before the coordinator asks it to stop the entities.
      if (state.owned) return this.#entities.deliver(state, envelope);
      if (
        !state.blocked && state.home !== undefined &&
        this.#host.reachable(state.home)
      ) {
        return this.#deliverRemote(state, state.home, envelope);
      }
    }
    this.#buffer(state, envelope);
    if (state.blocked) return;
    // An unreachable home is asked about again after a while (it may be removed by then).
    if (state.home !== undefined) this.#retry(state);
    else this.#resolve(state);
  }

  #buffer(state: ShardState, envelope: Envelope, front = false): void {
    if (state.buffer.length >= this.settings.bufferSize && !front) {
      const error = new ShardBufferFullError(
        this.settings.entityType,
        state.shard,
        this.settings.bufferSize,
      );
      if (envelope.reply !== undefined) {
        this.#fail(envelope, error);
      } else {
        this.#dropped.labels(this.settings.entityType).inc();
        this.#host.logError(
          `Dropped "${envelope.type}" for entity ${
            JSON.stringify(envelope.id)
          }`,
          error,
        );
      }
      return;
    }
    const reply = envelope.reply;
    if (reply !== undefined && reply.timer === undefined) {
      const left = reply.deadline - this.#clock.now();
      reply.timer = this.#clock.setTimer(() => {
        if (reply.done) return;
        reply.done = true;
        reply.reject(askTimeout(envelope, this.settings.entityType));
      }, Math.max(0, left));
    }
    if (front) state.buffer.unshift(envelope);
    else state.buffer.push(envelope);
  }

  #fail(envelope: Envelope, error: unknown): void {
    failEnvelope(this.#clock, envelope, error);
  }

  #left(envelope: Envelope): number | undefined {
    return timeLeft(this.#clock, envelope, this.settings.entityType);
  }

  #resolve(state: ShardState): void {
    if (state.resolving || state.retryTimer !== undefined || this.#closed) {
      return;
    }
    const coordinator = this.#host.coordinator();
    if (coordinator === undefined) return this.#retry(state);
    state.resolving = true;
    coordinator.ask("home", state.shard, {
      timeoutMs: this.settings.handOffTimeoutMs,
    })
      .then((node) => {
        state.resolving = false;
        if (this.#closed || state.blocked) return;
        if (node === null) return this.#retry(state);
        state.home = node;
        if (node === this.#host.self && !state.owned) {
          state.owned = true;
          this.#host.events.startedHere(state.shard, "message");
          this.#restore(state);
        }
        this.#flush(state);
      }, () => {
        state.resolving = false;
        this.#retry(state);
      });
  }

  #retry(state: ShardState): void {
    if (state.retryTimer !== undefined || this.#closed) return;
    state.retryTimer = this.#clock.setTimer(() => {
      state.retryTimer = undefined;
      if (state.buffer.length > 0 && !state.blocked) {
        if (!state.owned) state.home = undefined;
        this.#resolve(state);
      }
    }, this.settings.retryMs);
  }

  #flush(state: ShardState): void {
    const buffered = state.buffer;
    state.buffer = [];
    for (const envelope of buffered) {
      if (envelope.reply?.done) continue;
      this.#route(envelope);
    }
  }

  #deliverRemote(state: ShardState, node: string, envelope: Envelope): void {
    const { id, type, payload, trace } = envelope;
    try {
      if (envelope.reply === undefined) {
        return this.#host.send(node, id, type, payload, trace);
      }
      const left = this.#left(envelope);
      if (left === undefined) return;
      this.#host.ask(node, id, type, payload, left, trace)
        .then(...settlers(envelope.reply));
    } catch (error) {
      if (!isNodeUnreachableError(error)) {
        // Never sendable (a payload that is not JSON): the ask fails, the tell is dropped.
        if (envelope.reply !== undefined) return this.#fail(envelope, error);
        this.#dropped.labels(this.settings.entityType).inc();
        return this.#host.logError(
          `Dropped "${type}" for entity ${JSON.stringify(id)}`,
          error,
        );
      }
      // The node is not reachable from here (yet): look the shard up again.
      this.#host.logError(
        `Cannot send to node "${node}" for shard ${state.shard} of "${this.settings.entityType}"`,
        error,
      );
      state.home = undefined;
      this.#buffer(state, envelope);
      this.#retry(state);
    }
  }

  /** A hand-off of `shard` begins: stop routing to it and buffer its messages. */
  async beginHandOff(shard: number): Promise<boolean> {
    const state = this.#shard(shard);
    const previous = state.home;
    state.blocked = true;
    this.#armBlock(state);
    if (!state.owned) {
      state.home = undefined;
      // Everything sent to the owner before this point reaches it before the answer.
      if (previous !== undefined && previous !== this.#host.self) {
        await this.#host.control(previous, {
          k: "flush",
          t: this.settings.entityType,
          s: shard,
        }, this.settings.handOffTimeoutMs).catch(() => {});
      }
    }
    return true;
  }

  /** Hands `shard` off: stop its entities once they handled what they were sent. */
  async handOff(shard: number): Promise<boolean> {
    const state = this.#shard(shard);
    const owned = state.owned;
    state.owned = false;
    state.home = undefined;
    state.blocked = true;
    this.#armBlock(state);
    await this.#entities.stopShard(state);
    if (owned) this.#host.events.handedOff(shard);
    return true;
  }

  /** The coordinator placed `shard` here: own it, and start its remembered entities. */
  hostShard(shard: number): void {
    const state = this.#shard(shard);
    state.home = this.#host.self;
    if (state.owned) return;
    state.owned = true;
    this.#host.events.startedHere(shard, "announced");
    this.#restore(state);
    if (state.blocked) this.#unblock(state);
  }

  /** Starts the remembered entities of a shard this region just came to own. */
  #restore(state: ShardState): void {
    const remembered = this.settings.remembered;
    if (remembered === undefined) return;
    remembered.load(state.shard).then((ids) => {
      for (const id of ids) {
        if (state.owned && !this.#closed && !this.#entities.get(id)) {
          this.#entities.start(state, id);
        }
      }
    }, (error) =>
      this.#host.logError(
        `Cannot restore the remembered entities of shard ${state.shard}`,
        error,
      ));
  }

  /** The hand-off of `shard` is over: look its home up and deliver what waited. */
  released(shard: number): void {
    const state = this.#shard(shard);
    this.#unblock(state);
  }

  #armBlock(state: ShardState): void {
    if (state.blockTimer !== undefined) {
      this.#clock.clearTimer(state.blockTimer);
    }
    // A coordinator that failed over mid-hand-off never releases: stop waiting after a while.
    state.blockTimer = this.#clock.setTimer(
      () => this.#unblock(state),
      this.settings.handOffTimeoutMs * 2,
    );
  }

  #unblock(state: ShardState): void {
    if (state.blockTimer !== undefined) {
      this.#clock.clearTimer(state.blockTimer);
    }
    state.blockTimer = undefined;
    state.blocked = false;
    if (!state.owned) state.home = undefined;
    if (state.buffer.length > 0) this.#resolve(state);
  }

  #register(): void {
    if (this.#closed) return;
    const coordinator = this.#host.coordinator();
    // A tell (no deadline to watch): a coordinator that restarted learns it again next time.
    coordinator?.tell("register", this.registration());
    this.#registerTimer = this.#clock.setTimer(
      () => this.#register(),
      this.settings.registerIntervalMs,
    );
  }
}
