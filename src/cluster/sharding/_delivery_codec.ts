// The wire form of sharding's extension messages. Deliveries to entities on another node and
// their replies go in batches, one frame per destination node per turn, in a compact binary
// form (no JSON of the envelope, one buffer per batch); the rare control messages stay JSON.
//
//   control:    0x00 <JSON text>
//   deliveries: 0x01 then per delivery, to the end of the frame:
//                 <flags: 1 ask, 2 payload, 4 traceparent, 8 same entity type as the last>
//                 [<ask id> <ms left>] [<entity type>] <entity id> <message type>
//                 [<payload JSON>] [<traceparent>]
//   replies:    0x02 then per reply, to the end of the frame:
//                 <status: 0 value, 1 no value, 2 failure> <ask id>
//                 [<value JSON>] | [<code> <name> <message>]
//
// Ids and ms are unsigned LEB128 varints (at most 32 bits); strings are a varint byte
// length then UTF-8. Every field is checked on decode (InvalidShardingMessageError).
import { type Codec, jsonCodec } from "../../actor/mod.ts";
import { InvalidShardingMessageError } from "./errors.ts";

const CONTROL = 0;
const DELIVERIES = 1;
const REPLIES = 2;

/** Delivery flags. */
export const ASK = 1;
const PAYLOAD = 2;
const TRACE = 4;
const SAME_TYPE = 8;

/** Reply status. */
const VALUE = 0;
const NO_VALUE = 1;
const FAILURE = 2;

const MAX_STRING_BYTES = 64 * 1024 * 1024;

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** Bytes written as they come, in one growing buffer. */
class ByteWriter {
  buf = new Uint8Array(4096);
  length = 0;

  reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
  }

  byte(b: number): void {
    this.reserve(1);
    this.buf[this.length++] = b;
  }

  varint(n: number): void {
    this.reserve(5);
    const buf = this.buf;
    let at = this.length;
    n >>>= 0;
    while (n > 0x7f) {
      buf[at++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    buf[at++] = n;
    this.length = at;
  }

  string(text: string): void {
    const n = text.length;
    // ASCII (the usual ids, types and JSON) is copied in JavaScript: a TextEncoder call costs
    // more than the rest of a short string.
    if (n < 128) {
      this.reserve(n + 1);
      const buf = this.buf;
      const start = this.length + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = text.charCodeAt(i);
        if (c > 0x7f) break;
        buf[start + i] = c;
      }
      if (i === n) {
        buf[this.length] = n;
        this.length = start + n;
        return;
      }
    }
    this.reserve(n * 3 + 5);
    // Written after a 5-byte gap for the length, then moved next to it.
    const at = this.length + 5;
    const { written } = encoder.encodeInto(
      text,
      this.buf.subarray(at, at + n * 3),
    );
    this.varint(written);
    this.buf.copyWithin(this.length, at, at + written);
    this.length += written;
  }

  /** A copy of what was written, and a fresh start. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    if (this.buf.length > 256 * 1024) this.buf = new Uint8Array(4096);
    return out;
  }
}

/** Reads what a ByteWriter wrote, checking every field. */
class ByteReader {
  readonly #buf: Uint8Array;
  at: number;

  constructor(buf: Uint8Array, at: number) {
    this.#buf = buf;
    this.at = at;
  }

  get done(): boolean {
    return this.at >= this.#buf.length;
  }

  byte(): number {
    if (this.at >= this.#buf.length) throw truncated();
    return this.#buf[this.at++];
  }

  varint(): number {
    let n = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      n += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) {
        if (n > 0xffffffff) break;
        return n;
      }
    }
    throw new InvalidShardingMessageError("a number is over 32 bits");
  }

  string(): string {
    const n = this.varint();
    const buf = this.#buf;
    const start = this.at;
    if (n > MAX_STRING_BYTES || start + n > buf.length) throw truncated();
    this.at = start + n;
    if (n <= 64) {
      let text = "";
      for (let i = start; i < start + n; i++) {
        const b = buf[i];
        if (b > 0x7f) return utf8(buf, start, start + n);
        text += String.fromCharCode(b);
      }
      return text;
    }
    return utf8(buf, start, start + n);
  }
}

function utf8(buf: Uint8Array, start: number, end: number): string {
  try {
    return decoder.decode(buf.subarray(start, end));
  } catch {
    throw new InvalidShardingMessageError("a string is not valid UTF-8");
  }
}

function truncated(): InvalidShardingMessageError {
  return new InvalidShardingMessageError("the message is truncated");
}

function json(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new InvalidShardingMessageError(`${what} is not valid JSON`);
  }
}

/** A batch of deliveries or replies, encoded already (see DeliveryWriter, ReplyWriter). */
export interface EncodedBatch {
  readonly k: "encoded";
  readonly bytes: Uint8Array;
}

/** One delivery, decoded. */
export interface Delivery {
  /** Ask id (0 for a tell). */
  readonly id: number;
  /** For an ask: the ms left of its timeout. */
  readonly ms: number;
  readonly entityType: string;
  readonly entityId: string;
  readonly type: string;
  readonly payload: unknown;
  /** The sender's W3C traceparent, or "" for none. */
  readonly traceparent: string;
}

/** Marks what the codec decoded (JSON from the network cannot carry a symbol key). */
const DECODED: unique symbol = Symbol("troupe.sharding.decoded");

/** Deliveries from another node, decoded. */
export interface DeliveryBatch {
  readonly k: "deliveries";
  readonly items: readonly Delivery[];
  readonly [DECODED]: true;
}

/** Whether `value` is a batch the codec decoded. */
export function isDecodedBatch(
  value: unknown,
): value is DeliveryBatch | ReplyBatch {
  return (value as { [DECODED]?: unknown })[DECODED] === true;
}

/** One reply, decoded. */
export interface DeliveryReply {
  readonly id: number;
  readonly ok: boolean;
  /** The value (ok), or the failure's code, name and message. */
  readonly value: unknown;
  readonly code: string;
  readonly name: string;
  readonly message: string;
}

/** Replies from another node, decoded. */
export interface ReplyBatch {
  readonly k: "replies";
  readonly items: readonly DeliveryReply[];
  readonly [DECODED]: true;
}

/** The deliveries for one node, encoded as they come. */
export class DeliveryWriter {
  readonly #writer = new ByteWriter();
  #lastType = "";
  count = 0;

  /** Bytes so far. */
  get byteLength(): number {
    return this.#writer.length;
  }

  /**
   * Adds a delivery (`id` 0: a tell), unless the batch has some already and this one could
   * take it past `maxBytes`: then it returns false, and the caller sends the batch and adds
   * the delivery to the next (so a large message never takes small ones down with it).
   *
   * @throws {TypeError} When the payload is not JSON-serializable (nothing is added then).
   */
  add(
    id: number,
    ms: number,
    entityType: string,
    entityId: string,
    type: string,
    payload: unknown,
    traceparent: string | undefined,
    maxBytes: number,
  ): boolean {
    const text = payload === undefined ? undefined : JSON.stringify(payload);
    if (text === undefined && payload !== undefined) {
      throw new TypeError(
        `Cannot send "${type}" to entity ${
          JSON.stringify(entityId)
        } of "${entityType}": the payload is not JSON-serializable`,
      );
    }
    const w = this.#writer;
    if (this.count > 0) {
      // At most 3 bytes per UTF-16 unit, plus the flags and numbers.
      const bound = 16 + 3 * (entityType.length + entityId.length +
            type.length + (text?.length ?? 0) + (traceparent?.length ?? 0));
      if (w.length + bound > maxBytes) return false;
    }
    if (this.count === 0) w.byte(DELIVERIES);
    const same = entityType === this.#lastType;
    const flags = (id === 0 ? 0 : ASK) | (text === undefined ? 0 : PAYLOAD) |
      (traceparent === undefined ? 0 : TRACE) | (same ? SAME_TYPE : 0);
    w.byte(flags);
    if (id !== 0) {
      w.varint(id);
      w.varint(Math.max(1, Math.ceil(ms)));
    }
    if (!same) {
      w.string(entityType);
      this.#lastType = entityType;
    }
    w.string(entityId);
    w.string(type);
    if (text !== undefined) w.string(text);
    if (traceparent !== undefined) w.string(traceparent);
    this.count++;
    return true;
  }

  /** The batch so far, and an empty writer. */
  take(): EncodedBatch {
    this.count = 0;
    this.#lastType = "";
    return { k: "encoded", bytes: this.#writer.take() };
  }
}

/** The replies for one node, encoded as they come. */
export class ReplyWriter {
  readonly #writer = new ByteWriter();
  count = 0;

  /** Bytes so far. */
  get byteLength(): number {
    return this.#writer.length;
  }

  /**
   * Adds the value of ask `id`; one that is not JSON-serializable becomes a failure. When the
   * batch has some already and this one could take it past `maxBytes`, `flush` is called
   * first (it sends the batch), so a large reply never takes small ones down with it.
   */
  value(
    id: number,
    value: unknown,
    maxBytes = Infinity,
    flush: () => void = () => {},
  ): void {
    let text: string | undefined;
    try {
      text = value === undefined ? undefined : JSON.stringify(value);
      if (text === undefined && value !== undefined) {
        throw new TypeError("the reply is not JSON-serializable");
      }
    } catch (error) {
      this.failure(id, error);
      return;
    }
    if (
      this.count > 0 &&
      this.#writer.length + 16 + 3 * (text?.length ?? 0) > maxBytes
    ) flush();
    const w = this.#start();
    w.byte(text === undefined ? NO_VALUE : VALUE);
    w.varint(id);
    if (text !== undefined) w.string(text);
    this.count++;
  }

  /** Adds the failure of ask `id`. */
  failure(id: number, error: unknown): void {
    const e = error as { name?: unknown; message?: unknown; code?: unknown };
    const code = typeof e?.code === "string" && e.code.length <= 128
      ? e.code
      : "HANDLER_FAILED";
    const name = typeof e?.name === "string" ? e.name.slice(0, 200) : "Error";
    const message = typeof e?.message === "string"
      ? e.message.slice(0, 4000)
      : String(error).slice(0, 4000);
    const w = this.#start();
    w.byte(FAILURE);
    w.varint(id);
    w.string(code);
    w.string(name);
    w.string(message);
    this.count++;
  }

  #start(): ByteWriter {
    if (this.count === 0) this.#writer.byte(REPLIES);
    return this.#writer;
  }

  /** The batch so far, and an empty writer. */
  take(): EncodedBatch {
    this.count = 0;
    return { k: "encoded", bytes: this.#writer.take() };
  }
}

function decodeDeliveries(reader: ByteReader): DeliveryBatch {
  const items: Delivery[] = [];
  let lastType = "";
  while (!reader.done) {
    const flags = reader.byte();
    if (flags > 15) {
      throw new InvalidShardingMessageError(`unknown delivery flags ${flags}`);
    }
    let id = 0;
    let ms = 0;
    if ((flags & ASK) !== 0) {
      id = reader.varint();
      ms = reader.varint();
      if (id === 0 || ms === 0) {
        throw new InvalidShardingMessageError(
          "an ask needs an id and a time left above 0",
        );
      }
    }
    const entityType = (flags & SAME_TYPE) !== 0 ? lastType : reader.string();
    if (entityType.length === 0 || entityType.length > 200) {
      throw new InvalidShardingMessageError("the entity type is out of range");
    }
    lastType = entityType;
    const entityId = reader.string();
    const type = reader.string();
    const payload = (flags & PAYLOAD) !== 0
      ? json(reader.string(), "a payload")
      : undefined;
    const traceparent = (flags & TRACE) !== 0 ? reader.string() : "";
    items.push({ id, ms, entityType, entityId, type, payload, traceparent });
  }
  return { k: "deliveries", items, [DECODED]: true };
}

function decodeReplies(reader: ByteReader): ReplyBatch {
  const items: DeliveryReply[] = [];
  while (!reader.done) {
    const status = reader.byte();
    const id = reader.varint();
    switch (status) {
      case VALUE:
        items.push({
          id,
          ok: true,
          value: json(reader.string(), "a reply"),
          code: "",
          name: "",
          message: "",
        });
        break;
      case NO_VALUE:
        items.push({
          id,
          ok: true,
          value: undefined,
          code: "",
          name: "",
          message: "",
        });
        break;
      case FAILURE: {
        const code = reader.string();
        const name = reader.string();
        const message = reader.string();
        items.push({ id, ok: false, value: undefined, code, name, message });
        break;
      }
      default:
        throw new InvalidShardingMessageError(`unknown reply status ${status}`);
    }
  }
  return { k: "replies", items, [DECODED]: true };
}

/**
 * The codec of sharding's extension: encoded batches as they are, anything else (control
 * messages) as JSON behind a tag byte.
 */
export const shardingCodec: Codec = Object.freeze({
  encode(type: string, value: unknown): Uint8Array {
    if ((value as EncodedBatch | null)?.k === "encoded") {
      return (value as EncodedBatch).bytes;
    }
    const body = jsonCodec.encode(type, value);
    const out = new Uint8Array(body.length + 1);
    out[0] = CONTROL;
    out.set(body, 1);
    return out;
  },
  decode(type: string, data: Uint8Array): unknown {
    if (data.length === 0) throw truncated();
    switch (data[0]) {
      case CONTROL:
        try {
          return jsonCodec.decode(type, data.subarray(1));
        } catch {
          throw new InvalidShardingMessageError(
            "a control message is not valid JSON",
          );
        }
      case DELIVERIES:
        return decodeDeliveries(new ByteReader(data, 1));
      case REPLIES:
        return decodeReplies(new ByteReader(data, 1));
      default:
        throw new InvalidShardingMessageError(
          `unknown message tag ${data[0]}`,
        );
    }
  },
});
