// The soak's leak check for timers and connections: each node's figures are taken twice, after
// the warm-up and at the end, both times with the load stopped and the idle entities passivated,
// and compared node by node (the same name, maybe a later incarnation). Timers come from the
// node itself (`platform.liveTimers()` through the workload actor's stats); connections are read
// from outside, from /proc (sockets.ts), and named by what is at the other end.
import type { ProcessSockets } from "./sockets.ts";

/** One node's resources at one moment. */
export interface NodeResources {
  /** The node's name (`m1`, …). */
  readonly node: string;
  /** Its process. */
  readonly pid: number;
  /** Live timers, as the node reports them. */
  readonly timers: number;
  /** Open socket descriptors of any kind. */
  readonly descriptors: number;
  /** Established TCP connections by the other end: a node's name, `test`, `redis` or `unknown`. */
  readonly established: Readonly<Record<string, number>>;
  /** TCP sockets neither listening nor established, by state (`CLOSE_WAIT`, …). */
  readonly lingering: Readonly<Record<string, number>>;
}

/** Who is at the other end of a connection. */
export interface Ends {
  /** Listening `port` → owner, for connections this node dialled (a node's name, `test`, `redis`). */
  readonly listeners: ReadonlyMap<number, string>;
  /**
   * Another process's connection ({@linkcode connectionKey} of its socket's local and remote
   * ends) → its owner. Keyed by both ends, not the local one alone: Linux gives two connections
   * to different peers the same local port when it can, so `ip:port` alone named the test's
   * connection to m1 after an m3 connection from the same port (a false leak in CI,
   * 2026-12-07: "m1: 1 connection(s) with test, 0 after the warm-up", m3 counted 3 times).
   */
  readonly endpoints: ReadonlyMap<string, string>;
}

/**
 * The key of a connection as seen from one socket: its local and remote `ip:port`.
 *
 * @param local The socket's local end.
 * @param remote Its remote end.
 * @returns The key.
 */
export function connectionKey(local: string, remote: string): string {
  return `${local}>${remote}`;
}

/**
 * Names the connections of one node.
 *
 * @param node The node's name.
 * @param pid Its process.
 * @param timers Its live timers.
 * @param sockets Its sockets (from {@linkcode socketsOf}).
 * @param ends Who owns which listener and endpoint.
 * @returns Its resources.
 */
export function nodeResources(
  node: string,
  pid: number,
  timers: number,
  sockets: ProcessSockets,
  ends: Ends,
): NodeResources {
  const established: Record<string, number> = {};
  const lingering: Record<string, number> = {};
  for (const s of sockets.tcp) {
    if (s.state === "LISTEN") continue;
    if (s.state !== "ESTABLISHED") {
      lingering[s.state] = (lingering[s.state] ?? 0) + 1;
      continue;
    }
    const port = Number(s.remote.split(":").at(-1));
    const owner = ends.endpoints.get(connectionKey(s.remote, s.local)) ??
      ends.listeners.get(port) ?? "unknown";
    established[owner] = (established[owner] ?? 0) + 1;
  }
  return {
    node,
    pid,
    timers,
    descriptors: sockets.descriptors,
    established,
    lingering,
  };
}

/** How much a figure may exceed its warm-up value before it counts as a leak. */
export interface LeakSlack {
  /** Extra live timers in the whole cluster (0 by default). */
  readonly timers?: number;
  /** Extra socket descriptors per node (0 by default). */
  readonly descriptors?: number;
}

/** The leak check's result. */
export interface LeakVerdict {
  /** No leak found. */
  readonly valid: boolean;
  /** One line per leak found. */
  readonly problems: string[];
}

function total(counts: Readonly<Record<string, number>>): number {
  return Object.values(counts).reduce((a, n) => a + n, 0);
}

/**
 * Compares each node's resources at the end with those after the warm-up. A leak is: more live
 * timers in the whole cluster, or more socket descriptors on a node, than after the warm-up
 * (beyond `slack`), more established
 * connections to any one other end than after the warm-up, a connection to an end that is no
 * live process of the run (`unknown`: a dead incarnation's), or a socket left in a closing state
 * (`CLOSE_WAIT`: the other end went away and the node never closed its side).
 *
 * @param before Every node's resources after the warm-up.
 * @param after Every node's resources at the end.
 * @param slack The tolerances.
 * @returns The verdict.
 */
export function checkLeaks(
  before: readonly NodeResources[],
  after: readonly NodeResources[],
  slack: LeakSlack = {},
): LeakVerdict {
  const problems: string[] = [];
  for (const end of after) {
    const start = before.find((b) => b.node === end.node);
    if (start === undefined) {
      problems.push(`${end.node}: no figures from after the warm-up`);
      continue;
    }
    const at = `${end.node}#${end.pid}`;
    if (end.descriptors > start.descriptors + (slack.descriptors ?? 0)) {
      problems.push(
        `${at}: ${end.descriptors} socket descriptors, ${start.descriptors} after the warm-up`,
      );
    }
    for (const [owner, n] of Object.entries(end.established)) {
      if (owner === "unknown") {
        problems.push(
          `${at}: ${n} connection(s) to no live process of the run`,
        );
      } else if (n > (start.established[owner] ?? 0)) {
        problems.push(
          `${at}: ${n} connection(s) with ${owner}, ${
            start.established[owner] ?? 0
          } after the warm-up`,
        );
      }
    }
    if (total(end.lingering) > 0) {
      problems.push(
        `${at}: sockets left closing: ${JSON.stringify(end.lingering)}`,
      );
    }
  }
  // Timers are compared for the whole cluster: some move with a singleton (the shard
  // coordinator's), from a node that was restarted to another one.
  const timers = (rs: readonly NodeResources[]) =>
    rs.reduce((a, r) => a + r.timers, 0);
  if (timers(after) > timers(before) + (slack.timers ?? 0)) {
    const each = (rs: readonly NodeResources[]) =>
      rs.map((r) => `${r.node} ${r.timers}`).join(", ");
    problems.push(
      `live timers: ${timers(after)} at the end (${each(after)}), ${
        timers(before)
      } after the warm-up (${each(before)})`,
    );
  }
  return { valid: problems.length === 0, problems };
}

/**
 * One node's figures as `timers/descriptors/peer:n,…`, for the verdict line.
 *
 * @param r The node's resources.
 * @returns The short form.
 */
export function resourcesText(r: NodeResources): string {
  const ends = Object.entries(r.established).sort().map(([o, n]) => `${o}:${n}`)
    .join(",");
  const lingering = total(r.lingering) === 0
    ? ""
    : ` ${JSON.stringify(r.lingering)}`;
  return `${r.node} t${r.timers} s${r.descriptors} [${ends}]${lingering}`;
}
