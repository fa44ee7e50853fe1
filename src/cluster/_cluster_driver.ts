// The membership of one node: holds its gossip state, gossips it (push-pull with digests),
// carries the failure detector's heartbeats, applies the leader's actions and the downing
// strategy's decisions, and reports events. Everything waits on the injected clock.
import type { ExtensionChannel, RemoteNode } from "../remote/mod.ts";
import type { Clock, TimerHandle } from "../timer/mod.ts";
import { ClusterJoinError, InvalidGossipError } from "./errors.ts";
import type { MemberRow } from "./membership_table.ts";
import type { ClusterMember, MemberEvent } from "./member_event.ts";
import type { LocalReachability } from "./_local_reachability.ts";
import { MemberEventLog } from "./_member_events.ts";
import { PeerLinks } from "./_peer_links.ts";
import { pickGossipTargets } from "./_gossip_targets.ts";
import { joinRound } from "./_join_round.ts";
import { HeartbeatBridge, nodeOfKey } from "./_heartbeat_bridge.ts";
import {
  type GossipMessage,
  HEARTBEAT_EXTENSION,
  type HeartbeatEnvelope,
  type HeartbeatPayload,
  MEMBERSHIP_EXTENSION,
} from "./_gossip_messages.ts";
import {
  formCluster,
  isConverged,
  leaderActions,
  prunableThrough,
  supersedeIncarnations,
  unreachableMembers,
} from "./_leader.ts";
import {
  addSeen,
  createState,
  decodeKeys,
  decodeParts,
  encodeKeys,
  encodeState,
  type GossipState,
  isLive,
  markSeen,
  memberKey,
  mergeIncoming,
  pruneRemoved,
  type StateParts,
  updateMembers,
  updateReachability,
} from "./_member_state.ts";
import { type DowningAction, DowningRunner } from "./_downing_runner.ts";
import { deferred, type DriverSettings } from "./_driver_settings.ts";
import { MonitorRing } from "./_monitor_ring.ts";
import { DEFAULT_FAILURE_DETECTOR_SETTINGS } from "./failure_detector.ts";
import { bindEndpoint, type ClusterEndpoint } from "./cluster_extensions.ts";

/** Whether any member of the state was ever up (the leader gives an up number once). */
function hasBeenUp(state: GossipState): boolean {
  for (const row of state.members.values()) if (row.upNumber > 0) return true;
  return false;
}

/**
 * Join rounds a first seed waits for the answers of nodes it reached before it forms a cluster
 * without them (5 s at the default `joinRetryMs`, Akka's `seed-node-timeout`).
 */
const SILENT_SEED_ROUNDS = 5;
export class ClusterDriver implements ClusterEndpoint {
  readonly selfKey: string;
  readonly #s: DriverSettings;
  readonly #node: RemoteNode;
  readonly #clock: Clock;
  readonly #membership: ExtensionChannel<GossipMessage, void>;
  readonly #bridge: HeartbeatBridge;
  readonly #monitor: LocalReachability;
  readonly #downing: DowningRunner;
  readonly #unbind: () => void;
  readonly #listeners = new Set<(event: MemberEvent) => void>();
  readonly #stopListeners = new Set<() => void>();
  #state: GossipState;
  #unreachable: ReadonlySet<string> = new Set<string>();
  #leader: string | undefined;
  readonly #log = new MemberEventLog();
  #localUnreachable = new Set<string>();
  #monitored = new Set<string>();
  /** When this node first held each removed member's row as removed (its clock). */
  readonly #removedSince = new Map<string, number>();
  readonly #peers: PeerLinks;
  /** The unreachable members at the last report (a member that goes down leaves the verdict). */
  #lastUnreachable: ReadonlySet<string> = new Set<string>();
  #mayForm = false;
  #joinRounds = 0;
  /** Whether a state from another member held this one (it was let in, in Akka's terms). */
  #knownByPeer = false;
  #tick: TimerHandle | undefined;
  #joinTimer: TimerHandle | undefined;
  #joinDeadline: TimerHandle | undefined;
  #joinAbort = new AbortController();
  #stopped = false;
  #closed = false;
  #joined = deferred();
  #waiters: { test: () => boolean; resolve: () => void }[] = [];

  constructor(settings: DriverSettings) {
    this.#s = settings;
    this.#node = settings.node;
    this.#peers = new PeerLinks(settings.node);
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
    this.#bridge = new HeartbeatBridge(
      this.#node.extension(HEARTBEAT_EXTENSION),
      this.#peers,
      this.selfKey,
      (from, message) => this.#monitor.receive(from, message),
      () => !this.#stopped,
    );
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
        send: (to, message) => this.#bridge.send(to, message),
        onReachability: (subject, reachable) => {
          if (reachable) this.#localUnreachable.delete(subject);
          else this.#localUnreachable.add(subject);
          try {
            if (this.#report()) {
              this.#afterChange();
              this.#pushVerdict(subject);
            }
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
    return {
      node: row.node,
      address: row.address,
      incarnation: row.incarnation,
      status: row.status,
      roles: row.roles,
      upNumber: row.upNumber,
      reachable: !this.#unreachable.has(key),
    };
  }

  phi(row: ClusterMember): number | undefined {
    return this.#monitor.phi?.(memberKey(row));
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
    let incoming: StateParts;
    try {
      incoming = decodeParts(message.state, this.#state);
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
    // A peer whose state holds this member knows of it (see #joinRound).
    if (incoming.members.has(this.selfKey)) this.#knownByPeer = true;
    const { state: mergedState, sameAsIncoming } = mergeIncoming(
      this.#state,
      incoming,
    );
    const merged = markSeen(mergedState, this.selfKey);
    const changed = merged.digest !== this.#state.digest ||
      merged.seen.size !== this.#state.seen.size;
    this.#state = merged;
    if (changed) this.#afterChange();
    if (message.reply && !sameAsIncoming) {
      this.#sendState(fromNode, false);
    }
  }

  /** Whether the state has a member of each of `nodes`. */
  #holdsAll(nodes: readonly string[]): boolean {
    const held = new Set<string>();
    for (const row of this.#state.members.values()) held.add(row.node);
    return nodes.every((node) => held.has(node));
  }

  heartbeat(
    envelope: HeartbeatEnvelope,
    fromNode: string,
  ): HeartbeatPayload | null {
    return this.#bridge.answer(envelope, fromNode);
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
      // Only a cluster moves members up: a state in which nobody was ever up is a set of
      // joiners, and joiners that met each other (seeds started before the first one) must
      // not form a second cluster. Only the node allowed to form one (the first seed, when
      // no other answers) may take the first step.
      if (!this.#mayForm && !hasBeenUp(this.#state)) break;
      const next = hasBeenUp(this.#state)
        ? leaderActions(
          this.#state,
          this.#unreachable,
          this.selfKey,
          this.#s.wallClock(),
        )
        : formCluster(this.#state, this.selfKey);
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
    let removed = 0;
    for (const [key, row] of this.#state.members) {
      if (!isLive(row)) {
        if (row.status === "removed") {
          removed++;
          if (!this.#removedSince.has(key)) {
            this.#removedSince.set(key, this.#clock.now());
          }
        }
        continue;
      }
      live.push(key);
      if (same && !this.#monitored.has(key)) same = false;
    }
    if (this.#removedSince.size > removed) {
      // Tombstones pruned meanwhile.
      for (const key of this.#removedSince.keys()) {
        if (!this.#state.members.has(key)) this.#removedSince.delete(key);
      }
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
    // Whether a member that just went down was unreachable (down members leave the verdict).
    const wasUnreachable = this.#lastUnreachable;
    this.#lastUnreachable = this.#unreachable;
    const { events, lost, leader } = this.#log.next(
      this.#state,
      this.#unreachable,
      this.selfKey,
      (key) => this.member(key)!,
    );
    this.#leader = leader;
    for (const event of events) this.#emit(event);
    for (const row of lost) this.#lost(row, wasUnreachable);
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
      if (self.status === "down" || !this.#log.selfWasLeaving) {
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

  /**
   * A member went down or was removed. The leader tells it (so it stops, should it still run).
   * Its node is disconnected (asks in flight fail, remote death watch fires for its actors, no
   * reconnect) once it is removed, or at once when it is down and unreachable; a down member
   * that is still reachable keeps its connection until removed, so it can hear that it is down.
   * A node name that has a live member again (a restarted process) is not disconnected.
   */
  #lost(row: MemberRow, wasUnreachable: ReadonlySet<string>): void {
    const key = memberKey(row);
    if (key === this.selfKey) return;
    if (this.#leader === this.selfKey && this.#peers.isConnected(row.node)) {
      this.#sendState(row.node, false);
    }
    if (row.node === this.#node.node) return;
    if (row.status === "down" && !wasUnreachable.has(key)) return;
    for (const other of this.#state.members.values()) {
      if (other.node === row.node && isLive(other)) return;
    }
    this.#peers.disconnect(
      row.node,
      `cluster member ${key} is ${row.status}`,
    );
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
    this.#peers.close();
    this.#joinAbort.abort();
    for (const callback of this.#stopListeners) callback();
    this.#stopListeners.clear();
  }

  // ---- gossip ----

  #scheduleTick(): void {
    if (this.#stopped) return;
    this.#tick = this.#clock.setTimer(() => {
      this.#tick = undefined;
      this.#pruneTombstones();
      this.#gossipRound();
      this.#scheduleTick();
    }, this.#s.gossipIntervalMs);
  }

  /**
   * The leader, on a converged state, drops the tombstones of members removed at least
   * `pruneTombstonesAfterMs` ago (see `prunableThrough`); the others drop them as the new
   * watermark reaches them.
   */
  #pruneTombstones(): void {
    if (this.#stopped || this.#leader !== this.selfKey) return;
    if (!isConverged(this.#state, this.#unreachable)) return;
    const through = prunableThrough(
      this.#state,
      (key) => this.#removedSince.get(key),
      this.#clock.now(),
      this.#s.pruneTombstonesAfterMs,
      this.#s.wallClock(),
    );
    if (through <= this.#state.prunedThrough) return;
    this.#state = pruneRemoved(this.#state, through, this.selfKey);
    this.#afterChange();
  }

  /** Refreshes the connections, and dials the failure detector's subjects when needed. */
  #refreshPeers(): void {
    this.#peers.refresh();
    for (const key of this.#monitor.subjects()) this.#reach(key);
  }

  /** Runs `send` once the member's node is connected (see PeerLinks.reach). */
  #reach(key: string, send?: (node: string) => void): void {
    const row = this.#state.members.get(key);
    if (row === undefined || !isLive(row) || key === this.selfKey) return;
    this.#peers.reach(row.node, row.address, (node) => {
      if (!this.#stopped) send?.(node);
    });
  }

  /**
   * Sends this node's state at once to the other monitors of `subject`, whose verdict changed
   * here. A member is found unreachable only when a second monitor agrees, and the monitors
   * would otherwise learn each other's flags on the gossip tick, one random member at a time:
   * that wait added up to two gossip intervals to detection (real processes, 20 SIGKILLs: max
   * 4.0 s). With the push, every monitor holds two flags as soon as its own detector fires.
   */
  #pushVerdict(subject: string): void {
    if (this.#stopped) return;
    const ring = new MonitorRing(
      [...this.#monitored].sort(),
      this.#s.monitoredBy ?? DEFAULT_FAILURE_DETECTOR_SETTINGS.monitoredBy,
    );
    for (const key of ring.observersOf(subject)) {
      if (key === this.selfKey || this.#localUnreachable.has(key)) continue;
      this.#reach(key, (node) => this.#sendState(node, false));
    }
  }

  #gossipRound(): void {
    if (this.#stopped) return;
    this.#refreshPeers();
    const picked = pickGossipTargets(
      this.#state,
      this.selfKey,
      this.#s.fanOut,
      this.#s.random,
      this.#localUnreachable,
    );
    for (const key of picked) {
      this.#reach(key, (node) => this.#sendStatus(node));
    }
  }

  #sendStatus(node: string): void {
    this.#send(node, {
      t: "status",
      to: node,
      from: this.selfKey,
      digest: this.#state.digest,
      seen: encodeKeys(this.#state, this.#state.seen),
    });
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
    } catch {
      // Not connected or not a member node: gossip is retried next round anyway.
    }
  }

  // ---- joining ----

  async #joinRound(): Promise<void> {
    const self = () => this.#state.members.get(this.selfKey)!;
    if (this.#stopped || self().status !== "joining") return;
    try {
      const round = await joinRound(
        this.#s.discovery,
        this.#node,
        this.#peers,
        this.#joinAbort.signal,
      );
      // One seed per round (in turn) gets this node's state and answers with the cluster's: a
      // joiner costs the seeds one full state per round, not one per seed.
      const { reached } = round;
      if (round.firstIsSelf) {
        // The first seed asks every node it reached, each round: it may form a cluster only
        // once all of them have answered (a round later) and none of them was ever up.
        if (!this.#stopped) {
          for (const node of reached) this.#sendState(node, true);
        }
      } else if (reached.length > 0 && !this.#stopped) {
        // Once a peer has this member in its state, the round's message is a status: the seed
        // answers with its full state only when it differs, and asks for this node's only when
        // it lacks something. Joiners sending their full state every round, each answered
        // with the seed's, made the seeds' work in a join storm quadratic.
        const seed = reached[this.#joinRounds % reached.length];
        if (this.#knownByPeer) this.#sendStatus(seed);
        else this.#sendState(seed, true);
      }
      this.#joinRounds++;
      // Once every node it reached has answered (a member answers a first seed's state with
      // its own) and none was ever up, or once some stayed silent for SILENT_SEED_ROUNDS
      // rounds (nodes running no cluster yet: Akka's seed-node timeout). Forming a round
      // after reaching them, answered or not, let a restarted first seed whose peers answered
      // slowly form a cluster of its own with the lowest up number: leadership and the
      // singletons moved to the newest process.
      const firstSeedMayForm = round.firstIsSelf && this.#joinRounds > 1 &&
        !hasBeenUp(this.#state) &&
        (this.#holdsAll(reached) || this.#joinRounds > SILENT_SEED_ROUNDS);
      if (!this.#mayForm && (round.mayForm || firstSeedMayForm)) {
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
