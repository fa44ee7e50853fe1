// The serving side of one connection another node dialed to this one (part of the association
// with that node): it delivers the tells that come on it, hands requests to its Answers (which
// answer on the same connection), and keeps the watches of this node's actors for that node.
import type { ActorRef, ActorSystem, UnknownProtocol } from "../actor/mod.ts";
import { Answers } from "./_answers.ts";
import type { Link } from "./_link.ts";
import { WatchedActors } from "./_remote_watch.ts";
import type { NodeContext } from "./_settings.ts";
import { RemoteFailureError } from "./errors.ts";
import type { RemoteMessage, TellColumns } from "./protocol/mod.ts";

export class Session {
  readonly owner: NodeContext;
  readonly system: ActorSystem;
  readonly link: Link;
  readonly peerNode: string;
  #refs = new Map<string, ActorRef<UnknownProtocol>>();
  readonly #answers: Answers;
  readonly #watched: WatchedActors;

  constructor(owner: NodeContext, link: Link, peerNode: string) {
    this.owner = owner;
    this.system = owner.system;
    this.link = link;
    this.peerNode = peerNode;
    this.#answers = new Answers(
      owner,
      link,
      peerNode,
      (path) => this.#ref(path),
    );
    this.#watched = new WatchedActors(
      (message) => this.#answers.send(message),
      owner.settings.maxFrameBytes,
    );
    link.onMessage = (m) => this.#onMessage(m);
    link.onTells = (tells) => this.#deliverAll(tells);
    const answers = this.#answers;
    link.onAsk = (ask) =>
      answers.ask(
        ask.id,
        ask.recipient,
        ask.type,
        ask.codec,
        ask.buf,
        ask.payloadStart,
        ask.payloadEnd,
        ask.timeoutMs,
        ask.traceparent,
      );
  }

  /** How many local actors this session watches for the other node. */
  get watchCount(): number {
    return this.#watched.size;
  }

  /** The connection closed: lets go of every watched actor. */
  closed(): void {
    this.#watched.unwatchAll();
    this.#refs.clear();
  }

  heartbeat(): void {
    this.link.beat(this.owner.settings, this.peerNode, false);
  }

  #ref(path: string): ActorRef<UnknownProtocol> | undefined {
    const cached = this.#refs.get(path);
    if (cached !== undefined && !cached.stopped) return cached;
    const ref = this.system.lookup(path);
    if (ref === undefined) {
      this.#refs.delete(path);
      return undefined;
    }
    if (this.#refs.size < 10_000) this.#refs.set(path, ref);
    return ref;
  }

  #onMessage(message: RemoteMessage): void {
    const answers = this.#answers;
    switch (message.kind) {
      case "tells":
        for (const tell of message.tells) {
          const bytes = tell.payload;
          this.#deliver(
            tell.recipient,
            tell.type,
            tell.codec,
            bytes,
            0,
            bytes.length,
            tell.traceparent ?? "",
          );
        }
        return;
      case "ask":
        answers.ask(
          message.id,
          message.recipient,
          message.type,
          message.codec,
          message.payload,
          0,
          message.payload.byteLength,
          message.timeoutMs,
          message.traceparent ?? "",
        );
        return;
      case "ping":
        answers.send({ kind: "pong", id: message.id });
        return;
      case "watch":
        this.#watched.watch(message.target, this.#ref(message.target));
        return;
      case "unwatch":
        this.#watched.unwatch(message.target);
        return;
      case "lookup":
        answers.lookup(message.id, message.path);
        return;
      case "stop":
        answers.stop(message.id, message.path);
        return;
      case "spawn":
        answers.spawn(
          message.id,
          message.factory,
          message.actorId,
          message.codec,
          message.args,
        );
        return;
      case "extension":
        answers.extension(message);
        return;
      case "goodbye":
        this.link.close(
          `node "${this.peerNode}" said goodbye: ${message.reason}`,
        );
        return;
      default:
        this.link.close(
          `unexpected "${message.kind}" from node "${this.peerNode}"`,
          new RemoteFailureError(
            this.peerNode,
            "MALFORMED_FRAME",
            "ProtocolError",
            `unexpected ${message.kind}`,
          ),
        );
    }
  }

  #deliverAll(tells: TellColumns): void {
    const {
      buf,
      recipients,
      types,
      codecs,
      payloadStarts,
      payloadEnds,
      traceparents,
    } = tells;
    for (let i = 0; i < tells.count; i++) {
      this.#deliver(
        recipients[i],
        types[i],
        codecs[i],
        buf,
        payloadStarts[i],
        payloadEnds[i],
        traceparents[i],
      );
    }
  }

  /**
   * Delivers a tell whose payload is bytes `start..end` of `buf` (`start` -1: none), sent with
   * the W3C trace context `traceparent` (`""`: none).
   */
  #deliver(
    recipient: string,
    type: string,
    codec: string,
    buf: Uint8Array,
    start: number,
    end: number,
    traceparent: string,
  ): void {
    let payload: unknown;
    try {
      payload = this.owner.codecs.decodeRange(codec, type, buf, start, end);
    } catch (error) {
      this.owner.logger.error(
        `Dropped "${type}" for "${recipient}" from node "${this.peerNode}"`,
        error,
      );
      this.system.deadLetters.publish({
        recipient,
        messageType: type,
        payload: start < 0 ? new Uint8Array(0) : buf.subarray(start, end),
        reason: "not-handled",
      });
      return;
    }
    const ref = this.#ref(recipient);
    if (ref === undefined) {
      this.system.deadLetters.publish({
        recipient,
        messageType: type,
        payload,
        reason: "actor-stopped",
      });
      return;
    }
    try {
      const tracer = this.system.tracer;
      if (tracer === null) ref.tell(type, payload);
      else {
        // Within the remote sender's context, not whatever is current here (a message without
        // one starts a trace of its own).
        tracer.withTraceparent(traceparent, () => ref.tell(type, payload));
      }
    } catch (error) {
      // A bounded mailbox with the reject policy: the message is already a dead letter.
      void error;
    }
  }
}
