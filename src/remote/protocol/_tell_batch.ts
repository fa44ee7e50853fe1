// The hot path: TellBatch envelopes, encoded and decoded by hand over plain Uint8Arrays. They
// carry nearly all the traffic, so they skip protobufjs' generic machinery (message instances,
// a Writer call per field) and reuse one scratch buffer; the bytes are the same the generated
// code writes (tests compare both), and decoding accepts what the generated code accepts.
import $protobuf from "protobufjs/minimal.js";
import { MAX_STRING_BYTES, type Tell } from "./messages.ts";
import { overLimit } from "./_string_limit.ts";
import {
  asciiText,
  fieldName,
  malformed,
  readBytes,
  readString,
  readVarint32,
  varintEnd,
  varintSize,
  WIRE_LENGTH_DELIMITED,
  WireReader,
  writeName,
  writeText,
  writeVarint,
} from "./_wire.ts";

/** Envelope.tells (field 10, length-delimited). */
const TELLS_TAG = 82;
/** TellBatch.tells (field 1). */
const TELL_TAG = 10;
const RECIPIENT_TAG = 10;
const TYPE_TAG = 18;
const CODEC_TAG = 26;
const PAYLOAD_TAG = 34;
const TRACEPARENT_TAG = 42;
/** The envelope tag and the longest length varint come first; the length is filled in last. */
const HEADER_BYTES = 6;
/**
 * Per tell, besides 3 bytes per UTF-16 unit and the payload: tags and longest lengths (the
 * tell's, three names', the payload's and the traceparent's).
 */
const TELL_OVERHEAD_BYTES = 1 + 5 + 3 * (1 + 3) + 1 + 5 + 1 + 5;

const INITIAL_BYTES = 64 * 1024;
/** A buffer that grew past this is dropped at reset, so one huge batch is not kept. */
const KEPT_BYTES = 1024 * 1024;

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

/** The UTF-16 length of an optional traceparent (0: none). */
function checkTraceparent(value: unknown, index: number): number {
  if (value === undefined) return 0;
  if (typeof value !== "string") {
    fail(`tells[${index}].traceparent`, "must be a string", "type");
  }
  if (overLimit(value)) tooLong(index, "traceparent");
  return value.length;
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

/**
 * Builds the Envelope of one TellBatch, a tell at a time, straight into a buffer it reuses: no
 * Tell object and no buffer per tell. A payload may be given as text, written as UTF-8 (how a
 * JSON payload avoids a buffer of its own). The bytes are those of `encodeMessage()`.
 *
 * @example Usage
 * ```ts
 * import { decodeMessage, TellBatchWriter } from "./mod.ts";
 *
 * const batch = new TellBatchWriter();
 * batch.add("orders/42", "Ship", "json", '{"to":"Oslo"}');
 * const message = decodeMessage(batch.finish().slice());
 * batch.reset();
 * console.log(message.kind === "tells" && message.tells.length); // 1
 * ```
 */
export class TellBatchWriter {
  #buf = new Uint8Array(INITIAL_BYTES);
  #pos = HEADER_BYTES;
  #count = 0;
  // The names of the last tell added and where their fields are in #buf: a tell to the same
  // recipient, of the same type and codec (the usual stream), copies those bytes.
  #recipient = "";
  #type = "";
  #codec = "";
  #namesStart = 0;
  #namesEnd = 0;

  /** How many tells were added since the last reset. */
  get count(): number {
    return this.#count;
  }

  /** The bytes of the tells added so far (without the envelope header). */
  get byteLength(): number {
    return this.#pos - HEADER_BYTES;
  }

  /**
   * Adds one tell. Nothing is added when it throws.
   *
   * @param recipient The recipient's path (non-empty).
   * @param type The message type (non-empty).
   * @param codec The codec's name (non-empty).
   * @param payload The encoded payload, or text to write as its UTF-8 bytes.
   * @param traceparent The sender's W3C trace context; omitted (or `""`) when untraced.
   * @throws {TypeError} A name or the traceparent is not a string, or the payload neither
   * bytes nor a string.
   * @throws {RangeError} A name is empty, or a name or the traceparent is over
   * {@linkcode MAX_STRING_BYTES} UTF-8 bytes.
   */
  add(
    recipient: string,
    type: string,
    codec: string,
    payload: Uint8Array | string,
    traceparent?: string,
  ): void {
    const index = this.#count;
    let size: number;
    if (typeof payload === "string") size = 3 * payload.length;
    else if (payload instanceof Uint8Array) size = payload.length;
    else fail(`tells[${index}].payload`, "must be a Uint8Array", "type");
    const bound = TELL_OVERHEAD_BYTES + size + 3 * (
          checkTraceparent(traceparent, index) +
          checkName(recipient, index, "recipient") +
          checkName(type, index, "type") +
          checkName(codec, index, "codec")
        );
    const start = this.#pos;
    if (start + bound > this.#buf.length) this.#grow(start + bound);
    const buf = this.#buf;
    let pos = start;
    buf[pos++] = TELL_TAG;
    const lengthAt = pos++;
    const namesStart = lengthAt + 1;
    if (
      recipient === this.#recipient && type === this.#type &&
      codec === this.#codec
    ) {
      const from = this.#namesStart;
      const count = this.#namesEnd - from;
      if (count <= 64) {
        for (let j = 0; j < count; j++) buf[namesStart + j] = buf[from + j];
      } else {
        buf.copyWithin(namesStart, from, this.#namesEnd);
      }
      pos = namesStart + count;
    } else {
      pos = writeName(buf, namesStart, RECIPIENT_TAG, recipient);
      if (pos < 0) tooLong(index, "recipient");
      pos = writeName(buf, pos, TYPE_TAG, type);
      if (pos < 0) tooLong(index, "type");
      pos = writeName(buf, pos, CODEC_TAG, codec);
      if (pos < 0) tooLong(index, "codec");
    }
    const namesEnd = pos;
    if (typeof payload === "string") {
      // proto3 leaves empty fields out, as the generated encoder does.
      if (payload.length > 0) pos = writeText(buf, pos, PAYLOAD_TAG, payload);
    } else if (size > 0) {
      buf[pos++] = PAYLOAD_TAG;
      pos = writeVarint(buf, pos, size);
      if (size <= 32) {
        for (let j = 0; j < size; j++) buf[pos + j] = payload[j];
      } else {
        buf.set(payload, pos);
      }
      pos += size;
    }
    if (traceparent !== undefined && traceparent.length > 0) {
      pos = writeText(buf, pos, TRACEPARENT_TAG, traceparent);
    }
    const length = pos - lengthAt - 1;
    let shift = 0; // how far the tell moved
    if (length < 128) {
      buf[lengthAt] = length;
    } else {
      // The length needs more than the one byte kept for it: move the tell (within the bound).
      const extra = varintSize(length) - 1;
      buf.copyWithin(lengthAt + 1 + extra, lengthAt + 1, pos);
      writeVarint(buf, lengthAt, length);
      pos += extra;
      shift = extra;
    }
    this.#pos = pos;
    this.#count = index + 1;
    this.#recipient = recipient;
    this.#type = type;
    this.#codec = codec;
    this.#namesStart = namesStart + shift;
    this.#namesEnd = namesEnd + shift;
  }

  /**
   * The Envelope of the tells added so far: a view of the writer's buffer, valid until the next
   * `add()` or `reset()`.
   *
   * @returns The encoded message.
   * @throws {RangeError} When no tell was added.
   */
  finish(): Uint8Array {
    if (this.#count === 0) {
      fail("tells", "must hold at least one tell", "range");
    }
    // Right-align the envelope header against the tells, so nothing has to move.
    const buf = this.#buf;
    const length = this.#pos - HEADER_BYTES;
    const start = HEADER_BYTES - varintSize(length) - 1;
    buf[start] = TELLS_TAG;
    writeVarint(buf, start + 1, length);
    return buf.subarray(start, this.#pos);
  }

  /** Forgets the tells added, to start the next batch. */
  reset(): void {
    this.#pos = HEADER_BYTES;
    this.#count = 0;
    this.#recipient = this.#type = this.#codec = "";
    if (this.#buf.length > KEPT_BYTES) {
      this.#buf = new Uint8Array(INITIAL_BYTES);
    }
  }

  #grow(needed: number): void {
    let size = this.#buf.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.#buf.subarray(0, this.#pos));
    this.#buf = grown;
  }
}

const shared = new TellBatchWriter();

/**
 * Encodes an Envelope holding a TellBatch: first checks every tell and bounds the size, then
 * writes into the reused buffer of a {@linkcode TellBatchWriter}, then copies the result out.
 *
 * @throws {TypeError} A tell or one of its fields has the wrong type.
 * @throws {RangeError} No tells, an empty name, or a string over the limit.
 */
export function encodeTellBatch(tells: readonly Tell[]): Uint8Array {
  if (!Array.isArray(tells)) fail("tells", "must be an array", "type");
  const count = tells.length;
  if (count === 0) fail("tells", "must hold at least one tell", "range");
  for (let i = 0; i < count; i++) {
    const tell = tells[i];
    if (typeof tell !== "object" || tell === null) {
      fail(`tells[${i}]`, "must be an object", "type");
    }
    if (!(tell.payload instanceof Uint8Array)) {
      fail(`tells[${i}].payload`, "must be a Uint8Array", "type");
    }
  }
  try {
    for (let i = 0; i < count; i++) {
      const tell = tells[i];
      shared.add(
        tell.recipient,
        tell.type,
        tell.codec,
        tell.payload,
        tell.traceparent,
      );
    }
    const view = shared.finish();
    const out = $protobuf.Writer.alloc(view.length);
    out.set(view);
    return out;
  } finally {
    shared.reset();
  }
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

/**
 * The tells of one batch, decoded into arrays reused from batch to batch: no object and no
 * payload view per tell. Tell `i` has names `recipients[i]`, `types[i]` and `codecs[i]`, its
 * payload at `payloadStarts[i]..payloadEnds[i]` of `buf` (both -1 when the tell had none), and
 * its sender's trace context in `traceparents[i]` (`""` when it had none).
 */
export class TellColumns {
  /** How many tells the last decode found. */
  count = 0;
  /** The bytes the payloads are in (a plain Uint8Array). */
  buf: Uint8Array = EMPTY;
  /** The recipients' paths. */
  readonly recipients: string[] = [];
  /** The message types. */
  readonly types: string[] = [];
  /** The payloads' codecs. */
  readonly codecs: string[] = [];
  /** Where each payload starts in `buf` (-1: none). */
  readonly payloadStarts: number[] = [];
  /** Where each payload ends (-1: none). */
  readonly payloadEnds: number[] = [];
  /** Each tell's W3C traceparent (`""`: none). */
  readonly traceparents: string[] = [];

  /** The payload of tell `i`: a view of `buf`, or a fresh empty buffer when it had none. */
  payload(i: number): Uint8Array {
    const start = this.payloadStarts[i];
    return start < 0
      ? new Uint8Array(0)
      : readBytes(this.buf, start, this.payloadEnds[i]);
  }

  /** Lets go of the bytes (the names stay until overwritten: they are small and interned). */
  release(): void {
    this.buf = EMPTY;
    this.count = 0;
  }
}

const EMPTY = new Uint8Array(0);

/** Decodes one Tell at `start..end` of `buf` into place `index` of `out`. */
function decodeTell(
  buf: Uint8Array,
  start: number,
  end: number,
  index: number,
  out: TellColumns,
): void {
  let recipient = "";
  let type = "";
  let codec = "";
  let payloadStart = -1;
  let payloadEnd = -1;
  let traceparent = "";
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
        payloadStart = pos;
        payloadEnd = valueEnd;
        break;
      case TRACEPARENT_TAG:
        // Not interned: every traceparent is new, and would push the names out of the table.
        traceparent = asciiText(buf, pos, valueEnd) ??
          readString(buf, pos, valueEnd, "tells[].traceparent", index);
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
  out.recipients[index] = recipient;
  out.types[index] = type;
  out.codecs[index] = codec;
  out.payloadStarts[index] = payloadStart;
  out.payloadEnds[index] = payloadEnd;
  out.traceparents[index] = traceparent;
}

/**
 * Decodes the TellBatch body at `start..end` of `buf` (a plain Uint8Array) into `out`, all of it
 * or nothing: `out.count` is 0 unless every tell decoded. Throws only ProtocolError.
 */
export function decodeTellColumns(
  buf: Uint8Array,
  start: number,
  end: number,
  out: TellColumns,
): void {
  out.count = 0;
  out.buf = buf;
  let count = 0;
  let pos = start;
  try {
    while (pos < end) {
      let tag = buf[pos];
      if (tag < 128) {
        pos++;
      } else {
        tag = readVarint32(buf, pos, end);
        pos = varintEnd.pos;
      }
      if (tag === TELL_TAG) {
        const tellEnd = lengthEnd(buf, pos, end, "tells[]", count);
        decodeTell(buf, varintEnd.pos, tellEnd, count, out);
        count++;
        pos = tellEnd;
      } else {
        if (tag >>> 3 === 0) throw malformed("tells has field number 0");
        const reader = new WireReader(buf, pos);
        reader.skip(tag & 7, end, "tells");
        pos = reader.pos;
      }
    }
    if (count === 0) throw malformed("tells must hold at least one tell");
  } catch (error) {
    out.release();
    throw error;
  }
  out.count = count;
}

/** Decodes the TellBatch body at `start..end` of `buf`. Throws only ProtocolError. */
export function decodeTellBatch(
  buf: Uint8Array,
  start: number,
  end: number,
): Tell[] {
  const columns = new TellColumns();
  decodeTellColumns(buf, start, end, columns);
  const tells: Tell[] = new Array(columns.count);
  for (let i = 0; i < columns.count; i++) {
    const traceparent = columns.traceparents[i];
    tells[i] = {
      recipient: columns.recipients[i],
      type: columns.types[i],
      codec: columns.codecs[i],
      payload: columns.payload(i),
      ...(traceparent === "" ? {} : { traceparent }),
    };
  }
  return tells;
}
