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
