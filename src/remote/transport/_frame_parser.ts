// The inbound half of the frame format: an incremental parser of `u32 big-endian length +
// payload` over chunks cut anywhere. Internal to the transport; FrameConnection drives it.
import { FrameTooLargeError } from "./errors.ts";

/** Bytes of the length prefix of every frame. */
export const FRAME_HEADER_BYTES = 4;

/** The largest length a 4-byte header can carry. */
export const MAX_FRAME_LENGTH = 0xffff_ffff;

/**
 * Receives each complete payload, as bytes `start..end` of `buf` (no view made); return `false`
 * to stop parsing the rest of the chunk.
 */
export type FrameSink = (
  buf: Uint8Array,
  start: number,
  end: number,
) => boolean | void;

/**
 * Splits a byte stream into frames.
 *
 * A payload that lies wholly inside one pushed chunk is delivered as a range of that chunk (no
 * copy); one that spans chunks is assembled into a buffer of its own. Either way the parser
 * never writes into memory it has delivered, so payloads stay valid for as long as the caller
 * keeps them, provided the caller does not reuse the chunks it pushes.
 */
export class FrameParser {
  #maxFrameBytes: number;
  /** A header split across chunks, and how many of its bytes have arrived. */
  readonly #header = new Uint8Array(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  /** The payload being assembled across chunks, and how many of its bytes have arrived. */
  #body: Uint8Array | null = null;
  #bodyFilled = 0;
  #failed = false;

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /**
   * The largest payload accepted. A change applies from the next header on (a payload already
   * announced keeps the limit it was checked against).
   */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  set maxFrameBytes(value: number) {
    this.#maxFrameBytes = value;
  }

  /** Bytes of an unfinished frame held so far (header and payload); 0 between frames. */
  get partialBytes(): number {
    return this.#body === null
      ? this.#headerFilled
      : FRAME_HEADER_BYTES + this.#bodyFilled;
  }

  /** Describes the unfinished frame, for the error at an early end of the stream. */
  describePartial(): string {
    return this.#body === null
      ? `${this.#headerFilled} of ${FRAME_HEADER_BYTES} header bytes`
      : `${this.#bodyFilled} of ${this.#body.byteLength} payload bytes`;
  }

  /**
   * Feeds the next chunk; calls `sink` for each frame it completes, in order.
   *
   * @returns A {@linkcode FrameTooLargeError} when a header announces a frame over the limit
   * (the parser then refuses further input), or `undefined`.
   */
  push(chunk: Uint8Array, sink: FrameSink): FrameTooLargeError | undefined {
    if (this.#failed) {
      throw new TypeError("Cannot parse frames: the stream already failed");
    }
    const end = chunk.byteLength;
    let offset = 0;
    while (offset < end) {
      const body = this.#body;
      if (body !== null) {
        // Continue a payload that started in an earlier chunk.
        const take = Math.min(body.byteLength - this.#bodyFilled, end - offset);
        body.set(chunk.subarray(offset, offset + take), this.#bodyFilled);
        this.#bodyFilled += take;
        offset += take;
        if (this.#bodyFilled < body.byteLength) return undefined;
        this.#body = null;
        this.#bodyFilled = 0;
        if (sink(body, 0, body.byteLength) === false) return undefined;
        continue;
      }
      let length: number;
      if (this.#headerFilled === 0 && end - offset >= FRAME_HEADER_BYTES) {
        // The common case: the whole header is in this chunk.
        length = ((chunk[offset] << 24) | (chunk[offset + 1] << 16) |
          (chunk[offset + 2] << 8) | chunk[offset + 3]) >>> 0;
        offset += FRAME_HEADER_BYTES;
      } else {
        const header = this.#header;
        while (this.#headerFilled < FRAME_HEADER_BYTES && offset < end) {
          header[this.#headerFilled++] = chunk[offset++];
        }
        if (this.#headerFilled < FRAME_HEADER_BYTES) return undefined;
        this.#headerFilled = 0;
        length = ((header[0] << 24) | (header[1] << 16) | (header[2] << 8) |
          header[3]) >>> 0;
      }
      if (length > this.#maxFrameBytes) {
        this.#failed = true;
        return new FrameTooLargeError(length, this.#maxFrameBytes);
      }
      if (end - offset >= length) {
        const start = offset;
        offset += length;
        if (sink(chunk, start, offset) === false) return undefined;
      } else {
        // Only as much memory as the header announced, and that is bounded by the limit.
        const assembled = new Uint8Array(length);
        assembled.set(chunk.subarray(offset, end));
        this.#body = assembled;
        this.#bodyFilled = end - offset;
        return undefined;
      }
    }
    return undefined;
  }
}

/**
 * Encodes one frame: the 4-byte big-endian length, then the payload.
 *
 * @param payload The payload (at most 4 GiB - 1 bytes).
 * @returns A new buffer with the frame.
 */
export function encodeFrame(payload: Uint8Array): Uint8Array {
  if (payload.byteLength > MAX_FRAME_LENGTH) {
    throw new RangeError(
      `Cannot encode frame: ${payload.byteLength} bytes do not fit a 4-byte length`,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_BYTES + payload.byteLength);
  writeHeader(frame, 0, payload.byteLength);
  frame.set(payload, FRAME_HEADER_BYTES);
  return frame;
}

/** Writes a 4-byte big-endian length at `offset`. */
export function writeHeader(
  target: Uint8Array,
  offset: number,
  length: number,
): void {
  target[offset] = length >>> 24;
  target[offset + 1] = (length >>> 16) & 0xff;
  target[offset + 2] = (length >>> 8) & 0xff;
  target[offset + 3] = length & 0xff;
}
