// The entities of one region (the shards it owns): starting them on their first message,
// handing them messages in order (the fast path of an ask to a running one included), taking
// back what one that stopped by itself had not handled (_bounced.ts), passivation (idle timeout,
// most active) and their stop.
import { type DeadLetter, isActorStoppedError } from "../../actor/mod.ts";
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import { bounce, rescue, takeUnhandled } from "./_bounced.ts";
import { entityActorId, entityIdOf, PASSIVATE } from "./_entity.ts";
import { type Envelope, failEnvelope, timeLeft } from "./_envelope.ts";
import type {
  EntityState,
  RegionHost,
  RegionSettings,
  ShardState,
} from "./_region_types.ts";

/** What the entities need of their region. */
export interface EntitiesOwner {
  /** Whether the region is closed. */
  isClosed(): boolean;
  /**
   * Messages of an entity of a shard handed off meanwhile: they go to the shard's new home,
   * before anything buffered since.
   */
  handBack(state: ShardState, envelopes: readonly Envelope[]): void;
}

/** The entities a region runs, by id (in use order when `maxActive` is set). */
export class RegionEntities {
  readonly #settings: RegionSettings;
  readonly #host: RegionHost;
  readonly #owner: EntitiesOwner;
  readonly #clock: Clock;
  readonly #entities = new Map<string, EntityState>();
  readonly #tracksUse: boolean;
  readonly #unsubscribe: () => void;
  #sweepTimer: TimerHandle | undefined;

  constructor(
    settings: RegionSettings,
    host: RegionHost,
    owner: EntitiesOwner,
  ) {
    this.#settings = settings;
    this.#host = host;
    this.#owner = owner;
    this.#clock = host.system.clock;
    this.#tracksUse = settings.idleMs !== undefined ||
      settings.maxActive !== undefined;
    this.#unsubscribe = host.system.deadLetters.subscribe((letter) =>
      this.#deadLetter(letter)
    );
    if (settings.idleMs !== undefined) this.sweep();
  }

  /** How many run (or start, or stop). */
  get size(): number {
    return this.#entities.size;
  }

  /** The entity `id`, if it runs here. */
  get(id: string): EntityState | undefined {
    return this.#entities.get(id);
  }

  /**
   * The fast path of an ask: to a running entity with nothing queued before it (undefined when
   * the entity is not such).
   */
  askRunning(
    id: string,
    type: string,
    payload: unknown,
    timeoutMs: number,
  ): Promise<unknown> | undefined {
    const entity = this.#running(id);
    if (entity === undefined) return undefined;
    return entity.ref!.ask(type, payload, { timeoutMs }).then(
      undefined,
      (error) => this.#rescueAsk(entity, id, type, payload, timeoutMs, error),
    );
  }

  /**
   * The fast path of an ask, whose answer goes to `onValue` or `onError`; false (and nothing
   * sent) when the entity is not running with nothing queued before it.
   */
  askRunningTo(
    id: string,
    type: string,
    payload: unknown,
    timeoutMs: number,
    onValue: (value: unknown) => void,
    onError: (error: unknown) => void,
  ): boolean {
    const entity = this.#running(id);
    if (entity === undefined) return false;
    entity.ref!.ask(type, payload, { timeoutMs }).then(onValue, (error) => {
      if (!isActorStoppedError(error)) return onError(error);
      this.#rescueAsk(entity, id, type, payload, timeoutMs, error)
        .then(onValue, onError);
    });
    return true;
  }

  /** The entity `id` when it runs with nothing queued before a new message (and marks it used). */
  #running(id: string): EntityState | undefined {
    const entity = this.#entities.get(id);
    if (
      entity === undefined || entity.phase !== "running" ||
      entity.pending.length > 0 || !entity.shard.owned ||
      entity.shard.buffer.length > 0
    ) return undefined;
    if (this.#tracksUse) this.touch(entity);
    return entity;
  }

  /** Fails what waits for the entities (with `error`) and stops them. */
  async close(error: unknown): Promise<void> {
    this.#unsubscribe();
    if (this.#sweepTimer) this.#clock.clearTimer(this.#sweepTimer);
    const entities = [...this.#entities.values()];
    for (const entity of entities) {
      for (const envelope of entity.pending) {
        failEnvelope(this.#clock, envelope, error);
      }
      entity.pending = [];
      if (entity.ref !== undefined) void entity.ref.stop();
    }
    await Promise.all(entities.map((e) => e.ref?.stop()));
  }

  /** Passivates the entities of a shard being handed off; resolves once they stopped. */
  async stopShard(state: ShardState): Promise<void> {
    const entities = [...state.entities].map((id) => this.#entities.get(id)!)
      .filter((e) => e !== undefined);
    for (const entity of entities) {
      entity.keep = true;
      this.passivate(entity);
    }
    // Each is still in the shard, so not stopped yet: its promise resolves when it stops.
    await Promise.all(
      entities.map((e) =>
        e.stopped ??= new Promise<void>((resolve) => e.markStopped = resolve)
      ),
    );
  }

  /** Delivers a message to an entity of a shard owned here (starting it if need be). */
  deliver(state: ShardState, envelope: Envelope): void {
    let entity = this.#entities.get(envelope.id);
    if (entity === undefined) {
      if (envelope.type === PASSIVATE) return;
      entity = this.start(state, envelope.id);
    }
    if (entity.phase !== "running" || entity.pending.length > 0) {
      entity.pending.push(envelope);
      return;
    }
    this.#send(entity, envelope);
  }

  #send(entity: EntityState, envelope: Envelope): void {
    if (this.#tracksUse) this.touch(entity);
    if (envelope.type === PASSIVATE) return this.passivate(entity);
    const tracer = envelope.trace === undefined
      ? null
      : this.#host.system.tracer;
    if (tracer !== null) {
      // Handled in its sender's trace, however long it waited.
      tracer.withTraceparent(
        envelope.trace!,
        () => this.#hand(entity, envelope),
      );
    } else this.#hand(entity, envelope);
  }

  #hand(entity: EntityState, envelope: Envelope): void {
    const ref = entity.ref!;
    if (envelope.reply === undefined) {
      ref.tell(envelope.type, envelope.payload);
      return;
    }
    const left = timeLeft(this.#clock, envelope, this.#settings.entityType);
    if (left === undefined) return;
    const reply = envelope.reply;
    ref.ask(envelope.type, envelope.payload, { timeoutMs: left }).then(
      (value) => {
        reply.done = true;
        reply.resolve(value);
      },
      (error) => {
        // Queued when the entity stopped by itself: its next incarnation answers.
        if (isActorStoppedError(error) && rescue(entity, envelope)) return;
        reply.done = true;
        reply.reject(error);
      },
    );
  }

  /**
   * An ask of the fast path failed. One the entity did not handle because it stopped by itself
   * goes to its next incarnation (with its whole timeout again: the fast path reads no clock).
   */
  #rescueAsk(
    entity: EntityState,
    id: string,
    type: string,
    payload: unknown,
    timeoutMs: number,
    error: unknown,
  ): Promise<unknown> {
    if (!isActorStoppedError(error)) throw error;
    return new Promise((resolve, reject) => {
      const envelope: Envelope = {
        id,
        shard: entity.shard.shard,
        type,
        payload,
        trace: undefined,
        reply: {
          resolve,
          reject,
          deadline: this.#clock.now() + timeoutMs,
          timeoutMs,
          timer: undefined,
          done: false,
        },
      };
      if (!rescue(entity, envelope)) reject(error);
    });
  }

  /** A message an entity did not handle because it stopped: kept for its next incarnation. */
  #deadLetter(letter: DeadLetter): void {
    if (
      letter.reason !== "actor-stopped" || letter.messageType === PASSIVATE ||
      this.#owner.isClosed()
    ) return;
    const id = entityIdOf(this.#settings.entityType, letter.recipient);
    const entity = id === undefined ? undefined : this.#entities.get(id);
    if (entity?.ref !== undefined) bounce(entity, letter);
  }

  /** Marks an entity used now (for passivation). */
  touch(entity: EntityState): void {
    entity.lastUsed = this.#clock.now();
    if (this.#settings.maxActive !== undefined) {
      this.#entities.delete(entity.id);
      this.#entities.set(entity.id, entity);
    }
  }

  /** Starts entity `id` of a shard owned here. */
  start(state: ShardState, id: string): EntityState {
    const entity: EntityState = {
      id,
      shard: state,
      ref: undefined,
      phase: "starting",
      stopAfterStart: false,
      keep: false,
      pending: [],
      bounced: undefined,
      lastUsed: this.#clock.now(),
      stopped: undefined,
      markStopped: undefined,
    };
    this.#entities.set(id, entity);
    state.entities.add(id);
    this.#settings.remembered?.record(state.shard, id, true);
    const max = this.#settings.maxActive;
    if (max !== undefined && this.#entities.size > max) {
      // The least recently used running entity goes first (Map order is use order).
      for (const other of this.#entities.values()) {
        if (this.#entities.size - this.#stopping() <= max) break;
        if (other.phase === "running") this.passivate(other);
      }
    }
    const system = this.#host.system;
    let args: unknown;
    let actorId: string;
    try {
      args = this.#settings.args(id);
      actorId = entityActorId(this.#settings.entityType, id);
    } catch (error) {
      queueMicrotask(() => this.#startFailed(entity, error));
      return entity;
    }
    system.spawn(this.#settings.definition, args, { id: actorId }).then(
      (ref) => {
        entity.ref = ref;
        entity.phase = "running";
        // A listener, not a promise per entity. It runs a microtask after the stop, as a
        // promise's reaction would: after the rejections of the asks it had queued, which
        // _bounced.ts takes back.
        system.onStopped(
          ref,
          () => queueMicrotask(() => this.#stopped(entity)),
        );
        if (entity.stopAfterStart || this.#owner.isClosed()) {
          this.passivate(entity);
          return;
        }
        const pending = entity.pending;
        entity.pending = [];
        for (let i = 0; i < pending.length; i++) {
          if (entity.phase !== "running") {
            entity.pending.push(...pending.slice(i));
            break;
          }
          this.#send(entity, pending[i]);
        }
      },
      (error) => this.#startFailed(entity, error),
    );
    return entity;
  }

  #stopping(): number {
    let n = 0;
    for (const e of this.#entities.values()) if (e.phase === "stopping") n++;
    return n;
  }

  #startFailed(entity: EntityState, error: unknown): void {
    this.#host.logError(
      `Entity ${
        JSON.stringify(entity.id)
      } of "${this.#settings.entityType}" failed to start`,
      error,
    );
    for (const envelope of entity.pending) {
      failEnvelope(this.#clock, envelope, error);
    }
    entity.pending = [];
    this.#forget(entity);
  }

  /** Stops an entity once it handled what it was sent (the next message starts it again). */
  passivate(entity: EntityState): void {
    if (entity.phase === "starting") {
      entity.stopAfterStart = true;
      return;
    }
    if (entity.phase !== "running") return;
    entity.phase = "stopping";
    // Queued behind what it was sent, so it handles all of it first.
    entity.ref!.tell(PASSIVATE);
  }

  #forget(entity: EntityState): void {
    if (this.#entities.get(entity.id) === entity) {
      this.#entities.delete(entity.id);
    }
    entity.shard.entities.delete(entity.id);
    entity.markStopped?.();
  }

  /** An entity stopped (passivated, handed off, or failed for good). */
  #stopped(entity: EntityState): void {
    this.#forget(entity);
    if (!entity.keep && !this.#owner.isClosed()) {
      this.#settings.remembered?.record(entity.shard.shard, entity.id, false);
    }
    const pending = takeUnhandled(entity);
    if (pending.length === 0 || this.#owner.isClosed()) return;
    const state = entity.shard;
    if (state.owned) {
      // Messages it did not handle, or that came while it stopped: start it again for them.
      for (const envelope of pending) this.deliver(state, envelope);
      return;
    }
    // Handed off: they go to the new home, before anything buffered since.
    this.#owner.handBack(state, pending);
  }

  /** Passivates idle entities every half `idleMs`. */
  sweep(): void {
    const idleMs = this.#settings.idleMs!;
    this.#sweepTimer = this.#clock.setTimer(() => {
      const now = this.#clock.now();
      for (const entity of this.#entities.values()) {
        if (entity.phase === "running" && now - entity.lastUsed >= idleMs) {
          this.passivate(entity);
        }
      }
      this.sweep();
    }, Math.max(1, Math.ceil(idleMs / 2)));
  }
}
