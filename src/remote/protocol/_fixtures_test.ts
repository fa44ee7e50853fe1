// Shared by the protocol tests: one sample of every message kind, fast-check arbitraries for
// every kind, and helpers that hold decodeMessage to its contract.
import assert from "node:assert/strict";
import fc from "fast-check";
import { isProtocolError, ProtocolError } from "./errors.ts";
import { troupe } from "./generated/troupe_remote.js";
import {
  decodeMessage,
  MAX_STRING_BYTES,
  NONCE_BYTES,
  PROOF_BYTES,
  type RemoteMessage,
  type RemoteMessageKind,
  type Tell,
} from "./mod.ts";

export const v1 = troupe.remote.v1;

const encoder = new TextEncoder();

export function bytesOf(...values: number[]): Uint8Array {
  return Uint8Array.from(values);
}

export function filled(size: number, value: number): Uint8Array {
  return new Uint8Array(size).fill(value);
}

export const sampleTell: Tell = {
  recipient: "orders/42",
  type: "OrderPlaced",
  codec: "json",
  payload: encoder.encode('{"id":42}'),
};

/** One message of every kind. */
export const samples: Readonly<Record<RemoteMessageKind, RemoteMessage>> = {
  hello: {
    kind: "hello",
    protocolVersion: 1,
    node: "alpha",
    address: "127.0.0.1:4000",
    cluster: "demo",
    nonce: filled(NONCE_BYTES, 7),
  },
  welcome: {
    kind: "welcome",
    protocolVersion: 1,
    node: "beta",
    address: "127.0.0.1:4001",
    cluster: "demo",
    nonce: filled(NONCE_BYTES, 8),
  },
  proof: { kind: "proof", proof: filled(PROOF_BYTES, 10) },
  accepted: { kind: "accepted", proof: filled(PROOF_BYTES, 9) },
  refused: { kind: "refused", code: "auth", reason: "bad proof" },
  tells: {
    kind: "tells",
    tells: [sampleTell, {
      ...sampleTell,
      recipient: "orders/43",
      payload: new Uint8Array(0),
    }],
  },
  ask: {
    kind: "ask",
    id: 17,
    recipient: "orders/42",
    type: "GetTotal",
    codec: "json",
    payload: encoder.encode("{}"),
    timeoutMs: 5000,
  },
  reply: {
    kind: "reply",
    id: 17,
    codec: "json",
    payload: encoder.encode("42"),
  },
  failure: {
    kind: "failure",
    id: 18,
    code: "HANDLER_FAILED",
    message: "boom",
    name: "Error",
  },
  ping: { kind: "ping", id: 1 },
  pong: { kind: "pong", id: 1 },
  watch: { kind: "watch", target: "orders/42" },
  unwatch: { kind: "unwatch", target: "orders/42" },
  terminated: {
    kind: "terminated",
    target: "orders/42",
    fault: "crash",
    reason: "boom",
  },
  spawn: {
    kind: "spawn",
    id: 19,
    factory: "order",
    actorId: "43",
    codec: "json",
    args: encoder.encode('{"total":0}'),
  },
  lookup: { kind: "lookup", id: 20, path: "orders/42" },
  stop: { kind: "stop", id: 21, path: "orders/42" },
  goodbye: { kind: "goodbye", reason: "node closing" },
  extension: {
    kind: "extension",
    id: 22,
    name: "troupe.membership",
    payload: encoder.encode('{"up":["a"]}'),
  },
};

export const kinds = Object.keys(samples) as RemoteMessageKind[];

/** The same message through the generated encoder (the reference for the wire format). */
export function encodeWithGenerated(message: RemoteMessage): Uint8Array {
  const { kind, ...body } = message;
  const envelope: Record<string, unknown> = {
    [kind]: kind === "tells"
      ? { tells: (message as { tells: readonly Tell[] }).tells }
      : body,
  };
  // Copied: protobufjs hands out a Buffer when the runtime has one.
  return new Uint8Array(v1.Envelope.encode(envelope).finish());
}

/** Whether a value is a plain Uint8Array (not a Buffer or another subclass). */
export function isPlainBytes(value: unknown): boolean {
  return value instanceof Uint8Array &&
    Object.getPrototypeOf(value) === Uint8Array.prototype;
}

/** Every bytes field of a message. */
export function bytesFields(message: RemoteMessage): Uint8Array[] {
  switch (message.kind) {
    case "hello":
      return [message.nonce];
    case "welcome":
      return [message.nonce];
    case "proof":
    case "accepted":
      return [message.proof];
    case "tells":
      return message.tells.map((tell) => tell.payload);
    case "ask":
    case "reply":
      return [message.payload];
    case "spawn":
      return [message.args];
    case "extension":
      return [message.payload];
    default:
      return [];
  }
}

/**
 * Decodes, holding decodeMessage to its contract: it returns a message whose bytes fields are
 * plain Uint8Arrays, or throws a ProtocolError (and nothing else). Returns the message or the
 * error.
 */
export function decodeChecked(
  bytes: Uint8Array,
): RemoteMessage | ProtocolError {
  try {
    const message = decodeMessage(bytes);
    for (const field of bytesFields(message)) {
      assert.ok(
        isPlainBytes(field),
        `a bytes field of ${message.kind} is not a plain Uint8Array`,
      );
    }
    return message;
  } catch (error) {
    assert.ok(
      error instanceof ProtocolError,
      `decodeMessage threw a non-ProtocolError: ${error}`,
    );
    assert.ok(isProtocolError(error));
    assert.equal(error.code, "MALFORMED_FRAME");
    assert.match(error.message, /^Cannot decode message: /);
    return error;
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries

const unicodeUnit = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom("a", "Z", "/", "-", "_", ".", "0", "9", ":"),
  },
  {
    weight: 2,
    arbitrary: fc.string({ unit: "binary", minLength: 1, maxLength: 1 }),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "é",
      "ß",
      "中",
      "😀",
      "\u0000",
      "\uFEFF",
      "\u{10FFFF}",
    ),
  },
);

/** Well-formed strings (lone surrogates do not round trip: they are sent as U+FFFD). */
export function text(minLength = 0, maxLength = 24): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ unit: unicodeUnit, minLength, maxLength }),
    fc.string({ unit: "grapheme-ascii", minLength, maxLength }),
  );
}

/** fc.record with ordinary objects (fast-check v4 makes null-prototype ones by default). */
function record<T extends Record<string, unknown>>(
  model: { [K in keyof T]: fc.Arbitrary<T[K]> },
): fc.Arbitrary<T> {
  return fc.record(model, { noNullPrototype: true }) as fc.Arbitrary<T>;
}

export const nameArb: fc.Arbitrary<string> = text(1);
export const textArb: fc.Arbitrary<string> = text(0);
export const uint32Arb: fc.Arbitrary<number> = fc.oneof(
  fc.constantFrom(
    0,
    1,
    127,
    128,
    16_383,
    16_384,
    2 ** 31 - 1,
    2 ** 31,
    2 ** 32 - 1,
  ),
  fc.integer({ min: 0, max: 2 ** 32 - 1 }),
);
export const bytesArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({
  maxLength: 48,
});
export const nonceArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({
  minLength: NONCE_BYTES,
  maxLength: NONCE_BYTES,
});
export const proofArb: fc.Arbitrary<Uint8Array> = fc.uint8Array({
  minLength: PROOF_BYTES,
  maxLength: PROOF_BYTES,
});

/** A traceparent as the codec sees it: any non-empty string, often a valid W3C header. */
export const traceparentArb: fc.Arbitrary<string> = fc.oneof(
  nameArb,
  fc.tuple(
    fc.stringMatching(/^[0-9a-f]{32}$/),
    fc.stringMatching(/^[0-9a-f]{16}$/),
    fc.constantFrom("00", "01"),
  ).map(([trace, span, flags]) => `00-${trace}-${span}-${flags}`),
);

/** Adds a traceparent to some of the messages of `arb` (absent from the others). */
function maybeTraced<T extends object>(
  arb: fc.Arbitrary<T>,
): fc.Arbitrary<T & { traceparent?: string }> {
  return fc.tuple(arb, fc.option(traceparentArb, { nil: undefined })).map((
    [message, traceparent],
  ) => traceparent === undefined ? message : { ...message, traceparent });
}

export const tellArb: fc.Arbitrary<Tell> = maybeTraced(record({
  recipient: nameArb,
  type: nameArb,
  codec: nameArb,
  payload: fc.oneof(
    bytesArb,
    fc.uint8Array({ minLength: 100, maxLength: 300 }),
  ),
}));

/** An arbitrary for each kind. */
export const messageArbs: Readonly<
  Record<RemoteMessageKind, fc.Arbitrary<RemoteMessage>>
> = {
  hello: record({
    kind: fc.constant("hello" as const),
    protocolVersion: uint32Arb,
    node: nameArb,
    address: nameArb,
    cluster: nameArb,
    nonce: nonceArb,
  }),
  welcome: record({
    kind: fc.constant("welcome" as const),
    protocolVersion: uint32Arb,
    node: nameArb,
    address: nameArb,
    cluster: nameArb,
    nonce: nonceArb,
  }),
  proof: record({ kind: fc.constant("proof" as const), proof: proofArb }),
  accepted: record({
    kind: fc.constant("accepted" as const),
    proof: proofArb,
  }),
  refused: record({
    kind: fc.constant("refused" as const),
    code: nameArb,
    reason: textArb,
  }),
  tells: record({
    kind: fc.constant("tells" as const),
    tells: fc.array(tellArb, { minLength: 1, maxLength: 12 }),
  }),
  ask: maybeTraced(record({
    kind: fc.constant("ask" as const),
    id: uint32Arb,
    recipient: nameArb,
    type: nameArb,
    codec: nameArb,
    payload: bytesArb,
    timeoutMs: uint32Arb,
  })),
  reply: record({
    kind: fc.constant("reply" as const),
    id: uint32Arb,
    codec: nameArb,
    payload: bytesArb,
  }),
  failure: record({
    kind: fc.constant("failure" as const),
    id: uint32Arb,
    code: nameArb,
    message: textArb,
    name: textArb,
  }),
  ping: record({ kind: fc.constant("ping" as const), id: uint32Arb }),
  pong: record({ kind: fc.constant("pong" as const), id: uint32Arb }),
  watch: record({ kind: fc.constant("watch" as const), target: nameArb }),
  unwatch: record({ kind: fc.constant("unwatch" as const), target: nameArb }),
  terminated: record({
    kind: fc.constant("terminated" as const),
    target: nameArb,
    fault: textArb,
    reason: textArb,
  }),
  spawn: record({
    kind: fc.constant("spawn" as const),
    id: uint32Arb,
    factory: nameArb,
    actorId: textArb,
    codec: nameArb,
    args: bytesArb,
  }),
  lookup: record({
    kind: fc.constant("lookup" as const),
    id: uint32Arb,
    path: nameArb,
  }),
  stop: record({
    kind: fc.constant("stop" as const),
    id: uint32Arb,
    path: nameArb,
  }),
  goodbye: record({ kind: fc.constant("goodbye" as const), reason: textArb }),
  extension: record({
    kind: fc.constant("extension" as const),
    id: uint32Arb,
    name: nameArb,
    payload: bytesArb,
  }),
};

export const anyMessageArb: fc.Arbitrary<RemoteMessage> = fc.oneof(
  ...Object.values(messageArbs),
);

/** A string of exactly `bytes` UTF-8 bytes, made of `unit` (whose byte size divides it). */
export function stringOfBytes(bytes: number, unit = "a"): string {
  const size = encoder.encode(unit).length;
  assert.equal(bytes % size, 0);
  return unit.repeat(bytes / size);
}

export { MAX_STRING_BYTES };
