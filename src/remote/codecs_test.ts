import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { jsonCodec } from "../actor/mod.ts";
import { MessageCodecs } from "./codecs.ts";
import { CodecError } from "./errors.ts";

const encoder = new TextEncoder();

test("MessageCodecs.jsonText() gives the text whose UTF-8 is what encode() gives", () => {
  const codecs = new MessageCodecs();
  fc.assert(
    fc.property(fc.jsonValue(), fc.string(), (value, text) => {
      for (const v of [value, text, { text }]) {
        const json = codecs.jsonText("json", "t", v);
        assert.equal(typeof json, "string");
        assert.deepStrictEqual(
          encoder.encode(json),
          codecs.encode("json", "t", v),
        );
      }
    }),
  );
  assert.equal(codecs.jsonText("json", "t", undefined), "");
  assert.equal(codecs.encode("json", "t", undefined).length, 0);
});

test("MessageCodecs.jsonText() throws the CodecError encode() throws for a value JSON cannot take", () => {
  const codecs = new MessageCodecs();
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  for (const value of [() => 1, Symbol("s"), 10n, cyclic]) {
    let expected: unknown;
    try {
      codecs.encode("json", "t", value);
    } catch (error) {
      expected = error;
    }
    assert.ok(expected instanceof CodecError);
    assert.throws(
      () => codecs.jsonText("json", "t", value),
      (error: unknown) =>
        error instanceof CodecError &&
        error.message === (expected as Error).message,
    );
  }
});

test("MessageCodecs.jsonText() is undefined for any codec but the built-in JSON one", () => {
  const custom = {
    encode: (_type: string, value: unknown) => encoder.encode(String(value)),
    decode: (_type: string, bytes: Uint8Array) =>
      new TextDecoder().decode(bytes),
  };
  const codecs = new MessageCodecs({
    codecs: { text: custom, alsoJson: jsonCodec },
  });
  assert.equal(codecs.jsonText("text", "t", 1), undefined);
  assert.equal(codecs.jsonText("alsoJson", "t", 1), "1");
  const replaced = new MessageCodecs({ codecs: { json: custom } });
  assert.equal(replaced.jsonText("json", "t", 1), undefined);
});

test("MessageCodecs.decodeRange() gives what decode() gives for the same bytes, errors included", () => {
  const codecs = new MessageCodecs({
    codecs: {
      text: {
        encode: (_t, v) => encoder.encode(String(v)),
        decode: (_t, b) => new TextDecoder().decode(b),
      },
    },
  });
  const result = (decode: () => unknown): unknown => {
    try {
      return { value: decode() };
    } catch (error) {
      return { error: `${(error as Error).name}: ${(error as Error).message}` };
    }
  };
  fc.assert(
    fc.property(
      fc.oneof(
        fc.jsonValue().map((value) => encoder.encode(JSON.stringify(value))),
        fc.string({ maxLength: 300 }).map((text) => encoder.encode(text)),
        fc.uint8Array({ maxLength: 300 }),
      ),
      fc.nat(4),
      fc.nat(4),
      fc.constantFrom("json", "text", "none"),
      (bytes, before, after, codec) => {
        const buf = new Uint8Array(before + bytes.length + after).fill(0x7b);
        buf.set(bytes, before);
        assert.deepStrictEqual(
          result(() =>
            codecs.decodeRange(codec, "t", buf, before, before + bytes.length)
          ),
          result(() => codecs.decode(codec, "t", bytes)),
        );
      },
    ),
    { numRuns: 300 },
  );
  // No payload at all (start -1) is an empty one.
  assert.equal(
    codecs.decodeRange("json", "t", new Uint8Array(3), -1, -1),
    undefined,
  );
  assert.equal(codecs.decodeRange("text", "t", new Uint8Array(3), -1, -1), "");
});
