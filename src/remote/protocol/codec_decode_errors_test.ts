// decodeMessage() on bad bytes: every way a frame can be malformed gets a ProtocolError that
// says what is wrong, and odd but valid input (a Uint8Array subclass, absent fields) is read.
import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import {
  decodeMessage,
  encodeMessage,
  MAX_STRING_BYTES,
  NONCE_BYTES,
  type RemoteMessage,
} from "./mod.ts";
import {
  bytesOf,
  encodeWithGenerated,
  filled,
  isPlainBytes,
  samples,
  sampleTell,
  stringOfBytes,
} from "./_fixtures_test.ts";
import { decodeError, tells } from "./_codec_helpers_test.ts";

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
