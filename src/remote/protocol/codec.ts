// One frame payload (an Envelope) to a RemoteMessage and back. TellBatch, nearly all the
// traffic, takes a hand-written path (_tell_batch.ts); every other body goes through the code
// protobufjs generated from proto/troupe_remote.proto, with one reused Writer. Both directions
// check the limits documented in messages.ts.
import $protobuf from "protobufjs/minimal.js";
import { ProtocolError } from "./errors.ts";
import { troupe } from "./generated/troupe_remote.js";
import {
  MAX_EXTENSIONS,
  MAX_STRING_BYTES,
  NONCE_BYTES,
  PROOF_BYTES,
  type RemoteMessage,
  type RemoteMessageKind,
} from "./messages.ts";
import {
  decodeAskBody,
  decodeReplyBody,
  encodeAskView,
  encodeReplyView,
} from "./_ask_reply.ts";
import { decodeTellBatch, encodeTellBatch } from "./_tell_batch.ts";
import { malformed, WIRE_LENGTH_DELIMITED, WireReader } from "./_wire.ts";

const v1 = troupe.remote.v1;

/** The Envelope field number of each body. */
const FIELD_OF_KIND: Readonly<Record<RemoteMessageKind, number>> = {
  hello: 1,
  welcome: 2,
  proof: 3,
  accepted: 4,
  refused: 5,
  tells: 10,
  ask: 11,
  reply: 12,
  failure: 13,
  ping: 20,
  pong: 21,
  watch: 30,
  unwatch: 31,
  terminated: 32,
  spawn: 40,
  lookup: 41,
  stop: 42,
  goodbye: 50,
  extension: 60,
};

const KIND_OF_FIELD: ReadonlyArray<RemoteMessageKind | undefined> = (() => {
  const kinds: Array<RemoteMessageKind | undefined> = [];
  for (const [kind, field] of Object.entries(FIELD_OF_KIND)) {
    kinds[field] = kind as RemoteMessageKind;
  }
  return kinds;
})();

const textEncoder = new TextEncoder();

/** UTF-8 length of a string, as TextEncoder would write it. */
function utf8Length(value: string): number {
  let length = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 0x80) length += 1;
    else if (c < 0x800) length += 2;
    else if (
      (c & 0xfc00) === 0xd800 && i + 1 < value.length &&
      (value.charCodeAt(i + 1) & 0xfc00) === 0xdc00
    ) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

function overLimit(value: string): boolean {
  // A UTF-16 unit takes at most 3 UTF-8 bytes: short strings need no count.
  return value.length * 3 > MAX_STRING_BYTES &&
    utf8Length(value) > MAX_STRING_BYTES;
}

function hasSurrogate(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    if ((value.charCodeAt(i) & 0xf800) === 0xd800) return true;
  }
  return false;
}

/**
 * A protobufjs Writer whose strings are UTF-8 as TextEncoder writes it: protobufjs would write a
 * lone surrogate as bytes that no strict decoder (ours included) accepts.
 */
function createWriter(): $protobuf.Writer {
  const writer = new $protobuf.Writer();
  const writeString = writer.string;
  writer.string = function string(this: $protobuf.Writer, value: string) {
    return hasSurrogate(value)
      ? this.bytes(textEncoder.encode(value))
      : writeString.call(this, value);
  };
  return writer;
}

let writer = createWriter();

// ---------------------------------------------------------------------------------------------
// Encoding: caller mistakes throw TypeError (wrong type) or RangeError (wrong value).

function encodeError(what: string, problem: string, type: boolean): never {
  const message = `Cannot encode message: ${what} ${problem}`;
  throw type ? new TypeError(message) : new RangeError(message);
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") encodeError(what, "must be a string", true);
  if (overLimit(value)) {
    encodeError(
      what,
      `is over the limit of ${MAX_STRING_BYTES} UTF-8 bytes`,
      false,
    );
  }
  return value;
}

function name(value: unknown, what: string): string {
  if (typeof value === "string" && value.length === 0) {
    encodeError(what, "must not be empty", false);
  }
  return text(value, what);
}

/** An optional list of extension names: absent is none. */
function names(value: unknown, what: string): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) encodeError(what, "must be an array", true);
  if (value.length > MAX_EXTENSIONS) {
    encodeError(what, `must list at most ${MAX_EXTENSIONS} names`, false);
  }
  return value.map((item, i) => name(item, `${what}[${i}]`));
}

function uint32(value: unknown, what: string): number {
  if (typeof value !== "number") encodeError(what, "must be a number", true);
  if (!Number.isInteger(value) || value < 0 || value > 0xffff_ffff) {
    encodeError(
      what,
      `must be an integer from 0 to 4294967295, got ${value}`,
      false,
    );
  }
  return value;
}

function bytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    encodeError(what, "must be a Uint8Array", true);
  }
  return value;
}

function exactBytes(value: unknown, size: number, what: string): Uint8Array {
  const checked = bytes(value, what);
  if (checked.length !== size) {
    encodeError(what, `must be ${size} bytes, got ${checked.length}`, false);
  }
  return checked;
}

/** Checks a message and hands it to the generated encoder of its body. */
function encodeBody(message: RemoteMessage, w: $protobuf.Writer): void {
  switch (message.kind) {
    case "hello":
      v1.Hello.encode({
        protocolVersion: uint32(
          message.protocolVersion,
          "hello.protocolVersion",
        ),
        node: name(message.node, "hello.node"),
        address: name(message.address, "hello.address"),
        cluster: name(message.cluster, "hello.cluster"),
        nonce: exactBytes(message.nonce, NONCE_BYTES, "hello.nonce"),
        extensions: names(message.extensions, "hello.extensions"),
      }, w);
      return;
    case "welcome":
      v1.Welcome.encode({
        protocolVersion: uint32(
          message.protocolVersion,
          "welcome.protocolVersion",
        ),
        node: name(message.node, "welcome.node"),
        address: name(message.address, "welcome.address"),
        cluster: name(message.cluster, "welcome.cluster"),
        nonce: exactBytes(message.nonce, NONCE_BYTES, "welcome.nonce"),
        extensions: names(message.extensions, "welcome.extensions"),
      }, w);
      return;
    case "proof":
      v1.Proof.encode({
        proof: exactBytes(message.proof, PROOF_BYTES, "proof.proof"),
      }, w);
      return;
    case "accepted":
      v1.Accepted.encode({
        proof: exactBytes(message.proof, PROOF_BYTES, "accepted.proof"),
      }, w);
      return;
    case "refused":
      v1.Refused.encode({
        code: name(message.code, "refused.code"),
        reason: text(message.reason, "refused.reason"),
      }, w);
      return;
    case "ask":
      v1.Ask.encode({
        id: uint32(message.id, "ask.id"),
        recipient: name(message.recipient, "ask.recipient"),
        type: name(message.type, "ask.type"),
        codec: name(message.codec, "ask.codec"),
        payload: bytes(message.payload, "ask.payload"),
        timeoutMs: uint32(message.timeoutMs, "ask.timeoutMs"),
      }, w);
      return;
    case "reply":
      v1.Reply.encode({
        id: uint32(message.id, "reply.id"),
        codec: name(message.codec, "reply.codec"),
        payload: bytes(message.payload, "reply.payload"),
      }, w);
      return;
    case "failure":
      v1.Failure.encode({
        id: uint32(message.id, "failure.id"),
        code: name(message.code, "failure.code"),
        message: text(message.message, "failure.message"),
        name: text(message.name, "failure.name"),
      }, w);
      return;
    case "ping":
      v1.Ping.encode({ id: uint32(message.id, "ping.id") }, w);
      return;
    case "pong":
      v1.Pong.encode({ id: uint32(message.id, "pong.id") }, w);
      return;
    case "watch":
      v1.Watch.encode({ target: name(message.target, "watch.target") }, w);
      return;
    case "unwatch":
      v1.Unwatch.encode({ target: name(message.target, "unwatch.target") }, w);
      return;
    case "terminated":
      v1.Terminated.encode({
        target: name(message.target, "terminated.target"),
        fault: text(message.fault, "terminated.fault"),
        reason: text(message.reason, "terminated.reason"),
      }, w);
      return;
    case "spawn":
      v1.Spawn.encode({
        id: uint32(message.id, "spawn.id"),
        factory: name(message.factory, "spawn.factory"),
        actorId: text(message.actorId, "spawn.actorId"),
        codec: name(message.codec, "spawn.codec"),
        args: bytes(message.args, "spawn.args"),
      }, w);
      return;
    case "lookup":
      v1.Lookup.encode({
        id: uint32(message.id, "lookup.id"),
        path: name(message.path, "lookup.path"),
      }, w);
      return;
    case "stop":
      v1.Stop.encode({
        id: uint32(message.id, "stop.id"),
        path: name(message.path, "stop.path"),
      }, w);
      return;
    case "goodbye":
      v1.Goodbye.encode({ reason: text(message.reason, "goodbye.reason") }, w);
      return;
    case "extension":
      v1.Extension.encode({
        id: uint32(message.id, "extension.id"),
        name: name(message.name, "extension.name"),
        payload: bytes(message.payload, "extension.payload"),
      }, w);
      return;
    default:
      encodeError(
        "kind",
        `must be one of ${Object.keys(FIELD_OF_KIND).join(", ")}; got ${
          JSON.stringify((message as { kind?: unknown }).kind)
        }`,
        true,
      );
  }
}

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
      return copy(encodeAskView(
        message.id,
        message.recipient,
        message.type,
        message.codec,
        bytes(message.payload, "ask.payload"),
        message.timeoutMs,
      ));
    case "reply":
      return copy(encodeReplyView(
        message.id,
        message.codec,
        bytes(message.payload, "reply.payload"),
      ));
  }
  const field = Object.hasOwn(FIELD_OF_KIND, message.kind)
    ? FIELD_OF_KIND[message.kind]
    : 0;
  const w = writer;
  try {
    w.uint32((field << 3) | WIRE_LENGTH_DELIMITED).fork();
    encodeBody(message, w);
    w.ldelim();
    const out = w.finish();
    w.reset();
    return out;
  } catch (error) {
    // The writer may hold half a message and an open fork: start over with a new one.
    writer = createWriter();
    throw error;
  }
}

/** A copy of an encoded view, in a buffer of its own as encodeMessage() promises. */
function copy(view: Uint8Array): Uint8Array {
  const out = $protobuf.Writer.alloc(view.length);
  out.set(view);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding: anything wrong with the bytes is a ProtocolError.

function decodedName(value: string, what: string): string {
  if (value.length === 0) throw malformed(`${what} must not be empty`);
  return decodedText(value, what);
}

function decodedText(value: string, what: string): string {
  if (overLimit(value)) {
    throw malformed(
      `${what} is over the limit of ${MAX_STRING_BYTES} UTF-8 bytes`,
    );
  }
  return value;
}

function decodedBytes(value: Uint8Array): Uint8Array {
  // An absent field reads as the generated prototype's shared empty buffer: never hand it out.
  return value.length === 0 ? new Uint8Array(0) : value;
}

/** Extension names as a message field: absent when the list is empty (a peer without any). */
function decodedNames(
  value: string[],
  what: string,
): { extensions?: readonly string[] } {
  if (value.length === 0) return {};
  if (value.length > MAX_EXTENSIONS) {
    throw malformed(`${what} must list at most ${MAX_EXTENSIONS} names`);
  }
  return {
    extensions: value.map((item, i) => decodedName(item, `${what}[${i}]`)),
  };
}

function decodedExactBytes(
  value: Uint8Array,
  size: number,
  what: string,
): Uint8Array {
  if (value.length !== size) {
    throw malformed(`${what} must be ${size} bytes, got ${value.length}`);
  }
  return value;
}

/** Decodes a body other than tells with the generated code, then checks it. */
function decodeBody(
  kind: Exclude<RemoteMessageKind, "tells">,
  buf: Uint8Array,
  start: number,
  end: number,
): RemoteMessage {
  const reader = new $protobuf.Reader(buf);
  reader.pos = start;
  reader.discardUnknown = true;
  const length = end - start;
  switch (kind) {
    case "hello": {
      const m = v1.Hello.decode(reader, length);
      return {
        kind,
        protocolVersion: m.protocolVersion,
        node: decodedName(m.node, "hello.node"),
        address: decodedName(m.address, "hello.address"),
        cluster: decodedName(m.cluster, "hello.cluster"),
        nonce: decodedExactBytes(m.nonce, NONCE_BYTES, "hello.nonce"),
        ...decodedNames(m.extensions, "hello.extensions"),
      };
    }
    case "welcome": {
      const m = v1.Welcome.decode(reader, length);
      return {
        kind,
        protocolVersion: m.protocolVersion,
        node: decodedName(m.node, "welcome.node"),
        address: decodedName(m.address, "welcome.address"),
        cluster: decodedName(m.cluster, "welcome.cluster"),
        nonce: decodedExactBytes(m.nonce, NONCE_BYTES, "welcome.nonce"),
        ...decodedNames(m.extensions, "welcome.extensions"),
      };
    }
    case "proof": {
      const m = v1.Proof.decode(reader, length);
      return {
        kind,
        proof: decodedExactBytes(m.proof, PROOF_BYTES, "proof.proof"),
      };
    }
    case "accepted": {
      const m = v1.Accepted.decode(reader, length);
      return {
        kind,
        proof: decodedExactBytes(m.proof, PROOF_BYTES, "accepted.proof"),
      };
    }
    case "refused": {
      const m = v1.Refused.decode(reader, length);
      return {
        kind,
        code: decodedName(m.code, "refused.code"),
        reason: decodedText(m.reason, "refused.reason"),
      };
    }
    case "ask": {
      const m = v1.Ask.decode(reader, length);
      return {
        kind,
        id: m.id,
        recipient: decodedName(m.recipient, "ask.recipient"),
        type: decodedName(m.type, "ask.type"),
        codec: decodedName(m.codec, "ask.codec"),
        payload: decodedBytes(m.payload),
        timeoutMs: m.timeoutMs,
      };
    }
    case "reply": {
      const m = v1.Reply.decode(reader, length);
      return {
        kind,
        id: m.id,
        codec: decodedName(m.codec, "reply.codec"),
        payload: decodedBytes(m.payload),
      };
    }
    case "failure": {
      const m = v1.Failure.decode(reader, length);
      return {
        kind,
        id: m.id,
        code: decodedName(m.code, "failure.code"),
        message: decodedText(m.message, "failure.message"),
        name: decodedText(m.name, "failure.name"),
      };
    }
    case "ping":
      return { kind, id: v1.Ping.decode(reader, length).id };
    case "pong":
      return { kind, id: v1.Pong.decode(reader, length).id };
    case "watch":
      return {
        kind,
        target: decodedName(
          v1.Watch.decode(reader, length).target,
          "watch.target",
        ),
      };
    case "unwatch":
      return {
        kind,
        target: decodedName(
          v1.Unwatch.decode(reader, length).target,
          "unwatch.target",
        ),
      };
    case "terminated": {
      const m = v1.Terminated.decode(reader, length);
      return {
        kind,
        target: decodedName(m.target, "terminated.target"),
        fault: decodedText(m.fault, "terminated.fault"),
        reason: decodedText(m.reason, "terminated.reason"),
      };
    }
    case "spawn": {
      const m = v1.Spawn.decode(reader, length);
      return {
        kind,
        id: m.id,
        factory: decodedName(m.factory, "spawn.factory"),
        actorId: decodedText(m.actorId, "spawn.actorId"),
        codec: decodedName(m.codec, "spawn.codec"),
        args: decodedBytes(m.args),
      };
    }
    case "lookup": {
      const m = v1.Lookup.decode(reader, length);
      return { kind, id: m.id, path: decodedName(m.path, "lookup.path") };
    }
    case "stop": {
      const m = v1.Stop.decode(reader, length);
      return { kind, id: m.id, path: decodedName(m.path, "stop.path") };
    }
    case "goodbye":
      return {
        kind,
        reason: decodedText(
          v1.Goodbye.decode(reader, length).reason,
          "goodbye.reason",
        ),
      };
    case "extension": {
      const m = v1.Extension.decode(reader, length);
      return {
        kind,
        id: m.id,
        name: decodedName(m.name, "extension.name"),
        payload: decodedBytes(m.payload),
      };
    }
  }
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
