// Messages for entities on other nodes, and their replies, in batches: what the regions of one
// node send to a node in one turn goes out as one extension tell (one frame), in the order
// sent, and the replies come back batched the same way, matched to the waiting asks by id. An
// ask keeps its timeout (TickDeadlines: no timer per ask); a reply after it is ignored. A
// control message to a node is sent after the deliveries queued for it (see `flush`), which the
// hand-off's "flush" relies on.
import { AskTimeoutError, type MessageTracer } from "../../actor/mod.ts";
import {
  type ExtensionChannel,
  NodeUnreachableError,
  RemoteFailureError,
} from "../../remote/mod.ts";
import {
  type Clock,
  type TickDeadline,
  TickDeadlines,
} from "../../timer/mod.ts";
import {
  type Delivery,
  type DeliveryBatch,
  DeliveryWriter,
  type ReplyBatch,
  ReplyWriter,
} from "./_delivery_codec.ts";
import { entityActorId } from "./_entity.ts";
import { ShardingClosedError } from "./errors.ts";

/**
 * A batch is sent at once when it reaches this many messages or bytes (well under the default
 * frame limit of 8 MiB; a frame over a node's `maxFrameBytes` fails the asks in it and drops its
 * tells, logged). A message that would take a batch past the bytes goes in the next batch.
 */
const MESSAGES_PER_FRAME = 4096;
const BYTES_PER_FRAME = 64 * 1024;

/** What the deliveries of one node need of it. */
export interface DeliveriesHost {
  /** This node's name. */
  readonly self: string;
  readonly clock: Clock;
  /** The tracer installed now, if any. */
  tracer(): MessageTracer | null;
  /** Sharding's extension channel. */
  channel(): ExtensionChannel<unknown, unknown>;
  /**
   * Hands a delivery from another node to the local region of its type; the answer to an ask
   * goes to `onValue` or `onError` (undefined for a tell). Throws when it cannot take it.
   */
  inbound(
    delivery: Delivery,
    onValue: ((value: unknown) => void) | undefined,
    onError: ((error: unknown) => void) | undefined,
  ): void;
  /** Reports a problem. */
  logError(message: string, error: unknown): void;
}

/** An ask waiting for its reply from another node. */
class PendingAsk implements TickDeadline {
  deadline = Infinity;
  settled = false;
  constructor(
    readonly id: number,
    readonly node: string,
    /** The sequence number of the batch that carries it. */
    readonly batch: number,
    readonly entityType: string,
    readonly entityId: string,
    readonly type: string,
    readonly timeoutMs: number,
    readonly resolve: (value: unknown) => void,
    readonly reject: (error: unknown) => void,
  ) {}
}

interface Outgoing {
  readonly writer: DeliveryWriter;
  /** Sequence number of the batch being written. */
  batch: number;
}

/** The deliveries of one node to the others, and their replies. */
export class RemoteDeliveries {
  readonly #host: DeliveriesHost;
  readonly #out = new Map<string, Outgoing>();
  readonly #replies = new Map<string, ReplyWriter>();
  readonly #pending = new Map<number, PendingAsk>();
  readonly #deadlines: TickDeadlines<PendingAsk>;
  #nextId = 0;
  #scheduled = false;
  #closed = false;

  constructor(host: DeliveriesHost) {
    this.#host = host;
    this.#deadlines = new TickDeadlines<PendingAsk>(
      host.clock,
      (ask) => this.#expire(ask),
      () => this.#pending.size > 0,
    );
  }

  /** Asks waiting for a reply. */
  get waiting(): number {
    return this.#pending.size;
  }

  /**
   * Queues a tell for an entity on `node`.
   *
   * @throws {NodeUnreachableError} When `node` is not connected with sharding (nothing queued).
   * @throws {TypeError} When the payload is not JSON-serializable.
   */
  tell(
    node: string,
    entityType: string,
    entityId: string,
    type: string,
    payload: unknown,
    traceparent: string | undefined,
  ): void {
    const out = this.#queue(
      node,
      0,
      0,
      entityType,
      entityId,
      type,
      payload,
      traceparent,
    );
    this.#added(node, out);
  }

  /**
   * Queues an ask for an entity on `node`; its promise settles with the reply, or with
   * AskTimeoutError after `timeoutMs`.
   *
   * @throws {NodeUnreachableError} When `node` is not connected with sharding (nothing queued).
   * @throws {TypeError} When the payload is not JSON-serializable.
   */
  ask(
    node: string,
    entityType: string,
    entityId: string,
    type: string,
    payload: unknown,
    timeoutMs: number,
    traceparent: string | undefined,
  ): Promise<unknown> {
    const id = this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    const out = this.#queue(
      node,
      id,
      timeoutMs,
      entityType,
      entityId,
      type,
      payload,
      traceparent,
    );
    const promise = new Promise<unknown>((resolve, reject) => {
      const ask = new PendingAsk(
        id,
        node,
        out.batch,
        entityType,
        entityId,
        type,
        timeoutMs,
        resolve,
        reject,
      );
      this.#pending.set(id, ask);
      this.#deadlines.add(ask, timeoutMs);
    });
    this.#added(node, out);
    return promise;
  }

  /**
   * Adds a message (`id` 0: a tell) to the batch for `node`, sending the batch first when the
   * message does not fit in it (an empty batch takes any message, so a message too large for
   * a batch gets one of its own).
   */
  #queue(
    node: string,
    id: number,
    timeoutMs: number,
    entityType: string,
    entityId: string,
    type: string,
    payload: unknown,
    traceparent: string | undefined,
  ): Outgoing {
    const out = this.#outgoing(node);
    while (
      !out.writer.add(
        id,
        timeoutMs,
        entityType,
        entityId,
        type,
        payload,
        traceparent,
        BYTES_PER_FRAME,
      )
    ) this.#send(node, out);
    return out;
  }

  #outgoing(node: string): Outgoing {
    if (this.#closed) {
      throw new ShardingClosedError(this.#host.self, "cannot send");
    }
    let out = this.#out.get(node);
    if (out === undefined) {
      out = { writer: new DeliveryWriter(), batch: 0 };
      this.#out.set(node, out);
    }
    // Checked once per batch: a node that cannot be sent to now is refused before anything
    // of it is queued, so the region buffers the message and looks the shard up again.
    if (out.writer.count === 0 && !this.#host.channel().supportedBy(node)) {
      throw new NodeUnreachableError(node, "not connected with sharding");
    }
    return out;
  }

  #added(node: string, out: Outgoing): void {
    const writer = out.writer;
    if (
      writer.count >= MESSAGES_PER_FRAME || writer.byteLength >= BYTES_PER_FRAME
    ) {
      this.#send(node, out);
    } else {
      this.#schedule();
    }
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(this.#flushAll);
  }

  readonly #flushAll = (): void => {
    this.#scheduled = false;
    for (const [node, out] of this.#out) {
      if (out.writer.count > 0) this.#send(node, out);
    }
    for (const [node, replies] of this.#replies) {
      if (replies.count > 0) this.#sendReplies(node, replies);
    }
  };

  /** Sends what is queued for `node` now (before a control message to it). */
  flush(node: string): void {
    const out = this.#out.get(node);
    if (out !== undefined && out.writer.count > 0) this.#send(node, out);
  }

  #send(node: string, out: Outgoing): void {
    const count = out.writer.count;
    const batch = out.batch++;
    const encoded = out.writer.take();
    try {
      this.#host.channel().tell(node, encoded);
    } catch (error) {
      // Rare (the batch was checked when it began): the connection is closing, its send
      // buffer is full, or the frame is too large. The batch's asks fail with the error.
      this.#host.logError(
        `Cannot send ${count} messages for entities to node "${node}"`,
        error,
      );
      for (const ask of [...this.#pending.values()]) {
        if (ask.node === node && ask.batch === batch) this.#fail(ask, error);
      }
    }
  }

  /** Deliveries from `from`: each to its region, in order; asks are answered in batches. */
  receive(message: DeliveryBatch, from: string): void {
    const host = this.#host;
    const tracer = host.tracer();
    for (const delivery of message.items) {
      const id = delivery.id;
      let onValue: ((value: unknown) => void) | undefined;
      let onError: ((error: unknown) => void) | undefined;
      if (id !== 0) {
        onValue = (value) => {
          const replies = this.#replyTo(from);
          replies.value(
            id,
            value,
            BYTES_PER_FRAME,
            () => this.#sendReplies(from, replies),
          );
        };
        onError = (error) => this.#replyTo(from).failure(id, error);
      }
      try {
        if (tracer === null) host.inbound(delivery, onValue, onError);
        else {
          tracer.withTraceparent(
            delivery.traceparent,
            () => host.inbound(delivery, onValue, onError),
          );
        }
      } catch (error) {
        if (delivery.id !== 0) this.#replyTo(from).failure(delivery.id, error);
        else {
          host.logError(
            `Cannot deliver "${delivery.type}" to entity ${
              JSON.stringify(delivery.entityId)
            } of "${delivery.entityType}" from node "${from}"`,
            error,
          );
        }
        continue;
      }
    }
    this.#schedule();
  }

  #replyTo(node: string): ReplyWriter {
    let replies = this.#replies.get(node);
    if (replies === undefined) {
      replies = new ReplyWriter();
      this.#replies.set(node, replies);
    }
    if (
      replies.count >= MESSAGES_PER_FRAME ||
      replies.byteLength >= BYTES_PER_FRAME
    ) {
      this.#sendReplies(node, replies);
    }
    this.#schedule();
    return replies;
  }

  #sendReplies(node: string, replies: ReplyWriter): void {
    const count = replies.count;
    const encoded = replies.take();
    try {
      this.#host.channel().tell(node, encoded);
    } catch (error) {
      // The asker's asks then time out there.
      this.#host.logError(
        `Cannot send ${count} replies of entities to node "${node}"`,
        error,
      );
    }
  }

  /** Replies from `from` to asks sent there. */
  settle(message: ReplyBatch, from: string): void {
    const pending = this.#pending;
    for (const reply of message.items) {
      const ask = pending.get(reply.id);
      // Unknown: it timed out already (or the id is not ours).
      if (ask === undefined || ask.node !== from) continue;
      pending.delete(reply.id);
      ask.settled = true;
      if (reply.ok) ask.resolve(reply.value);
      else {
        ask.reject(
          new RemoteFailureError(from, reply.code, reply.name, reply.message),
        );
      }
    }
  }

  /**
   * The connection with `node` was lost: the asks already sent to it fail now with
   * NodeUnreachableError, as remote requests do (their outcome is unknown: the message may have
   * been handled), instead of waiting for their timeout. What is still queued for it stays
   * queued and goes with the next batch (to a reconnected node, or refused there).
   */
  connectionLost(node: string, reason: string | undefined): void {
    const out = this.#out.get(node);
    if (out === undefined) return;
    const sent = out.batch;
    const error = new NodeUnreachableError(
      node,
      reason ?? "the connection was lost",
    );
    for (const ask of [...this.#pending.values()]) {
      if (ask.node === node && ask.batch < sent) this.#fail(ask, error);
    }
  }

  /** A node left the cluster: the asks waiting for it fail now instead of timing out. */
  nodeGone(node: string): void {
    const error = new NodeUnreachableError(node, "it left the cluster");
    for (const ask of [...this.#pending.values()]) {
      if (ask.node === node) this.#fail(ask, error);
    }
  }

  /** Sends what is queued, then fails the asks still waiting and refuses more. */
  close(): void {
    if (this.#closed) return;
    this.#flushAll();
    this.#closed = true;
    const error = new ShardingClosedError(this.#host.self);
    for (const ask of [...this.#pending.values()]) this.#fail(ask, error);
    this.#deadlines.close();
  }

  #fail(ask: PendingAsk, error: unknown): void {
    if (ask.settled) return;
    this.#pending.delete(ask.id);
    ask.settled = true;
    ask.reject(error);
  }

  #expire(ask: PendingAsk): void {
    let path: string;
    try {
      path = entityActorId(ask.entityType, ask.entityId);
    } catch {
      path = `${ask.entityType}:${ask.entityId}`;
    }
    this.#fail(ask, new AskTimeoutError(path, ask.type, ask.timeoutMs));
  }
}
