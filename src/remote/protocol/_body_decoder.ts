// The decoder of every body but TellBatch (and the usual ask and reply, which _ask_reply.ts reads
// first): the code protobufjs generated reads it, then the message's rules are checked.
// Anything wrong with the bytes is a ProtocolError.
import $protobuf from "protobufjs/minimal.js";
import { troupe } from "./generated/troupe_remote.js";
import {
  MAX_EXTENSIONS,
  MAX_STRING_BYTES,
  NONCE_BYTES,
  PROOF_BYTES,
  type RemoteMessage,
  type RemoteMessageKind,
} from "./messages.ts";
import { overLimit } from "./_string_limit.ts";
import { malformed } from "./_wire.ts";

const v1 = troupe.remote.v1;

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
export function decodeBody(
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
        ...(m.traceparent === ""
          ? {}
          : { traceparent: decodedText(m.traceparent, "ask.traceparent") }),
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
