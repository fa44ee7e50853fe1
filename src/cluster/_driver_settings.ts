// What a membership driver is built with, and a small promise helper it uses.
import type { RemoteNode } from "../remote/mod.ts";
import type { Clock } from "../timer/mod.ts";
import type { Discovery } from "./discovery.ts";
import type { DowningOptions } from "./downing.ts";
import type { LocalReachabilityFactory } from "./_local_reachability.ts";
import type { ClusterExtensions } from "./cluster_extensions.ts";

/** The settings of a driver (validated by `Cluster.join`). */
export interface DriverSettings {
  readonly node: RemoteNode;
  readonly extensions: ClusterExtensions;
  readonly discovery: Discovery;
  readonly incarnation: string;
  readonly roles: readonly string[];
  readonly clock: Clock;
  readonly gossipIntervalMs: number;
  readonly fanOut: number;
  readonly joinRetryMs: number;
  readonly joinTimeoutMs: number;
  readonly downing?: DowningOptions;
  readonly random: () => number;
  readonly logger: { error(message: string, error: unknown): void };
  readonly reachability: LocalReachabilityFactory;
  /**
   * How many members monitor each member (the failure detector's `monitoredBy`): a verdict of
   * this node's detector is pushed at once to the other monitors of the same member.
   */
  readonly monitoredBy?: number;
  /** How long the leader keeps a removed member's tombstone before it prunes it, in ms. */
  readonly pruneTombstonesAfterMs: number;
  /** Ms since the Unix epoch: stamped on removals, and read to age tombstones. */
  readonly wallClock: () => number;
}

/** A promise with its resolvers (Promise.withResolvers is not in Node 20). */
export function deferred(): {
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
} {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
