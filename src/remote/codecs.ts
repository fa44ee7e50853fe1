import { type Codec, jsonCodec } from "../actor/mod.ts";
import { CodecError } from "./errors.ts";
import { asciiText } from "./protocol/mod.ts";

/** Options naming the codecs of a node. */
export interface CodecOptions {
  /** Codecs by name, besides the built-in `"json"`. */
  readonly codecs?: Readonly<Record<string, Codec>>;
  /** The codec (by name) of each message type sent; others use `"json"`. */
  readonly messageCodecs?: Readonly<Record<string, string>>;
}

/**
 * The message codecs of a node: which codec encodes each message type on the way out, and
 * every codec by name for the way in (the codec's name travels with each message).
 */
export class MessageCodecs {
  #byName = new Map<string, Codec>([["json", jsonCodec]]);
  #byType = new Map<string, string>();

  constructor(options: CodecOptions = {}) {
    for (const [name, codec] of Object.entries(options.codecs ?? {})) {
      if (typeof name !== "string" || name.length === 0 || name.length > 64) {
        throw new TypeError(`Invalid codec name ${JSON.stringify(name)}`);
      }
      if (
        typeof codec?.encode !== "function" ||
        typeof codec.decode !== "function"
      ) {
        throw new TypeError(
          `Invalid codec "${name}": it needs encode and decode`,
        );
      }
      this.#byName.set(name, codec);
    }
    for (const [type, name] of Object.entries(options.messageCodecs ?? {})) {
      if (!this.#byName.has(name)) {
        throw new TypeError(
          `Message type "${type}" names codec "${name}", which is not registered`,
        );
      }
      this.#byType.set(type, name);
    }
  }

  /** The codec name for a message type. */
  nameFor(type: string): string {
    return this.#byType.get(type) ?? "json";
  }

  /**
   * Encodes a value for the wire.
   *
   * @throws {CodecError} When the codec cannot encode it.
   */
  encode(codecName: string, type: string, value: unknown): Uint8Array {
    const codec = this.#byName.get(codecName);
    if (codec === undefined) {
      throw new CodecError(`Codec "${codecName}" is not registered`);
    }
    try {
      // undefined is not JSON; it travels as an empty payload.
      if (value === undefined && codecName === "json") return EMPTY;
      return codec.encode(type, value);
    } catch (error) {
      throw codecFailure("encode", type, codecName, error);
    }
  }

  /**
   * The JSON text of a value when `codecName` names the built-in JSON codec, so that the caller
   * can write it as UTF-8 straight into a frame (the bytes {@linkcode MessageCodecs.encode} would
   * give, without a buffer of their own); `undefined` for any other codec.
   *
   * @throws {CodecError} When the value is not serializable as JSON.
   */
  jsonText(
    codecName: string,
    type: string,
    value: unknown,
  ): string | undefined {
    if (this.#byName.get(codecName) !== jsonCodec) return undefined;
    // undefined is not JSON; it travels as an empty payload.
    if (value === undefined) return "";
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
      if (text === undefined) {
        throw new TypeError(
          `Cannot encode "${type}" as JSON: the value is not serializable`,
        );
      }
    } catch (error) {
      throw codecFailure("encode", type, codecName, error);
    }
    return text;
  }

  /**
   * Decodes a value from the wire.
   *
   * @throws {CodecError} When the codec is unknown or the bytes do not decode.
   */
  decode(codecName: string, type: string, bytes: Uint8Array): unknown {
    const codec = this.#codec(codecName);
    if (bytes.length === 0 && codecName === "json") return undefined;
    return decodeWith(codec, codecName, type, bytes);
  }

  /**
   * Decodes a value from bytes `start..end` of `buf` (a plain Uint8Array; `start` -1 when there
   * were none): what {@linkcode MessageCodecs.decode} gives for them, without a view of them
   * for a short ASCII JSON payload.
   *
   * @throws {CodecError} When the codec is unknown or the bytes do not decode.
   */
  decodeRange(
    codecName: string,
    type: string,
    buf: Uint8Array,
    start: number,
    end: number,
  ): unknown {
    const codec = this.#codec(codecName);
    if (start < 0) start = end = 0;
    if (start === end && codecName === "json") return undefined;
    if (codec === jsonCodec) {
      const text = asciiText(buf, start, end);
      if (text !== undefined) {
        try {
          return JSON.parse(text);
        } catch (error) {
          throw codecFailure("decode", type, codecName, error);
        }
      }
    }
    return decodeWith(
      codec,
      codecName,
      type,
      new Uint8Array(buf.buffer, buf.byteOffset + start, end - start),
    );
  }

  #codec(codecName: string): Codec {
    const codec = this.#byName.get(codecName);
    if (codec === undefined) {
      throw new CodecError(`Codec "${codecName}" is not registered`);
    }
    return codec;
  }
}

function decodeWith(
  codec: Codec,
  codecName: string,
  type: string,
  bytes: Uint8Array,
): unknown {
  try {
    return codec.decode(type, bytes);
  } catch (error) {
    throw codecFailure("decode", type, codecName, error);
  }
}

const EMPTY = new Uint8Array(0);

function codecFailure(
  action: "encode" | "decode",
  type: string,
  codecName: string,
  error: unknown,
): CodecError {
  const detail = error instanceof Error ? error.message : String(error);
  return new CodecError(
    `Cannot ${action} "${type}" with codec "${codecName}": ${detail}`,
    error,
  );
}
