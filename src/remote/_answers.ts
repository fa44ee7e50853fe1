// Answering the requests that came on one connection another node dialed (asks, lookups,
// spawns, stops and extension messages), on that same connection. A reply never costs the
// connection: one that cannot go out (too large, not encodable, no room in the send buffer)
// fails its request instead, and a failure is cut to fit a frame.
import {
  type ActorRef,
  ActorStoppedError,
  type UnknownProtocol,
} from "../actor/mod.ts";
import type { Link } from "./_link.ts";
import type { NodeContext } from "./_settings.ts";
import {
  ExtensionUnsupportedError,
  FrameTooLargeError,
  isFrameTooLargeError,
  NodeUnreachableError,
} from "./errors.ts";
import {
  type ByteRange,
  encodeReply,
  errorTextBound,
  type ExtensionMessage,
  type RemoteMessage,
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

export class Answers {
  readonly #owner: NodeContext;
  readonly #link: Link;
  readonly #peerNode: string;
  /** The local actor at a path, if one runs there. */
  readonly #ref: (path: string) => ActorRef<UnknownProtocol> | undefined;

  constructor(
    owner: NodeContext,
    link: Link,
    peerNode: string,
    ref: (path: string) => ActorRef<UnknownProtocol> | undefined,
  ) {
    this.#owner = owner;
    this.#link = link;
    this.#peerNode = peerNode;
    this.#ref = ref;
  }

  /**
   * Sends a message on the connection. One that cannot go out (too large, or not encodable) is
   * lost alone, never the connection; a reply that cannot go out fails its request instead.
   */
  send(message: RemoteMessage): void {
    const link = this.#link;
    if (link.closed) return;
    try {
      link.send(message);
    } catch (error) {
      if (link.closed) return; // the transport closed it (its buffer limit) and said why
      this.#owner.logger.error(
        `Cannot send "${message.kind}" to node "${this.#peerNode}"`,
        error,
      );
      if (message.kind === "reply") this.#fail(message.id, error);
    }
  }

  // A reply never costs the connection: one too large for a frame, or for the send buffer now,
  // fails the ask instead (a Failure is small).
  #reply(id: number, codec: string, body: Uint8Array | string): void {
    const link = this.#link;
    if (link.closed) return;
    let frame: ByteRange;
    try {
      frame = encodeReply(id, codec, body);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    const size = frame.end - frame.start;
    const limit = this.#owner.settings.maxFrameBytes;
    if (size > limit) {
      this.#fail(id, new FrameTooLargeError(size, limit));
      return;
    }
    if (!link.fits(size)) {
      this.#fail(
        id,
        new NodeUnreachableError(
          this.#owner.node,
          `the send buffer to node "${this.#peerNode}" is full`,
        ),
      );
      return;
    }
    try {
      link.sendRange(frame.buf, frame.start, frame.end);
    } catch (error) {
      if (isFrameTooLargeError(error)) this.#fail(id, error);
      else link.close("cannot send", error);
    }
  }

  /** A small reply of the JSON codec (a lookup's, a spawn's, a stop's). */
  #replyJson(id: number, payload: Uint8Array): void {
    this.send({ kind: "reply", id, codec: "json", payload });
  }

  // Names and messages are cut to what fits a frame, so no error fails to go out.
  #fail(id: number, error: unknown): void {
    const e = error as { name?: unknown; message?: unknown } | null;
    const bound = errorTextBound(this.#owner.settings.maxFrameBytes);
    this.send({
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

  /** A Lookup: whether an actor runs at `path`. */
  lookup(id: number, path: string): void {
    this.#replyJson(id, encoder.encode(this.#ref(path) ? "1" : "0"));
  }

  /** A Stop of the actor at `path` (answered once it stopped; none running is no error). */
  stop(id: number, path: string): void {
    const ref = this.#ref(path);
    const done = ref === undefined ? Promise.resolve() : ref.stop();
    done.then(
      () => this.#replyJson(id, new Uint8Array(0)),
      (error) => this.#fail(id, error),
    );
  }

  /**
   * An Ask, its payload bytes `start..end` of `buf` (`start` -1: none), sent with the W3C trace
   * context `traceparent` (`""`: none): the local actor's answer, encoded with the codec of the
   * question.
   */
  ask(
    id: number,
    path: string,
    type: string,
    codec: string,
    buf: Uint8Array,
    start: number,
    end: number,
    timeoutMs: number,
    traceparent: string,
  ): void {
    const codecs = this.#owner.codecs;
    let payload: unknown;
    try {
      payload = codecs.decodeRange(codec, type, buf, start, end);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    const ref = this.#ref(path);
    if (ref === undefined) {
      this.#fail(id, new ActorStoppedError(path, type));
      return;
    }
    const options = { timeoutMs: timeoutMs > 0 ? timeoutMs : undefined };
    const tracer = this.#owner.system.tracer;
    // A traced ask is handled within the remote asker's context (see Session's tells).
    const answer = tracer === null
      ? ref.ask(type, payload, options)
      : tracer.withTraceparent(traceparent, () =>
        ref.ask(type, payload, options));
    answer
      .then(
        (result) => {
          let body: Uint8Array | string;
          try {
            // JSON goes into the frame as text: no buffer of its own.
            body = codecs.jsonText(codec, type, result) ??
              codecs.encode(codec, type, result);
          } catch (error) {
            this.#fail(id, error);
            return;
          }
          this.#reply(id, codec, body);
        },
        (error) => this.#fail(id, error),
      );
  }

  /** A Spawn from a registered factory: the new actor's path. */
  spawn(
    id: number,
    factory: string,
    actorId: string,
    codec: string,
    args: Uint8Array,
  ): void {
    const owner = this.#owner;
    const definition = owner.factory(factory);
    if (definition === undefined) {
      this.#fail(
        id,
        Object.assign(
          new Error(
            `No factory "${factory}" is registered on node "${owner.node}"`,
          ),
          { code: "FACTORY_UNKNOWN", name: "FactoryUnknownError" },
        ),
      );
      return;
    }
    let decoded: unknown;
    try {
      decoded = owner.codecs.decode(codec, factory, args);
    } catch (error) {
      this.#fail(id, error);
      return;
    }
    owner.system.spawn(
      definition,
      decoded,
      actorId === "" ? {} : { id: actorId },
    ).then(
      (ref) => this.#replyJson(id, encoder.encode(ref.path)),
      (error) => this.#fail(id, error),
    );
  }

  /** Hands a message of an extension to its handler; refuses one this node does not handle. */
  extension(message: ExtensionMessage): void {
    const { id, name } = message;
    const owner = this.#owner;
    const registry = owner.extensions;
    const extension = registry.get(name);
    const logger = owner.logger;
    const peer = this.#peerNode;
    let decoded: unknown;
    try {
      if (extension === undefined) {
        throw new ExtensionUnsupportedError(owner.node, name);
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
      const tracer = owner.system.tracer;
      const handle = () => extension!.handle(decoded, { node: peer });
      // Extension messages carry no trace context: what a handler sends starts new traces,
      // rather than joining whatever context this connection's reads happen to run in.
      result = Promise.resolve(
        tracer === null ? handle() : tracer.withTraceparent("", handle),
      );
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
        this.#reply(id, name, body);
      },
      (error) => this.#fail(id, error),
    );
  }
}
