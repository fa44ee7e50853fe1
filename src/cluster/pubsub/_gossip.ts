// The gossip of the registry, and the view of the live members it relies on. Each round this
// node sends the versions it holds to one random reachable member; that member answers with the
// buckets it holds newer, and with its own versions when this node's are newer (so one
// exchange carries news both ways). Members that are down or removed lose their buckets.
import type { Clock, TimerHandle } from "../../timer/mod.ts";
import type { Cluster } from "../cluster.ts";
import type { TopicRegistry } from "./_registry.ts";
import type { FrameSender } from "./_sender.ts";
import type { Bucket, Versions } from "./_wire.ts";

/** A member pub/sub may talk to. */
export interface LiveMember {
  readonly incarnation: string;
  readonly address: string;
  readonly reachable: boolean;
}

export interface RegistryGossipSettings {
  readonly self: string;
  readonly cluster: Cluster;
  readonly registry: TopicRegistry;
  readonly sender: FrameSender;
  readonly clock: Clock;
  readonly intervalMs: number;
  readonly random: () => number;
}

export class RegistryGossip {
  readonly #s: RegistryGossipSettings;
  #members = new Map<string, LiveMember>();
  #timer: TimerHandle | undefined;
  #stopped = false;

  constructor(settings: RegistryGossipSettings) {
    this.#s = settings;
  }

  /** The live member `node` (not this node), if it is one. */
  member(node: string): LiveMember | undefined {
    return this.#members.get(node);
  }

  readonly isLive = (node: string, incarnation: string): boolean =>
    this.#members.get(node)?.incarnation === incarnation;

  /** Reads the members again and drops the buckets of those no longer live. */
  refresh(): void {
    const members = new Map<string, LiveMember>();
    for (const m of this.#s.cluster.members()) {
      if (
        m.node === this.#s.self || m.status === "down" || m.status === "removed"
      ) continue;
      members.set(m.node, {
        incarnation: m.incarnation,
        address: m.address,
        reachable: m.reachable,
      });
    }
    this.#members = members;
    this.#s.registry.prune(this.isLive);
  }

  /** Starts the rounds. */
  start(): void {
    this.refresh();
    this.#schedule();
  }

  /** Stops the rounds; when this node's bucket changed (emptied), tells every member. */
  stop(announce: boolean): void {
    this.#stopped = true;
    if (this.#timer !== undefined) this.#s.clock.clearTimer(this.#timer);
    if (!announce) return;
    const buckets = [this.#s.registry.ownBucket()];
    for (const [node, member] of this.#members) {
      this.#s.sender.send(node, member.address, {
        t: "delta",
        to: node,
        buckets,
      });
    }
  }

  /** A member's versions: answer with what is newer here, and ask for what is newer there. */
  onStatus(versions: Versions, reply: boolean, from: string): void {
    this.refresh();
    const member = this.#members.get(from);
    if (member === undefined) return; // not a live member (yet)
    const registry = this.#s.registry;
    const buckets = registry.delta(versions);
    if (buckets.length > 0) {
      this.#s.sender.send(from, member.address, {
        t: "delta",
        to: from,
        buckets,
      });
    }
    if (!reply && registry.behind(versions, this.isLive)) {
      this.#s.sender.send(from, member.address, {
        t: "status",
        to: from,
        versions: registry.versions(),
        reply: true,
      });
    }
  }

  /** Buckets from a member. */
  onDelta(buckets: readonly Bucket[]): void {
    this.refresh();
    this.#s.registry.merge(buckets, this.isLive);
  }

  #schedule(): void {
    this.#timer = this.#s.clock.setTimer(() => {
      if (this.#stopped) return;
      this.#schedule();
      this.#round();
    }, this.#s.intervalMs);
  }

  #round(): void {
    this.refresh();
    const reachable: string[] = [];
    for (const [node, member] of this.#members) {
      if (member.reachable) reachable.push(node);
    }
    if (reachable.length === 0) return;
    const node = reachable[Math.floor(this.#s.random() * reachable.length)];
    this.#s.sender.send(node, this.#members.get(node)!.address, {
      t: "status",
      to: node,
      versions: this.#s.registry.versions(),
      reply: false,
    });
  }
}
