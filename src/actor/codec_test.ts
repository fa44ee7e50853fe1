// jsonCodec: short encodings share a slab (src/actor/codec.ts), so no encoding may overwrite or
// overlap another, across slab boundaries and the non-ASCII fallback.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { jsonCodec } from "./codec.ts";

const decoder = new TextDecoder();

test("jsonCodec.encode() gives each value bytes of its own: later encodings never change earlier ones", () => {
  fc.assert(
    fc.property(
      fc.array(fc.jsonValue(), { minLength: 1, maxLength: 300 }),
      (values) => {
        // Many short values fill several 8 KiB slabs; non-ASCII text takes the other path.
        const encoded = values.map((v) => jsonCodec.encode("t", v));
        for (let i = 0; i < values.length; i++) {
          const text = JSON.stringify(values[i]);
          assert.equal(decoder.decode(encoded[i]), text);
          assert.deepEqual(jsonCodec.decode("t", encoded[i]), JSON.parse(text));
        }
        // Writing into one encoding changes no other.
        const copies = encoded.map((e) => e.slice());
        encoded[0].fill(0x20);
        for (let i = 1; i < encoded.length; i++) {
          assert.deepEqual(encoded[i], copies[i]);
        }
      },
    ),
    { numRuns: 100 },
  );
});

test("jsonCodec.encode() of a short ASCII value is a view of exactly its bytes", () => {
  const bytes = jsonCodec.encode("t", { by: 1 });
  assert.equal(bytes.byteLength, '{"by":1}'.length);
  assert.equal(decoder.decode(bytes), '{"by":1}');
  const many = Array.from({ length: 2000 }, (_, i) => jsonCodec.encode("t", i));
  assert.deepEqual(many.map((b) => Number(decoder.decode(b))), [
    ...many.keys(),
  ]);
});
