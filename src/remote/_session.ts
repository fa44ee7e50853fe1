// The listening side of an association: one Session per connection accepted from another
// node, which serves its tells, asks, lookups, spawns, stops and watches.
import {
  type ActorRef,
  ActorStoppedError,
  type ActorSystem,
  type UnknownProtocol,
} from "../actor/mod.ts";
import type { Link } from "./_link.ts";
import { WatchedActors } from "./_remote_watch.ts";
import type { NodeContext } from "./_settings.ts";
import {
  ExtensionUnsupportedError,
  FrameTooLargeError,
  isFrameTooLargeError,
  NodeUnreachableError,
  RemoteFailureError,
} from "./errors.ts";
import {
  encodeReplyView,
  errorTextBound,
  type ExtensionMessage,
  type RemoteMessage,
  type Tell,
  truncateErrorText,
} from "./protocol/mod.ts";

const encoder = new TextEncoder();

/** An error's stable code for a Failure; anything that is not a short code is HANDLER_FAILED. */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && code.length > 0 && code.length <= 128
    ? code
    : "HANDLER_FAILED";
}

export class Session {
  readonly owner: NodeContext;
  readonly system: ActorSystem;
  readonly link: Link;
  readonly peerNode: string;
  #refs = new Map<string, ActorRef<UnknownProtocol>>();
  readonly #watched: WatchedActors;
  #open = true;

  constructor(
    owner: NodeContext,
    system: ActorSystem,
    link: Link,
    peerNode: string,
  ) {
    this.owner = owner;
    this.system = system;
    this.link = link;
    this.peerNode = peerNode;
    this.#watched = new WatchedActors(
      (message) => this.#send(message),
      owner.settings.maxFrameBytes,
    );
    link.onMessage = (m) => this.#onMessage(m);
  }

  /** How many local actors this session watches for the other node. */
  get watchCount(): number {
    return this.#watched.size;
  }

  closed(): void {
    this.#open = false;
    this.#watched.unwatchAll();
    this.#refs.clear();
  }

  heartbeat(): void {
    const s = this.owner.settings;
    this.link.tick(s.heartbeatIntervalMs, s.heartbeatTimeoutMs, this.peerNode);
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

  // One message that cannot go out (too large, or not encodable) is lost alone, never the
  // connection; a reply that cannot go out fails its request instead.
  #send(message: RemoteMessage): void {
    if (!this.#open || this.link.closed) return;
    try {
      this.link.send(message);
    } catch (error) {
      if (this.link.closed) return; // the transport closed it (its buffer limit) and said why
      this.owner.logger.error(
        `Cannot send "${message.kind}" to node "${this.peerNode}"`,
        error,
      );
      if (message.kind === "reply") this.#fail(message.id, error);
    }
  }

  // A reply never costs the connection: one too large for a frame, or for the send buffer now,
  // fails the ask instead (a Failure is small).
  #sendReply(id: number, codec: string, body: Uint8Array | string): void {
    if (!this.#open || this.link.closed) return;
    let bytes: Uint8Array;
    try {
      bytes = encodeReplyView(id, codec, body);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    const limit = this.owner.settings.maxFrameBytes;
    if (bytes.byteLength > limit) {
      this.#fail(id, new FrameTooLargeError(bytes.byteLength, limit));
      return;
    }
    if (!this.link.fits(bytes.byteLength)) {
      this.#fail(
        id,
        new NodeUnreachableError(
          this.owner.node,
          `the send buffer to node "${this.peerNode}" is full`,
        ),
      );
      return;
    }
    try {
      this.link.sendEncoded(bytes);
    } catch (error) {
      if (isFrameTooLargeError(error)) this.#fail(id, error);
      else this.link.close("cannot send", error);
    }
  }

  // Names and messages are cut to what fits a frame, so no error fails to go out.
  #fail(id: number, error: unknown): void {
    const e = error as { name?: unknown; message?: unknown } | null;
    const bound = errorTextBound(this.owner.settings.maxFrameBytes);
    this.#send({
      kind: "failure",
      id,
      code: errorCode(error),
      name: truncateErrorText(
        typeof e?.name === "string" ? e.name : "Error",
        bound,
      ),
      message: truncateErrorText(
        typeof e?.message === "string" ? e.message : String(error),
        bound,
      ),
    });
  }

  #onMessage(message: RemoteMessage): void {
    switch (message.kind) {
      case "tells":
        for (const tell of message.tells) this.#deliver(tell);
        return;
      case "ask":
        this.#ask(
          message.id,
          message.recipient,
          message.type,
          message.codec,
          message.payload,
          message.timeoutMs,
        );
        return;
      case "ping":
        this.#send({ kind: "pong", id: message.id });
        return;
      case "watch":
        this.#watched.watch(message.target, this.#ref(message.target));
        return;
      case "unwatch":
        this.#watched.unwatch(message.target);
        return;
      case "lookup":
        this.#send({
          kind: "reply",
          id: message.id,
          codec: "json",
          payload: encoder.encode(this.#ref(message.path) ? "1" : "0"),
        });
        return;
      case "stop": {
        const ref = this.#ref(message.path);
        const done = ref === undefined ? Promise.resolve() : ref.stop();
        done.then(
          () =>
            this.#send({
              kind: "reply",
              id: message.id,
              codec: "json",
              payload: new Uint8Array(0),
            }),
          (error) => this.#fail(message.id, error),
        );
        return;
      }
      case "spawn":
        this.#spawn(
          message.id,
          message.factory,
          message.actorId,
          message.codec,
          message.args,
        );
        return;
      case "extension":
        this.#extension(message);
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

  /** Hands a message of an extension to its handler; refuses one this node does not handle. */
  #extension(message: ExtensionMessage): void {
    const { id, name } = message;
    const registry = this.owner.extensions;
    const extension = registry.get(name);
    const logger = this.owner.logger;
    const peer = this.peerNode;
    let decoded: unknown;
    try {
      if (extension === undefined) {
        throw new ExtensionUnsupportedError(this.owner.node, name);
      }
      decoded = registry.decode(extension, message.payload);
    } catch (error) {
      if (id !== 0) this.#fail(id, error);
      else {
        logger.error(
          `Dropped a message of extension "${name}" from node "${peer}"`,
          error,
        );
      }
      return;
    }
    let result: Promise<unknown>;
    try {
      result = Promise.resolve(extension!.handle(decoded, { node: peer }));
    } catch (error) {
      result = Promise.reject(error);
    }
    if (id === 0) {
      result.catch((error) =>
        logger.error(
          `Extension "${name}" failed on a message from node "${peer}"`,
          error,
        )
      );
      return;
    }
    result.then(
      (reply) => {
        let body: Uint8Array;
        try {
          body = registry.encode(extension!, reply);
        } catch (error) {
          this.#fail(id, error);
          return;
        }
        this.#sendReply(id, name, body);
      },
      (error) => this.#fail(id, error),
    );
  }

  #deliver(tell: Tell): void {
    let payload: unknown;
    try {
      payload = this.owner.codecs.decode(tell.codec, tell.type, tell.payload);
    } catch (error) {
      this.owner.logger.error(
        `Dropped "${tell.type}" for "${tell.recipient}" from node "${this.peerNode}"`,
        error,
      );
      this.system.deadLetters.publish({
        recipient: tell.recipient,
        messageType: tell.type,
        payload: tell.payload,
        reason: "not-handled",
      });
      return;
    }
    const ref = this.#ref(tell.recipient);
    if (ref === undefined) {
      this.system.deadLetters.publish({
        recipient: tell.recipient,
        messageType: tell.type,
        payload,
        reason: "actor-stopped",
      });
      return;
    }
    try {
      ref.tell(tell.type, payload);
    } catch (error) {
      // A bounded mailbox with the reject policy: the message is already a dead letter.
      void error;
    }
  }

  #ask(
    id: number,
    path: string,
    type: string,
    codec: string,
    bytes: Uint8Array,
    timeoutMs: number,
  ): void {
    let payload: unknown;
    try {
      payload = this.owner.codecs.decode(codec, type, bytes);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    const ref = this.#ref(path);
    if (ref === undefined) {
      this.#fail(id, new ActorStoppedError(path, type));
      return;
    }
    ref.ask(type, payload, { timeoutMs: timeoutMs > 0 ? timeoutMs : undefined })
      .then(
        (result) => {
          const codecs = this.owner.codecs;
          let body: Uint8Array | string;
          try {
            // JSON goes into the frame as text: no buffer of its own.
            body = codecs.jsonText(codec, type, result) ??
              codecs.encode(codec, type, result);
          } catch (error) {
            this.#fail(id, error);
            return;
          }
          this.#sendReply(id, codec, body);
        },
        (error) => this.#fail(id, error),
      );
  }

  #spawn(
    id: number,
    factory: string,
    actorId: string,
    codec: string,
    args: Uint8Array,
  ): void {
    const definition = this.owner.factory(factory);
    if (definition === undefined) {
      this.#fail(
        id,
        Object.assign(
          new Error(
            `No factory "${factory}" is registered on node "${this.owner.node}"`,
          ),
          { code: "FACTORY_UNKNOWN", name: "FactoryUnknownError" },
        ),
      );
      return;
    }
    let decoded: unknown;
    try {
      decoded = this.owner.codecs.decode(codec, factory, args);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    this.system.spawn(
      definition,
      decoded,
      actorId === "" ? {} : { id: actorId },
    ).then(
      (ref) =>
        this.#send({
          kind: "reply",
          id,
          codec: "json",
          payload: encoder.encode(ref.path),
        }),
      (error) => this.#fail(id, error),
    );
  }
}
