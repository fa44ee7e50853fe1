// The shard coordinator: an ordinary persistent actor that records where each shard of one
// entity type lives. Its journal holds `allocated` and `released` events, so a coordinator that
// starts on another node (after the old one's node left or crashed) recovers every shard's
// home instead of re-picking them. Every COORDINATOR_SNAPSHOT_EVERY events it saves a snapshot
// of the homes, so that recovery reads one snapshot and fewer than that many events, however
// long the cluster has been running, and deletes the events up to the older of the two
// snapshots it keeps, so that the journal does not grow either. It is hosted as a cluster
// singleton; the messages to the regions and the view of membership come in through its start
// arguments.
import {
  type ActorDefinition,
  type Codec,
  jsonCodec,
} from "../../actor/mod.ts";
import {
  definePersistentActor,
  type PersistentState,
} from "../../persistence/mod.ts";
import type { AllocationStrategy } from "./allocation.ts";
import type { MoveReason, ShardEvents } from "./_shard_events.ts";

/** How the coordinator sees the cluster (from the membership of the node that hosts it). */
export interface CoordinatorMembers {
  /** Nodes that are members and not down or removed (their shards stay where they are). */
  readonly live: ReadonlySet<string>;
  /** Up, reachable members: where shards may be allocated. */
  readonly hostable: readonly string[];
  /** Members leaving the cluster: their shards are handed off. */
  readonly leaving: ReadonlySet<string>;
}

/** What the coordinator asks of the regions on the nodes. */
export interface CoordinatorRegions {
  /** Every node's region stops routing to `shard` and buffers its messages. */
  beginHandOff(nodes: readonly string[], shard: number): Promise<void>;
  /** The owner stops the shard's entities once they handled what they were sent. */
  handOff(node: string, shard: number): Promise<void>;
  /** The regions may ask for the shard's new home and deliver what they buffered. */
  released(nodes: readonly string[], shard: number): void;
  /** The shard's new owner starts its remembered entities (remember-entities only). */
  host(node: string, shard: number): void;
}

/** The start arguments of a coordinator. */
export interface CoordinatorArgs {
  /** The entity type. */
  readonly entityType: string;
  /** Where shards go. */
  readonly strategy: AllocationStrategy;
  /** The cluster as the hosting node sees it now. */
  readonly members: () => CoordinatorMembers;
  /** The regions. */
  readonly regions: CoordinatorRegions;
  /** How often it checks for shards to reallocate or rebalance, in ms. */
  readonly rebalanceIntervalMs: number;
  /** At most this many shards move at once (off leaving nodes, or to rebalance). */
  readonly maxSimultaneous: number;
  /** Whether a shard's new owner is told at once (so it restarts remembered entities). */
  readonly rememberEntities: boolean;
  /** Where its allocations are published (on the node it runs on). */
  readonly events: ShardEvents;
}

/** The coordinator's state: the recovered homes plus what lives only in memory. */
interface CoordinatorState {
  readonly args: CoordinatorArgs;
  /** shard → node, from the journal. */
  readonly homes: Map<number, string>;
  /** Nodes whose region registered with this coordinator → that region's incarnation (the last). */
  readonly regions: Map<string, string>;
  /** Shards being handed off, and why. */
  readonly moving: Map<number, MoveReason>;
  /** Regions closing (node → region incarnation): their shards move off, none come to them. */
  readonly draining: Map<string, string>;
}

/** A region's registration: its node, and its incarnation (new each time it starts). */
export interface RegionRegistration {
  readonly node: string;
  readonly incarnation: string;
}

/** The persistence id of the coordinator of `entityType`. */
export function coordinatorPersistenceId(entityType: string): string {
  return `troupe.sharding.coordinator.${entityType}`;
}

/** The shards of each node that may host one (hosts with none are listed empty). */
export function allocationsOf(
  homes: ReadonlyMap<number, string>,
  hosts: readonly string[],
): Map<string, number[]> {
  const allocations = new Map<string, number[]>(hosts.map((h) => [h, []]));
  for (const [shard, node] of homes) allocations.get(node)?.push(shard);
  return allocations;
}

function hostsOf(state: CoordinatorState): string[] {
  return state.args.members().hostable.filter((n) =>
    state.regions.has(n) && !state.draining.has(n)
  );
}

/** The events that give each of `shards` a new home among `hosts` (or none, without hosts). */
function placements(
  state: CoordinatorState,
  shards: readonly number[],
  hosts: readonly string[],
): (
  | { type: "allocated"; event: { shard: number; node: string } }
  | { type: "released"; event: { shard: number } }
)[] {
  const homes = new Map(state.homes);
  for (const shard of shards) homes.delete(shard);
  return shards.map((shard) => {
    if (hosts.length === 0) {
      return { type: "released" as const, event: { shard } };
    }
    const node = state.args.strategy.allocate(
      shard,
      allocationsOf(homes, hosts),
    );
    if (!hosts.includes(node)) {
      return { type: "released" as const, event: { shard } };
    }
    homes.set(shard, node);
    return { type: "allocated" as const, event: { shard, node } };
  });
}

/** How many events the coordinator persists between two snapshots of its homes. */
export const COORDINATOR_SNAPSHOT_EVERY = 100;

/**
 * The coordinator's codec: its events as JSON, and its snapshot as the homes only (node → its
 * shards), which decodes into a whole state for the coordinator started with `args`.
 */
function coordinatorCodec(args: CoordinatorArgs): Codec {
  return {
    encode(type: string, value: unknown): Uint8Array {
      if (type === "allocated" || type === "released") {
        return jsonCodec.encode(type, value);
      }
      const homes: Record<string, number[]> = {};
      for (const [shard, node] of (value as CoordinatorState).homes) {
        (homes[node] ??= []).push(shard);
      }
      return jsonCodec.encode(type, { homes });
    },
    decode(type: string, data: Uint8Array): unknown {
      const value = jsonCodec.decode(type, data);
      if (type === "allocated" || type === "released") return value;
      const homes = (value as { homes?: unknown } | null)?.homes;
      if (typeof homes !== "object" || homes === null || Array.isArray(homes)) {
        throw new TypeError("Invalid coordinator snapshot: expected homes");
      }
      const state = initialState(args);
      for (const [node, shards] of Object.entries(homes)) {
        if (!Array.isArray(shards)) {
          throw new TypeError(
            `Invalid coordinator snapshot: the shards of node ${
              JSON.stringify(node)
            } are not a list`,
          );
        }
        for (const shard of shards) {
          if (!Number.isSafeInteger(shard) || shard < 0) {
            throw new TypeError(
              `Invalid coordinator snapshot: shard ${
                JSON.stringify(shard)
              } of node ${JSON.stringify(node)} is not an integer ≥ 0`,
            );
          }
          state.homes.set(shard, node);
        }
      }
      return state;
    },
  };
}

function initialState(args: CoordinatorArgs): CoordinatorState {
  return {
    args,
    homes: new Map(),
    regions: new Map(),
    moving: new Map(),
    draining: new Map(),
  };
}

/**
 * Gives every shard of the nodes that are no longer live a new home among `hosts`, in one
 * write, and announces them.
 */
async function reallocateLost(
  state: CoordinatorState,
  live: ReadonlySet<string>,
  hosts: readonly string[],
  persistAll: (events: ReturnType<typeof placements>) => Promise<void>,
): Promise<void> {
  const lost = [...state.homes].filter(([, node]) => !live.has(node))
    .map(([shard]) => shard);
  if (lost.length === 0) return;
  const previous = homesOf(state, lost);
  const moved = placements(state, lost, hosts);
  await persistAll(moved);
  announce(state, moved, "node-lost", previous);
}

/** The messages a coordinator handles, as its compiled handlers. */
export type CoordinatorHandlers = {
  /** A region is ready to host shards. */
  register: (state: PersistentState, region: RegionRegistration) => boolean;
  /** A region closes: its shards are handed off at once; answers how many are moving. */
  drain: (state: PersistentState, region: RegionRegistration) => number;
  /** The home of a shard, allocating it when it has none; `null`: ask again later. */
  home: (state: PersistentState, shard: number) => Promise<string | null>;
  /** Moves shards of lost nodes, and starts the hand-offs of a rebalance. */
  tick: (state: PersistentState, payload: undefined) => Promise<void>;
  /** A hand-off ended. */
  handedOff: (
    state: PersistentState,
    result: { shard: number; ok: boolean },
  ) => Promise<void>;
  /** Every node's shards. */
  homes: (state: PersistentState) => Record<string, number[]>;
};

/**
 * Hands a shard off: every region buffers it, the owner stops its entities, then `handedOff`
 * gives it a new home.
 */
function startHandOff(
  state: CoordinatorState,
  shard: number,
  self: { tell(type: "handedOff", r: { shard: number; ok: boolean }): void },
  reason: MoveReason,
): void {
  const from = state.homes.get(shard)!;
  state.moving.set(shard, reason);
  const all = [
    ...new Set([...state.args.members().hostable, ...state.regions.keys()]),
  ];
  state.args.regions.beginHandOff(all, shard)
    .then(() => state.args.regions.handOff(from, shard))
    .then(
      () => self.tell("handedOff", { shard, ok: true }),
      () => self.tell("handedOff", { shard, ok: false }),
    );
}

/**
 * Publishes the persisted allocations (their shards' homes were `previous`), and with
 * remember-entities tells each new owner of a shard at once.
 */
function announce(
  state: CoordinatorState,
  events: ReturnType<typeof placements>,
  reason: "node-lost" | MoveReason,
  previous: ReadonlyMap<number, string>,
): void {
  for (const e of events) {
    if (e.type !== "allocated") continue;
    const { shard, node } = e.event;
    state.args.events.allocated(shard, node, reason, previous.get(shard));
    if (state.args.rememberEntities) state.args.regions.host(node, shard);
  }
}

const NO_HOMES: ReadonlyMap<number, string> = new Map();

/** The current homes of `shards` (before they move), when someone listens for allocations. */
function homesOf(
  state: CoordinatorState,
  shards: readonly number[],
): ReadonlyMap<number, string> {
  if (!state.args.events.subscribed()) return NO_HOMES;
  const out = new Map<number, string>();
  for (const shard of shards) {
    const home = state.homes.get(shard);
    if (home !== undefined) out.set(shard, home);
  }
  return out;
}

/**
 * The definition of the coordinator started with `args` (hosted by `Sharding`, one per entity
 * type and cluster): its snapshot holds the homes only, and decodes into a state with `args`.
 */
export function shardCoordinator(args: CoordinatorArgs): ActorDefinition<
  CoordinatorArgs,
  PersistentState,
  CoordinatorHandlers
> {
  return definePersistentActor({
    name: "troupe.sharding.coordinator",
    persistenceId: (a: CoordinatorArgs) =>
      coordinatorPersistenceId(a.entityType),
    init: (a: CoordinatorArgs): CoordinatorState => initialState(a),
    codec: coordinatorCodec(args),
    snapshotEvery: COORDINATOR_SNAPSHOT_EVERY,
    // Recovery reads the latest snapshot and the events after it; older events only grew the
    // journal (the events up to the older of the two kept snapshots are deleted).
    deleteEventsOnSnapshot: true,
    events: {
      allocated: (state, e: { shard: number; node: string }) => {
        state.homes.set(e.shard, e.node);
      },
      released: (state, e: { shard: number }) => {
        state.homes.delete(e.shard);
      },
    },
  }).handlers({
    /** A region is ready to host shards. */
    register: (state, region: RegionRegistration): boolean => {
      const before = state.regions.get(region.node);
      state.regions.set(region.node, region.incarnation);
      // A new region under a known name (the node restarted before this coordinator saw it
      // lost): the shards its name kept lost their entities, so remembered ones start again.
      if (
        before !== undefined && before !== region.incarnation &&
        state.args.rememberEntities
      ) {
        for (const [shard, node] of state.homes) {
          if (node === region.node && !state.moving.has(shard)) {
            state.args.regions.host(node, shard);
          }
        }
      }
      // A new region on a node that drained an older one may host shards again.
      const draining = state.draining.get(region.node);
      if (draining !== undefined && draining !== region.incarnation) {
        state.draining.delete(region.node);
      }
      return true;
    },
    drain: (state, region: RegionRegistration, ctx): number => {
      state.draining.set(region.node, region.incarnation);
      const mine = [...state.homes].filter(([, node]) => node === region.node)
        .map(([shard]) => shard);
      // With nowhere to go, the shards stay (and move once the node is removed).
      if (hostsOf(state).length === 0) return 0;
      for (const shard of mine) {
        if (!state.moving.has(shard)) {
          startHandOff(state, shard, ctx.self, "leaving");
        }
      }
      return mine.length;
    },
    /** The home of a shard, allocating it when it has none; `null`: ask again later. */
    home: async (state, shard: number, ctx): Promise<string | null> => {
      if (state.moving.has(shard)) return null;
      const owner = state.homes.get(shard);
      const live = state.args.members().live;
      if (owner !== undefined && live.has(owner)) return owner;
      const hosts = hostsOf(state);
      if (hosts.length === 0) return null;
      if (owner !== undefined) {
        // Its node is gone: every shard of every lost node moves now, in one write, instead of
        // one write per region's question (or waiting for the next tick).
        await reallocateLost(state, live, hosts, (e) => ctx.persistAll(e));
        const home = state.homes.get(shard);
        return home !== undefined && hosts.includes(home) ? home : null;
      }
      const node = state.args.strategy.allocate(
        shard,
        allocationsOf(state.homes, hosts),
      );
      if (!hosts.includes(node)) return null;
      await ctx.persist("allocated", { shard, node });
      state.args.events.allocated(
        shard,
        node,
        owner === undefined ? "first-use" : "node-lost",
        owner,
      );
      return node;
    },
    /** Moves shards of lost nodes, and starts the hand-offs of a rebalance. */
    tick: async (state, _: undefined, ctx): Promise<void> => {
      const members = state.args.members();
      const hosts = hostsOf(state);
      await reallocateLost(
        state,
        members.live,
        hosts,
        (e) => ctx.persistAll(e),
      );
      if (hosts.length === 0 || state.moving.size > 0) return;
      for (const node of state.draining.keys()) {
        if (!members.live.has(node)) state.draining.delete(node);
      }
      const leaving = [...state.homes].filter(([, node]) =>
        members.leaving.has(node) || state.draining.has(node)
      ).map(([shard]) => shard);
      const planned = [
        ...leaving,
        ...state.args.strategy.rebalance(allocationsOf(state.homes, hosts), 0),
      ];
      const off = new Set(leaving);
      for (
        const shard of [...new Set(planned)].slice(
          0,
          state.args.maxSimultaneous,
        )
      ) {
        startHandOff(
          state,
          shard,
          ctx.self,
          off.has(shard) ? "leaving" : "rebalance",
        );
      }
    },
    /** A hand-off ended: the shard gets its new home (or, when it failed, stays). */
    handedOff: async (
      state,
      result: { shard: number; ok: boolean },
      ctx,
    ): Promise<void> => {
      const reason = state.moving.get(result.shard) ?? "rebalance";
      state.moving.delete(result.shard);
      if (result.ok) {
        const previous = homesOf(state, [result.shard]);
        const moved = placements(state, [result.shard], hostsOf(state));
        await ctx.persistAll(moved);
        announce(state, moved, reason, previous);
      }
      const all = [
        ...new Set([...state.args.members().hostable, ...state.regions.keys()]),
      ];
      state.args.regions.released(all, result.shard);
    },
    /** Every shard's home. */
    homes: (state): Record<string, number[]> => {
      const out: Record<string, number[]> = {};
      for (const [shard, node] of state.homes) (out[node] ??= []).push(shard);
      return out;
    },
  }, {
    recovered: (state, ctx) => {
      ctx.timers.startPeriodic(
        "tick",
        { intervalMs: state.args.rebalanceIntervalMs },
        "tick",
      );
    },
  });
}

/** The messages of a coordinator. */
export type CoordinatorDefinition = ReturnType<typeof shardCoordinator>;
