/**
 * Turns values (messages sent to other nodes, persisted events and snapshots) into bytes and
 * back, by type name. The default is {@linkcode jsonCodec}; a
 * protobuf codec maps each type name to a generated message class, for example
 * `encode: (type, v) => classes[type].encode(v).finish()` and
 * `decode: (type, bytes) => classes[type].decode(bytes)`.
 */
export interface Codec {
  /** Encodes a value of the named type. */
  encode(type: string, value: unknown): Uint8Array;
  /** Decodes bytes of the named type; throws when they are not valid. */
  decode(type: string, data: Uint8Array): unknown;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

// TextEncoder/TextDecoder calls cross into native code (an op in Deno) and cost several hundred
// nanoseconds, more than the rest of sending a small message. Short ASCII text, the usual JSON
// payload, is converted in JavaScript instead.
const FAST_LIMIT = 256;

// Short encodings are views into a shared slab, as Node's Buffer pool does: a new Uint8Array
// costs 300-500 ns on Deno (every ArrayBuffer gets a backing store of its own outside the heap)
// and on Node above 64 bytes, a view of an existing buffer 30-60 ns. A view keeps its slab alive
// while it lives, so slabs are small; nothing here hands out `.buffer`.
const SLAB_BYTES = 8 * 1024;
let slab = new Uint8Array(SLAB_BYTES);
let slabUsed = 0;

function utf8Encode(text: string): Uint8Array {
  const length = text.length;
  if (length <= FAST_LIMIT) {
    if (slabUsed + length > SLAB_BYTES) {
      slab = new Uint8Array(SLAB_BYTES);
      slabUsed = 0;
    }
    const target = slab;
    const start = slabUsed;
    for (let i = 0; i < length; i++) {
      const c = text.charCodeAt(i);
      if (c > 0x7f) return encoder.encode(text);
      target[start + i] = c;
    }
    slabUsed = start + length;
    return target.subarray(start, start + length);
  }
  return encoder.encode(text);
}

function utf8Decode(bytes: Uint8Array): string {
  const length = bytes.length;
  if (length <= FAST_LIMIT) {
    let text = "";
    for (let i = 0; i < length; i++) {
      const b = bytes[i];
      if (b > 0x7f) return decoder.decode(bytes);
      text += String.fromCharCode(b);
    }
    return text;
  }
  return decoder.decode(bytes);
}

/**
 * The JSON codec: UTF-8 JSON, whatever the type name.
 *
 * `encode` may return a view of a buffer that other encodings share (as Node's `Buffer` pool
 * does for small buffers): read it through the view (`byteOffset`, `byteLength`), as any
 * `Uint8Array`, never through its whole `.buffer`.
 *
 * @example Usage
 * ```ts
 * import { jsonCodec } from "@troupe/troupe";
 * const bytes = jsonCodec.encode("deposited", { amount: 5 });
 * console.log(jsonCodec.decode("deposited", bytes)); // { amount: 5 }
 * ```
 */
export const jsonCodec: Codec = Object.freeze({
  encode(type: string, value: unknown): Uint8Array {
    const text = JSON.stringify(value);
    if (text === undefined) {
      throw new TypeError(
        `Cannot encode "${type}" as JSON: the value is not serializable`,
      );
    }
    return utf8Encode(text);
  },
  decode(_type: string, data: Uint8Array): unknown {
    return JSON.parse(utf8Decode(data));
  },
});
