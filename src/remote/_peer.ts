// The sending side of an association with one node: the connection this node dialed to it
// (dialed again with backoff when lost, following the node when it moves), the outbox of what
// waits for that connection, tells, requests and their answers, and the proxies of watched
// actors. Everything this node sends to the node goes over that one connection, so messages
// from one sender stay in order.
import type { Line } from "../backplane/mod.ts";
import type { Handshaken } from "./_handshakes.ts";
import type { Link } from "./_link.ts";
import { Outbox, type Queued } from "./_outbox.ts";
import { Redial } from "./_redial.ts";
import { goneLine, WatchProxies } from "./_remote_watch.ts";
import { type Request, RequestTable } from "./_requests.ts";
import type { NodeContext } from "./_settings.ts";
import { type GiveUpReason, TellBatcher } from "./_tell_batcher.ts";
import { NodeUnreachableError, RemoteFailureError } from "./errors.ts";
import {
  encodeMessage,
  type RemoteMessage,
  type UnwatchMessage,
  type WatchMessage,
} from "./protocol/mod.ts";

/** A node's internal counts, summed over its associations (see RemoteNodeCounts). */
export interface PeerCounts {
  watchProxies: number;
  stoppedPaths: number;
  watchedForOthers: number;
  buffered: number;
  pendingRequests: number;
  reconnectTimers: number;
}

/** Called when the connection comes up (`reason` undefined) or goes down (with why). */
export type OutboundChange = (reason?: string) => void;

export class Peer {
  readonly owner: NodeContext;
  readonly node: string;
  /** Where the node is dialed; {@linkcode Peer.adopt} and the association move it. */
  address: string;
  readonly requests: RequestTable;
  #link: Link | null = null;
  /** Where #link was dialed (`address` may have moved on since). */
  #linkAddress = "";
  readonly #redial: Redial;
  readonly #outbox = new Outbox();
  readonly #tells: TellBatcher;
  /** The proxies of watched actors on the node, and which of its actors are known stopped. */
  readonly watches: WatchProxies;
  readonly #changed: OutboundChange;
  #shutdown = false;
  /**
   * Why nothing goes out to the node now: this node is closing, or it disconnected the node
   * (RemoteNode.disconnect); `null` while messages go out or wait for the connection.
   */
  #refusing: string | null = null;
  /** The extensions the node announced in its last handshake, either way. */
  extensions: ReadonlySet<string> = new Set();

  constructor(
    owner: NodeContext,
    node: string,
    address: string,
    changed: OutboundChange,
  ) {
    this.owner = owner;
    this.node = node;
    this.address = address;
    this.#changed = changed;
    this.requests = new RequestTable(owner.clock);
    this.watches = new WatchProxies(node, (message) => this.#control(message));
    this.#redial = new Redial(owner, this);
    this.#tells = new TellBatcher(this, this.#outbox);
  }

  get connected(): boolean {
    return this.#link !== null && !this.#link.closed;
  }

  /** The connection, when it is up. */
  get liveLink(): Link | null {
    const link = this.#link;
    return link !== null && !link.closed ? link : null;
  }

  /** Why nothing goes out now (see #refusing), for the Redial. */
  get refusing(): string | null {
    return this.#refusing;
  }

  /** Whether something waits for the connection. */
  get waiting(): boolean {
    return !this.#outbox.empty || this.#tells.count > 0;
  }

  /**
   * Takes a connection dialed at `address`. A second connection to the same address is closed
   * (order stays on one connection); one at another address means the node moved (a process
   * restarted elsewhere): the old connection is dropped, and reconnects go to the new address.
   * After {@linkcode Peer.disconnect}, this (an explicit connect()) associates again.
   */
  adopt({ link, extensions }: Handshaken, address: string): void {
    if (this.#shutdown) {
      link.close("node closing");
      return;
    }
    this.#refusing = null;
    const old = this.#link;
    if (old !== null && !old.closed) {
      if (address === this.#linkAddress) {
        link.close("duplicate connection");
        return;
      }
      old.onClose = null;
      old.close(`node "${this.node}" moved to ${address}`);
      this.#link = null;
      const reason = `it moved from ${this.#linkAddress} to ${address}`;
      this.#drop(new NodeUnreachableError(this.node, reason));
      this.#changed(reason);
    }
    this.address = address;
    this.#linkAddress = address;
    this.extensions = extensions;
    this.#redial.reset();
    this.#link = link;
    link.onMessage = (m) => this.#onMessage(m);
    link.onReply = (reply) =>
      this.#onReply(
        reply.id,
        reply.buf,
        reply.payloadStart,
        reply.payloadEnd,
      );
    link.onClose = (error) => this.#lost(link, error);
    // Sends what waited for the connection; what cannot go out is accounted for.
    this.#outbox.replay(
      link,
      this.node,
      (id) => this.requests.peek(id) !== undefined,
      (entry, error, reason) => this.give(entry, error, reason),
    );
    this.#tells.schedule();
    this.#changed();
  }

  /** Gives up on a queued entry: its tells become dead letters, its request fails. */
  give(entry: Queued, error: unknown, reason: GiveUpReason): void {
    switch (entry.kind) {
      case "tells":
        for (let i = 0; i < entry.tells.length; i++) {
          this.owner.deadLetter(
            this.node,
            entry.tells[i].recipient,
            entry.tells[i].type,
            entry.payloads[i],
            reason,
          );
        }
        return;
      case "request":
        this.requests.fail(entry.id, error);
        return;
      case "watch":
        this.watches.failed(entry.target, error);
        return;
      case "unwatch":
      case "extension":
        return;
    }
  }

  /** Has the node dialed (see Redial.dial). */
  dial(): void {
    this.#redial.dial();
  }

  #lost(link: Link, error: unknown): void {
    if (this.#link !== link) return;
    this.#link = null;
    if (this.#refusing !== null) return;
    this.failed(new NodeUnreachableError(this.node, "connection lost", error));
    this.#changed(
      `connection lost: ${error instanceof Error ? error.message : error}`,
    );
  }

  /** A dial failed or the connection was lost: fail what waits, then back off. */
  failed(error: unknown): void {
    this.#drop(error);
    if (this.#refusing === null) this.#redial.arm();
  }

  /**
   * What a connection carried is gone with it: requests fail, watchers are told, and only tells
   * stay queued (a request or watch waiting in the outbox was failed just now).
   */
  #drop(error: unknown): void {
    this.requests.failAll(error);
    this.#outbox.keepTells();
    this.watches.disconnectAll(error);
  }

  /** This node closes: the tells of the batch still go out on a live connection, then #end. */
  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    if (this.connected) this.#tells.flush();
    this.#end("this node is closing", "node closing");
    this.requests.close();
  }

  /**
   * Ends the association on purpose (RemoteNode.disconnect): a goodbye with `reason`, what waits
   * fails with it, and no reconnect until adopt() (an explicit connect()).
   */
  disconnect(reason: string): void {
    if (this.#shutdown) return;
    if (this.#refusing !== null && this.#link === null) {
      this.#refusing = reason;
      return;
    }
    this.#end(reason, reason);
  }

  /** Closes the connection with a goodbye and fails everything that waits, with `reason`. */
  #end(reason: string, goodbye: string): void {
    this.#refusing = reason;
    this.#redial.reset();
    const error = new NodeUnreachableError(this.node, reason);
    const link = this.#link;
    this.#link = null;
    if (link !== null && !link.closed) {
      link.onClose = null;
      link.sendAndClose(
        { kind: "goodbye", reason: goodbye },
        goodbye,
        this.owner.clock,
      );
    }
    this.requests.failAll(error);
    this.#tells.discardAll(error);
    this.watches.disconnectAll(error);
    this.#changed(reason);
  }

  heartbeat(): void {
    this.watches.sweep();
    this.liveLink?.beat(this.owner.settings, this.node, true);
  }

  /** Adds this peer's share of the node's internal counts. */
  count(counts: PeerCounts): void {
    counts.watchProxies += this.watches.size;
    counts.stoppedPaths += this.watches.stoppedCount;
    counts.buffered += this.#outbox.count + this.#tells.count;
    counts.pendingRequests += this.requests.size;
    if (this.#redial.armed) counts.reconnectTimers++;
  }

  // ---- sending -----------------------------------------------------------------------------

  tell(path: string, type: string, payload: unknown): void {
    if (this.#refusing !== null) {
      this.owner.deadLetter(this.node, path, type, payload);
      return;
    }
    const tracer = this.owner.system.tracer;
    this.#tells.add(
      path,
      type,
      payload,
      tracer === null ? undefined : tracer.traceparent(tracer.capture()),
    );
  }

  /** Sends a request and waits for its answer. */
  request(request: Request, timeoutMs: number | undefined): Promise<unknown> {
    if (this.#refusing !== null) {
      return Promise.reject(
        new NodeUnreachableError(this.node, this.#refusing),
      );
    }
    const timeout = timeoutMs ?? this.owner.system.askTimeoutMs;
    if (!(timeout > 0) || !Number.isFinite(timeout)) {
      return Promise.reject(
        new RangeError(
          `Invalid timeout ${String(timeoutMs)}: must be a finite number > 0`,
        ),
      );
    }
    const promise = this.requests.open(request, timeout);
    const id = request.id;
    this.#tells.flush(); // tells sent before it go first (and before it is encoded)
    try {
      const link = this.liveLink;
      if (link !== null) {
        const frame = request.encodeRange(id);
        this.#sendLive(link, frame.buf, frame.start, frame.end);
      } else {
        // A copy: the encoding may be a view of a reused buffer.
        this.#queue({ kind: "request", frame: request.encode(id).slice(), id });
      }
    } catch (error) {
      this.requests.fail(id, error);
    }
    request.sent();
    return promise;
  }

  /** Whether the node announced the extension `name` in its last handshake. */
  supports(name: string): boolean {
    return this.extensions.has(name);
  }

  /**
   * Sends an encoded message that expects no answer (an extension's), after the tells told
   * before it; while there is no connection it waits in the outbox, like a request.
   *
   * @throws {NodeUnreachableError} When the node is not reachable (see #send).
   * @throws {FrameTooLargeError} When it is over the frame limit.
   */
  sendOneWay(frame: Uint8Array): void {
    if (this.#refusing !== null) {
      throw new NodeUnreachableError(this.node, this.#refusing);
    }
    this.#tells.flush(); // tells sent before it go first
    const link = this.liveLink;
    if (link !== null) this.#sendLive(link, frame, 0, frame.byteLength);
    else this.#queue({ kind: "extension", frame });
  }

  /**
   * Sends a frame, bytes `start..end` of `buf`, on the live connection.
   *
   * @throws {NodeUnreachableError} When the send buffer is full.
   * @throws {FrameTooLargeError} When it is over the frame limit.
   */
  #sendLive(link: Link, buf: Uint8Array, start: number, end: number): void {
    if (!link.fits(end - start)) {
      throw new NodeUnreachableError(
        this.node,
        "the send buffer to it is full",
      );
    }
    link.sendRange(buf, start, end);
  }

  /**
   * Queues a request's or a one-way message's frame while there is no connection (its size
   * checked now, so the replay cannot fail on it).
   *
   * @throws {NodeUnreachableError} When too much waits for the connection.
   * @throws {FrameTooLargeError} When it is over the frame limit.
   */
  #queue(entry: Queued & { kind: "request" | "extension" }): void {
    if (this.#outbox.count >= this.owner.settings.maxBufferedMessages) {
      throw new NodeUnreachableError(
        this.node,
        "too many messages are waiting for the connection",
      );
    }
    this.#outbox.push(entry, this.owner.settings.maxFrameBytes);
    this.#redial.dial();
  }

  // ---- death watch -------------------------------------------------------------------------

  /**
   * The line of the proxy device for the actor at `path` (see WatchProxies.line); once the
   * association ended, a line that is already disconnected.
   */
  watchLine(path: string): Line {
    return this.#refusing === null
      ? this.watches.line(path)
      : goneLine(new NodeUnreachableError(this.node, this.#refusing));
  }

  /** Whether the actor at `path` is known to have stopped (a ref's `stopped`). */
  isStopped(path: string): boolean {
    return this.watches.isStopped(path);
  }

  /** Sends a Watch or Unwatch, or queues it while there is no connection. */
  #control(message: WatchMessage | UnwatchMessage): void {
    if (this.#refusing !== null) return;
    const link = this.liveLink;
    try {
      const frame = encodeMessage(message);
      if (link !== null) link.sendEncoded(frame);
      else {
        this.#outbox.push(
          { kind: message.kind, frame, target: message.target },
          this.owner.settings.maxFrameBytes,
        );
        this.#redial.dial();
      }
    } catch (error) {
      // Too large to ever go out (or the connection closed under us, which told the watchers).
      if (message.kind === "watch") this.watches.failed(message.target, error);
    }
  }

  // ---- receiving -----------------------------------------------------------------------------

  /** A Reply to request `id`, its payload bytes `start..end` of `buf` (`start` -1: none). */
  #onReply(id: number, buf: Uint8Array, start: number, end: number): void {
    if (this.watches.stoppedCount > 0) {
      const target = this.requests.peek(id)?.target;
      if (target !== undefined) this.watches.markRunning(target);
    }
    this.requests.answer(id, buf, start, end);
  }

  #onMessage(message: RemoteMessage): void {
    switch (message.kind) {
      case "reply":
        this.#onReply(
          message.id,
          message.payload,
          0,
          message.payload.byteLength,
        );
        return;
      case "failure":
        if (message.code === "ACTOR_STOPPED") {
          const target = this.requests.peek(message.id)?.target;
          if (target !== undefined) this.watches.markStopped(target);
        }
        this.requests.fail(
          message.id,
          new RemoteFailureError(
            this.node,
            message.code,
            message.name,
            message.message,
          ),
        );
        return;
      case "pong":
        return;
      case "terminated":
        this.watches.terminated(message);
        return;
      case "goodbye":
        this.#link?.close(
          `node "${this.node}" said goodbye: ${message.reason}`,
        );
        return;
      default:
        this.#link?.close(
          `unexpected "${message.kind}" from node "${this.node}"`,
          new RemoteFailureError(
            this.node,
            "MALFORMED_FRAME",
            "ProtocolError",
            `unexpected ${message.kind}`,
          ),
        );
    }
  }
}
