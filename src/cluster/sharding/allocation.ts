// Where shards go: the allocation strategy the coordinator consults, and the default one that
// gives a new shard to the node with the fewest and moves shards from the fullest node to the
// emptiest, a bounded number at a time.

/** What a strategy sees: the shards allocated to each node that may host shards. */
export type ShardAllocations = ReadonlyMap<string, readonly number[]>;

/**
 * Decides where shards live. The coordinator calls it; it must be a pure function of its
 * arguments (the coordinator may run on any node, and move).
 */
export interface AllocationStrategy {
  /**
   * The node for a shard that has no home.
   *
   * @param shard The shard.
   * @param allocations The shards of every node that may host one (at least one node).
   * @returns One of the nodes of `allocations`.
   */
  allocate(shard: number, allocations: ShardAllocations): string;
  /**
   * The shards to move now to balance the load; the coordinator hands each off, after which it
   * is allocated again with {@linkcode AllocationStrategy.allocate}.
   *
   * @param allocations The shards of every node that may host one.
   * @param moving How many shards are being moved at the moment.
   * @returns The shards to move (possibly none).
   */
  rebalance(allocations: ShardAllocations, moving: number): number[];
}

/** Options of {@linkcode leastShardsStrategy}. */
export interface LeastShardsOptions {
  /** At most this many shards move at once (default 3). */
  readonly maxSimultaneous?: number;
}

/** The nodes with the fewest and the most shards (ties broken by name, so every run agrees). */
function extremes(
  allocations: ShardAllocations,
): { least: string; most: string } {
  let least = "";
  let most = "";
  let leastCount = Infinity;
  let mostCount = -1;
  for (const node of [...allocations.keys()].sort()) {
    const count = allocations.get(node)!.length;
    if (count < leastCount) [least, leastCount] = [node, count];
    if (count > mostCount) [most, mostCount] = [node, count];
  }
  return { least, most };
}

/**
 * The default strategy: a new shard goes to the node with the fewest shards; a rebalance moves
 * shards from the node with the most to the one with the fewest until they differ by at most
 * one, at most `maxSimultaneous` at a time.
 *
 * @param options The bound on simultaneous moves.
 * @returns The strategy.
 * @throws {RangeError} When `maxSimultaneous` is not a positive integer.
 * @example Usage
 * ```ts
 * import { leastShardsStrategy } from "@troupe/troupe/cluster";
 * const strategy = leastShardsStrategy({ maxSimultaneous: 2 });
 * const now = new Map([["n1", [0, 1, 2, 3]], ["n2", []]]);
 * console.log(strategy.allocate(4, now)); // "n2"
 * console.log(strategy.rebalance(now, 0)); // [0, 1]
 * ```
 */
export function leastShardsStrategy(
  options: LeastShardsOptions = {},
): AllocationStrategy {
  const maxSimultaneous = options.maxSimultaneous ?? 3;
  if (!Number.isSafeInteger(maxSimultaneous) || maxSimultaneous < 1) {
    throw new RangeError(
      `Invalid maxSimultaneous ${maxSimultaneous}: expected a positive integer`,
    );
  }
  return Object.freeze({
    allocate(_shard: number, allocations: ShardAllocations): string {
      if (allocations.size === 0) {
        throw new RangeError("Cannot allocate a shard: no node may host it");
      }
      return extremes(allocations).least;
    },
    rebalance(allocations: ShardAllocations, moving: number): number[] {
      if (allocations.size < 2 || moving >= maxSimultaneous) return [];
      const counts = new Map(
        [...allocations].map((
          [node, shards],
        ) => [node, [...shards].sort((a, b) => a - b)]),
      );
      const moved: number[] = [];
      while (moved.length + moving < maxSimultaneous) {
        const { least, most } = extremes(counts);
        const from = counts.get(most)!;
        if (from.length - counts.get(least)!.length <= 1) break;
        const shard = from.shift()!;
        counts.get(least)!.push(shard);
        moved.push(shard);
      }
      return moved;
    },
  });
}
