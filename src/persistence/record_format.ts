// A compact binary form of stored events and snapshots, for providers that store bytes:
//
//   u8  format (1)
//   u32 sequence number (high 21 bits)  u32 sequence number (low 32 bits)   (safe integers)
//   u32 schema version
//   f64 timestamp
//   u16 type name length, then the type name in UTF-8
//   u32 data length, then the data bytes
//   u32 CRC-32 (IEEE) of everything before it
//
// All integers are big-endian. Decoding checks the checksum, every length and every field,
// and throws CorruptRecordError naming the persistence id and sequence number: a truncated
// or bit-flipped record is always caught.
import { CorruptRecordError } from "./errors.ts";

const FORMAT = 1;
const HEADER = 1 + 8 + 4 + 8 + 2;
const TRAILER = 4;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 (IEEE 802.3) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) {
    crc = CRC_TABLE[(crc ^ bytes[i]) & 0xff] ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** The fields of a record in the binary form. */
export interface RecordFields {
  /** Sequence number. */
  readonly sequenceNr: number;
  /** Type name. */
  readonly type: string;
  /** Schema version. */
  readonly version: number;
  /** The encoded payload. */
  readonly data: Uint8Array;
  /** Milliseconds since the epoch. */
  readonly timestamp: number;
}

/**
 * Encodes a record.
 *
 * @param record The record.
 * @returns Its bytes.
 */
export function encodeRecord(record: RecordFields): Uint8Array {
  const type = encoder.encode(record.type);
  if (type.length > 0xffff) {
    throw new RangeError("Cannot encode record: type name too long");
  }
  const dataAt = HEADER + type.length + 4;
  const out = new Uint8Array(dataAt + record.data.length + TRAILER);
  const view = new DataView(out.buffer);
  view.setUint8(0, FORMAT);
  view.setUint32(1, Math.floor(record.sequenceNr / 2 ** 32));
  view.setUint32(5, record.sequenceNr >>> 0);
  view.setUint32(9, record.version);
  view.setFloat64(13, record.timestamp);
  view.setUint16(21, type.length);
  out.set(type, HEADER);
  view.setUint32(HEADER + type.length, record.data.length);
  out.set(record.data, dataAt);
  const end = dataAt + record.data.length;
  view.setUint32(end, crc32(out.subarray(0, end)));
  return out;
}

/**
 * Decodes a record.
 *
 * @param persistenceId For error messages.
 * @param bytes The stored bytes.
 * @param expectedSequenceNr The sequence number the storage says this is, if known.
 * @returns The record.
 * @throws {CorruptRecordError} When the bytes are not a valid record.
 */
export function decodeRecord(
  persistenceId: string,
  bytes: Uint8Array,
  expectedSequenceNr?: number,
): RecordFields {
  const at = expectedSequenceNr ?? 0;
  if (!(bytes instanceof Uint8Array) || bytes.length < HEADER + 4 + TRAILER) {
    throw new CorruptRecordError(
      persistenceId,
      at,
      "record is shorter than its header",
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.length - TRAILER;
  if (view.getUint32(end) !== crc32(bytes.subarray(0, end))) {
    throw new CorruptRecordError(persistenceId, at, "checksum mismatch");
  }
  if (view.getUint8(0) !== FORMAT) {
    throw new CorruptRecordError(
      persistenceId,
      at,
      `unknown record format ${view.getUint8(0)}`,
    );
  }
  const high = view.getUint32(1);
  const sequenceNr = high * 2 ** 32 + view.getUint32(5);
  if (high > 0x1fffff || sequenceNr < 1) {
    throw new CorruptRecordError(
      persistenceId,
      at,
      `invalid sequence number ${sequenceNr}`,
    );
  }
  if (expectedSequenceNr !== undefined && sequenceNr !== expectedSequenceNr) {
    throw new CorruptRecordError(
      persistenceId,
      at,
      `record says sequence number ${sequenceNr}`,
    );
  }
  const version = view.getUint32(9);
  const timestamp = view.getFloat64(13);
  const typeLength = view.getUint16(21);
  if (
    version < 1 || !Number.isFinite(timestamp) || typeLength === 0 ||
    HEADER + typeLength + 4 > end
  ) {
    throw new CorruptRecordError(
      persistenceId,
      sequenceNr,
      "invalid header fields",
    );
  }
  const dataAt = HEADER + typeLength + 4;
  if (dataAt + view.getUint32(HEADER + typeLength) !== end) {
    throw new CorruptRecordError(
      persistenceId,
      sequenceNr,
      "data length does not match",
    );
  }
  let type: string;
  try {
    type = decoder.decode(bytes.subarray(HEADER, HEADER + typeLength));
  } catch (error) {
    throw new CorruptRecordError(
      persistenceId,
      sequenceNr,
      "type name is not UTF-8",
      error,
    );
  }
  return {
    sequenceNr,
    type,
    version,
    timestamp,
    data: bytes.slice(dataAt, end),
  };
}
