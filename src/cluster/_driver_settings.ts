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
