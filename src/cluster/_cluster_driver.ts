// The membership of one node: holds its gossip state, gossips it (push-pull with digests),
// carries the failure detector's heartbeats, applies the leader's actions and the downing
// strategy's decisions, and reports events. Everything waits on the injected clock.
import type { ExtensionChannel, RemoteNode } from "../remote/mod.ts";
import type { Clock, TimerHandle } from "../timer/mod.ts";
import type { Discovery } from "./discovery.ts";
import type { DowningOptions } from "./downing.ts";
import { ClusterJoinError, InvalidGossipError } from "./errors.ts";
import type { MemberRow, MemberStatus } from "./membership_table.ts";
import type { ClusterMember, MemberEvent } from "./member_event.ts";
import {
  type GossipMessage,
  HEARTBEAT_EXTENSION,
  type HeartbeatEnvelope,
  type HeartbeatPayload,
  MEMBERSHIP_EXTENSION,
} from "./_gossip_messages.ts";
import {
  isConverged,
  leaderActions,
  leaderOf,
  supersedeIncarnations,
  unreachableMembers,
} from "./_leader.ts";
import {
  addSeen,
  createState,
  decodeKeys,
  decodeState,
  encodeKeys,
  encodeState,
  type GossipState,
  isLive,
  markSeen,
  memberKey,
  mergeStates,
  updateMembers,
  updateReachability,
} from "./_member_state.ts";
import { type DowningAction, DowningRunner } from "./_downing_runner.ts";
import {
  bindEndpoint,
  type ClusterEndpoint,
  type ClusterExtensions,
} from "./cluster_extensions.ts";

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
  /** Count the bytes of gossip sent (for the scale bench; costs an extra encoding). */
  readonly countBytes?: boolean;
}

type StatusEvent =
  | "joined"
  | "up"
  | "leaving"
  | "exited"
  | "downed"
  | "removed";

const STATUS_EVENTS: Readonly<Record<MemberStatus, StatusEvent>> = {
  joining: "joined",
  up: "up",
  leaving: "leaving",
  exiting: "exited",
  down: "downed",
  removed: "removed",
};

/** How long a heartbeat's ask waits for its ack (a late ack is useless to the detector). */
const HEARTBEAT_ASK_TIMEOUT_MS = 3000;

function isAck(value: unknown): value is HeartbeatPayload {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  return v.kind === "heartbeat-ack" && Number.isSafeInteger(v.seq) &&
    (v.seq as number) >= 0;
}

/** The node name in a member key (`node#incarnation`; the incarnation has no `#`). */
function nodeOfKey(key: string): string {
  return key.slice(0, key.lastIndexOf("#"));
}

export class ClusterDriver implements ClusterEndpoint {
  readonly selfKey: string;
  readonly #s: DriverSettings;
  readonly #node: RemoteNode;
  readonly #clock: Clock;
  readonly #membership: ExtensionChannel<GossipMessage, void>;
  readonly #heartbeat: ExtensionChannel<
    HeartbeatEnvelope,
    HeartbeatPayload | null
  >;
  /** While answering a heartbeat: the member it came from, and the ack the detector sent it. */
  #answering: { from: string; ack: HeartbeatPayload | null } | undefined;
  readonly #monitor: LocalReachability;
  readonly #downing: DowningRunner;
  readonly #unbind: () => void;
  readonly #listeners = new Set<(event: MemberEvent) => void>();
  readonly #stopListeners = new Set<() => void>();
  #state: GossipState;
  #unreachable = new Set<string>();
  #leader: string | undefined;
  #published = new Map<string, MemberRow>();
  #publishedUnreachable = new Set<string>();
  #localUnreachable = new Set<string>();
  #monitored = new Set<string>();
  #connected = new Set<string>();
  #known = new Map<string, { address: string; connected: boolean }>();
  #connecting = new Set<string>();
  #mayForm = false;
  #joinRounds = 0;
  #tick: TimerHandle | undefined;
  #joinTimer: TimerHandle | undefined;
  #joinDeadline: TimerHandle | undefined;
  #joinAbort = new AbortController();
  #stopped = false;
  #closed = false;
  #joined: PromiseWithResolvers<void> = Promise.withResolvers();
  #waiters: { test: () => boolean; resolve: () => void }[] = [];
  /** Gossip bytes sent (JSON length), for the scale bench. */
  bytesSent = 0;

  constructor(settings: DriverSettings) {
    this.#s = settings;
    this.#node = settings.node;
    this.#clock = settings.clock;
    const self: MemberRow = {
      node: settings.node.node,
      address: settings.node.address,
      incarnation: settings.incarnation,
      status: "joining",
      roles: [...new Set(settings.roles)].sort(),
      upNumber: 0,
    };
    this.selfKey = memberKey(self);
    this.#membership = this.#node.extension(MEMBERSHIP_EXTENSION);
    this.#heartbeat = this.#node.extension(HEARTBEAT_EXTENSION);
    this.#state = markSeen(createState([self]), this.selfKey);
    this.#unbind = bindEndpoint(settings.extensions, this.#node.node, this);
    try {
      this.#downing = new DowningRunner(
        settings.downing,
        this.#clock,
        this.selfKey,
        (action, why) => this.#onDowning(action, why),
        (message, error) => settings.logger.error(message, error),
      );
      this.#monitor = settings.reachability({
        self: this.selfKey,
        clock: this.#clock,
        send: (to, message) => this.#sendHeartbeat(to, message),
        onReachability: (subject, reachable) => {
          if (reachable) this.#localUnreachable.delete(subject);
          else this.#localUnreachable.add(subject);
          try {
            if (this.#report()) this.#afterChange();
          } catch (error) {
            // A bug here must not stop the failure detector's ticks.
            settings.logger.error(
              "Membership failed to apply a reachability change",
              error,
            );
          }
        },
      });
    } catch (error) {
      this.#unbind();
      throw error;
    }
    this.#joined.promise.catch(() => {});
  }

  /** Starts gossiping and joining; resolves once this member is up. */
  async start(): Promise<void> {
    this.#afterChange();
    this.#scheduleTick();
    this.#joinDeadline = this.#clock.setTimer(() => {
      this.#joined.reject(
        new ClusterJoinError(
          `Node "${this.#node.node}" could not join the cluster within ${this.#s.joinTimeoutMs} ms (discovery "${this.#s.discovery.name}")`,
        ),
      );
    }, this.#s.joinTimeoutMs);
    void this.#joinRound();
    try {
      await this.#joined.promise;
    } finally {
      this.#clock.clearTimer(this.#joinDeadline);
      this.#joinAbort.abort();
      if (this.#joinTimer !== undefined) {
        this.#clock.clearTimer(this.#joinTimer);
      }
    }
  }

  get state(): GossipState {
    return this.#state;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  member(key: string): ClusterMember | undefined {
    const row = this.#state.members.get(key);
    if (row === undefined) return undefined;
    return { ...row, reachable: !this.#unreachable.has(key) };
  }

  members(): ClusterMember[] {
    const result: ClusterMember[] = [];
    for (const key of this.#state.members.keys()) {
      const member = this.member(key)!;
      if (member.status !== "removed") result.push(member);
    }
    return result.sort((a, b) =>
      a.node < b.node ? -1 : a.node > b.node ? 1 : 0
    );
  }

  leader(): ClusterMember | undefined {
    return this.#leader === undefined ? undefined : this.member(this.#leader);
  }

  converged(): boolean {
    return isConverged(this.#state, this.#unreachable);
  }

  listen(listener: (event: MemberEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Calls `callback` once when membership stops (downed, removed or closed). */
  whenStopped(callback: () => void): () => void {
    if (this.#stopped) {
      callback();
      return () => {};
    }
    this.#stopListeners.add(callback);
    return () => this.#stopListeners.delete(callback);
  }

  /** Resolves once `test` holds after some change (or at once). */
  until(test: () => boolean): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  leave(): void {
    const self = this.#state.members.get(this.selfKey)!;
    if (self.status !== "joining" && self.status !== "up") return;
    this.#change([{ ...self, status: "leaving" }]);
    this.#gossipRound();
  }

  down(node: string): number {
    const rows = [...this.#state.members.values()].filter((row) =>
      row.node === node && isLive(row)
    );
    if (rows.length > 0) {
      this.#change(rows.map((row) => ({ ...row, status: "down" as const })));
      this.#gossipRound();
    }
    return rows.length;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#stop();
    this.#unbind();
    this.#joined.reject(
      new ClusterJoinError(
        `The cluster of node "${this.#node.node}" was closed`,
      ),
    );
    for (const waiter of this.#waiters) waiter.resolve();
    this.#waiters = [];
    this.#listeners.clear();
  }

  // ---- messages from other nodes ----

  gossip(message: GossipMessage, fromNode: string): void {
    if (this.#stopped) return;
    if (nodeOfKey(message.from) !== fromNode) {
      this.#s.logger.error(
        `Gossip from node "${fromNode}" claims to be from "${message.from}"; dropped`,
        undefined,
      );
      return;
    }
    if (message.t === "status") {
      if (message.digest === this.#state.digest) {
        const before = this.#state.seen.size;
        let seen: string[];
        try {
          seen = decodeKeys(this.#state, message.seen);
        } catch (error) {
          this.#s.logger.error(
            `Dropped invalid gossip status from node "${fromNode}"`,
            error,
          );
          return;
        }
        const next = addSeen(this.#state, [message.from, ...seen]);
        this.#state = next;
        if (next.seen.size > seen.length) {
          this.#send(fromNode, {
            t: "status",
            to: fromNode,
            from: this.selfKey,
            digest: next.digest,
            seen: encodeKeys(next, next.seen),
          });
        }
        if (next.seen.size !== before) this.#afterChange();
      } else {
        this.#sendState(fromNode, true);
      }
      return;
    }
    let incoming: GossipState;
    try {
      incoming = decodeState(message.state, this.#state);
    } catch (error) {
      this.#s.logger.error(
        `Dropped invalid gossip from node "${fromNode}"`,
        error instanceof InvalidGossipError ? error : new InvalidGossipError(
          "Invalid gossip state",
          { cause: error },
        ),
      );
      return;
    }
    const merged = markSeen(mergeStates(this.#state, incoming), this.selfKey);
    const changed = merged.digest !== this.#state.digest ||
      merged.seen.size !== this.#state.seen.size;
    this.#state = merged;
    if (changed) this.#afterChange();
    if (message.reply && this.#state.digest !== incoming.digest) {
      this.#sendState(fromNode, false);
    }
  }

  heartbeat(
    envelope: HeartbeatEnvelope,
    fromNode: string,
  ): HeartbeatPayload | null {
    if (this.#stopped || envelope.toKey !== this.selfKey) return null;
    if (nodeOfKey(envelope.from) !== fromNode) return null;
    // The detector acks synchronously; the ack goes back as the reply of the heartbeat's ask,
    // on the connection the heartbeat came by, so that connection carries traffic both ways.
    const answering = { from: envelope.from, ack: null };
    this.#answering = answering;
    try {
      this.#monitor.receive(envelope.from, envelope.m);
    } finally {
      this.#answering = undefined;
    }
    return answering.ack;
  }

  // ---- state changes ----

  #change(rows: readonly MemberRow[]): void {
    this.#state = updateMembers(this.#state, rows, this.selfKey);
    this.#afterChange();
  }

  /** Puts what this node's failure detector finds now into the state; says whether it changed. */
  #report(): boolean {
    if (this.#stopped) return false;
    const subjects = new Set(this.#monitor.subjects());
    const unreachable = [...this.#localUnreachable].filter((key) => {
      const row = this.#state.members.get(key);
      return row !== undefined && isLive(row);
    });
    for (const key of unreachable) subjects.delete(key);
    const next = updateReachability(
      this.#state,
      this.selfKey,
      subjects,
      unreachable,
    );
    if (next === this.#state) return false;
    this.#state = next;
    return true;
  }

  #afterChange(): void {
    if (this.#stopped) return;
    let judged: GossipState | undefined;
    for (let step = 0; step < 8; step++) {
      this.#state = supersedeIncarnations(this.#state, this.selfKey);
      this.#unreachable = unreachableMembers(this.#state);
      judged = this.#state;
      if (this.#state.members.size < 2 && !this.#mayForm) break;
      const next = leaderActions(this.#state, this.#unreachable, this.selfKey);
      if (next === this.#state) break;
      // Report the state as it was before the leader's step, so no transition goes unseen.
      this.#publish();
      if (this.#stopped) return;
      this.#state = next;
    }
    if (judged !== this.#state) {
      this.#unreachable = unreachableMembers(this.#state);
    }
    const live: string[] = [];
    let same = true;
    for (const [key, row] of this.#state.members) {
      if (!isLive(row)) continue;
      live.push(key);
      if (same && !this.#monitored.has(key)) same = false;
    }
    if (!same || live.length !== this.#monitored.size) {
      this.#monitored = new Set(live);
      this.#monitor.setMembers(live.sort());
      for (const key of this.#localUnreachable) {
        if (!this.#monitored.has(key)) this.#localUnreachable.delete(key);
      }
      if (this.#report()) return this.#afterChange();
    }
    this.#downing.update({
      members: [...this.#state.members.values()].filter((row) =>
        row.status === "up" || row.status === "leaving" ||
        row.status === "exiting"
      ),
      unreachable: this.#unreachable,
    });
    this.#publish();
  }

  #publish(): void {
    const events: MemberEvent[] = [];
    const removedNow: MemberRow[] = [];
    for (const [key, row] of this.#state.members) {
      const old = this.#published.get(key);
      if (old?.status === row.status) continue;
      this.#published.set(key, row);
      if (old === undefined && row.status !== "joining") {
        events.push({ type: "joined", member: this.member(key)! });
      }
      events.push({
        type: STATUS_EVENTS[row.status],
        member: this.member(key)!,
      });
      if (row.status === "down" || row.status === "removed") {
        removedNow.push(row);
      }
    }
    for (const key of this.#unreachable) {
      if (!this.#publishedUnreachable.has(key)) {
        events.push({ type: "unreachable", member: this.member(key)! });
      }
    }
    for (const key of this.#publishedUnreachable) {
      const row = this.#state.members.get(key);
      if (!this.#unreachable.has(key) && row !== undefined && isLive(row)) {
        events.push({ type: "reachable", member: this.member(key)! });
      }
    }
    this.#publishedUnreachable = new Set(this.#unreachable);
    const leader = leaderOf(this.#state, this.#unreachable);
    if (leader !== this.#leader) {
      this.#leader = leader;
      events.push({ type: "leader-changed", leader: this.leader() });
    }
    for (const event of events) this.#emit(event);
    for (const row of removedNow) this.#lost(row);
    const self = this.#state.members.get(this.selfKey)!;
    if (self.status !== "joining" && isLive(self)) this.#joined.resolve();
    if (!isLive(self)) {
      this.#joined.reject(
        new ClusterJoinError(
          `Node "${this.#node.node}" was ${self.status} before it became up`,
        ),
      );
      const reason = self.status === "removed"
        ? "it was removed from the cluster"
        : "it was downed";
      if (self.status === "down") {
        this.#s.logger.error(
          `Cluster member ${this.selfKey} is down: ${reason}; it stops gossiping. Close its actor system (a restart joins as a new incarnation).`,
          undefined,
        );
        this.#emit({ type: "self-downed", reason: this.#downReason ?? reason });
      }
      this.#stop();
    }
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      if (this.#stopped || waiter.test()) waiter.resolve();
      else this.#waiters.push(waiter);
    }
  }

  #downReason: string | undefined;

  #emit(event: MemberEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.#s.logger.error("A membership event listener failed", error);
      }
    }
  }

  /** A member went down or was removed: tell it (so it stops) when this node is the leader. */
  #lost(row: MemberRow): void {
    const key = memberKey(row);
    if (key === this.selfKey || this.#leader !== this.selfKey) return;
    if (this.#connected.has(row.node)) this.#sendState(row.node, false);
  }

  #onDowning(action: DowningAction, why: string): void {
    if (this.#stopped) return;
    const live = [...this.#state.members.values()].filter(isLive);
    let rows: MemberRow[];
    if (action === "down-all") {
      rows = live;
    } else if (action === "down-self") {
      rows = live.filter((row) => !this.#unreachable.has(memberKey(row)));
    } else {
      if (this.#leader !== this.selfKey) return;
      rows = live.filter((row) => this.#unreachable.has(memberKey(row)));
    }
    if (rows.length === 0) return;
    this.#s.logger.error(
      `Cluster member ${this.selfKey} downs ${
        rows.map(memberKey).join(", ")
      }: ${why}`,
      undefined,
    );
    if (rows.some((row) => memberKey(row) === this.selfKey)) {
      this.#downReason = `downing: ${why}`;
    }
    this.#change(rows.map((row) => ({ ...row, status: "down" as const })));
    if (!this.#stopped) this.#gossipRound();
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#tick !== undefined) this.#clock.clearTimer(this.#tick);
    this.#tick = undefined;
    this.#monitor.close();
    this.#downing.close();
    this.#joinAbort.abort();
    for (const callback of this.#stopListeners) callback();
    this.#stopListeners.clear();
  }

  // ---- gossip ----

  #scheduleTick(): void {
    if (this.#stopped) return;
    this.#tick = this.#clock.setTimer(() => {
      this.#tick = undefined;
      this.#gossipRound();
      this.#scheduleTick();
    }, this.#s.gossipIntervalMs);
  }

  /**
   * Learns which nodes are connected, and dials the failure detector's subjects that the node
   * does not know (other members are dialed when gossip picks them, so a large cluster is not
   * a full mesh).
   */
  #refreshPeers(): void {
    this.#known.clear();
    for (const peer of this.#node.peers()) this.#known.set(peer.node, peer);
    this.#connected = new Set(
      [...this.#known].filter(([, p]) => p.connected).map(([n]) => n),
    );
    for (const key of this.#monitor.subjects()) this.#reach(key);
  }

  /**
   * Runs `send` with the member's node name now when it is connected, or once the node has
   * dialed it when the node does not know it yet (a known, disconnected node is being
   * reconnected by the node itself: nothing to do).
   */
  #reach(key: string, send?: (node: string) => void): void {
    const row = this.#state.members.get(key);
    if (row === undefined || !isLive(row) || key === this.selfKey) return;
    const peer = this.#known.get(row.node);
    if (peer === undefined || peer.address !== row.address) {
      void this.#dial(row.address).then((name) => {
        if (name !== undefined && send !== undefined && !this.#stopped) {
          send(name);
        }
      });
    } else if (peer.connected) send?.(row.node);
  }

  #dial(address: string): Promise<string | undefined> {
    if (this.#connecting.has(address)) return Promise.resolve(undefined);
    this.#connecting.add(address);
    return this.#node.connect(address).then(
      (name) => {
        this.#connected.add(name);
        return name;
      },
      () => undefined,
    ).finally(() => this.#connecting.delete(address));
  }

  #gossipRound(): void {
    if (this.#stopped) return;
    this.#refreshPeers();
    const candidates: string[] = [];
    const unseen: string[] = [];
    for (const [key, row] of this.#state.members) {
      if (key === this.selfKey || !isLive(row)) continue;
      candidates.push(key);
      if (!this.#state.seen.has(key)) unseen.push(key);
    }
    const picked = new Set<string>();
    for (
      let i = 0;
      i < this.#s.fanOut && picked.size < candidates.length;
      i++
    ) {
      // Prefer members that have not seen this state (as Akka does), but not always, so that
      // news from others is pulled too.
      const pool = unseen.length > 0 && this.#s.random() < 0.8
        ? unseen
        : candidates;
      const choice = pool[Math.floor(this.#s.random() * pool.length)];
      picked.add(choice);
      const at = unseen.indexOf(choice);
      if (at >= 0) unseen.splice(at, 1);
    }
    for (const key of picked) {
      this.#reach(key, (node) =>
        this.#send(node, {
          t: "status",
          to: node,
          from: this.selfKey,
          digest: this.#state.digest,
          seen: encodeKeys(this.#state, this.#state.seen),
        }));
    }
  }

  #sendState(node: string, reply: boolean): void {
    this.#send(node, {
      t: "gossip",
      to: node,
      from: this.selfKey,
      state: encodeState(this.#state),
      reply,
    });
  }

  #send(node: string, message: GossipMessage): void {
    try {
      this.#membership.tell(node, message);
      if (this.#s.countBytes === true) {
        this.bytesSent += JSON.stringify(message).length;
      }
    } catch {
      // Not connected or not a member node: gossip is retried next round anyway.
    }
  }

  #sendHeartbeat(toKey: string, m: HeartbeatPayload): void {
    if (this.#stopped) return;
    const answering = this.#answering;
    if (answering !== undefined && answering.from === toKey) {
      if (m.kind === "heartbeat-ack") answering.ack = m;
      return;
    }
    if (m.kind !== "heartbeat") return; // acks travel only as replies
    const node = nodeOfKey(toKey);
    if (!this.#connected.has(node)) return; // lost, as the detector should see it
    this.#heartbeat.ask(node, { to: node, toKey, from: this.selfKey, m }, {
      timeoutMs: HEARTBEAT_ASK_TIMEOUT_MS,
    }).then((reply) => {
      if (this.#stopped || !isAck(reply)) return;
      this.#monitor.receive(toKey, reply);
    }, () => {
      // A heartbeat without an answer is a lost one: the detector sees the silence.
    });
  }

  // ---- joining ----

  async #joinRound(): Promise<void> {
    const self = () => this.#state.members.get(this.selfKey)!;
    if (this.#stopped || self().status !== "joining") return;
    try {
      const found = await this.#s.discovery.discover(this.#joinAbort.signal);
      const others = found.filter((d) =>
        d.address !== this.#node.address && d.node !== this.#node.node
      );
      let reached = 0;
      const names = await Promise.all(others.map((d) => this.#dial(d.address)));
      const live = names.filter((n): n is string => n !== undefined);
      reached = live.length;
      // One seed per round (in turn) gets this node's state and answers with the cluster's: a
      // joiner costs the seeds one full state per round, not one per seed.
      if (live.length > 0 && !this.#stopped) {
        this.#sendState(live[this.#joinRounds++ % live.length], true);
      }
      const firstIsSelf = found.length > 0 &&
        (found[0].address === this.#node.address ||
          found[0].node === this.#node.node);
      if (
        !this.#mayForm &&
        (others.length === 0 || (firstIsSelf && reached === 0))
      ) {
        this.#mayForm = true;
        this.#afterChange();
      }
    } catch (error) {
      if (!this.#joinAbort.signal.aborted) {
        this.#s.logger.error(
          `Discovery "${this.#s.discovery.name}" failed; retrying in ${this.#s.joinRetryMs} ms`,
          error,
        );
      }
    }
    if (this.#stopped || self().status !== "joining") return;
    this.#joinTimer = this.#clock.setTimer(() => {
      this.#joinTimer = undefined;
      void this.#joinRound();
    }, this.#s.joinRetryMs);
  }
}
