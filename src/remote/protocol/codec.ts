// One frame payload (an Envelope) to a RemoteMessage and back. TellBatch, nearly all the
// traffic, takes a hand-written path (_tell_batch.ts), and so do the usual ask and reply
// (_ask_reply.ts); every other body goes through the code protobufjs generated from
// proto/troupe_remote.proto (_body_encoder.ts, _body_decoder.ts). Both directions check the
// limits documented in messages.ts.
import { ProtocolError } from "./errors.ts";
import type { RemoteMessage, RemoteMessageKind } from "./messages.ts";
import {
  decodeAskBody,
  decodeReplyBody,
  encodeAskView,
  encodeReplyView,
  readAskBody,
  readReplyBody,
  type RequestFields,
} from "./_ask_reply.ts";
import { decodeBody } from "./_body_decoder.ts";
import { checkedBytes, copyView, encodeEnvelope } from "./_body_encoder.ts";
import { KIND_OF_FIELD } from "./_envelope_fields.ts";
import {
  decodeTellBatch,
  decodeTellColumns,
  encodeTellBatch,
  type TellColumns,
} from "./_tell_batch.ts";
import {
  malformed,
  readVarint32,
  varintEnd,
  WIRE_LENGTH_DELIMITED,
  WireReader,
} from "./_wire.ts";

/**
 * Encodes a message as the payload of one frame (a protobuf `Envelope`).
 *
 * The message is checked first: the rules are on each field of the message types (non-empty
 * names, strings of at most {@linkcode MAX_STRING_BYTES} UTF-8 bytes, 32-byte nonces and proofs,
 * uint32 numbers). Strings are written as UTF-8 the way `TextEncoder` writes them, so a lone
 * surrogate arrives as U+FFFD.
 *
 * @example Usage
 * ```ts
 * import { decodeMessage, encodeMessage } from "./mod.ts";
 *
 * const bytes = encodeMessage({ kind: "ping", id: 7 });
 * console.log(decodeMessage(bytes)); // { kind: "ping", id: 7 }
 * ```
 *
 * @param message The message.
 * @returns The encoded bytes, a new plain `Uint8Array` (it may share its `ArrayBuffer` with
 * other results: use `byteOffset` and `byteLength`).
 * @throws {TypeError} The message or one of its fields has the wrong type, or the kind is unknown.
 * @throws {RangeError} A field breaks a rule: an empty name, a string over the limit, a nonce or
 * proof of the wrong size, a number out of the uint32 range, or a batch without tells.
 */
export function encodeMessage(message: RemoteMessage): Uint8Array {
  if (typeof message !== "object" || message === null) {
    throw new TypeError("Cannot encode message: it must be an object");
  }
  switch (message.kind) {
    case "tells":
      return encodeTellBatch(message.tells);
    case "ask":
      return copyView(encodeAskView(
        message.id,
        message.recipient,
        message.type,
        message.codec,
        checkedBytes(message.payload, "ask.payload"),
        message.timeoutMs,
        message.traceparent,
      ));
    case "reply":
      return copyView(encodeReplyView(
        message.id,
        message.codec,
        checkedBytes(message.payload, "reply.payload"),
      ));
  }
  return encodeEnvelope(message);
}

/**
 * Decodes the payload of one frame (a protobuf `Envelope`) into a message.
 *
 * The envelope must hold exactly one body, and the message must keep the rules of its type
 * (non-empty names, strings of valid UTF-8 and at most {@linkcode MAX_STRING_BYTES} bytes,
 * 32-byte nonces and proofs, at least one tell per batch). Unknown fields are skipped, so a
 * newer peer may add some.
 *
 * Bytes fields (`payload`, `args`, `nonce`, `proof`) are plain `Uint8Array` views into `bytes`,
 * not copies: do not overwrite `bytes` while the message is in use.
 *
 * @example Usage
 * ```ts
 * import { decodeMessage, encodeMessage, isProtocolError } from "./mod.ts";
 *
 * const tells = [{ recipient: "orders/42", type: "Ship", codec: "json", payload: new Uint8Array() }];
 * const message = decodeMessage(encodeMessage({ kind: "tells", tells }));
 * console.log(message.kind === "tells" && message.tells[0].recipient); // "orders/42"
 *
 * try {
 *   decodeMessage(new Uint8Array([0xff]));
 * } catch (error) {
 *   console.log(isProtocolError(error)); // true
 * }
 * ```
 *
 * @param bytes One frame payload (without the length prefix).
 * @returns The message.
 * @throws {ProtocolError} The bytes are not a valid message.
 * @throws {TypeError} `bytes` is not a `Uint8Array`.
 */
export function decodeMessage(bytes: Uint8Array): RemoteMessage {
  if (!(bytes instanceof Uint8Array)) {
    throw new TypeError("Cannot decode message: bytes must be a Uint8Array");
  }
  // A Buffer (Node) would make every view cut from it a Buffer too.
  const buf = bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = buf.length;
  const reader = new WireReader(buf);
  let kind: RemoteMessageKind | undefined;
  let bodyStart = 0;
  let bodyEnd = 0;
  while (reader.pos < end) {
    const at = reader.pos;
    const tag = reader.uint32(end);
    const field = tag >>> 3;
    if (field === 0) {
      throw malformed(`envelope has a field number 0 at offset ${at}`);
    }
    const found = KIND_OF_FIELD[field];
    if (found === undefined) {
      reader.skip(tag & 7, end, "the envelope");
      continue;
    }
    if ((tag & 7) !== WIRE_LENGTH_DELIMITED) {
      throw malformed(
        `envelope field ${field} (${found}) has wire type ${
          tag & 7
        }, expected 2`,
      );
    }
    if (kind !== undefined) {
      throw malformed(
        `envelope has more than one body ("${kind}" and "${found}")`,
      );
    }
    const valueEnd = reader.lengthEnd(end, `the ${found} body`);
    kind = found;
    bodyStart = reader.pos;
    bodyEnd = valueEnd;
    reader.pos = valueEnd;
  }
  if (kind === undefined) {
    throw malformed(end === 0 ? "the frame is empty" : "envelope has no body");
  }
  if (kind === "tells") {
    return { kind, tells: decodeTellBatch(buf, bodyStart, bodyEnd) };
  }
  // Every request is an ask and its reply: bodies written the usual way skip protobufjs.
  const fast = kind === "ask"
    ? decodeAskBody(buf, bodyStart, bodyEnd)
    : kind === "reply"
    ? decodeReplyBody(buf, bodyStart, bodyEnd)
    : null;
  if (fast !== null) return fast;
  try {
    return decodeBody(kind, buf, bodyStart, bodyEnd);
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    // protobufjs throws RangeError or Error for bad wire data; TypeError comes from its strict
    // UTF-8 decoder.
    const detail = error instanceof TypeError
      ? "a string is not valid UTF-8"
      : String((error as Error)?.message ?? error);
    throw malformed(`invalid ${kind} body: ${detail}`, error);
  }
}

/** The envelope tags of the bodies read in place: tells (field 10), ask (11), reply (12). */
const TELLS_TAG = 82;
const ASK_TAG = 90;
const REPLY_TAG = 98;

/**
 * Where the body starts when bytes `start..end` are an envelope of exactly one field, with tag
 * `tag` (how messages are sent); -1 for anything else (then {@linkcode decodeMessage} reads it).
 */
function bodyStart(
  bytes: Uint8Array,
  start: number,
  end: number,
  tag: number,
): number {
  if (end - start < 2 || bytes[start] !== tag) return -1;
  let length = bytes[start + 1];
  let pos = start + 2;
  if (length >= 128) {
    try {
      length = readVarint32(bytes, start + 1, end);
    } catch {
      return -1; // decodeMessage says what is wrong
    }
    pos = varintEnd.pos;
  }
  return pos + length === end ? pos : -1;
}

/** A Buffer (Node) would make every view cut from it a Buffer too. */
function plain(bytes: Uint8Array): Uint8Array {
  return bytes.constructor === Uint8Array
    ? bytes
    : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Decodes a frame that holds only a TellBatch (how they are sent), bytes `start..end` of
 * `bytes`, into `out`, without a Tell object or a payload view per tell; returns false, with
 * nothing decoded, for any other frame (then {@linkcode decodeMessage} reads it). What it
 * accepts and the errors it throws are those of `decodeMessage`.
 *
 * @param bytes The frame payload's buffer.
 * @param start Where the frame payload starts in it.
 * @param end Where it ends.
 * @param out Where the tells go (see TellColumns); its `buf` holds `bytes`.
 * @returns Whether the frame was a TellBatch, now in `out`.
 * @throws {ProtocolError} The TellBatch is not valid.
 */
export function decodeTellsFrame(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: TellColumns,
): boolean {
  const body = bodyStart(bytes, start, end, TELLS_TAG);
  if (body < 0) return false;
  try {
    decodeTellColumns(plain(bytes), body, end, out);
  } catch (error) {
    // The error of decodeMessage, whose offsets count from the frame's start.
    decodeMessage(bytes.subarray(start, end));
    throw error;
  }
  return true;
}

/**
 * Reads a frame that holds only an Ask written the usual way (as `encodeAsk` writes it), bytes
 * `start..end` of `bytes`, into `out`, without a message object or a payload view; false for
 * anything else (then {@linkcode decodeMessage} reads it, with the same result). Never throws.
 *
 * @param bytes The frame payload's buffer.
 * @param start Where the frame payload starts in it.
 * @param end Where it ends.
 * @param out Where the fields go; its `buf` holds `bytes`.
 * @returns Whether the frame was such an Ask, now in `out`.
 */
export function readAskFrame(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: RequestFields,
): boolean {
  const body = bodyStart(bytes, start, end, ASK_TAG);
  return body >= 0 && readAskBody(plain(bytes), body, end, out);
}

/**
 * Reads a frame that holds only a Reply written the usual way, as {@linkcode readAskFrame} reads
 * an Ask.
 *
 * @param bytes The frame payload's buffer.
 * @param start Where the frame payload starts in it.
 * @param end Where it ends.
 * @param out Where the fields go; its `buf` holds `bytes`.
 * @returns Whether the frame was such a Reply, now in `out`.
 */
export function readReplyFrame(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: RequestFields,
): boolean {
  const body = bodyStart(bytes, start, end, REPLY_TAG);
  return body >= 0 && readReplyBody(plain(bytes), body, end, out);
}
