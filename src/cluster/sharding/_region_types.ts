// What a shard region is given (its node, its settings) and what it reports.
import type { TimerHandle } from "../../timer/mod.ts";
import type { Envelope } from "./_envelope.ts";
import type { Bounced } from "./_bounced.ts";
import type {
  ActorDefinition,
  ActorRef,
  ActorSystem,
  Handlers,
  ProtocolOfDefinition,
  UnknownProtocol,
} from "../../actor/mod.ts";
import type { CoordinatorDefinition } from "./coordinator.ts";
import type { ControlMessage } from "./_messages.ts";
import type { RememberedEntities } from "./_remembered.ts";
import type { ShardEvents } from "./_shard_events.ts";
import type { ShardExtractor } from "./shard_hash.ts";

/** The protocol of a coordinator. */
export type CoordinatorProtocol = ProtocolOfDefinition<CoordinatorDefinition>;

/** What a region needs of its node. */
export interface RegionHost {
  /** This node's name. */
  readonly self: string;
  /** The actor system the entities run in. */
  readonly system: ActorSystem;
  /** Whether `node` is a reachable member (messages for an unreachable one wait). */
  reachable(node: string): boolean;
  /** The coordinator, when one is known. */
  coordinator(): ActorRef<CoordinatorProtocol> | undefined;
  /**
   * Sends a tell for entity `id` to another node, with its sender's traceparent (throws when
   * the node cannot be sent to now: nothing was sent then).
   */
  send(
    node: string,
    id: string,
    type: string,
    payload: unknown,
    trace: string | undefined,
  ): void;
  /** Sends an ask for entity `id` to another node (throws as `send` does). */
  ask(
    node: string,
    id: string,
    type: string,
    payload: unknown,
    timeoutMs: number,
    trace: string | undefined,
  ): Promise<unknown>;
  /** Sends a control message to another node's region and waits for its answer. */
  control(
    node: string,
    message: ControlMessage,
    timeoutMs: number,
  ): Promise<unknown>;
  /** Reports a problem. */
  logError(message: string, error: unknown): void;
  /** Where the region publishes its shard events. */
  readonly events: ShardEvents;
}

/** The settings of a region (see `EntityTypeOptions`). */
export interface RegionSettings {
  readonly entityType: string;
  readonly definition: ActorDefinition<unknown, unknown, Handlers<unknown>>;
  readonly args: (id: string) => unknown;
  readonly numberOfShards: number;
  readonly shardOf: ShardExtractor;
  readonly bufferSize: number;
  readonly idleMs: number | undefined;
  readonly maxActive: number | undefined;
  readonly retryMs: number;
  readonly handOffTimeoutMs: number;
  readonly registerIntervalMs: number;
  /** Remember-entities (undefined: off). */
  readonly remembered: RememberedEntities | undefined;
}

/** What a region reports. */
export interface RegionStats {
  /** The shards this node owns, ascending. */
  readonly shards: number[];
  /**
   * The entities running (or starting) in each of `shards`, in the same order. Entities of a
   * shard being handed off are no longer in any (they count in `entities` until they stop).
   */
  readonly shardEntities: number[];
  /** The entities running (or starting) here. */
  readonly entities: number;
}

/** The stats of a region that holds `shards` and runs `entities` entities. */
export function regionStats(
  shards: Iterable<ShardState>,
  entities: number,
): RegionStats {
  const owned = [...shards].filter((s) => s.owned).sort((a, b) =>
    a.shard - b.shard
  );
  return {
    shards: owned.map((s) => s.shard),
    shardEntities: owned.map((s) => s.entities.size),
    entities,
  };
}

/** What a region knows of one shard. */
export interface ShardState {
  readonly shard: number;
  home: string | undefined;
  owned: boolean;
  blocked: boolean;
  resolving: boolean;
  buffer: Envelope[];
  readonly entities: Set<string>;
  blockTimer: TimerHandle | undefined;
  retryTimer: TimerHandle | undefined;
}

/** An entity of a shard this region owns. */
export interface EntityState {
  readonly id: string;
  readonly shard: ShardState;
  ref: ActorRef<UnknownProtocol> | undefined;
  phase: "starting" | "running" | "stopping";
  stopAfterStart: boolean;
  /** Stopped by a hand-off or a close: it stays remembered. */
  keep: boolean;
  pending: Envelope[];
  /** What it did not handle because it stopped by itself (see _bounced.ts). */
  bounced: Bounced[] | undefined;
  lastUsed: number;
  /**
   * Resolves once it stopped: made only when something waits for that (a hand-off), so an
   * idle entity holds no promise and closure (about 260 bytes each of a million).
   */
  stopped: Promise<void> | undefined;
  /** Resolves `stopped`, once made. */
  markStopped: (() => void) | undefined;
}

/** A shard the region has not heard of yet: no home, not owned, nothing buffered. */
export function newShardState(shard: number): ShardState {
  return {
    shard,
    home: undefined,
    owned: false,
    blocked: false,
    resolving: false,
    buffer: [],
    entities: new Set(),
    blockTimer: undefined,
    retryTimer: undefined,
  };
}
