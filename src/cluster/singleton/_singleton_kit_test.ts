// Test support for the cluster singleton: a counter instance that records when each incarnation
// starts and stops (under virtual time), a lease whose store a test can cut off per node, and
// the singleton started on every member of a Members cluster.
import {
  type ActorDefinition,
  defineActor,
  type ProtocolOfDefinition,
} from "../../actor/mod.ts";
import type { Lease, LeaseGrant } from "../lease.ts";
import { MemoryLease } from "../memory_lease.ts";
import { Members, type MembersOptions } from "../_membership_kit_test.ts";
import { ClusterSingleton } from "./cluster_singleton.ts";
import type { ClusterSingletonOptions, SingletonFence } from "./options.ts";

/** One start or stop of an instance. */
export interface LifeEvent {
  readonly node: string;
  readonly kind: "start" | "stop";
  readonly at: number;
  readonly token: number | undefined;
}

/** Where the instances record their lives, and how many run at once. */
export class Lives {
  readonly events: LifeEvent[] = [];
  live = 0;
  maxLive = 0;
  /** Starts that found another instance live. */
  readonly overlaps: string[] = [];

  started(fence: SingletonFence, at: number): void {
    if (this.live > 0) {
      this.overlaps.push(
        `${fence.node} started at ${at} while ${this.live} live`,
      );
    }
    this.live++;
    this.maxLive = Math.max(this.maxLive, this.live);
    this.events.push({
      node: fence.node,
      kind: "start",
      at,
      token: fence.token,
    });
  }

  stopped(fence: SingletonFence, at: number): void {
    this.live--;
    this.events.push({
      node: fence.node,
      kind: "stop",
      at,
      token: fence.token,
    });
  }

  /** The nodes instances started on, in order. */
  starts(): string[] {
    return this.events.filter((e) => e.kind === "start").map((e) => e.node);
  }
}

interface CounterState {
  n: number;
  readonly fence: SingletonFence;
}

const COUNTER_HANDLERS = {
  next: (s: CounterState): number => ++s.n,
  where: (s: CounterState): { node: string; token: number | null } => ({
    node: s.fence.node,
    token: s.fence.token ?? null,
  }),
};

/** The counter singleton: `next` counts, `where` says the node and token. */
export function counterOf(
  lives: Lives,
): ActorDefinition<SingletonFence, CounterState, typeof COUNTER_HANDLERS> {
  return defineActor({
    name: "test.singleton.counter",
    init: (fence: SingletonFence): CounterState => ({ n: 0, fence }),
    started: (s, ctx) => lives.started(s.fence, ctx.system.clock.now()),
    stopped: (s, ctx) => lives.stopped(s.fence, ctx.system.clock.now()),
    handlers: COUNTER_HANDLERS,
  });
}

/** A handle on a shared MemoryLease whose calls fail while `cut` is set (its store is away). */
export class CuttableLease implements Lease {
  readonly name: string;
  cut = false;
  readonly #inner: MemoryLease;

  constructor(inner: MemoryLease) {
    this.name = inner.name;
    this.#inner = inner;
  }

  acquire(
    owner: string,
    ttlMs: number,
    signal?: AbortSignal,
  ): Promise<LeaseGrant | undefined> {
    return this.cut
      ? Promise.reject(new Error("lease store unreachable"))
      : this.#inner.acquire(owner, ttlMs, signal);
  }

  release(owner: string, signal?: AbortSignal): Promise<boolean> {
    return this.cut
      ? Promise.reject(new Error("lease store unreachable"))
      : this.#inner.release(owner, signal);
  }

  holder(signal?: AbortSignal): Promise<LeaseGrant | undefined> {
    return this.#inner.holder(signal);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

type Counter = ReturnType<typeof counterOf>;
type CounterSingleton = ClusterSingleton<ProtocolOfDefinition<Counter>>;

/** The counter singleton on every member of `m`, with a cuttable lease per node. */
export class Singletons {
  readonly lives = new Lives();
  readonly byNode = new Map<string, CounterSingleton>();
  readonly leases = new Map<string, CuttableLease>();
  readonly logs: string[] = [];
  readonly #m: Members;
  readonly #lease: MemoryLease | undefined;
  readonly #options: Partial<
    ClusterSingletonOptions<
      SingletonFence,
      CounterState,
      typeof COUNTER_HANDLERS
    >
  >;
  readonly #definition: Counter;

  constructor(
    m: Members,
    options: {
      readonly lease?: boolean;
      readonly singleton?: Partial<
        ClusterSingletonOptions<
          SingletonFence,
          CounterState,
          typeof COUNTER_HANDLERS
        >
      >;
    } = {},
  ) {
    this.#m = m;
    this.#lease = options.lease === false
      ? undefined
      : new MemoryLease("singleton:counter", { clock: m.tc.clock });
    this.#options = options.singleton ?? {};
    this.#definition = counterOf(this.lives);
  }

  /** Starts the singleton's part on `node` (which has joined). */
  async start(node: string): Promise<CounterSingleton> {
    let lease: CuttableLease | undefined;
    if (this.#lease !== undefined) {
      lease = new CuttableLease(this.#lease.share());
      this.leases.set(node, lease);
    }
    const singleton = await ClusterSingleton.start(this.#m.cluster(node), {
      name: "counter",
      definition: this.#definition,
      argsFor: (fence) => fence,
      lease,
      leaseTtlMs: 2000,
      retryIntervalMs: 200,
      requestTimeoutMs: 1000,
      logger: { error: (message) => this.logs.push(`${node}: ${message}`) },
      ...this.#options,
    });
    this.byNode.set(node, singleton);
    return singleton;
  }

  /** The singleton's part on `node`. */
  of(node: string): CounterSingleton {
    const singleton = this.byNode.get(node);
    if (singleton === undefined) throw new TypeError(`no singleton on ${node}`);
    return singleton;
  }

  /** Closes the part on `node` (as before a leave or a kill). */
  async close(node: string): Promise<void> {
    await this.byNode.get(node)?.close();
    this.byNode.delete(node);
  }

  async closeAll(): Promise<void> {
    for (const node of [...this.byNode.keys()]) await this.close(node);
    await this.#lease?.close();
  }
}

/**
 * Members with quick failure detection and downing (a lost member is downed within about 2 s
 * of virtual time), so that the tests need few steps of virtual time.
 */
export function quickMembers(
  nodes: readonly string[],
  seed: number,
  options: Partial<MembersOptions> = {},
): Promise<Members> {
  return Members.start({
    nodes,
    seed,
    downing: { stableAfterMs: 1000 },
    cluster: {
      failureDetector: {
        acceptableHeartbeatPauseMs: 500,
        expectedResponseAfterMs: 500,
      },
    },
    ...options,
  });
}

/** Advances virtual time until `done` holds, in coarse steps (cheap in wall time). */
export async function until(
  m: Members,
  done: () => boolean,
  maxMs: number,
  what: string,
): Promise<void> {
  for (let t = 0; !done(); t += 250) {
    if (t >= maxMs) throw new Error(`Timed out after ${maxMs} ms: ${what}`);
    await m.tc.advance(250, { stepMs: 250 });
  }
}
