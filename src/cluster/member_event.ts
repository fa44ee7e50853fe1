// What the cluster reports: its members as a user sees them, and the membership events.
import type { MemberRow } from "./membership_table.ts";

/** A member as {@linkcode Cluster.members} reports it: its row and whether it is reachable. */
export interface ClusterMember extends MemberRow {
  /** Whether this node's view finds it reachable (see the failure detector). */
  readonly reachable: boolean;
}

/**
 * A membership event, in the order this node learns of it.
 *
 * - `joined`: a member asked to join; `up`: it became a full member; `leaving`: it asked to
 *   leave; `exited`: its leaving is being completed; `downed`: it was declared down (by an
 *   operator, the downing strategy, or a newer incarnation of its node); `removed`: it is gone.
 * - `unreachable` / `reachable`: the failure detectors' verdict about it changed.
 * - `leader-changed`: the leader is now `leader` (`undefined` while no member can lead).
 * - `self-downed`: this node was downed (`reason` says why). It has stopped gossiping and
 *   heartbeating; the application should stop its work and close its actor system, and may
 *   start again as a new incarnation.
 */
export type MemberEvent =
  | {
    readonly type:
      | "joined"
      | "up"
      | "leaving"
      | "exited"
      | "downed"
      | "removed"
      | "unreachable"
      | "reachable";
    /** The member, as it is after the event. */
    readonly member: ClusterMember;
  }
  | {
    readonly type: "leader-changed";
    /** The new leader, or `undefined`. */
    readonly leader: ClusterMember | undefined;
  }
  | {
    readonly type: "self-downed";
    /** Why this node was downed. */
    readonly reason: string;
  };

/** The protocol of an actor that {@linkcode Cluster.subscribe} tells the events. */
export interface MemberEventProtocol {
  /** One membership event. */
  memberEvent(event: MemberEvent): void;
}
