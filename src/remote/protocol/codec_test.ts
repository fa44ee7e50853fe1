import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { isProtocolError, ProtocolError } from "./errors.ts";
import {
  decodeMessage,
  encodeMessage,
  MAX_STRING_BYTES,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  type RemoteMessage,
  type Tell,
} from "./mod.ts";
import {
  bytesFields,
  bytesOf,
  decodeChecked,
  encodeWithGenerated,
  filled,
  isPlainBytes,
  kinds,
  samples,
  sampleTell,
  stringOfBytes,
  v1,
} from "./_fixtures_test.ts";

function roundTrip(message: RemoteMessage): RemoteMessage {
  return decodeMessage(encodeMessage(message));
}

/** The ProtocolError decodeMessage throws for `bytes`. */
function decodeError(bytes: Uint8Array): ProtocolError {
  const result = decodeChecked(bytes);
  assert.ok(
    result instanceof ProtocolError,
    `expected a ProtocolError, decoded ${(result as RemoteMessage).kind}`,
  );
  return result;
}

function tells(...list: Tell[]): RemoteMessage {
  return { kind: "tells", tells: list };
}

test("PROTOCOL_VERSION is 2 (the dialer proves first)", () => {
  assert.equal(PROTOCOL_VERSION, 2);
});

test("decodeMessage() reads a version 1 welcome, dropping its proof (field 6 is reserved)", () => {
  // Version 1 sent the listener's proof as Welcome field 6; a version 2 node must still read the
  // welcome (to refuse it with a clear reason), and must not mistake the proof for anything.
  // Append field 6 (bytes, 32 long) inside the welcome body: rebuild the envelope by hand.
  const body = encodeMessage(samples.welcome).subarray(2);
  const extra = new Uint8Array([0x32, 32, ...new Uint8Array(32).fill(9)]);
  const envelope = new Uint8Array([
    0x12,
    body.length + extra.length,
    ...body,
    ...extra,
  ]);
  const decoded = decodeMessage(envelope);
  assert.equal(decoded.kind, "welcome");
  assert.ok(!("proof" in decoded));
});

for (const kind of kinds) {
  test(`decodeMessage() reads back what encodeMessage() wrote: ${kind}`, () => {
    const decoded = roundTrip(samples[kind]);
    assert.deepStrictEqual(decoded, samples[kind]);
    for (const field of bytesFields(decoded)) assert.ok(isPlainBytes(field));
  });

  test(`encodeMessage() writes the bytes of the generated protobufjs code: ${kind}`, () => {
    assert.deepStrictEqual(
      encodeMessage(samples[kind]),
      encodeWithGenerated(samples[kind]),
    );
  });
}

test("encodeMessage() returns a plain Uint8Array", () => {
  for (const kind of kinds) {
    assert.ok(isPlainBytes(encodeMessage(samples[kind])), kind);
  }
});

test("decodeMessage() keeps empty strings and bytes where the protocol allows them", () => {
  const messages: RemoteMessage[] = [
    { kind: "refused", code: "auth", reason: "" },
    tells({
      recipient: "a",
      type: "b",
      codec: "c",
      payload: new Uint8Array(0),
    }),
    {
      kind: "ask",
      id: 0,
      recipient: "a",
      type: "b",
      codec: "c",
      payload: new Uint8Array(0),
      timeoutMs: 0,
    },
    { kind: "reply", id: 0, codec: "json", payload: new Uint8Array(0) },
    { kind: "failure", id: 0, code: "X", message: "", name: "" },
    { kind: "ping", id: 0 },
    { kind: "terminated", target: "a", fault: "", reason: "" },
    {
      kind: "spawn",
      id: 0,
      factory: "f",
      actorId: "",
      codec: "json",
      args: new Uint8Array(0),
    },
    { kind: "goodbye", reason: "" },
    { ...samples.hello, protocolVersion: 0 } as RemoteMessage,
  ];
  for (const message of messages) {
    const decoded = roundTrip(message);
    assert.deepStrictEqual(decoded, message);
    for (const field of bytesFields(decoded)) assert.ok(isPlainBytes(field));
  }
});

test("decodeMessage() reads back unicode strings", () => {
  const names = [
    "订单/42",
    "Ωμέγα",
    "emoji 😀/🎉",
    "\uFEFFbom",
    "nul\u0000inside",
    "\u{10FFFF}",
  ];
  for (const name of names) {
    const tell = {
      recipient: name,
      type: name,
      codec: name,
      payload: bytesOf(1, 2, 3),
    };
    assert.deepStrictEqual(roundTrip(tells(tell)), tells(tell));
    const ask = { ...samples.ask, recipient: name } as RemoteMessage;
    assert.deepStrictEqual(roundTrip(ask), ask);
  }
});

test("encodeMessage() sends a lone surrogate as U+FFFD, like TextEncoder", () => {
  const lone = "a\uD800b\uDC00c";
  const decoded = roundTrip(
    tells({ ...sampleTell, recipient: lone, type: lone.repeat(20) }),
  );
  assert.ok(decoded.kind === "tells");
  assert.equal(decoded.tells[0].recipient, "a\uFFFDb\uFFFDc");
  assert.equal(decoded.tells[0].type, "a\uFFFDb\uFFFDc".repeat(20));
  const failure = roundTrip({
    kind: "failure",
    id: 1,
    code: "X",
    message: lone,
    name: "E",
  });
  assert.ok(failure.kind === "failure");
  assert.equal(failure.message, "a\uFFFDb\uFFFDc");
});

test("decodeMessage() reads back strings and payloads at the size limits", () => {
  const ascii = stringOfBytes(MAX_STRING_BYTES);
  const wide = stringOfBytes(MAX_STRING_BYTES - 1, "中") + "a"; // 3-byte characters + 1
  const big = filled(1 << 20, 0x5a);
  for (const name of [ascii, wide]) {
    const tell = { recipient: name, type: "t", codec: "c", payload: big };
    assert.deepStrictEqual(
      roundTrip(tells(tell, sampleTell)),
      tells(tell, sampleTell),
    );
    const ask = { ...samples.ask, type: name, payload: big } as RemoteMessage;
    assert.deepStrictEqual(roundTrip(ask), ask);
    const failure = { ...samples.failure, message: name } as RemoteMessage;
    assert.deepStrictEqual(roundTrip(failure), failure);
  }
  const many = Array.from(
    { length: 20_000 },
    (_, i) => ({ ...sampleTell, recipient: `a/${i}` }),
  );
  assert.deepStrictEqual(roundTrip(tells(...many)), tells(...many));
});

test("encodeMessage() writes tells of every length-prefix size like the generated code", () => {
  for (const size of [0, 1, 100, 127, 128, 16_383, 16_384, 70_000]) {
    const tell = { ...sampleTell, payload: filled(size, 1) };
    const message = tells(tell, {
      ...sampleTell,
      recipient: "x".repeat(Math.max(1, Math.min(size, 60_000))),
    });
    assert.deepStrictEqual(
      encodeMessage(message),
      encodeWithGenerated(message),
      `size ${size}`,
    );
  }
});

test("encodeMessage() rejects strings over the limit with RangeError", () => {
  const over = stringOfBytes(MAX_STRING_BYTES + 1);
  const overWide = stringOfBytes(MAX_STRING_BYTES - 1, "中") + "é"; // UTF-16 length is small
  for (const name of [over, overWide]) {
    assert.throws(
      () => encodeMessage(tells({ ...sampleTell, codec: name })),
      (error: unknown) =>
        error instanceof RangeError &&
        /tells\[0\]\.codec is over the limit of 65536 UTF-8 bytes/.test(
          error.message,
        ),
    );
    assert.throws(
      () =>
        encodeMessage({ ...samples.failure, message: name } as RemoteMessage),
      /failure\.message is over the limit/,
    );
  }
});

test("encodeMessage() rejects bad fields with TypeError or RangeError", () => {
  const cases: Array<[unknown, ErrorConstructor, RegExp]> = [
    [null, TypeError, /it must be an object/],
    [{ kind: "nope" }, TypeError, /kind must be one of hello, welcome/],
    [{ kind: "toString" }, TypeError, /kind must be one of/],
    [
      { kind: "tells", tells: [] },
      RangeError,
      /tells must hold at least one tell/,
    ],
    [{ kind: "tells", tells: "x" }, TypeError, /tells must be an array/],
    [
      { kind: "tells", tells: [null] },
      TypeError,
      /tells\[0\] must be an object/,
    ],
    [
      tells(sampleTell, { ...sampleTell, recipient: "" }),
      RangeError,
      /^Cannot encode message: tells\[1\]\.recipient must not be empty$/,
    ],
    [
      tells({ ...sampleTell, type: 7 as unknown as string }),
      TypeError,
      /tells\[0\]\.type must be a string/,
    ],
    [
      tells({ ...sampleTell, payload: [1] as unknown as Uint8Array }),
      TypeError,
      /payload must be a Uint8Array/,
    ],
    [
      { ...samples.hello, nonce: filled(31, 0) },
      RangeError,
      /hello\.nonce must be 32 bytes, got 31/,
    ],
    [
      { ...samples.accepted, proof: filled(33, 0) },
      RangeError,
      /accepted\.proof must be 32 bytes, got 33/,
    ],
    [
      { ...samples.proof, proof: "x" },
      TypeError,
      /proof\.proof must be a Uint8Array/,
    ],
    [
      { ...samples.hello, node: "" },
      RangeError,
      /hello\.node must not be empty/,
    ],
    [
      { ...samples.ask, recipient: "" },
      RangeError,
      /ask\.recipient must not be empty/,
    ],
    [
      { ...samples.ask, id: -1 },
      RangeError,
      /ask\.id must be an integer from 0 to 4294967295, got -1/,
    ],
    [
      { ...samples.ask, timeoutMs: 2 ** 32 },
      RangeError,
      /ask\.timeoutMs must be an integer/,
    ],
    [{ ...samples.ping, id: 1.5 }, RangeError, /ping\.id must be an integer/],
    [{ ...samples.ping, id: "1" }, TypeError, /ping\.id must be a number/],
    [
      { ...samples.reply, codec: "" },
      RangeError,
      /reply\.codec must not be empty/,
    ],
    [
      { ...samples.watch, target: undefined },
      TypeError,
      /watch\.target must be a string/,
    ],
    [
      { ...samples.spawn, factory: "" },
      RangeError,
      /spawn\.factory must not be empty/,
    ],
    [{ ...samples.stop, path: "" }, RangeError, /stop\.path must not be empty/],
  ];
  for (const [message, type, pattern] of cases) {
    assert.throws(
      () => encodeMessage(message as RemoteMessage),
      (error: unknown) => {
        assert.ok(
          error instanceof type,
          `${JSON.stringify(message)}: ${error}`,
        );
        assert.match((error as Error).message, pattern);
        return true;
      },
    );
  }
  // A failed encode leaves nothing behind.
  assert.deepStrictEqual(roundTrip(samples.ask), samples.ask);
  assert.deepStrictEqual(roundTrip(samples.tells), samples.tells);
});

test("decodeMessage() rejects an empty frame or an envelope without a body", () => {
  assert.match(decodeError(new Uint8Array(0)).message, /the frame is empty/);
  // Only an unknown field (number 99, varint): a newer peer's body this node does not know.
  assert.match(
    decodeError(bytesOf(0x98, 0x06, 1)).message,
    /envelope has no body/,
  );
});

test("decodeMessage() rejects an envelope with two bodies", () => {
  const two = new Uint8Array([
    ...encodeMessage(samples.ping),
    ...encodeMessage(samples.tells),
  ]);
  assert.match(
    decodeError(two).message,
    /more than one body \("ping" and "tells"\)/,
  );
  const same = new Uint8Array([
    ...encodeMessage(samples.ping),
    ...encodeMessage(samples.ping),
  ]);
  assert.match(decodeError(same).message, /more than one body/);
});

test("decodeMessage() skips unknown fields, so newer peers can add some", () => {
  const unknownEnvelopeField = bytesOf(0x98, 0x06, 5); // field 99, varint
  const withUnknown = new Uint8Array([
    ...unknownEnvelopeField,
    ...encodeMessage(samples.ask),
  ]);
  assert.deepStrictEqual(decodeMessage(withUnknown), samples.ask);
  // A tell with an extra field 9 (length-delimited) and a fixed32 field 10.
  const tell = [
    0x0a,
    1,
    0x61,
    0x12,
    1,
    0x62,
    0x1a,
    1,
    0x63,
    0x4a,
    2,
    9,
    9,
    0x55,
    1,
    2,
    3,
    4,
  ];
  const batch = [0x0a, tell.length, ...tell, 0x10, 1]; // + TellBatch field 2 (varint)
  const decoded = decodeMessage(bytesOf(82, batch.length, ...batch));
  assert.deepStrictEqual(
    decoded,
    tells({
      recipient: "a",
      type: "b",
      codec: "c",
      payload: new Uint8Array(0),
    }),
  );
});

test("decodeMessage() rejects missing or empty required strings", () => {
  const emptyRecipient = encodeWithGenerated(
    tells(sampleTell, { ...sampleTell, recipient: "" }),
  );
  assert.equal(
    decodeError(emptyRecipient).message,
    "Cannot decode message: tells[1].recipient must not be empty",
  );
  const cases: Array<[RemoteMessage, RegExp]> = [
    [tells({ ...sampleTell, type: "" }), /tells\[0\]\.type must not be empty/],
    [
      tells({ ...sampleTell, codec: "" }),
      /tells\[0\]\.codec must not be empty/,
    ],
    [
      { ...samples.ask, codec: "" } as RemoteMessage,
      /ask\.codec must not be empty/,
    ],
    [
      { ...samples.hello, cluster: "" } as RemoteMessage,
      /hello\.cluster must not be empty/,
    ],
    [
      { ...samples.welcome, address: "" } as RemoteMessage,
      /welcome\.address must not be empty/,
    ],
    [
      { ...samples.refused, code: "" } as RemoteMessage,
      /refused\.code must not be empty/,
    ],
    [
      { ...samples.failure, code: "" } as RemoteMessage,
      /failure\.code must not be empty/,
    ],
    [
      { ...samples.terminated, target: "" } as RemoteMessage,
      /terminated\.target must not be empty/,
    ],
    [
      { ...samples.lookup, path: "" } as RemoteMessage,
      /lookup\.path must not be empty/,
    ],
  ];
  for (const [message, pattern] of cases) {
    assert.match(decodeError(encodeWithGenerated(message)).message, pattern);
  }
});

test("decodeMessage() rejects nonces and proofs of the wrong size", () => {
  for (const size of [0, 31, 33, 64]) {
    const hello = { ...samples.hello, nonce: filled(size, 1) } as RemoteMessage;
    assert.match(
      decodeError(encodeWithGenerated(hello)).message,
      new RegExp(`hello\\.nonce must be ${NONCE_BYTES} bytes, got ${size}$`),
    );
    const proof = { kind: "proof", proof: filled(size, 1) } as RemoteMessage;
    assert.match(
      decodeError(encodeWithGenerated(proof)).message,
      /proof\.proof must be 32 bytes/,
    );
  }
});

test("decodeMessage() rejects an empty tell batch", () => {
  assert.match(
    decodeError(bytesOf(82, 0)).message,
    /tells must hold at least one tell/,
  );
});

test("decodeMessage() rejects strings over the limit and invalid UTF-8", () => {
  const over = stringOfBytes(MAX_STRING_BYTES, "é") + "a";
  assert.match(
    decodeError(encodeWithGenerated(tells({ ...sampleTell, type: over })))
      .message,
    /tells\[0\]\.type is 65537 bytes, over the limit of 65536/,
  );
  assert.match(
    decodeError(
      encodeWithGenerated(
        { ...samples.goodbye, reason: over } as RemoteMessage,
      ),
    )
      .message,
    /goodbye\.reason is over the limit of 65536 UTF-8 bytes/,
  );
  const invalid = bytesOf(0x0a, 3, 0x61, 0xff, 0x62);
  const tell = [...invalid, 0x12, 1, 0x62, 0x1a, 1, 0x63];
  const error = decodeError(
    bytesOf(82, tell.length + 2, 0x0a, tell.length, ...tell),
  );
  assert.match(error.message, /tells\[0\]\.recipient is not valid UTF-8/);
  assert.ok(error.cause instanceof Error);
  // An invalid string inside a body the generated code decodes (watch.target).
  assert.match(
    decodeError(bytesOf(0xf2, 0x01, 5, ...invalid)).message,
    /invalid watch body: a string is not valid UTF-8/,
  );
});

test("decodeMessage() rejects truncated frames and wrong wire types", () => {
  const ask = encodeMessage(samples.ask);
  const error = decodeError(ask.subarray(0, ask.length - 1));
  assert.match(
    error.message,
    /the ask body at offset 1 announces \d+ bytes, but only \d+ remain/,
  );
  assert.match(
    decodeError(bytesOf(0x80)).message,
    /truncated varint at offset 0/,
  );
  assert.match(
    decodeError(bytesOf(0xff, 0xff, 0xff, 0xff, 0x7f)).message,
    /does not fit in 32 bits/,
  );
  assert.match(
    decodeError(bytesOf(0x08, 1)).message,
    /field 1 \(hello\) has wire type 0, expected 2/,
  );
  assert.match(decodeError(bytesOf(0x00, 1)).message, /field number 0/);
  assert.match(
    decodeError(bytesOf(0x9b, 0x06)).message,
    /unsupported wire type 3/,
  );
  // A body the generated code decodes, with a truncated inner field: its error becomes the cause.
  const inner = decodeError(bytesOf(0x5a, 2, 0x12, 5));
  assert.match(inner.message, /invalid ask body: index out of range/);
  assert.ok(inner.cause instanceof Error);
});

test("decodeMessage() accepts a Uint8Array subclass and hands out plain views into it", () => {
  class Frame extends Uint8Array {}
  const bytes = encodeMessage(samples.tells);
  const frame = new Frame(bytes.length + 4);
  frame.set(bytes, 4);
  const decoded = decodeMessage(frame.subarray(4));
  assert.deepStrictEqual(decoded, samples.tells);
  assert.ok(decoded.kind === "tells");
  const payload = decoded.tells[0].payload;
  assert.ok(isPlainBytes(payload));
  assert.equal(payload.buffer, frame.buffer, "payloads are views, not copies");
});

test("decodeMessage() hands out fresh empty bytes for absent fields", () => {
  const a = decodeMessage(
    encodeMessage(
      { ...samples.reply, payload: new Uint8Array(0) } as RemoteMessage,
    ),
  );
  const b = decodeMessage(
    encodeMessage(
      { ...samples.reply, payload: new Uint8Array(0) } as RemoteMessage,
    ),
  );
  assert.ok(a.kind === "reply" && b.kind === "reply");
  assert.ok(isPlainBytes(a.payload));
  assert.notEqual(a.payload, b.payload);
});

test("decodeMessage() throws TypeError for something that is not a Uint8Array", () => {
  assert.throws(
    () => decodeMessage("frame" as unknown as Uint8Array),
    TypeError,
  );
});

test("decodeMessage() agrees with the generated decoder on the envelope", () => {
  for (const kind of kinds) {
    const envelope = v1.Envelope.decode(encodeMessage(samples[kind]));
    assert.equal(envelope.body, kind);
  }
  assert.ok(isProtocolError(decodeError(bytesOf(1))));
});

test("encodeMessage() carries the extensions of a Hello and a Welcome; none is no field at all (wire compatible)", () => {
  for (const kind of ["hello", "welcome"] as const) {
    const plain = samples[kind];
    const announced = {
      ...plain,
      extensions: ["troupe.membership", "troupe.pubsub"],
    } as RemoteMessage;
    assert.deepEqual(roundTrip(announced), announced);
    // Without extensions, the bytes are those of a peer that predates them.
    assert.deepEqual(encodeMessage(plain), encodeWithGenerated(plain));
    assert.deepEqual(
      encodeMessage({ ...plain, extensions: [] } as RemoteMessage),
      encodeMessage(plain),
    );
    assert.equal("extensions" in roundTrip(plain), false);
    assert.throws(
      () =>
        encodeMessage({
          ...plain,
          extensions: Array.from({ length: 65 }, (_, i) => `e${i}`),
        } as RemoteMessage),
      RangeError,
    );
    assert.throws(
      () => encodeMessage({ ...plain, extensions: [""] } as RemoteMessage),
      RangeError,
    );
  }
});

test("decodeMessage() reads an extension message, and refuses one without a name", () => {
  assert.deepEqual(roundTrip(samples.extension), samples.extension);
  const nameless = encodeWithGenerated({
    kind: "extension",
    id: 1,
    name: "",
    payload: bytesOf(1),
  });
  assert.match(
    decodeError(nameless).message,
    /extension\.name must not be empty/,
  );
});
