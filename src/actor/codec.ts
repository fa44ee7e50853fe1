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

/**
 * The JSON codec: UTF-8 JSON, whatever the type name.
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
    return encoder.encode(text);
  },
  decode(_type: string, data: Uint8Array): unknown {
    return JSON.parse(decoder.decode(data));
  },
});
