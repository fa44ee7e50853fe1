import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import { MAX_ERROR_TEXT_BYTES, truncateErrorText } from "./_error_text.ts";
import { encodeMessage, MAX_STRING_BYTES } from "./mod.ts";

const utf8 = (text: string) => new TextEncoder().encode(text).byteLength;

test("truncateErrorText() returns text within the bound as it is", () => {
  const text = "é".repeat(MAX_ERROR_TEXT_BYTES / 2);
  assert.equal(truncateErrorText(text), text);
  assert.equal(truncateErrorText(""), "");
});

test("truncateErrorText() cuts longer text to the bound and says how long it was", () => {
  const cut = truncateErrorText("m".repeat(70_000));
  assert.ok(utf8(cut) <= MAX_ERROR_TEXT_BYTES);
  assert.ok(utf8(cut) > MAX_ERROR_TEXT_BYTES - 40);
  assert.match(cut, /^m+… \(truncated, 70000 chars\)$/);
  assert.ok(MAX_ERROR_TEXT_BYTES < MAX_STRING_BYTES);
  // So a Failure with it always encodes.
  encodeMessage({ kind: "failure", id: 1, code: "X", name: cut, message: cut });
});

test("truncateErrorText() never splits a surrogate pair or a multi-byte character", () => {
  for (const unit of ["🎭", "é", "€"]) {
    for (let bound = 40; bound < 48; bound++) {
      const cut = truncateErrorText(unit.repeat(100), bound);
      assert.ok(utf8(cut) <= bound, `${unit} within ${bound}`);
      const kept = cut.slice(0, cut.indexOf("…"));
      assert.equal(kept, unit.repeat(kept.length / unit.length));
    }
  }
});

test("truncateErrorText() refuses a bound too small for its marker", () => {
  assert.throws(() => truncateErrorText("x".repeat(100), 10), RangeError);
});
