// Protobuf wire primitives for the hot path (TellBatch), written against plain Uint8Arrays:
// a reader that throws only ProtocolError, and a reusable scratch writer. Strings are UTF-8 as
// TextEncoder writes them (a lone surrogate becomes U+FFFD, so every frame is valid UTF-8), and
// decode strictly (invalid UTF-8 is a malformed frame).
import { ProtocolError } from "./errors.ts";
import { MAX_STRING_BYTES } from "./messages.ts";

/** Wire types of the protobuf encoding. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH_DELIMITED = 2;
export const WIRE_FIXED32 = 5;

const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

const encoder = new TextEncoder();

/** The bytes of `value` as a varint. */
export function varintSize(value: number): number {
  return value < 128
    ? 1
    : value < 16_384
    ? 2
    : value < 2_097_152
    ? 3
    : value < 268_435_456
    ? 4
    : 5;
}

/** Writes `value` (a uint32) as a varint at `pos`; returns the position after it. */
export function writeVarint(
  buf: Uint8Array,
  pos: number,
  value: number,
): number {
  while (value > 127) {
    buf[pos++] = (value & 127) | 128;
    value >>>= 7;
  }
  buf[pos] = value;
  return pos + 1;
}

/**
 * Writes a string field of a name (tag, length, UTF-8) at `pos` and returns the end, or -1 when
 * the string is over MAX_STRING_BYTES. The caller reserved 4 + 3 × length bytes.
 */
export function writeName(
  buf: Uint8Array,
  pos: number,
  tag: number,
  value: string,
): number {
  const count = value.length;
  buf[pos++] = tag;
  if (count < 43) {
    // At most 126 bytes: the length takes one byte.
    const lengthAt = pos++;
    let i = 0;
    for (; i < count; i++) {
      const c = value.charCodeAt(i);
      if (c > 127) break;
      buf[pos++] = c;
    }
    if (i < count) {
      pos = lengthAt + 1 +
        encoder.encodeInto(value, buf.subarray(lengthAt + 1)).written;
    }
    buf[lengthAt] = pos - lengthAt - 1;
    return pos;
  }
  // Longer: encode after room for a 3-byte length (MAX_STRING_BYTES < 2^21), then close the gap.
  const start = pos + 3;
  const length =
    encoder.encodeInto(value, buf.subarray(start, start + 3 * count)).written;
  if (length > MAX_STRING_BYTES) return -1;
  pos = writeVarint(buf, pos, length);
  if (pos !== start) buf.copyWithin(pos, start, start + length);
  return pos + length;
}

/**
 * Writes a length-delimited field holding the UTF-8 bytes of `text` (any length) at `pos` and
 * returns the end. ASCII is copied in JavaScript (TextEncoder is a native call, slow for short
 * text); anything else goes through `encodeInto`. The caller reserved 6 + 3 × length bytes.
 */
export function writeText(
  buf: Uint8Array,
  pos: number,
  tag: number,
  text: string,
): number {
  const count = text.length;
  buf[pos++] = tag;
  const reserved = varintSize(3 * count);
  const start = pos + reserved;
  let at = start;
  let i = 0;
  for (; i < count; i++) {
    const c = text.charCodeAt(i);
    if (c > 127) break;
    buf[at++] = c;
  }
  const length = i === count ? count : encoder.encodeInto(
    text,
    buf.subarray(start, start + 3 * count),
  ).written;
  const used = varintSize(length);
  writeVarint(buf, pos, length);
  if (used !== reserved) buf.copyWithin(pos + used, start, start + length);
  return pos + used + length;
}

/** An error of a frame from the network. */
export function malformed(detail: string, cause?: unknown): ProtocolError {
  return new ProtocolError(`Cannot decode message: ${detail}`, cause);
}

/** Names a field of the tell at `index`: `"tells[].type"` → `"tells[3].type"`. */
export function fieldName(what: string, index: number): string {
  return index < 0 ? what : what.replace("[]", `[${index}]`);
}

/** Where the last {@linkcode readVarint32} stopped (a field, so no result object per call). */
export const varintEnd: { pos: number } = { pos: 0 };

/**
 * Reads a varint at `pos` that must fit in 32 bits (tags and lengths); callers inline the
 * one-byte case. The position after it is left in `varintEnd.pos`.
 */
export function readVarint32(
  buf: Uint8Array,
  pos: number,
  end: number,
): number {
  const at = pos;
  let value = 0;
  for (let shift = 0; shift < 35; shift += 7) {
    if (pos >= end) throw malformed(`truncated varint at offset ${at}`);
    const b = buf[pos++];
    if (shift === 28 && b > 15) break;
    value += (b & 127) * 2 ** shift;
    if (b < 128) {
      varintEnd.pos = pos;
      return value;
    }
  }
  throw malformed(`varint at offset ${at} does not fit in 32 bits`);
}

// Short ASCII strings repeat a lot (actor paths, message types, codec names): a small
// direct-mapped table hands out the same string again instead of building a new one. Each slot
// keeps the string and its bytes (comparing bytes with bytes beats charCodeAt).
const INTERN_SLOTS = 1024;
const INTERN_MAX_BYTES = 64;
const internStrings: string[] = new Array<string>(INTERN_SLOTS).fill("");
const internBytes = new Uint8Array(INTERN_SLOTS * INTERN_MAX_BYTES);
const internLengths = new Int32Array(INTERN_SLOTS);

/** Builds a string of bytes known to be ASCII (chunks of 8: fastest on V8 for short ones). */
function asciiString(buf: Uint8Array, start: number, end: number): string {
  let text = "";
  let i = start;
  for (; i + 7 < end; i += 8) {
    text += String.fromCharCode(
      buf[i],
      buf[i + 1],
      buf[i + 2],
      buf[i + 3],
      buf[i + 4],
      buf[i + 5],
      buf[i + 6],
      buf[i + 7],
    );
  }
  for (; i < end; i++) text += String.fromCharCode(buf[i]);
  return text;
}

/** The longest text {@linkcode asciiText} builds in JavaScript. */
const ASCII_TEXT_MAX_BYTES = 256;

/**
 * The text of bytes `start..end` when they are all ASCII and at most 256 (short text built in
 * JavaScript costs less than a call of TextDecoder); `undefined` otherwise.
 */
export function asciiText(
  buf: Uint8Array,
  start: number,
  end: number,
): string | undefined {
  if (end - start > ASCII_TEXT_MAX_BYTES) return undefined;
  let bits = 0;
  for (let i = start; i < end; i++) bits |= buf[i];
  return bits < 128 ? asciiString(buf, start, end) : undefined;
}

/**
 * The string of UTF-8 bytes `start..end`; invalid UTF-8 or over MAX_STRING_BYTES throws.
 * `what` and `index` name the field in the error (see {@linkcode fieldName}).
 */
export function readString(
  buf: Uint8Array,
  start: number,
  end: number,
  what: string,
  index = -1,
): string {
  const length = end - start;
  if (length === 0) return "";
  if (length <= INTERN_MAX_BYTES) {
    // Hash the length, the first and the last 8 bytes: ids differ at the end.
    let hash = Math.imul(length, 0x9e3779b1) ^ buf[start];
    for (let i = length > 8 ? end - 8 : start; i < end; i++) {
      hash = Math.imul(hash ^ buf[i], 0x01000193);
    }
    const slot = (hash ^ (hash >>> 16)) & (INTERN_SLOTS - 1);
    const base = slot * INTERN_MAX_BYTES;
    if (internLengths[slot] === length) {
      let i = 0;
      while (i < length && internBytes[base + i] === buf[start + i]) i++;
      if (i === length) return internStrings[slot];
    }
    let bits = 0;
    for (let i = 0; i < length; i++) {
      bits |= internBytes[base + i] = buf[start + i];
    }
    if (bits < 128) {
      internLengths[slot] = length;
      return internStrings[slot] = asciiString(buf, start, end);
    }
    internLengths[slot] = 0;
  } else if (length > MAX_STRING_BYTES) {
    throw malformed(
      `${
        fieldName(what, index)
      } is ${length} bytes, over the limit of ${MAX_STRING_BYTES}`,
    );
  }
  try {
    return strictDecoder.decode(buf.subarray(start, end));
  } catch (error) {
    throw malformed(`${fieldName(what, index)} is not valid UTF-8`, error);
  }
}

/** A view of `start..end` of `buf` (no copy; plain when `buf` is). */
export function readBytes(
  buf: Uint8Array,
  start: number,
  end: number,
): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset + start, end - start);
}

/** Reads the envelope: protobuf wire data from a plain Uint8Array, failing with ProtocolError. */
export class WireReader {
  /** The bytes. */
  readonly buf: Uint8Array;
  /** The read position. */
  pos: number;

  constructor(buf: Uint8Array, pos = 0) {
    this.buf = buf;
    this.pos = pos;
  }

  /** A varint that must fit in 32 bits (tags and lengths). */
  uint32(end: number): number {
    const value = readVarint32(this.buf, this.pos, end);
    this.pos = varintEnd.pos;
    return value;
  }

  /** A length prefix; returns the end of the value it announces, within `end`. */
  lengthEnd(end: number, what: string): number {
    const at = this.pos;
    const length = this.uint32(end);
    const valueEnd = this.pos + length;
    if (valueEnd > end) {
      throw malformed(
        `${what} at offset ${at} announces ${length} bytes, but only ${
          end - this.pos
        } remain`,
      );
    }
    return valueEnd;
  }

  /** Skips one field of an unknown number. */
  skip(wireType: number, end: number, what: string): void {
    switch (wireType) {
      case WIRE_VARINT: {
        for (let i = 0; i < 10; i++) {
          if (this.pos >= end) throw malformed(`truncated varint in ${what}`);
          if (this.buf[this.pos++] < 128) return;
        }
        throw malformed(`varint longer than 10 bytes in ${what}`);
      }
      case WIRE_FIXED64:
        return this.#advance(8, end, what);
      case WIRE_LENGTH_DELIMITED:
        this.pos = this.lengthEnd(end, `a field of ${what}`);
        return;
      case WIRE_FIXED32:
        return this.#advance(4, end, what);
      default:
        throw malformed(`unsupported wire type ${wireType} in ${what}`);
    }
  }

  #advance(count: number, end: number, what: string): void {
    if (this.pos + count > end) throw malformed(`truncated field in ${what}`);
    this.pos += count;
  }
}
