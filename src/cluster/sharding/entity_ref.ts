// The ref of one entity: an ActorRef with the same typed tell and ask, that routes through the
// local region to wherever the entity's shard lives. It never stops for good: `stop()`
// passivates the entity, and the next message starts it again.
import type {
  ActorAddress,
  ActorRef,
  AskArgs,
  PayloadOf,
  ResultOf,
  TellArgs,
} from "../../actor/mod.ts";
import { entityActorId, PASSIVATE } from "./_entity.ts";
import type { ShardRegion } from "./region.ts";

const PREFIX = "troupe+entity://";

/** The string form of an entity ref (what `toJSON()` returns). */
export function formatEntityRef(entityType: string, id: string): string {
  return `${PREFIX}${entityType}/${encodeURIComponent(id)}`;
}

/**
 * Parses the string form of an entity ref.
 *
 * @throws {TypeError} When `text` is not one.
 */
export function parseEntityRef(
  text: string,
): { entityType: string; id: string } {
  if (typeof text === "string" && text.startsWith(PREFIX)) {
    const rest = text.slice(PREFIX.length);
    const slash = rest.indexOf("/");
    if (slash > 0) {
      try {
        return {
          entityType: rest.slice(0, slash),
          id: decodeURIComponent(rest.slice(slash + 1)),
        };
      } catch {
        // Bad percent-encoding: reported below.
      }
    }
  }
  throw new TypeError(`Invalid entity ref ${JSON.stringify(text)}`);
}

/** An entity's ref (see `EntityType.ref`). */
export class EntityRef<P> implements ActorRef<P> {
  readonly #region: ShardRegion;
  readonly #askTimeoutMs: number;
  readonly #shard: number;
  /** The entity id. */
  readonly id: string;
  /** `{ node: "*", path: "<type>:<id>" }`: the node is wherever its shard lives. */
  readonly address: ActorAddress;

  constructor(region: ShardRegion, id: string, askTimeoutMs: number) {
    if (typeof id !== "string" || id.length === 0) {
      throw new TypeError(`Invalid entity id ${JSON.stringify(id)}`);
    }
    this.#region = region;
    this.#askTimeoutMs = askTimeoutMs;
    this.id = id;
    this.address = Object.freeze({
      node: "*",
      path: entityActorId(region.settings.entityType, id),
    });
    this.#shard = region.shardOf(id);
  }

  /** The entity's actor id, `<type>:<id>`. */
  get path(): string {
    return this.address.path;
  }

  /** Always false: an entity starts again on its next message. */
  get stopped(): boolean {
    return false;
  }

  /**
   * Sends a message to the entity.
   *
   * @param type The message type.
   * @param payload The payload.
   * @throws {ShardingClosedError} When sharding on this node is closed.
   */
  tell<K extends keyof P & string>(
    type: K,
    ...payload: TellArgs<PayloadOf<P, K>>
  ): void {
    this.#region.tell(this.id, type, payload[0], this.#shard);
  }

  /**
   * Asks the entity.
   *
   * @param type The message type.
   * @param args The payload and options.
   * @returns The reply.
   */
  ask<K extends keyof P & string>(
    type: K,
    ...args: AskArgs<PayloadOf<P, K>>
  ): Promise<ResultOf<P, K>> {
    const timeoutMs = args[1]?.timeoutMs ?? this.#askTimeoutMs;
    if (!(timeoutMs > 0) || !Number.isFinite(timeoutMs)) {
      return Promise.reject(
        new RangeError(
          `Invalid ask timeout ${timeoutMs}: expected a positive number of ms`,
        ),
      );
    }
    return this.#region.ask(
      this.id,
      type,
      args[0],
      timeoutMs,
      this.#shard,
    ) as Promise<
      ResultOf<P, K>
    >;
  }

  /**
   * Passivates the entity where it runs (after the messages sent before); the next message
   * starts it again.
   *
   * @returns A promise that settles at once.
   */
  stop(): Promise<void> {
    this.#region.tell(this.id, PASSIVATE, undefined, this.#shard);
    return Promise.resolve();
  }

  /**
   * The ref's string form, `troupe+entity://<type>/<percent-encoded id>`; `Sharding.ref`
   * turns it back into a ref on any node.
   *
   * @returns The string form.
   */
  toJSON(): string {
    return formatEntityRef(this.#region.settings.entityType, this.id);
  }
}
