// The hot path: TellBatch envelopes, encoded and decoded by hand over plain Uint8Arrays. They
// carry nearly all the traffic, so they skip protobufjs' generic machinery (message instances,
// a Writer call per field) and reuse one scratch buffer; the bytes are the same the generated
// code writes (tests compare both), and decoding accepts what the generated code accepts.
import $protobuf from "protobufjs/minimal.js";
import { MAX_STRING_BYTES, type Tell } from "./messages.ts";
import {
  fieldName,
  malformed,
  readBytes,
  readString,
  readVarint32,
  varintEnd,
  WIRE_LENGTH_DELIMITED,
  WireReader,
} from "./_wire.ts";

/** Envelope.tells (field 10, length-delimited). */
const TELLS_TAG = 82;
/** TellBatch.tells (field 1). */
const TELL_TAG = 10;
const RECIPIENT_TAG = 10;
const TYPE_TAG = 18;
const CODEC_TAG = 26;
const PAYLOAD_TAG = 34;
/** The envelope tag and the longest length varint come first; the length is filled in last. */
const HEADER_BYTES = 6;
/** Per tell, besides 3 bytes per UTF-16 unit and the payload: tags and longest lengths. */
const TELL_OVERHEAD_BYTES = 1 + 5 + 3 * (1 + 3) + 1 + 5;

const INITIAL_SCRATCH_BYTES = 64 * 1024;
/** A scratch buffer that grew past this is dropped after use, so one huge batch is not kept. */
const KEPT_SCRATCH_BYTES = 1024 * 1024;
let scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);

const encoder = new TextEncoder();

function fail(what: string, problem: string, error: "type" | "range"): never {
  const message = `Cannot encode message: ${what} ${problem}`;
  throw error === "type" ? new TypeError(message) : new RangeError(message);
}

function tooLong(index: number, field: string): never {
  fail(
    `tells[${index}].${field}`,
    `is over the limit of ${MAX_STRING_BYTES} UTF-8 bytes`,
    "range",
  );
}

function checkName(value: unknown, index: number, field: string): number {
  if (typeof value !== "string") {
    fail(`tells[${index}].${field}`, "must be a string", "type");
  }
  if (value.length === 0) {
    fail(`tells[${index}].${field}`, "must not be empty", "range");
  }
  if (value.length > MAX_STRING_BYTES) tooLong(index, field);
  return value.length;
}

function varintSize(value: number): number {
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

function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  while (value > 127) {
    buf[pos++] = (value & 127) | 128;
    value >>>= 7;
  }
  buf[pos] = value;
  return pos + 1;
}

/**
 * Writes a string field (tag, length, UTF-8) at `pos` and returns the end, or -1 when the
 * string is over MAX_STRING_BYTES. The caller reserved 4 + 3 × length bytes.
 */
function writeString(
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
 * Encodes an Envelope holding a TellBatch: first checks every tell and bounds the size, then
 * writes into the reused scratch buffer without further checks, then copies the result out.
 *
 * @throws {TypeError} A tell or one of its fields has the wrong type.
 * @throws {RangeError} No tells, an empty name, or a string over the limit.
 */
export function encodeTellBatch(tells: readonly Tell[]): Uint8Array {
  if (!Array.isArray(tells)) fail("tells", "must be an array", "type");
  const count = tells.length;
  if (count === 0) fail("tells", "must hold at least one tell", "range");
  let bound = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const tell = tells[i];
    if (typeof tell !== "object" || tell === null) {
      fail(`tells[${i}]`, "must be an object", "type");
    }
    const payload = tell.payload;
    if (!(payload instanceof Uint8Array)) {
      fail(`tells[${i}].payload`, "must be a Uint8Array", "type");
    }
    bound += TELL_OVERHEAD_BYTES + payload.length + 3 * (
          checkName(tell.recipient, i, "recipient") +
          checkName(tell.type, i, "type") +
          checkName(tell.codec, i, "codec")
        );
  }
  if (scratch.length < bound) {
    let size = scratch.length * 2;
    while (size < bound) size *= 2;
    scratch = new Uint8Array(size);
  }
  const buf = scratch;
  let pos = HEADER_BYTES;
  for (let i = 0; i < count; i++) {
    const tell = tells[i];
    buf[pos++] = TELL_TAG;
    const lengthAt = pos++;
    pos = writeString(buf, lengthAt + 1, RECIPIENT_TAG, tell.recipient);
    if (pos < 0) tooLong(i, "recipient");
    pos = writeString(buf, pos, TYPE_TAG, tell.type);
    if (pos < 0) tooLong(i, "type");
    pos = writeString(buf, pos, CODEC_TAG, tell.codec);
    if (pos < 0) tooLong(i, "codec");
    const payload = tell.payload;
    const size = payload.length;
    // proto3 leaves empty fields out, as the generated encoder does.
    if (size > 0) {
      buf[pos++] = PAYLOAD_TAG;
      pos = writeVarint(buf, pos, size);
      if (size <= 32) {
        for (let j = 0; j < size; j++) buf[pos + j] = payload[j];
      } else {
        buf.set(payload, pos);
      }
      pos += size;
    }
    const length = pos - lengthAt - 1;
    if (length < 128) {
      buf[lengthAt] = length;
    } else {
      // The length needs more than the one byte kept for it: move the tell (within the bound).
      const extra = varintSize(length) - 1;
      buf.copyWithin(lengthAt + 1 + extra, lengthAt + 1, pos);
      writeVarint(buf, lengthAt, length);
      pos += extra;
    }
  }
  // Right-align the envelope header against the tells, so nothing has to move.
  const length = pos - HEADER_BYTES;
  const start = HEADER_BYTES - varintSize(length) - 1;
  buf[start] = TELLS_TAG;
  writeVarint(buf, start + 1, length);
  const out = $protobuf.Writer.alloc(pos - start);
  out.set(buf.subarray(start, pos));
  if (scratch.length > KEPT_SCRATCH_BYTES) {
    scratch = new Uint8Array(INITIAL_SCRATCH_BYTES);
  }
  return out;
}

/** Reads a length prefix at `pos` (in `varintEnd.pos` after it) and returns the value's end. */
function lengthEnd(
  buf: Uint8Array,
  pos: number,
  end: number,
  what: string,
  index: number,
): number {
  let length = buf[pos];
  if (length < 128 && pos < end) {
    varintEnd.pos = ++pos;
  } else {
    length = readVarint32(buf, pos, end);
    pos = varintEnd.pos;
  }
  if (pos + length > end) {
    throw malformed(
      `${fieldName(what, index)} announces ${length} bytes, but only ${
        end - pos
      } remain`,
    );
  }
  return pos + length;
}

/** Decodes one Tell at `start..end` of `buf`. */
function decodeTell(
  buf: Uint8Array,
  start: number,
  end: number,
  index: number,
): Tell {
  let recipient = "";
  let type = "";
  let codec = "";
  let payload: Uint8Array | undefined;
  let pos = start;
  while (pos < end) {
    let tag = buf[pos];
    if (tag < 128) {
      pos++;
    } else {
      tag = readVarint32(buf, pos, end);
      pos = varintEnd.pos;
    }
    if ((tag & 7) !== WIRE_LENGTH_DELIMITED) {
      const reader = new WireReader(buf, pos);
      if (tag >>> 3 === 0) {
        throw malformed(`${fieldName("tells[]", index)} has field number 0`);
      }
      reader.skip(tag & 7, end, fieldName("tells[]", index));
      pos = reader.pos;
      continue;
    }
    const valueEnd = lengthEnd(buf, pos, end, "tells[]", index);
    pos = varintEnd.pos;
    switch (tag) {
      case RECIPIENT_TAG:
        recipient = readString(buf, pos, valueEnd, "tells[].recipient", index);
        break;
      case TYPE_TAG:
        type = readString(buf, pos, valueEnd, "tells[].type", index);
        break;
      case CODEC_TAG:
        codec = readString(buf, pos, valueEnd, "tells[].codec", index);
        break;
      case PAYLOAD_TAG:
        payload = readBytes(buf, pos, valueEnd);
        break;
      default:
        if (tag >>> 3 === 0) {
          throw malformed(`${fieldName("tells[]", index)} has field number 0`);
        }
    }
    pos = valueEnd;
  }
  if (recipient === "") {
    throw malformed(`tells[${index}].recipient must not be empty`);
  }
  if (type === "") throw malformed(`tells[${index}].type must not be empty`);
  if (codec === "") throw malformed(`tells[${index}].codec must not be empty`);
  return { recipient, type, codec, payload: payload ?? new Uint8Array(0) };
}

/** Decodes the TellBatch body at `start..end` of `buf`. Throws only ProtocolError. */
export function decodeTellBatch(
  buf: Uint8Array,
  start: number,
  end: number,
): Tell[] {
  const tells: Tell[] = [];
  let pos = start;
  while (pos < end) {
    let tag = buf[pos];
    if (tag < 128) {
      pos++;
    } else {
      tag = readVarint32(buf, pos, end);
      pos = varintEnd.pos;
    }
    if (tag === TELL_TAG) {
      const tellEnd = lengthEnd(buf, pos, end, "tells[]", tells.length);
      tells.push(decodeTell(buf, varintEnd.pos, tellEnd, tells.length));
      pos = tellEnd;
    } else {
      if (tag >>> 3 === 0) throw malformed("tells has field number 0");
      const reader = new WireReader(buf, pos);
      reader.skip(tag & 7, end, "tells");
      pos = reader.pos;
    }
  }
  if (tells.length === 0) throw malformed("tells must hold at least one tell");
  return tells;
}
