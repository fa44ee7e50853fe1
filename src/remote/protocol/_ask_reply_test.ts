import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import {
  decodeMessage,
  encodeAskView,
  encodeMessage,
  encodeReplyView,
  readAskFrame,
  readReplyFrame,
  type RemoteMessage,
  RequestFields,
} from "./mod.ts";
import {
  bytesArb,
  encodeWithGenerated,
  filled,
  messageArbs,
  nameArb,
  samples,
  textArb,
  traceparentArb,
  uint32Arb,
} from "./_fixtures_test.ts";

const encoder = new TextEncoder();

/** A payload as the views take it (bytes or text) and as its bytes. */
const payloadArb: fc.Arbitrary<
  { given: Uint8Array | string; bytes: Uint8Array }
> = fc
  .oneof(
    bytesArb.map((bytes) => ({ given: bytes, bytes })),
    fc.oneof(textArb, fc.string({ maxLength: 300 })).map((text) => ({
      given: text,
      bytes: encoder.encode(text),
    })),
  );

test("encodeAskView() writes the bytes of the generated code, with a payload as bytes or text", () => {
  fc.assert(
    fc.property(
      uint32Arb,
      nameArb,
      nameArb,
      nameArb,
      payloadArb,
      uint32Arb,
      fc.option(traceparentArb, { nil: undefined }),
      (id, recipient, type, codec, payload, timeoutMs, traceparent) => {
        const view = encodeAskView(
          id,
          recipient,
          type,
          codec,
          payload.given,
          timeoutMs,
          traceparent,
        );
        const message: RemoteMessage = {
          kind: "ask",
          id,
          recipient,
          type,
          codec,
          payload: payload.bytes,
          timeoutMs,
          ...(traceparent === undefined ? {} : { traceparent }),
        };
        assert.deepStrictEqual(view.slice(), encodeWithGenerated(message));
        assert.deepStrictEqual(view.slice(), encodeMessage(message));
      },
    ),
  );
});

test("encodeReplyView() writes the bytes of the generated code, with a payload as bytes or text", () => {
  fc.assert(
    fc.property(uint32Arb, nameArb, payloadArb, (id, codec, payload) => {
      const view = encodeReplyView(id, codec, payload.given);
      const message: RemoteMessage = {
        kind: "reply",
        id,
        codec,
        payload: payload.bytes,
      };
      assert.deepStrictEqual(view.slice(), encodeWithGenerated(message));
    }),
  );
});

test("encodeAskView() and encodeReplyView() take payloads of several MiB, then small ones again", () => {
  const big = `"${"b".repeat(3 * 1024 * 1024)}"`;
  const ask = encodeAskView(1, "sink", "echo", "json", big, 1000);
  assert.deepStrictEqual(
    ask.slice(),
    encodeWithGenerated({
      kind: "ask",
      id: 1,
      recipient: "sink",
      type: "echo",
      codec: "json",
      payload: encoder.encode(big),
      timeoutMs: 1000,
    }),
  );
  const reply = encodeReplyView(2, "json", filled(2 * 1024 * 1024, 3));
  assert.equal(reply.length > 2 * 1024 * 1024, true);
  assert.deepStrictEqual(
    encodeReplyView(3, "json", "7").slice(),
    encodeWithGenerated({
      kind: "reply",
      id: 3,
      codec: "json",
      payload: encoder.encode("7"),
    }),
  );
});

test("encodeAskView() and encodeReplyView() reject bad fields like encodeMessage()", () => {
  const ask = samples.ask as Extract<RemoteMessage, { kind: "ask" }>;
  const cases: Array<[() => unknown, ErrorConstructor, RegExp]> = [
    [
      () => encodeAskView(-1, "a", "b", "c", "", 1),
      RangeError,
      /ask\.id must be an integer from 0 to 4294967295, got -1/,
    ],
    [
      () => encodeAskView(1, "", "b", "c", "", 1),
      RangeError,
      /ask\.recipient must not be empty/,
    ],
    [
      () => encodeAskView(1, "a", 5 as unknown as string, "c", "", 1),
      TypeError,
      /ask\.type must be a string/,
    ],
    [
      () => encodeAskView(1, "a", "b", "c", [1] as unknown as Uint8Array, 1),
      TypeError,
      /ask\.payload must be a Uint8Array/,
    ],
    [
      () => encodeAskView(1, "a", "b", "c", "", 2 ** 32),
      RangeError,
      /ask\.timeoutMs must be an integer/,
    ],
    [
      () => encodeAskView(1, "a".repeat(70_000), "b", "c", "", 1),
      RangeError,
      /ask\.recipient is over the limit of 65536 UTF-8 bytes/,
    ],
    [
      () => encodeReplyView(1, "", ""),
      RangeError,
      /reply\.codec must not be empty/,
    ],
    [
      () => encodeReplyView(1.5, "json", ""),
      RangeError,
      /reply\.id must be an integer/,
    ],
  ];
  for (const [encode, type, pattern] of cases) {
    assert.throws(
      encode,
      (error: unknown) => error instanceof type && pattern.test(String(error)),
    );
  }
  // Nothing is left behind by a failure.
  assert.deepStrictEqual(
    encodeAskView(
      ask.id,
      ask.recipient,
      ask.type,
      ask.codec,
      ask.payload,
      ask.timeoutMs,
    )
      .slice(),
    encodeWithGenerated(ask),
  );
});

/** The message `readAskFrame` or `readReplyFrame` read into `fields`, as decodeMessage gives it. */
function asMessage(
  kind: "ask" | "reply",
  fields: RequestFields,
): RemoteMessage {
  const payload = fields.payload().slice();
  return kind === "ask"
    ? {
      kind,
      id: fields.id,
      recipient: fields.recipient,
      type: fields.type,
      codec: fields.codec,
      payload,
      timeoutMs: fields.timeoutMs,
      ...(fields.traceparent === "" ? {} : { traceparent: fields.traceparent }),
    }
    : { kind, id: fields.id, codec: fields.codec, payload };
}

test("readAskFrame() and readReplyFrame() read in place what decodeMessage() reads, inside a larger buffer, and leave anything else to it", () => {
  const fields = new RequestFields();
  const frameArb = fc.oneof(
    messageArbs.ask.map(encodeMessage),
    messageArbs.reply.map(encodeMessage),
    messageArbs.failure.map(encodeMessage),
    // Damaged: a byte changed or the frame cut short.
    fc.tuple(
      fc.oneof(messageArbs.ask, messageArbs.reply),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.boolean(),
    ).map(([message, at, value, cut]) => {
      const bytes = encodeMessage(message).slice();
      const i = at % bytes.length;
      if (cut) return bytes.subarray(0, i);
      bytes[i] = value;
      return bytes;
    }),
  );
  fc.assert(
    fc.property(
      frameArb,
      fc.uint8Array({ maxLength: 8 }),
      fc.uint8Array({ maxLength: 8 }),
      (bytes, before, after) => {
        const buf = new Uint8Array(before.length + bytes.length + after.length);
        buf.set(before);
        buf.set(bytes, before.length);
        buf.set(after, before.length + bytes.length);
        const start = before.length;
        const end = start + bytes.length;
        for (
          const [kind, read] of [
            ["ask", readAskFrame],
            ["reply", readReplyFrame],
          ] as const
        ) {
          if (!read(buf, start, end, fields)) continue;
          assert.deepStrictEqual(
            asMessage(kind, fields),
            decodeMessage(bytes),
          );
          fields.release();
        }
      },
    ),
    { numRuns: 400 },
  );
  // The usual ones always take this path.
  const ask = encodeAskView(7, "sink", "echo", "json", "42", 1000).slice();
  assert.equal(readAskFrame(ask, 0, ask.length, fields), true);
  assert.equal(readReplyFrame(ask, 0, ask.length, fields), false);
  assert.deepStrictEqual(asMessage("ask", fields), decodeMessage(ask));
  const reply = encodeReplyView(7, "json", "").slice();
  assert.equal(readReplyFrame(reply, 0, reply.length, fields), true);
  assert.equal(fields.payloadStart, -1);
  assert.deepStrictEqual(asMessage("reply", fields), decodeMessage(reply));
});
