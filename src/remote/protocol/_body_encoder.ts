// The encoder of every body but TellBatch: the message is checked (caller mistakes throw
// TypeError for a wrong type, RangeError for a wrong value), then written by the code protobufjs
// generated from proto/troupe_remote.proto, through one reused Writer.
import $protobuf from "protobufjs/minimal.js";
import { troupe } from "./generated/troupe_remote.js";
import {
  MAX_EXTENSIONS,
  MAX_STRING_BYTES,
  NONCE_BYTES,
  PROOF_BYTES,
  type RemoteMessage,
} from "./messages.ts";
import { FIELD_OF_KIND } from "./_envelope_fields.ts";
import { hasSurrogate, overLimit } from "./_string_limit.ts";
import { WIRE_LENGTH_DELIMITED } from "./_wire.ts";

const v1 = troupe.remote.v1;

const textEncoder = new TextEncoder();

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

/** A bytes field: a Uint8Array, or a TypeError naming `what`. */
export function checkedBytes(value: unknown, what: string): Uint8Array {
  if (!(value instanceof Uint8Array)) {
    encodeError(what, "must be a Uint8Array", true);
  }
  return value;
}

function exactBytes(value: unknown, size: number, what: string): Uint8Array {
  const checked = checkedBytes(value, what);
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
        payload: checkedBytes(message.payload, "ask.payload"),
        timeoutMs: uint32(message.timeoutMs, "ask.timeoutMs"),
        traceparent: message.traceparent === undefined
          ? ""
          : text(message.traceparent, "ask.traceparent"),
      }, w);
      return;
    case "reply":
      v1.Reply.encode({
        id: uint32(message.id, "reply.id"),
        codec: name(message.codec, "reply.codec"),
        payload: checkedBytes(message.payload, "reply.payload"),
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
        args: checkedBytes(message.args, "spawn.args"),
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
        payload: checkedBytes(message.payload, "extension.payload"),
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
 * Encodes a message other than tells as a whole Envelope: its field tag, its length and its
 * checked body.
 */
export function encodeEnvelope(message: RemoteMessage): Uint8Array {
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

/** A copy of an encoded view, in a buffer of its own (as protobufjs would allocate it). */
export function copyView(view: Uint8Array): Uint8Array {
  const out = $protobuf.Writer.alloc(view.length);
  out.set(view);
  return out;
}
