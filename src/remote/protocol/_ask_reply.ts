// Ask and Reply, the two messages of every request, encoded by hand into one reused buffer: no
// protobufjs Writer, and no buffer of their own for the envelope or for a payload given as text
// (a JSON payload). The bytes are those the generated code writes (tests compare both). Decoding
// has a hand-written fast path too, for the bodies written this way.
import {
  type AskMessage,
  MAX_STRING_BYTES,
  type ReplyMessage,
} from "./messages.ts";
import { overLimit } from "./_string_limit.ts";
import {
  asciiText,
  readBytes,
  readString,
  varintSize,
  writeName,
  writeText,
  writeVarint,
} from "./_wire.ts";

/** Envelope.ask (field 11) and Envelope.reply (field 12), length-delimited. */
const ASK_TAG = 90;
const REPLY_TAG = 98;
/** Ask.traceparent (field 7, length-delimited). */
const TRACEPARENT_TAG = 58;
/** The envelope tag and the longest length varint come first; the length is filled in last. */
const HEADER_BYTES = 6;
/** A tag and the longest uint32 varint. */
const NUMBER_BYTES = 6;

const INITIAL_BYTES = 4096;
/** A buffer that grew past this is replaced by a small one before the next small message. */
const KEPT_BYTES = 1024 * 1024;
let scratch = new Uint8Array(INITIAL_BYTES);

function fail(what: string, problem: string, type: boolean): never {
  const message = `Cannot encode message: ${what} ${problem}`;
  throw type ? new TypeError(message) : new RangeError(message);
}

function checkUint32(value: unknown, what: string): number {
  if (typeof value !== "number") fail(what, "must be a number", true);
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    fail(what, `must be an integer from 0 to 4294967295, got ${value}`, false);
  }
  return value;
}

function checkName(value: unknown, what: string): number {
  if (typeof value !== "string") fail(what, "must be a string", true);
  if (value.length === 0) fail(what, "must not be empty", false);
  if (value.length > MAX_STRING_BYTES) tooLong(what);
  return value.length;
}

/** The UTF-16 length of an optional traceparent (0: none). */
function checkTraceparent(value: unknown, what: string): number {
  if (value === undefined) return 0;
  if (typeof value !== "string") fail(what, "must be a string", true);
  if (overLimit(value)) tooLong(what);
  return value.length;
}

function tooLong(what: string): never {
  fail(what, `is over the limit of ${MAX_STRING_BYTES} UTF-8 bytes`, false);
}

function payloadBound(payload: unknown, what: string): number {
  if (typeof payload === "string") return NUMBER_BYTES + 3 * payload.length;
  if (payload instanceof Uint8Array) return NUMBER_BYTES + payload.length;
  fail(what, "must be a Uint8Array", true);
}

/** The scratch buffer, with room for `bound` bytes. */
function take(bound: number): Uint8Array {
  if (scratch.length < bound) {
    let size = scratch.length * 2;
    while (size < bound) size *= 2;
    scratch = new Uint8Array(size);
  } else if (scratch.length > KEPT_BYTES && bound <= INITIAL_BYTES) {
    scratch = new Uint8Array(INITIAL_BYTES);
  }
  return scratch;
}

function writeNumber(
  buf: Uint8Array,
  pos: number,
  tag: number,
  value: number,
): number {
  // proto3 leaves zero out, as the generated encoder does.
  if (value === 0) return pos;
  buf[pos] = tag;
  return writeVarint(buf, pos + 1, value);
}

function writePayload(
  buf: Uint8Array,
  pos: number,
  tag: number,
  payload: Uint8Array | string,
): number {
  if (typeof payload === "string") {
    return payload.length === 0 ? pos : writeText(buf, pos, tag, payload);
  }
  const size = payload.length;
  if (size === 0) return pos;
  buf[pos++] = tag;
  pos = writeVarint(buf, pos, size);
  if (size <= 32) {
    for (let i = 0; i < size; i++) buf[pos + i] = payload[i];
  } else {
    buf.set(payload, pos);
  }
  return pos + size;
}

/** Bytes `start..end` of `buf`. */
export interface ByteRange {
  /** The buffer. */
  buf: Uint8Array;
  /** Where the bytes start in it. */
  start: number;
  /** Where they end. */
  end: number;
}

/**
 * Where the last {@linkcode encodeAsk} or {@linkcode encodeReply} put its envelope: bytes of the
 * shared scratch buffer, valid until the next call of this module.
 */
export const encoded: ByteRange = { buf: scratch, start: 0, end: 0 };

/** Puts the envelope's tag and length right before the body at HEADER_BYTES..end. */
function envelope(buf: Uint8Array, tag: number, end: number): ByteRange {
  const length = end - HEADER_BYTES;
  const start = HEADER_BYTES - varintSize(length) - 1;
  buf[start] = tag;
  writeVarint(buf, start + 1, length);
  encoded.buf = buf;
  encoded.start = start;
  encoded.end = end;
  return encoded;
}

function view(range: ByteRange): Uint8Array {
  return range.buf.subarray(range.start, range.end);
}

/**
 * Encodes an Ask envelope into the shared scratch buffer.
 *
 * @returns A view of the scratch buffer, valid until the next call of this module: hand it to
 * something that copies it (`FrameConnection.send()` does) before encoding another.
 * @throws {TypeError} A field has the wrong type.
 * @throws {RangeError} A name is empty or over the limit, or a number is not a uint32.
 */
export function encodeAskView(
  id: number,
  recipient: string,
  type: string,
  codec: string,
  payload: Uint8Array | string,
  timeoutMs: number,
  traceparent?: string,
): Uint8Array {
  return view(
    encodeAsk(id, recipient, type, codec, payload, timeoutMs, traceparent),
  );
}

/**
 * Encodes an Ask envelope into the shared scratch buffer, as {@linkcode encodeAskView} does,
 * without a view of it.
 *
 * @returns {@linkcode encoded}: where the bytes are, until the next call of this module.
 * @throws {TypeError} A field has the wrong type.
 * @throws {RangeError} A name is empty or over the limit, or a number is not a uint32.
 */
export function encodeAsk(
  id: number,
  recipient: string,
  type: string,
  codec: string,
  payload: Uint8Array | string,
  timeoutMs: number,
  traceparent?: string,
): ByteRange {
  checkUint32(id, "ask.id");
  const names = checkName(recipient, "ask.recipient") +
    checkName(type, "ask.type") + checkName(codec, "ask.codec") +
    checkTraceparent(traceparent, "ask.traceparent");
  const bound = HEADER_BYTES + 2 * NUMBER_BYTES + 4 * 4 + 3 * names +
    payloadBound(payload, "ask.payload");
  checkUint32(timeoutMs, "ask.timeoutMs");
  const buf = take(bound);
  let pos = writeNumber(buf, HEADER_BYTES, 8, id);
  pos = writeName(buf, pos, 18, recipient);
  if (pos < 0) tooLong("ask.recipient");
  pos = writeName(buf, pos, 26, type);
  if (pos < 0) tooLong("ask.type");
  pos = writeName(buf, pos, 34, codec);
  if (pos < 0) tooLong("ask.codec");
  pos = writePayload(buf, pos, 42, payload);
  pos = writeNumber(buf, pos, 48, timeoutMs);
  if (traceparent !== undefined && traceparent.length > 0) {
    pos = writeText(buf, pos, TRACEPARENT_TAG, traceparent);
  }
  return envelope(buf, ASK_TAG, pos);
}

/**
 * Encodes a Reply envelope into the shared scratch buffer.
 *
 * @returns A view of the scratch buffer, valid until the next call of this module.
 * @throws {TypeError} A field has the wrong type.
 * @throws {RangeError} The codec name is empty or over the limit, or the id is not a uint32.
 */
export function encodeReplyView(
  id: number,
  codec: string,
  payload: Uint8Array | string,
): Uint8Array {
  return view(encodeReply(id, codec, payload));
}

/**
 * Encodes a Reply envelope into the shared scratch buffer, as {@linkcode encodeReplyView} does,
 * without a view of it.
 *
 * @returns {@linkcode encoded}: where the bytes are, until the next call of this module.
 * @throws {TypeError} A field has the wrong type.
 * @throws {RangeError} The codec name is empty or over the limit, or the id is not a uint32.
 */
export function encodeReply(
  id: number,
  codec: string,
  payload: Uint8Array | string,
): ByteRange {
  checkUint32(id, "reply.id");
  const bound = HEADER_BYTES + NUMBER_BYTES + 4 +
    3 * checkName(codec, "reply.codec") +
    payloadBound(payload, "reply.payload");
  const buf = take(bound);
  let pos = writeNumber(buf, HEADER_BYTES, 8, id);
  pos = writeName(buf, pos, 18, codec);
  if (pos < 0) tooLong("reply.codec");
  pos = writePayload(buf, pos, 26, payload);
  return envelope(buf, REPLY_TAG, pos);
}

// ---- decoding ---------------------------------------------------------------------------------
// The bodies as this module writes them (fields in order, each at most once, short varints) are
// read by hand; anything else returns null and goes through the generated decoder, so what is
// accepted, and the errors for what is not, stay exactly those of the generated code.

/** Longest name read on the fast path (longer ones take the generated path and its checks). */
const FAST_NAME_BYTES = 1024;
const EMPTY: Uint8Array = new Uint8Array(0);

/** Where the last fast read stopped; -1 when the fast path does not apply. */
let at = 0;

/** A varint of at most 4 bytes at `at` (tags, ids, lengths), or -1. */
function varint(buf: Uint8Array, end: number): number {
  let pos = at;
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    if (pos >= end) return -1;
    const b = buf[pos++];
    value |= (b & 127) << shift;
    if (b < 128) {
      at = pos;
      return value >>> 0;
    }
  }
  return -1;
}

/** A uint32 field's value (up to 5 bytes, as long as it fits), or -1. */
function uint32(buf: Uint8Array, end: number): number {
  const short = varint(buf, end);
  if (short >= 0) return short;
  // Five bytes: the last holds the top 4 bits.
  let pos = at;
  let value = 0;
  for (let shift = 0; shift < 28; shift += 7) {
    value += (buf[pos++] & 127) * 2 ** shift;
  }
  if (pos >= end || buf[pos] > 15) return -1;
  value += buf[pos++] * 2 ** 28;
  at = pos;
  return value;
}

/** The end of a length-delimited value at `at` (which moves past the length), or -1. */
function valueEnd(buf: Uint8Array, end: number, limit: number): number {
  const length = varint(buf, end);
  if (length < 0 || length > limit || at + length > end) return -1;
  return at + length;
}

/** A non-empty name at `at`, or null (then the generated path decides). */
function name(buf: Uint8Array, end: number): string | null {
  const stop = valueEnd(buf, end, FAST_NAME_BYTES);
  if (stop <= at) return null;
  let text: string;
  try {
    text = readString(buf, at, stop, "name");
  } catch {
    return null;
  }
  at = stop;
  return text;
}

/**
 * An Ask or a Reply read in place: its fields, and its payload as bytes `payloadStart..payloadEnd`
 * of `buf` (both -1 when it had none). Reused from frame to frame: read it at once.
 */
export class RequestFields {
  /** The request's id. */
  id = 0;
  /** The recipient's path (an Ask's). */
  recipient = "";
  /** The message type (an Ask's). */
  type = "";
  /** The payload's codec. */
  codec = "";
  /** The timeout the asker gave, in milliseconds (an Ask's; 0: none). */
  timeoutMs = 0;
  /** The asker's W3C trace context (an Ask's; `""`: none). */
  traceparent = "";
  /** The bytes the payload is in. */
  buf: Uint8Array = EMPTY;
  /** Where the payload starts in `buf`; -1 when there was none. */
  payloadStart: number = -1;
  /** Where it ends; -1 when there was none. */
  payloadEnd: number = -1;

  /** The payload: a view of `buf`, or a fresh empty buffer when there was none. */
  payload(): Uint8Array {
    return this.payloadStart < 0
      ? new Uint8Array(0)
      : readBytes(this.buf, this.payloadStart, this.payloadEnd);
  }

  /** Lets go of the bytes. */
  release(): void {
    this.buf = EMPTY;
  }
}

/** A payload field (tag `tag`) at `at`, if there is one, into `out`; false when malformed. */
function payloadField(
  buf: Uint8Array,
  end: number,
  tag: number,
  out: RequestFields,
): boolean {
  out.buf = buf;
  out.payloadStart = out.payloadEnd = -1;
  if (at < end && buf[at] === tag) {
    at++;
    const stop = valueEnd(buf, end, end);
    if (stop <= at) return false;
    out.payloadStart = at;
    out.payloadEnd = stop;
    at = stop;
  }
  return true;
}

/**
 * Reads an Ask body at `start..end` written the canonical way (as {@linkcode encodeAsk} writes
 * it) into `out`; false for anything else (then the generated path decides).
 */
export function readAskBody(
  buf: Uint8Array,
  start: number,
  end: number,
  out: RequestFields,
): boolean {
  at = start;
  let id = 0;
  if (buf[at] === 8) {
    at++;
    id = uint32(buf, end);
    if (id <= 0) return false;
  }
  if (buf[at++] !== 18) return false;
  const recipient = name(buf, end);
  if (recipient === null || buf[at++] !== 26) return false;
  const type = name(buf, end);
  if (type === null || buf[at++] !== 34) return false;
  const codec = name(buf, end);
  if (codec === null || !payloadField(buf, end, 42, out)) return false;
  let timeoutMs = 0;
  if (at < end && buf[at] === 48) {
    at++;
    timeoutMs = uint32(buf, end);
    if (timeoutMs <= 0) return false;
  }
  let traceparent = "";
  if (at < end && buf[at] === TRACEPARENT_TAG) {
    at++;
    const stop = valueEnd(buf, end, FAST_NAME_BYTES);
    if (stop <= at) return false;
    // Not interned (every traceparent is new); anything but short ASCII takes the other path.
    const text = asciiText(buf, at, stop);
    if (text === undefined) return false;
    traceparent = text;
    at = stop;
  }
  if (at !== end) return false;
  out.id = id;
  out.recipient = recipient;
  out.type = type;
  out.codec = codec;
  out.timeoutMs = timeoutMs;
  out.traceparent = traceparent;
  return true;
}

/**
 * Reads a Reply body at `start..end` written the canonical way (as {@linkcode encodeReply}
 * writes it) into `out`; false for anything else.
 */
export function readReplyBody(
  buf: Uint8Array,
  start: number,
  end: number,
  out: RequestFields,
): boolean {
  at = start;
  let id = 0;
  if (buf[at] === 8) {
    at++;
    id = uint32(buf, end);
    if (id <= 0) return false;
  }
  if (buf[at++] !== 18) return false;
  const codec = name(buf, end);
  if (codec === null || !payloadField(buf, end, 26, out)) return false;
  if (at !== end) return false;
  out.id = id;
  out.codec = codec;
  return true;
}

const fields = new RequestFields();

/**
 * Reads an Ask body at `start..end` written the canonical way (as {@linkcode encodeAskView}
 * writes it), or returns null for anything else.
 */
export function decodeAskBody(
  buf: Uint8Array,
  start: number,
  end: number,
): AskMessage | null {
  if (!readAskBody(buf, start, end, fields)) return null;
  const message: AskMessage = {
    kind: "ask",
    id: fields.id,
    recipient: fields.recipient,
    type: fields.type,
    codec: fields.codec,
    // An absent payload is a fresh empty buffer, as on the generated path.
    payload: fields.payload(),
    timeoutMs: fields.timeoutMs,
    ...(fields.traceparent === "" ? {} : { traceparent: fields.traceparent }),
  };
  fields.release();
  return message;
}

/**
 * Reads a Reply body at `start..end` written the canonical way (as {@linkcode encodeReplyView}
 * writes it), or returns null for anything else.
 */
export function decodeReplyBody(
  buf: Uint8Array,
  start: number,
  end: number,
): ReplyMessage | null {
  if (!readReplyBody(buf, start, end, fields)) return null;
  const message: ReplyMessage = {
    kind: "reply",
    id: fields.id,
    codec: fields.codec,
    payload: fields.payload(),
  };
  fields.release();
  return message;
}
