// encodeMessage() and decodeMessage(): round trips of every kind, strings and bytes at their
// limits, the checks of the encoder, and wire compatibility (versions, extensions, the generated
// code). Bytes a decoder must refuse are in codec_decode_errors_test.ts.
import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { isProtocolError } from "./errors.ts";
import {
  decodeMessage,
  encodeMessage,
  MAX_STRING_BYTES,
  PROTOCOL_VERSION,
  type RemoteMessage,
} from "./mod.ts";
import {
  bytesFields,
  bytesOf,
  encodeWithGenerated,
  filled,
  isPlainBytes,
  kinds,
  samples,
  sampleTell,
  stringOfBytes,
  v1,
} from "./_fixtures_test.ts";
import { decodeError, roundTrip, tells } from "./_codec_helpers_test.ts";

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
