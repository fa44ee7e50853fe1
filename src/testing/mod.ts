/**
 * Tools for testing code built on Troupe: a {@linkcode TestProbe} actor that records what it
 * is sent and expects messages and stops within a deadline, a {@linkcode ManualClock} for
 * virtual time (pass it as the system's `clock`), and a {@linkcode TestCluster}: N remote nodes
 * on an in-memory network ({@linkcode MemoryNetwork}) under one ManualClock, with partitions,
 * freezes and kills.
 *
 * @example Usage
 * ```ts
 * import { ActorSystem, defineActor } from "@troupe/troupe";
 * import { ManualClock, TestProbe } from "@troupe/troupe/testing";
 * const clock = new ManualClock();
 * await using system = new ActorSystem({ clock });
 * await using probe = await TestProbe.create<{ tick(): void }>(system);
 * const ticker = defineActor({
 *   name: "ticker",
 *   init: (to: typeof probe.ref) => ({ to }),
 *   handlers: { tick: (state) => state.to.tell("tick") },
 *   started: (_state, ctx) => ctx.timers.startPeriodic("t", { intervalMs: 1000 }, "tick"),
 * });
 * await system.spawn(ticker, probe.ref);
 * await clock.advance(1000);
 * await probe.expectMessage("tick");
 * ```
 *
 * @module
 */
export { ManualClock } from "../timer/manual_clock.ts";
export {
  TestCluster,
  type TestClusterOptions,
  type TestNodeOptions,
  type VirtualWaitOptions,
} from "./test_cluster.ts";
export { MemoryNetwork, type MemoryNetworkOptions } from "../remote/mod.ts";
// The core types these tools name in their signatures (a TestCluster hands out actor systems
// and remote nodes, which name most of the core), so that this entry point documents itself
// completely (`deno doc --lint src/testing/mod.ts`); they are the types `@troupe/troupe` exports.
export type * from "../../mod.ts";
export {
  type ExpectOptions,
  type ProbeMessage,
  TestProbe,
  type TestProbeOptions,
} from "./test_probe.ts";
export {
  isProbeExpectationError,
  isTestClusterTimeoutError,
  ProbeExpectationError,
  TestClusterTimeoutError,
} from "./errors.ts";
