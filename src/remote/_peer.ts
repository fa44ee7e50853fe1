// The dialing side of an association with one node: the connection this node made to it
// (redialled with backoff when lost, following the node when it moves), the outbox of what
// waits for that connection, tell batching, requests and the proxies of watched actors.
import type { Line } from "../backplane/mod.ts";
import { Device, errorFault } from "../backplane/mod.ts";
import type { TimerHandle } from "../platform/mod.ts";
import type { Link } from "./_link.ts";
import { Outbox, type Queued } from "./_outbox.ts";
import { WatchProxies } from "./_remote_watch.ts";
import { EMPTY_BODY, type Request, RequestTable } from "./_requests.ts";
import type { NodeContext } from "./_settings.ts";
import {
  isFrameTooLargeError,
  NodeUnreachableError,
  RemoteFailureError,
} from "./errors.ts";
import {
  decodeMessage,
  encodeMessage,
  type RemoteMessage,
  type Tell,
  TellBatchWriter,
  type UnwatchMessage,
  type WatchMessage,
} from "./protocol/mod.ts";

const TELLS_PER_FRAME = 4096;
const BYTES_PER_FRAME = 256 * 1024;
/** The envelope and a tell's tags and length prefixes, at most. */
const TELL_OVERHEAD_BYTES = 64;

/** A peer's share of a node's internal counts (see RemoteNodeCounts). */
export interface PeerCounts {
  watchProxies: number;
  stoppedPaths: number;
  watchedForOthers: number;
  buffered: number;
  pendingRequests: number;
  reconnectTimers: number;
}

export class Peer {
  readonly owner: NodeContext;
  readonly node: string;
  /** Where the node was last reached; {@linkcode NodeCore.connect} moves it. */
  address: string;
  readonly requests: RequestTable;
  #link: Link | null = null;
  #connecting = false;
  #attempt = 0;
  #retry: TimerHandle | null = null;
  readonly #outbox = new Outbox();
  /** Tells not sent yet, encoded as they come; their values are kept for dead letters. */
  readonly #batch = new TellBatchWriter();
  #sendBufferFull = false;
  #tellPayloads: unknown[] = [];
  #flushScheduled = false;
  readonly #watches: WatchProxies;
  #shutdown = false;
  /**
   * Why nothing goes out to the node now: this node is closing, or it disconnected the node
   * (RemoteNode.disconnect); `null` while messages go out or wait for the connection.
   */
  #refusing: string | null = null;
  /** Whether the listeners of RemoteNode.onPeerChange last heard "connected". */
  #reportedConnected = false;
  /** The extensions the node announced when last connected. */
  #extensions: ReadonlySet<string> = new Set();

  constructor(owner: NodeContext, node: string, address: string) {
    this.owner = owner;
    this.node = node;
    this.address = address;
    this.requests = new RequestTable(owner.clock);
    this.#watches = new WatchProxies(node, (message) => this.#control(message));
  }

  get connected(): boolean {
    return this.#link !== null && !this.#link.closed;
  }

  /**
   * Takes a connection dialled at `address`. A second connection to the same address is closed
   * (order stays on one connection); one at another address means the node moved (a process
   * restarted elsewhere): the old connection is dropped, and reconnects go to the new address.
   */
  adopt(link: Link, address: string, extensions: ReadonlySet<string>): void {
    if (this.#shutdown) {
      link.close("node closing");
      return;
    }
    // An explicit connect() after disconnect() associates again.
    this.#refusing = null;
    const old = this.#link;
    if (old !== null && !old.closed) {
      if (address === this.address) {
        link.close("duplicate connection");
        return;
      }
      old.onClose = null;
      old.close(`node "${this.node}" moved to ${address}`);
      this.#link = null;
      const reason = `it moved from ${this.address} to ${address}`;
      this.#drop(new NodeUnreachableError(this.node, reason));
      this.#report(false, reason);
    }
    this.address = address;
    this.#extensions = extensions;
    this.#cancelRetry();
    this.#link = link;
    this.#attempt = 0;
    link.onMessage = (m) => this.#onMessage(m);
    link.onClose = (error) => this.#lost(link, error);
    this.#replay(link);
    this.#scheduleFlush();
    this.#report(true);
  }

  /** Tells the listeners of RemoteNode.onPeerChange, once per change. */
  #report(connected: boolean, reason?: string): void {
    if (this.#reportedConnected === connected) return;
    this.#reportedConnected = connected;
    this.owner.peerChanged({
      node: this.node,
      address: this.address,
      connected,
      ...(reason === undefined ? {} : { reason }),
    });
  }

  /** Sends what waited for the connection. Never throws: what cannot go out is accounted for. */
  #replay(link: Link): void {
    this.#outbox.replay(
      link,
      this.node,
      (id) => this.requests.peek(id) !== undefined,
      (entry, error, reason) => this.#give(entry, error, reason),
    );
  }

  /** Gives up on a queued entry: its tells become dead letters, its request fails. */
  #give(
    entry: Queued,
    error: unknown,
    reason: "node-unreachable" | "mailbox-full",
  ): void {
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
        this.#watches.failed(entry.target, error);
        return;
      case "unwatch":
      case "extension":
        return;
    }
  }

  #cancelRetry(): void {
    if (this.#retry !== null) this.owner.clock.clearTimer(this.#retry);
    this.#retry = null;
  }

  #ensureConnecting(): void {
    if (
      this.connected || this.#connecting || this.#retry !== null ||
      this.#refusing !== null
    ) return;
    this.#connecting = true;
    const address = this.address;
    this.owner.dial(address, this.node).then(
      ({ link, peerNode, extensions }) => {
        this.#connecting = false;
        if (this.#refusing !== null) {
          link.close(this.#refusing);
          return;
        }
        if (peerNode !== this.node) {
          link.close("wrong node");
          this.#failed(
            new NodeUnreachableError(
              this.node,
              `the node at ${address} is now "${peerNode}"`,
            ),
          );
          return;
        }
        if (address !== this.address) {
          // connect() moved the node meanwhile: this connection is to where it was.
          link.close("node moved");
          if (!this.connected) this.#ensureConnecting();
          return;
        }
        this.adopt(link, address, extensions);
      },
      (error) => {
        this.#connecting = false;
        // connect() may have succeeded meanwhile: then nothing failed.
        if (this.connected || this.#refusing !== null) return;
        this.#failed(
          error instanceof Error
            ? new NodeUnreachableError(this.node, error.message, error)
            : error,
        );
      },
    );
  }

  #lost(link: Link, error: unknown): void {
    if (this.#link !== link) return;
    this.#link = null;
    if (this.#refusing !== null) return;
    this.#failed(new NodeUnreachableError(this.node, "connection lost", error));
    this.#report(
      false,
      `connection lost: ${error instanceof Error ? error.message : error}`,
    );
  }

  /** A connection attempt failed or the connection was lost: fail what waits, then retry. */
  #failed(error: unknown): void {
    this.#drop(error);
    if (this.#refusing !== null) return;
    const { minMs, maxMs, jitter = 0 } = this.owner.settings.reconnect;
    const delay = Math.min(maxMs, minMs * 2 ** this.#attempt++) *
      (1 + jitter * Math.random());
    // One reconnect timer at a time: a stale one would dial at the wrong time.
    this.#cancelRetry();
    this.#retry = this.owner.clock.setTimer(() => {
      this.#retry = null;
      // Reconnect only when something is waiting to be sent.
      if (!this.#outbox.empty || this.#batch.count > 0) {
        this.#ensureConnecting();
      }
    }, delay);
  }

  /**
   * What a connection carried is gone with it: requests fail, watchers are told, and only tells
   * stay queued (a request or watch waiting in the outbox was failed just now).
   */
  #drop(error: unknown): void {
    this.requests.failAll(error);
    this.#outbox.keepTells();
    this.#watches.disconnectAll(error);
  }

  shutdown(): void {
    if (this.#shutdown) return;
    this.#shutdown = true;
    const link = this.#link;
    // Tells told before close() still go out on a live connection.
    if (link !== null && !link.closed) this.#flush();
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
    this.#cancelRetry();
    this.#attempt = 0;
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
    this.#discardBuffered(reason);
    this.#watches.disconnectAll(error);
    this.#report(false, reason);
  }

  /** Every tell still buffered becomes a dead letter (`node-unreachable`), and is logged. */
  #discardBuffered(why: string): void {
    let dropped = 0;
    for (const entry of this.#outbox.take()) {
      if (entry.kind === "tells") dropped += entry.tells.length;
      this.#give(
        entry,
        new NodeUnreachableError(this.node, why),
        "node-unreachable",
      );
    }
    if (this.#batch.count > 0) {
      const payloads = this.#tellPayloads;
      const tells = this.#takeTells();
      dropped += tells.length;
      this.#give(
        { kind: "tells", frame: EMPTY_BODY, tells, payloads },
        undefined,
        "node-unreachable",
      );
    }
    if (dropped > 0) {
      this.owner.logger.error(
        `${dropped} tells for node "${this.node}" became dead letters`,
        new NodeUnreachableError(this.node, why),
      );
    }
  }

  heartbeat(): void {
    this.#watches.sweep();
    const link = this.#link;
    if (link === null || link.closed) return;
    const s = this.owner.settings;
    if (!link.tick(s.heartbeatIntervalMs, s.heartbeatTimeoutMs, this.node)) {
      return;
    }
    if (!link.sentSinceTick) {
      try {
        link.send({ kind: "ping", id: 0 });
      } catch {
        // The connection closed under us: its close handler took care of it.
      }
    }
    link.sentSinceTick = false;
  }

  /** Adds this peer's share of the node's internal counts. */
  count(counts: PeerCounts): void {
    counts.watchProxies += this.#watches.size;
    counts.stoppedPaths += this.#watches.stoppedCount;
    counts.buffered += this.#outbox.count + this.#batch.count;
    counts.pendingRequests += this.requests.size;
    if (this.#retry !== null) counts.reconnectTimers++;
  }

  // ---- sending -----------------------------------------------------------------------------

  tell(path: string, type: string, payload: unknown): void {
    if (this.#refusing !== null) {
      this.owner.deadLetter(this.node, path, type, payload);
      return;
    }
    const codecs = this.owner.codecs;
    const codec = codecs.nameFor(type);
    // JSON goes into the batch as text: no buffer of its own per tell.
    const text = codecs.jsonText(codec, type, payload);
    const body = text ?? codecs.encode(codec, type, payload);
    const batch = this.#batch;
    if (batch.count > 0) {
      // Keep the batch within the frame limit: only a tell over it on its own is refused.
      const bound = batch.byteLength + TELL_OVERHEAD_BYTES + body.length * 3 +
        (path.length + type.length + codec.length) * 3;
      if (bound > this.owner.settings.maxFrameBytes) this.#flush();
    }
    batch.add(path, type, codec, body);
    this.#tellPayloads.push(payload);
    // Bounded frames: a burst of tells never makes one oversized frame.
    if (
      batch.count >= TELLS_PER_FRAME || batch.byteLength >= BYTES_PER_FRAME
    ) {
      this.#flush();
    } else {
      this.#scheduleFlush();
    }
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#batch.count === 0) return;
    this.#flushScheduled = true;
    queueMicrotask(this.#flushTask);
  }

  readonly #flushTask = (): void => {
    this.#flushScheduled = false;
    this.#flush();
  };

  #flush(): void {
    const batch = this.#batch;
    if (batch.count === 0) return;
    const payloads = this.#tellPayloads;
    const link = this.#link;
    if (link !== null && !link.closed) {
      const frame = batch.finish();
      if (!link.fits(frame.byteLength)) {
        // The network is slower than the producer: refuse what does not fit, as a bounded
        // mailbox does, instead of buffering without bound or losing the connection.
        if (!this.#sendBufferFull) {
          this.#sendBufferFull = true;
          this.owner.logger.error(
            `Send buffer to node "${this.node}" is full; tells become dead letters until it drains`,
            undefined,
          );
        }
        const tells = this.#takeTells();
        this.#give(
          { kind: "tells", frame: EMPTY_BODY, tells, payloads },
          undefined,
          "mailbox-full",
        );
        return;
      }
      this.#sendBufferFull = false;
      try {
        link.sendEncoded(frame);
        batch.reset();
        this.#tellPayloads = [];
        return;
      } catch (error) {
        if (isFrameTooLargeError(error)) {
          // Over the frame limit, so never sendable: each of them is a dead letter.
          this.owner.logger.error(
            `Dropped ${batch.count} tells for node "${this.node}"`,
            error,
          );
          const tells = this.#takeTells();
          this.#give(
            { kind: "tells", frame: EMPTY_BODY, tells, payloads },
            error,
            "node-unreachable",
          );
          return;
        }
        // The connection closed under us: keep them for the next one, as below.
      }
    }
    // Not connected: keep them (boundedly) for when the connection is back.
    const tells = this.#takeTells();
    const room = Math.max(
      0,
      this.owner.settings.maxBufferedMessages - this.#outbox.count,
    );
    if (room < tells.length) {
      this.#give(
        {
          kind: "tells",
          frame: EMPTY_BODY,
          tells: tells.slice(room),
          payloads: payloads.slice(room),
        },
        undefined,
        "node-unreachable",
      );
    }
    if (room > 0) {
      this.#queueTells(tells.slice(0, room), payloads.slice(0, room));
    }
    this.#ensureConnecting();
  }

  /** Queues tells in frames within the frame limit; a tell over it alone is a dead letter. */
  #queueTells(tells: readonly Tell[], payloads: readonly unknown[]): void {
    this.#outbox.pushTells(
      tells,
      payloads,
      this.owner.settings.maxFrameBytes,
      (entry, error) => {
        this.owner.logger.error(
          `Dropped "${entry.tells[0].type}" for "${
            entry.tells[0].recipient
          }" on node "${this.node}"`,
          error,
        );
        this.#give(entry, error, "node-unreachable");
      },
    );
  }

  /** Empties the batch into Tell objects (for the slow paths: buffering, dead letters). */
  #takeTells(): readonly Tell[] {
    // A copy: the writer's buffer is reused, the payloads are views into it.
    const message = decodeMessage(this.#batch.finish().slice());
    this.#batch.reset();
    this.#tellPayloads = [];
    return message.kind === "tells" ? message.tells : [];
  }

  /**
   * Queues an encoded message (a request or a watch) for the connection. Its size is checked
   * now, so the replay cannot fail on it.
   *
   * @throws {FrameTooLargeError} When it is over the frame limit.
   */
  #queue(entry: Queued): void {
    this.#outbox.push(entry, this.owner.settings.maxFrameBytes);
    this.#ensureConnecting();
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
    this.#flush(); // tells sent before this request go first
    const link = this.#link;
    if (link !== null && !link.closed) {
      try {
        const frame = request.encode(id);
        if (link.fits(frame.byteLength)) link.sendEncoded(frame);
        else {
          this.requests.fail(
            id,
            new NodeUnreachableError(
              this.node,
              "the send buffer to it is full",
            ),
          );
        }
      } catch (error) {
        this.requests.fail(id, error);
      }
    } else if (this.#outbox.count >= this.owner.settings.maxBufferedMessages) {
      this.requests.fail(
        id,
        new NodeUnreachableError(
          this.node,
          "too many messages are waiting for the connection",
        ),
      );
    } else {
      try {
        // A copy: the encoding may be a view of a reused buffer.
        this.#queue({ kind: "request", frame: request.encode(id).slice(), id });
      } catch (error) {
        this.requests.fail(id, error);
      }
    }
    request.sent();
    return promise;
  }

  /** Whether the node announced the extension `name` when last connected. */
  supports(name: string): boolean {
    return this.#extensions.has(name);
  }

  /**
   * Sends an encoded message that expects no answer (an extension's), after the tells told
   * before it; while there is no connection it waits in the outbox, like a request.
   *
   * @throws {NodeUnreachableError} When this node is closing, the send buffer is full, or too
   * much waits for the connection.
   * @throws {FrameTooLargeError} When it is over the frame limit.
   */
  sendOneWay(frame: Uint8Array): void {
    if (this.#refusing !== null) {
      throw new NodeUnreachableError(this.node, this.#refusing);
    }
    this.#flush();
    const link = this.#link;
    if (link !== null && !link.closed) {
      if (!link.fits(frame.byteLength)) {
        throw new NodeUnreachableError(
          this.node,
          "the send buffer to it is full",
        );
      }
      link.sendEncoded(frame);
    } else if (this.#outbox.count >= this.owner.settings.maxBufferedMessages) {
      throw new NodeUnreachableError(
        this.node,
        "too many messages are waiting for the connection",
      );
    } else {
      this.#queue({ kind: "extension", frame });
    }
  }

  // ---- death watch -------------------------------------------------------------------------

  /**
   * The line of the proxy device for the actor at `path` (see WatchProxies.line); once this
   * node is closed, a line that is already disconnected.
   */
  watchLine(path: string): Line {
    if (this.#refusing !== null) {
      const gone = new Device();
      gone.disconnect(
        errorFault(new NodeUnreachableError(this.node, this.#refusing)),
      );
      return gone.line;
    }
    return this.#watches.line(path);
  }

  /** Sends a Watch or Unwatch, or queues it while there is no connection. */
  #control(message: WatchMessage | UnwatchMessage): void {
    if (this.#refusing !== null) return;
    const link = this.#link;
    let frame: Uint8Array;
    try {
      frame = encodeMessage(message);
      if (link === null || link.closed) {
        this.#queue({ kind: message.kind, frame, target: message.target });
        return;
      }
      link.sendEncoded(frame);
    } catch (error) {
      // Too large to ever go out (or the connection closed under us, which told the watchers).
      if (message.kind === "watch") {
        this.#give(
          { kind: "watch", frame: EMPTY_BODY, target: message.target },
          error,
          "node-unreachable",
        );
      }
    }
  }

  isStopped(path: string): boolean {
    return this.#watches.isStopped(path);
  }

  /** The actor at `path` answered (or was found, or spawned): it runs. */
  markRunning(path: string): void {
    this.#watches.markRunning(path);
  }

  // ---- receiving -----------------------------------------------------------------------------

  #onMessage(message: RemoteMessage): void {
    switch (message.kind) {
      case "reply":
        if (this.#watches.stoppedCount > 0) {
          const target = this.requests.peek(message.id)?.target;
          if (target !== undefined) this.#watches.markRunning(target);
        }
        this.requests.answer(message.id, message.payload);
        return;
      case "failure":
        if (message.code === "ACTOR_STOPPED") {
          const target = this.requests.peek(message.id)?.target;
          if (target !== undefined) this.#watches.markStopped(target);
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
        this.#watches.terminated(message);
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
