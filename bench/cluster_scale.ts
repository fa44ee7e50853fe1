// A simulated cluster of N members (default 1000) forming from three seeds, on virtual time:
// how long membership takes to converge, how long the simulation takes on the wall clock, and
// how many membership bytes each member sends per second.
//
//   deno run -A bench/cluster_scale.ts [members=1000] [latencyMs=2]
//
// What is real: the membership core (gossip state, merge, leader, downing runner, the driver)
// and the φ-accrual heartbeat monitor, unchanged. What is simulated: the network. Each member
// gets a stand-in for its RemoteNode that delivers extension messages (JSON-encoded, so their
// bytes are counted and nothing is shared by reference) after `latencyMs` of virtual time,
// without handshakes, sockets or the node's own keep-alive pings; 1000 real RemoteNodes would
// measure the handshake cryptography and the ManualClock's linear timer scan, not membership.
import type { RemoteExtension, RemoteNode } from "../src/remote/mod.ts";
import type { Clock, TimerHandle } from "../src/timer/mod.ts";
import { ClusterExtensions } from "../src/cluster/cluster_extensions.ts";
import {
  type Cluster,
  clusterDriver,
  joinCluster,
} from "../src/cluster/cluster.ts";
import type { Discovery } from "../src/cluster/discovery.ts";

const N = Number(Deno.args[0] ?? 1000);
const LATENCY_MS = Number(Deno.args[1] ?? 2);

/** A clock on a binary heap (ManualClock scans its timers linearly: too slow for 10^5 timers). */
class HeapClock implements Clock {
  #now = 0;
  #seq = 0;
  #heap: { at: number; seq: number; cb: (() => void) | null }[] = [];
  now(): number {
    return this.#now;
  }
  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = {
      at: this.#now + Math.max(0, delayMs),
      seq: this.#seq++,
      cb: callback as (() => void) | null,
      unref() {},
    };
    const h = this.#heap;
    h.push(timer);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#less(h[p], h[i])) break;
      [h[p], h[i]] = [h[i], h[p]];
      i = p;
    }
    return timer;
  }
  clearTimer(handle: TimerHandle): void {
    (handle as unknown as { cb: (() => void) | null }).cb = null;
  }
  #less(
    a: { at: number; seq: number },
    b: { at: number; seq: number },
  ): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }
  #pop() {
    const h = this.#heap;
    const top = h[0];
    const last = h.pop()!;
    if (h.length > 0) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[m], h[i]] = [h[i], h[m]];
        i = m;
      }
    }
    return top;
  }
  /** Fires every timer due up to `now + ms`, letting promise chains run after each. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    while (this.#heap.length > 0 && this.#heap[0].at <= target) {
      const timer = this.#pop();
      this.#now = Math.max(this.#now, timer.at);
      const cb = timer.cb;
      timer.cb = null;
      if (cb !== null) {
        cb();
        await Promise.resolve();
      }
    }
    this.#now = target;
    for (let i = 0; i < 5; i++) await Promise.resolve();
  }
}

/** The network: delivers extension messages between stand-in nodes, counting bytes. */
class SimNetwork {
  readonly clock = new HeapClock();
  readonly nodes = new Map<string, SimNode>();
  bytes = 0;
  heartbeatBytes = 0;
  messages = 0;

  deliver(
    from: SimNode,
    to: string,
    extension: string,
    message: unknown,
  ): Promise<unknown> {
    const text = JSON.stringify(message);
    this.messages++;
    if (extension === "troupe.heartbeat") this.heartbeatBytes += text.length;
    else this.bytes += text.length;
    return new Promise((resolve, reject) => {
      this.clock.setTimer(() => {
        const target = this.nodes.get(to);
        const handler = target?.handlers.get(extension);
        if (handler === undefined) return reject(new Error("unknown node"));
        try {
          const reply = handler.handle(JSON.parse(text), { node: from.node });
          const replyText = JSON.stringify(reply ?? null);
          if (extension === "troupe.heartbeat") {
            this.heartbeatBytes += replyText.length;
          } else this.bytes += replyText.length;
          this.clock.setTimer(
            () => resolve(JSON.parse(replyText)),
            LATENCY_MS,
          );
        } catch (error) {
          reject(error);
        }
      }, LATENCY_MS);
    });
  }
}

/** The part of RemoteNode that membership uses. */
class SimNode {
  readonly handlers = new Map<string, RemoteExtension>();
  readonly #connected = new Set<string>();
  constructor(
    readonly net: SimNetwork,
    readonly node: string,
    extensions: readonly RemoteExtension[],
  ) {
    for (const e of extensions) this.handlers.set(e.name, e);
    net.nodes.set(node, this);
  }
  get address(): string {
    return `${this.node}:1`;
  }
  connect(address: string): Promise<string> {
    const name = address.slice(0, address.lastIndexOf(":"));
    if (!this.net.nodes.has(name)) {
      return Promise.reject(new Error(`no node at ${address}`));
    }
    this.#connected.add(name);
    this.net.nodes.get(name)!.#connected.add(this.node);
    return Promise.resolve(name);
  }
  onPeerChange(): () => void {
    return () => {};
  }
  disconnect(node: string): void {
    this.#connected.delete(node);
  }
  peers(): { node: string; address: string; connected: boolean }[] {
    return [...this.#connected].map((node) => ({
      node,
      address: `${node}:1`,
      connected: true,
    }));
  }
  extension(name: string) {
    return {
      name,
      tell: (node: string, message: unknown) => {
        this.net.deliver(this, node, name, message).catch(() => {});
      },
      ask: (node: string, message: unknown) =>
        this.net.deliver(this, node, name, message),
      supportedBy: () => true,
    };
  }
}

const net = new SimNetwork();
const extensions = new ClusterExtensions();
const names = Array.from(
  { length: N },
  (_, i) => `n${String(i).padStart(4, "0")}`,
);
const seeds: Discovery = {
  name: "seeds",
  discover: () =>
    Promise.resolve(names.slice(0, 3).map((n) => ({ address: `${n}:1` }))),
  close: () => Promise.resolve(),
};
let seed = 42;
const random = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648;
  return seed / 2147483648;
};

const wallStart = performance.now();
const clusters: Cluster[] = [];
const joins = names.map((name) =>
  joinCluster(
    new SimNode(net, name, extensions.remote) as unknown as RemoteNode,
    {
      extensions,
      discovery: seeds,
      clock: net.clock,
      random,
      joinTimeoutMs: 600_000,
      logger: { error: () => {} },
    },
    {},
  ).then((c) => clusters.push(c))
);

function converged(): boolean {
  if (clusters.length < N) return false;
  const digest = clusterDriver(clusters[0]).state.digest;
  return clusters.every((c) => {
    const d = clusterDriver(c);
    return d.state.digest === digest && d.converged() &&
      c.self.status === "up";
  });
}

let virtual = 0;
const STEP = 100;
while (!converged()) {
  await net.clock.advance(STEP);
  virtual += STEP;
  if (virtual % 5000 === 0) {
    const ups = clusters.length;
    console.error(
      `  t=${virtual / 1000}s up=${ups}/${N} wall=${
        ((performance.now() - wallStart) / 1000).toFixed(1)
      }s msgs=${net.messages}`,
    );
  }
  if (virtual > 300_000) {
    console.log(`did not converge within ${virtual / 1000} s of virtual time`);
    Deno.exit(1);
  }
}
await Promise.all(joins);
const formWall = (performance.now() - wallStart) / 1000;
const formBytes = net.bytes;
const formHeartbeat = net.heartbeatBytes;

// Steady state: 10 s of a converged cluster.
const steadyStart = { bytes: net.bytes, hb: net.heartbeatBytes };
await net.clock.advance(10_000);
const steadyGossip = (net.bytes - steadyStart.bytes) / N / 10;
const steadyHeartbeat = (net.heartbeatBytes - steadyStart.hb) / N / 10;

console.log(`members: ${N}, latency ${LATENCY_MS} ms`);
console.log(
  `virtual time to converge (all up, one digest, seen by all): ${
    virtual / 1000
  } s`,
);
console.log(
  `wall time of the simulation to convergence: ${formWall.toFixed(1)} s`,
);
console.log(
  `while forming: gossip ${
    (formBytes / N / (virtual / 1000) / 1024).toFixed(1)
  } KiB/member/s, heartbeats ${
    (formHeartbeat / N / (virtual / 1000) / 1024).toFixed(1)
  } KiB/member/s`,
);
console.log(
  `steady state: gossip ${
    (steadyGossip / 1024).toFixed(2)
  } KiB/member/s, heartbeats ${
    (steadyHeartbeat / 1024).toFixed(2)
  } KiB/member/s`,
);
for (const c of clusters) await c.close();
