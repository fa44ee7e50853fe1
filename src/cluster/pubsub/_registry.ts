// The replicated registry of which nodes have subscribers for which topics, in the way of
// Akka's DistributedPubSubMediator: each node owns one bucket (its own topics, versioned), only
// the owner changes it, and gossip carries whole buckets from the node that holds a newer
// version to the one that holds an older one. A bucket is keyed by node and incarnation, so a
// restarted node starts again at version 1 without being mistaken for its old self; buckets of
// members that are no longer live are dropped.
import type { Bucket, Versions } from "./_wire.ts";

/** Whether a member (node and incarnation) is live in this node's view of the cluster. */
export type IsLive = (node: string, incarnation: string) => boolean;

export class TopicRegistry {
  readonly self: string;
  readonly incarnation: string;
  #version = 0;
  readonly #own = new Set<string>();
  /** Other nodes' buckets, by node name. */
  readonly #buckets = new Map<string, Bucket>();
  /** For each topic id, the other nodes that have subscribers for it (built when asked). */
  #routes: Map<string, readonly string[]> | null = null;

  constructor(self: string, incarnation: string) {
    this.self = self;
    this.incarnation = incarnation;
  }

  /** This node's bucket's version. */
  get version(): number {
    return this.#version;
  }

  /** Adds a topic id to this node's bucket; returns whether it was new. */
  addLocal(id: string): boolean {
    if (this.#own.has(id)) return false;
    this.#own.add(id);
    this.#version++;
    return true;
  }

  /** Removes a topic id from this node's bucket; returns whether it was there. */
  removeLocal(id: string): boolean {
    if (!this.#own.delete(id)) return false;
    this.#version++;
    return true;
  }

  /** Empties this node's bucket (closing); returns whether it changed. */
  clearLocal(): boolean {
    if (this.#own.size === 0) return false;
    this.#own.clear();
    this.#version++;
    return true;
  }

  /** This node's bucket. */
  ownBucket(): Bucket {
    return {
      node: this.self,
      incarnation: this.incarnation,
      version: this.#version,
      topics: [...this.#own],
    };
  }

  /** The versions this node holds, its own included. */
  versions(): Versions {
    const versions: (readonly [string, string, number])[] = [
      [this.self, this.incarnation, this.#version],
    ];
    for (const b of this.#buckets.values()) {
      versions.push([b.node, b.incarnation, b.version]);
    }
    return versions;
  }

  /** The buckets this node holds that are newer than (or absent from) `versions`. */
  delta(versions: Versions): Bucket[] {
    const theirs = new Map<string, readonly [string, string, number]>();
    for (const v of versions) theirs.set(v[0], v);
    const newer: Bucket[] = [];
    for (const bucket of [this.ownBucket(), ...this.#buckets.values()]) {
      const their = theirs.get(bucket.node);
      if (
        their === undefined || their[1] !== bucket.incarnation ||
        their[2] < bucket.version
      ) {
        // An empty bucket at version 0 tells nothing.
        if (bucket.version > 0) newer.push(bucket);
      }
    }
    return newer;
  }

  /** Whether `versions` names a live bucket newer than the one this node holds. */
  behind(versions: Versions, isLive: IsLive): boolean {
    for (const [node, incarnation, version] of versions) {
      if (node === this.self || version === 0) continue;
      const mine = this.#buckets.get(node);
      if (
        (mine === undefined || mine.incarnation !== incarnation ||
          mine.version < version) && isLive(node, incarnation)
      ) return true;
    }
    return false;
  }

  /**
   * Takes the buckets that are newer than those held, of live members; returns whether the
   * routes changed.
   */
  merge(buckets: readonly Bucket[], isLive: IsLive): boolean {
    let changed = false;
    for (const bucket of buckets) {
      if (bucket.node === this.self) continue;
      const mine = this.#buckets.get(bucket.node);
      if (
        mine !== undefined && mine.incarnation === bucket.incarnation &&
        mine.version >= bucket.version
      ) continue;
      if (!isLive(bucket.node, bucket.incarnation)) continue;
      this.#buckets.set(bucket.node, {
        ...bucket,
        topics: [...new Set(bucket.topics)],
      });
      changed = true;
    }
    if (changed) this.#routes = null;
    return changed;
  }

  /** Drops the buckets of members that are not live; returns whether any was dropped. */
  prune(isLive: IsLive): boolean {
    let changed = false;
    for (const [node, bucket] of this.#buckets) {
      if (!isLive(bucket.node, bucket.incarnation)) {
        this.#buckets.delete(node);
        changed = true;
      }
    }
    if (changed) this.#routes = null;
    return changed;
  }

  /** The other nodes that have subscribers for the topic id (do not change the array). */
  nodesFor(id: string): readonly string[] {
    if (this.#routes === null) {
      const routes = new Map<string, string[]>();
      for (const bucket of this.#buckets.values()) {
        for (const topic of bucket.topics) {
          const nodes = routes.get(topic);
          if (nodes === undefined) routes.set(topic, [bucket.node]);
          else nodes.push(bucket.node);
        }
      }
      this.#routes = routes;
    }
    return this.#routes.get(id) ?? EMPTY;
  }

  /** Whether this node's bucket has the topic id. */
  hasLocal(id: string): boolean {
    return this.#own.has(id);
  }
}

const EMPTY: readonly string[] = Object.freeze([]);
