// Requests waiting for an answer from one peer (asks, spawns, lookups, stops), by id. Timeouts
// use TickDeadlines, like local asks: a request costs no timer and no clock read.
//
// A request is one object (a subclass of Pending says how to read its answer and which errors
// to reject with), not a set of closures, and it lets go of its promise once settled: the FIFO
// keeps settled requests until the next sweep, and anything they hold would outlive a young
// generation collection.
import {
  ActorStoppedError,
  AskTimeoutError,
  MailboxFullError,
  MessageNotHandledError,
} from "../actor/mod.ts";
import { type Clock, TickDeadlines } from "../timer/mod.ts";
import type { MessageCodecs } from "./codecs.ts";
import type { ExtensionRegistry, RemoteExtension } from "./extension.ts";
import {
  CodecError,
  ExtensionUnsupportedError,
  FrameTooLargeError,
  RemoteFailureError,
} from "./errors.ts";
import {
  type ByteRange,
  encodeAsk,
  encodeAskView,
  encodeMessage,
  type RemoteMessage,
} from "./protocol/mod.ts";

const encoder = new TextEncoder();

/** An empty body: what a request lets go of once sent, and the frame of an unsent entry. */
export const EMPTY_BODY: Uint8Array = new Uint8Array(0);

/** One request; the table fills in the id, the deadline and the promise's functions. */
export abstract class Pending {
  id = 0;
  deadline = 0;
  timeoutMs = 0;
  settled = false;
  resolve: ((value: unknown) => void) | null = null;
  reject: ((error: unknown) => void) | null = null;
  /** The path of the actor an answer shows to be running, if any. */
  target: string | undefined = undefined;

  /**
   * The promised value from the answer, a Reply payload at bytes `start..end` of `buf` (`start`
   * -1 when it had none); may throw.
   */
  abstract decode(buf: Uint8Array, start: number, end: number): unknown;

  /** The error to reject with when the request failed with `error`. */
  failure(error: unknown): unknown {
    return error;
  }

  /** The error to reject with when no answer came in time. */
  abstract timeout(): unknown;
}

/**
 * The key of the table's placeholder entry (request ids start at 1). A Map rebuilds its table
 * smaller when a delete leaves it nearly empty, and larger again on the next set: a caller that
 * asks one question at a time paid both on every ask, on the path of the answer. The placeholder
 * keeps the table from ever being empty.
 */
const PLACEHOLDER = 0;

export class RequestTable {
  #byId = new Map<number, Pending | null>([[PLACEHOLDER, null]]);
  #nextId = 0;
  readonly #deadlines: TickDeadlines<Pending>;

  constructor(clock: Clock) {
    this.#deadlines = new TickDeadlines<Pending>(
      clock,
      (pending) => {
        this.#byId.delete(pending.id);
        reject(pending, pending.timeout());
      },
      () => this.#byId.size > 1,
    );
  }

  get size(): number {
    return this.#byId.size - 1;
  }

  /** Opens a request: gives it an id (in `pending.id`) and returns its promise. */
  open(pending: Pending, timeoutMs: number): Promise<unknown> {
    const id = this.#nextId = (this.#nextId + 1) >>> 0 || 1;
    pending.id = id;
    pending.timeoutMs = timeoutMs;
    pending.deadline = this.#deadlines.deadlineFor(timeoutMs);
    const promise = new Promise<unknown>((resolve, reject) => {
      pending.resolve = resolve;
      pending.reject = reject;
    });
    this.#byId.set(id, pending);
    this.#deadlines.add(pending, timeoutMs);
    return promise;
  }

  /** The request waiting with `id`, if any (it stays waiting). */
  peek(id: number): Pending | undefined {
    return this.#byId.get(id) ?? undefined;
  }

  /**
   * Settles request `id` with an answer, bytes `start..end` of `buf` (`start` -1: none); false
   * when it is unknown (timed out already).
   */
  answer(id: number, buf: Uint8Array, start: number, end: number): boolean {
    const pending = this.#byId.get(id);
    if (pending == null) return false;
    this.#byId.delete(id);
    const resolve = pending.resolve!;
    const reject = pending.reject!;
    release(pending);
    let value: unknown;
    try {
      value = pending.decode(buf, start, end);
    } catch (error) {
      reject(pending.failure(error));
      return true;
    }
    resolve(value);
    return true;
  }

  /** Fails request `id`; false when it is unknown. */
  fail(id: number, error: unknown): boolean {
    const pending = this.#byId.get(id);
    if (pending == null) return false;
    this.#byId.delete(id);
    reject(pending, pending.failure(error));
    return true;
  }

  /** Fails every request (the connection is gone). */
  failAll(error: unknown): void {
    const all = [...this.#byId.values()];
    this.#byId = new Map<number, Pending | null>([[PLACEHOLDER, null]]);
    this.#deadlines.clear();
    for (const pending of all) {
      if (pending !== null) reject(pending, pending.failure(error));
    }
  }

  /** Stops the tick (the node is closing; call failAll first). */
  close(): void {
    this.#deadlines.close();
  }
}

/** Bytes `start..end` of `buf` as a view (`start` -1: a fresh empty buffer). */
function bytesOf(buf: Uint8Array, start: number, end: number): Uint8Array {
  return start < 0 ? new Uint8Array(0) : buf.subarray(start, end);
}

function release(pending: Pending): void {
  pending.settled = true;
  pending.resolve = null;
  pending.reject = null;
}

function reject(pending: Pending, error: unknown): void {
  const settle = pending.reject!;
  release(pending);
  settle(error);
}

// ---- requests ----------------------------------------------------------------------------------

/** A request to a peer: how it goes on the wire, and how its answer and failures are read. */
export abstract class Request extends Pending {
  /** The request as a message (for the outbox while there is no connection). */
  abstract build(id: number): RemoteMessage;

  /** The request as bytes; may be a view of a reused buffer (the link copies it at once). */
  encode(id: number): Uint8Array {
    return encodeMessage(this.build(id));
  }

  /** The request as bytes, where they are; may be in a reused buffer (copied at once). */
  encodeRange(id: number): ByteRange {
    const bytes = this.encode(id);
    return { buf: bytes, start: 0, end: bytes.byteLength };
  }

  /** Called once the request went out or into the outbox: let go of what only sending needed. */
  sent(): void {}
}

/** A lookup, spawn or stop. */
export class PlainRequest extends Request {
  readonly #node: string;
  readonly #describe: string;
  readonly #build: (id: number) => RemoteMessage;
  readonly #decode: (payload: Uint8Array) => unknown;

  constructor(
    node: string,
    describe: string,
    build: (id: number) => RemoteMessage,
    decode: (payload: Uint8Array) => unknown,
  ) {
    super();
    this.#node = node;
    this.#describe = describe;
    this.#build = build;
    this.#decode = decode;
  }

  build(id: number): RemoteMessage {
    return this.#build(id);
  }

  decode(buf: Uint8Array, start: number, end: number): unknown {
    return this.#decode(bytesOf(buf, start, end));
  }

  timeout(): unknown {
    return new AskTimeoutError(
      `${this.#node}/${this.#describe}`,
      this.#describe,
      this.timeoutMs,
    );
  }
}

/** An ask of a remote actor; its failures are the errors a local ref would give. */
export class AskRequest extends Request {
  readonly #codecs: MessageCodecs;
  readonly #path: string;
  readonly #type: string;
  readonly #codec: string;
  #body: Uint8Array | string;
  readonly #wireTimeoutMs: number;
  /** The asker's W3C trace context, when traced. */
  readonly #traceparent: string | undefined;

  constructor(
    codecs: MessageCodecs,
    path: string,
    type: string,
    codec: string,
    body: Uint8Array | string,
    wireTimeoutMs: number,
    traceparent: string | undefined,
  ) {
    super();
    this.target = path;
    this.#codecs = codecs;
    this.#path = path;
    this.#type = type;
    this.#codec = codec;
    this.#body = body;
    this.#wireTimeoutMs = wireTimeoutMs;
    this.#traceparent = traceparent;
  }

  override encode(id: number): Uint8Array {
    return encodeAskView(
      id,
      this.#path,
      this.#type,
      this.#codec,
      this.#body,
      this.#wireTimeoutMs,
      this.#traceparent,
    );
  }

  override encodeRange(id: number): ByteRange {
    return encodeAsk(
      id,
      this.#path,
      this.#type,
      this.#codec,
      this.#body,
      this.#wireTimeoutMs,
      this.#traceparent,
    );
  }

  build(id: number): RemoteMessage {
    const body = this.#body;
    return {
      kind: "ask",
      id,
      recipient: this.#path,
      type: this.#type,
      codec: this.#codec,
      payload: typeof body === "string" ? encoder.encode(body) : body,
      timeoutMs: this.#wireTimeoutMs,
      ...(this.#traceparent === undefined
        ? {}
        : { traceparent: this.#traceparent }),
    };
  }

  override sent(): void {
    this.#body = EMPTY_BODY;
  }

  decode(buf: Uint8Array, start: number, end: number): unknown {
    return this.#codecs.decodeRange(this.#codec, this.#type, buf, start, end);
  }

  timeout(): unknown {
    return new AskTimeoutError(this.#path, this.#type, this.timeoutMs);
  }

  /** Maps a remote failure to the error a local ref would give. */
  override failure(error: unknown): unknown {
    const path = this.#path;
    const type = this.#type;
    if (error instanceof AskTimeoutError) {
      return new AskTimeoutError(path, type, error.timeoutMs);
    }
    if (!(error instanceof RemoteFailureError)) return error;
    switch (error.remoteCode) {
      case "ASK_TIMEOUT":
        // It timed out over there (the wire carries this ask's timeout): say this ask's
        // timeout, not "NaN ms".
        return new AskTimeoutError(path, type, this.timeoutMs);
      case "ACTOR_STOPPED":
        return new ActorStoppedError(path, type);
      case "MESSAGE_NOT_HANDLED":
        return new MessageNotHandledError(path, "remote", type);
      case "MAILBOX_FULL":
        return new MailboxFullError(
          path,
          type,
          Number(/capacity (\d+)/.exec(error.message)?.[1] ?? NaN),
        );
      case "CODEC_UNKNOWN":
        return new CodecError(error.message);
      case "FRAME_TOO_LARGE": {
        // The answer was too large to send: the same error as an ask too large to send.
        const sizes = /Frame of (\d+) bytes is over the limit of (\d+) bytes/
          .exec(error.message);
        return sizes === null
          ? error
          : new FrameTooLargeError(Number(sizes[1]), Number(sizes[2]));
      }
      default:
        return error;
    }
  }
}

/** A request of an extension; its reply is in the extension's codec. */
export class ExtensionRequest extends Request {
  readonly #node: string;
  readonly #registry: ExtensionRegistry;
  readonly #extension: RemoteExtension;
  #payload: Uint8Array;

  constructor(
    node: string,
    registry: ExtensionRegistry,
    extension: RemoteExtension,
    payload: Uint8Array,
  ) {
    super();
    this.#node = node;
    this.#registry = registry;
    this.#extension = extension;
    this.#payload = payload;
  }

  build(id: number): RemoteMessage {
    return {
      kind: "extension",
      id,
      name: this.#extension.name,
      payload: this.#payload,
    };
  }

  override sent(): void {
    this.#payload = EMPTY_BODY;
  }

  decode(buf: Uint8Array, start: number, end: number): unknown {
    return this.#registry.decode(this.#extension, bytesOf(buf, start, end));
  }

  timeout(): unknown {
    const name = this.#extension.name;
    return new AskTimeoutError(`${this.#node}/${name}`, name, this.timeoutMs);
  }

  /** The other node refused it: the same error as a refusal here. */
  override failure(error: unknown): unknown {
    return error instanceof RemoteFailureError &&
        error.remoteCode === "EXTENSION_UNSUPPORTED"
      ? new ExtensionUnsupportedError(this.#node, this.#extension.name)
      : error;
  }
}
