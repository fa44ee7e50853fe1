// The traceparent of Tell (field 5) and Ask (field 7): carried through every encoder and
// decoder, and wire compatible: a peer that predates the field skips it like any unknown field.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import {
  decodeMessage,
  decodeTellsFrame,
  encodeAskView,
  encodeMessage,
  readAskFrame,
  type RemoteMessage,
  RequestFields,
  type Tell,
  TellBatchWriter,
  TellColumns,
} from "./mod.ts";
import {
  encodeWithGenerated,
  sampleTell,
  traceparentArb,
} from "./_fixtures_test.ts";

const TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/** Tell.traceparent and Ask.traceparent: field 5 and 7, length-delimited. */
const TELL_TAG = 42;
const ASK_TAG = 58;
/** A field number no version knows (15, length-delimited). */
const UNKNOWN_TAG = 122;

const ask: RemoteMessage = {
  kind: "ask",
  id: 3,
  recipient: "orders/42",
  type: "GetTotal",
  codec: "json",
  payload: new TextEncoder().encode("{}"),
  timeoutMs: 5000,
};

/**
 * The frame as a peer that predates the field reads it: the traceparent (written last, with a
 * one-byte length) moved to a field number the decoder does not know, which it treats exactly
 * as an older decoder treats field 5 of Tell and field 7 of Ask.
 */
function asUnknownField(bytes: Uint8Array, tag: number): Uint8Array {
  const copy = bytes.slice();
  const at = copy.length - TRACEPARENT.length - 2;
  assert.equal(copy[at], tag);
  copy[at] = UNKNOWN_TAG;
  return copy;
}

test("Tell.traceparent is skipped by a reader that does not know the field: the tell is read as if untraced", () => {
  const traced: Tell = { ...sampleTell, traceparent: TRACEPARENT };
  const bytes = encodeMessage({ kind: "tells", tells: [traced] });
  assert.deepStrictEqual(decodeMessage(bytes), {
    kind: "tells",
    tells: [traced],
  });
  const old = asUnknownField(bytes, TELL_TAG);
  assert.deepStrictEqual(decodeMessage(old), {
    kind: "tells",
    tells: [sampleTell],
  });
  const columns = new TellColumns();
  assert.equal(decodeTellsFrame(old, 0, old.length, columns), true);
  assert.equal(columns.count, 1);
  assert.equal(columns.recipients[0], sampleTell.recipient);
  assert.equal(columns.traceparents[0], "");
  assert.deepStrictEqual(columns.payload(0).slice(), sampleTell.payload);
});

test("Ask.traceparent is skipped by a reader that does not know the field: the ask is read as if untraced", () => {
  const traced = encodeAskView(
    3,
    "orders/42",
    "GetTotal",
    "json",
    "{}",
    5000,
    TRACEPARENT,
  )
    .slice();
  assert.deepStrictEqual(decodeMessage(traced), {
    ...ask,
    traceparent: TRACEPARENT,
  });
  const fields = new RequestFields();
  assert.equal(readAskFrame(traced, 0, traced.length, fields), true);
  assert.equal(fields.traceparent, TRACEPARENT);
  const old = asUnknownField(traced, ASK_TAG);
  // Not the canonical layout any more: the fast path leaves it to the generated decoder.
  assert.equal(readAskFrame(old, 0, old.length, fields), false);
  assert.deepStrictEqual(decodeMessage(old), ask);
});

test("An untraced tell or ask has no traceparent field: the bytes of a peer that predates it", () => {
  const writer = new TellBatchWriter();
  writer.add(
    sampleTell.recipient,
    sampleTell.type,
    sampleTell.codec,
    sampleTell.payload,
  );
  const plain = writer.finish().slice();
  writer.reset();
  writer.add(
    sampleTell.recipient,
    sampleTell.type,
    sampleTell.codec,
    sampleTell.payload,
    "",
  );
  assert.deepStrictEqual(writer.finish().slice(), plain);
  assert.deepStrictEqual(
    plain,
    encodeWithGenerated({ kind: "tells", tells: [sampleTell] }),
  );
  assert.deepStrictEqual(
    encodeAskView(3, "orders/42", "GetTotal", "json", "{}", 5000, "").slice(),
    encodeWithGenerated(ask),
  );
});

test("TellBatchWriter.add() and encodeAskView() carry any traceparent the generated code carries, and refuse a bad one", () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.option(traceparentArb, { nil: undefined }),
        { minLength: 1, maxLength: 6 },
      ),
      (traceparents) => {
        const tells: Tell[] = traceparents.map((traceparent) =>
          traceparent === undefined
            ? sampleTell
            : { ...sampleTell, traceparent }
        );
        const message: RemoteMessage = { kind: "tells", tells };
        const bytes = encodeMessage(message);
        assert.deepStrictEqual(bytes, encodeWithGenerated(message));
        assert.deepStrictEqual(decodeMessage(bytes), message);
        const columns = new TellColumns();
        assert.equal(decodeTellsFrame(bytes, 0, bytes.length, columns), true);
        assert.deepStrictEqual(
          columns.traceparents.slice(0, columns.count),
          traceparents.map((traceparent) => traceparent ?? ""),
        );
      },
    ),
    { numRuns: 50 },
  );
  const writer = new TellBatchWriter();
  assert.throws(
    () => writer.add("a", "b", "c", "", 5 as unknown as string),
    (error: unknown) =>
      error instanceof TypeError &&
      /traceparent must be a string/.test(String(error)),
  );
  assert.throws(
    () => writer.add("a", "b", "c", "", "x".repeat(70_000)),
    (error: unknown) =>
      error instanceof RangeError &&
      /traceparent is over the limit/.test(String(error)),
  );
  assert.equal(writer.count, 0);
  assert.throws(
    () => encodeAskView(1, "a", "b", "c", "", 1, [] as unknown as string),
    TypeError,
  );
});
