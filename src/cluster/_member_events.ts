// The membership events between what a node last reported and its state now.
import { leaderOf } from "./_leader.ts";
import { type GossipState, isLive } from "./_member_state.ts";
import type { MemberRow, MemberStatus } from "./membership_table.ts";
import type { ClusterMember, MemberEvent } from "./member_event.ts";

const STATUS_EVENTS: Readonly<
  Record<
    MemberStatus,
    "joined" | "up" | "leaving" | "exited" | "downed" | "removed"
  >
> = {
  joining: "joined",
  up: "up",
  leaving: "leaving",
  exiting: "exited",
  down: "downed",
  removed: "removed",
};

/** What changed since the last report. */
export interface MemberChanges {
  /** The events, in order. */
  readonly events: MemberEvent[];
  /** Members that became down or removed. */
  readonly lost: MemberRow[];
  /** The leader now (a key). */
  readonly leader: string | undefined;
}

/** Remembers what was reported, and tells the events of each new state. */
export class MemberEventLog {
  #published = new Map<string, MemberRow>();
  #unreachable = new Set<string>();
  #leader: string | undefined;
  /** Whether this node's own last reported status was leaving or exiting. */
  selfWasLeaving = false;

  /** The last reported leader. */
  get leader(): string | undefined {
    return this.#leader;
  }

  /**
   * The events from the last reported state to `state`.
   *
   * @param state The state now.
   * @param unreachable Its unreachable members.
   * @param self This node's key.
   * @param member The member view of a key.
   */
  next(
    state: GossipState,
    unreachable: ReadonlySet<string>,
    self: string,
    member: (key: string) => ClusterMember,
  ): MemberChanges {
    const events: MemberEvent[] = [];
    const lost: MemberRow[] = [];
    for (const [key, row] of state.members) {
      const old = this.#published.get(key);
      if (old?.status === row.status) continue;
      this.#published.set(key, row);
      if (key === self && old !== undefined) {
        this.selfWasLeaving ||= old.status === "leaving" ||
          old.status === "exiting";
      }
      if (old === undefined && row.status !== "joining") {
        events.push({ type: "joined", member: member(key) });
      }
      events.push({ type: STATUS_EVENTS[row.status], member: member(key) });
      if (!isLive(row)) lost.push(row);
    }
    if (this.#published.size > state.members.size) {
      // Tombstones were pruned: forget them (what comes back under such a key is news again).
      for (const key of this.#published.keys()) {
        if (!state.members.has(key)) this.#published.delete(key);
      }
    }
    for (const key of unreachable) {
      if (!this.#unreachable.has(key)) {
        events.push({ type: "unreachable", member: member(key) });
      }
    }
    for (const key of this.#unreachable) {
      const row = state.members.get(key);
      if (!unreachable.has(key) && row !== undefined && isLive(row)) {
        events.push({ type: "reachable", member: member(key) });
      }
    }
    this.#unreachable = new Set(unreachable);
    const leader = leaderOf(state, unreachable);
    if (leader !== this.#leader) {
      this.#leader = leader;
      events.push({
        type: "leader-changed",
        leader: leader === undefined ? undefined : member(leader),
      });
    }
    return { events, lost, leader };
  }
}
