// The failure detector as membership drives it: the shape of h-fd's HeartbeatMonitor, so tests
// and benches can put another one in its place.
import type { Clock } from "../timer/mod.ts";
import type { HeartbeatPayload } from "./_gossip_messages.ts";

/** The failure detector of one node, as membership drives it (HeartbeatMonitor's shape). */
export interface LocalReachability {
  /** The live members (keys), this node included; the detector picks its subjects. */
  setMembers(keys: readonly string[]): void;
  /** A heartbeat message from another member. */
  receive(from: string, message: HeartbeatPayload): void;
  /** The members it monitors now. */
  subjects(): readonly string[];
  /** Stops its timers. */
  close(): void;
  /** The current φ of a monitored subject; `undefined` when it is not monitored (optional). */
  phi?(subject: string): number | undefined;
}

/** What a failure detector is built with. */
export interface LocalReachabilityOptions {
  /** This member's key. */
  readonly self: string;
  /** The clock. */
  readonly clock: Clock;
  /** Sends a heartbeat message to a member. */
  send(to: string, message: HeartbeatPayload): void;
  /** Reports a subject's reachability when it changes. */
  onReachability(subject: string, reachable: boolean): void;
}

/** Builds the failure detector of a node. */
export type LocalReachabilityFactory = (
  options: LocalReachabilityOptions,
) => LocalReachability;
