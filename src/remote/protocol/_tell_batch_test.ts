import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import {
  decodeMessage,
  decodeTellsFrame,
  encodeMessage,
  type RemoteMessage,
  type Tell,
  TellBatchWriter,
  TellColumns,
} from "./mod.ts";
import {
  encodeWithGenerated,
  filled,
  sampleTell,
  stringOfBytes,
  tellArb,
  textArb,
} from "./_fixtures_test.ts";

const encoder = new TextEncoder();

/** A tell whose payload may be given to the writer as text. */
interface Entry {
  readonly tell: Tell;
  readonly text?: string;
}

const entryArb: fc.Arbitrary<Entry> = fc.oneof(
  tellArb.map((tell) => ({ tell })),
  fc.tuple(tellArb, fc.oneof(textArb, fc.string({ maxLength: 400 }))).map((
    [tell, text],
  ) => ({ tell: { ...tell, payload: encoder.encode(text) }, text })),
);

function write(writer: TellBatchWriter, entries: readonly Entry[]): void {
  for (const { tell, text } of entries) {
    writer.add(
      tell.recipient,
      tell.type,
      tell.codec,
      text ?? tell.payload,
      tell.traceparent,
    );
  }
}

test("TellBatchWriter writes the bytes of encodeMessage() and the generated code, with payloads as bytes or text", () => {
  const writer = new TellBatchWriter();
  fc.assert(
    fc.property(
      fc.array(entryArb, { minLength: 1, maxLength: 20 }),
      (entries) => {
        write(writer, entries);
        const message: RemoteMessage = {
          kind: "tells",
          tells: entries.map((entry) => entry.tell),
        };
        assert.equal(writer.count, entries.length);
        const bytes = writer.finish();
        assert.deepStrictEqual(bytes.slice(), encodeMessage(message));
        assert.deepStrictEqual(bytes.slice(), encodeWithGenerated(message));
        writer.reset();
        assert.equal(writer.count, 0);
        assert.equal(writer.byteLength, 0);
      },
    ),
  );
});

test("TellBatchWriter handles long and non-ASCII text payloads and grows past its first buffer", () => {
  const writer = new TellBatchWriter();
  const texts = [
    "",
    "x",
    "a".repeat(42),
    "a".repeat(43),
    "é".repeat(100),
    "中".repeat(30_000),
    `{"text":"${"z".repeat(200_000)}"}`,
    "\u{1F600}".repeat(5000),
    "lone \uD800 surrogate",
  ];
  for (const text of texts) writer.add("sink", "hit", "json", text);
  const decoded = decodeMessage(writer.finish().slice());
  assert.equal(decoded.kind, "tells");
  assert.deepStrictEqual(
    decoded.tells.map((tell) => new TextDecoder().decode(tell.payload)),
    texts.map((text) => text.replace("\uD800", "\uFFFD")),
  );
  writer.reset();
  // A reset writer starts over with a small buffer and the same bytes as ever.
  writer.add(sampleTell.recipient, sampleTell.type, "json", "[1,2]");
  assert.deepStrictEqual(
    writer.finish().slice(),
    encodeMessage({
      kind: "tells",
      tells: [{
        ...sampleTell,
        codec: "json",
        payload: encoder.encode("[1,2]"),
      }],
    }),
  );
});

test("TellBatchWriter.add() rejects bad fields like encodeMessage() and adds nothing then", () => {
  const writer = new TellBatchWriter();
  writer.add("sink", "hit", "json", "1");
  const cases: Array<[unknown[], ErrorConstructor, RegExp]> = [
    [
      ["", "hit", "json", "1"],
      RangeError,
      /tells\[1\]\.recipient must not be empty/,
    ],
    [["sink", 7, "json", "1"], TypeError, /tells\[1\]\.type must be a string/],
    [
      ["sink", "hit", "json", [1]],
      TypeError,
      /tells\[1\]\.payload must be a Uint8Array/,
    ],
    [
      ["sink", "hit", stringOfBytes(70_000), "1"],
      RangeError,
      /tells\[1\]\.codec is over the limit of 65536 UTF-8 bytes/,
    ],
    [
      ["sink", stringOfBytes(65_535, "中") + "é", "json", "1"],
      RangeError,
      /tells\[1\]\.type is over the limit/,
    ],
  ];
  for (const [args, type, pattern] of cases) {
    assert.throws(
      () =>
        writer.add(
          ...(args as [string, string, string, Uint8Array | string]),
        ),
      (error: unknown) => error instanceof type && pattern.test(String(error)),
    );
    assert.equal(writer.count, 1, "nothing was added");
  }
  writer.add("sink", "hit", "json", filled(3, 7));
  assert.deepStrictEqual(
    writer.finish().slice(),
    encodeMessage({
      kind: "tells",
      tells: [
        {
          recipient: "sink",
          type: "hit",
          codec: "json",
          payload: encoder.encode("1"),
        },
        {
          recipient: "sink",
          type: "hit",
          codec: "json",
          payload: filled(3, 7),
        },
      ],
    }),
  );
});

test("TellBatchWriter.finish() throws RangeError for an empty batch", () => {
  const writer = new TellBatchWriter();
  assert.throws(() => writer.finish(), /tells must hold at least one tell/);
});

test("TellBatchWriter copies the names of a tell like the last one and still writes the bytes of encodeMessage()", () => {
  const writer = new TellBatchWriter();
  // Few names, so that runs of the same recipient, type and codec are common; payloads around
  // 128 bytes, so that some tells move when their length takes a second byte.
  // Some traced: the traceparent comes after the payload, outside the copied names.
  const tellArb: fc.Arbitrary<Tell> = fc.tuple(
    fc.record({
      recipient: fc.constantFrom("sink", "node/user/é", "a".repeat(70)),
      type: fc.constantFrom("hit", "echo"),
      codec: fc.constantFrom("json", "cbor"),
      payload: fc.uint8Array({ minLength: 0, maxLength: 160 }),
    }),
    fc.option(
      fc.constantFrom(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "ü",
      ),
      { nil: undefined },
    ),
  ).map(([tell, traceparent]) =>
    traceparent === undefined ? tell : { ...tell, traceparent }
  );
  fc.assert(
    fc.property(
      fc.array(fc.array(tellArb, { minLength: 1, maxLength: 12 }), {
        minLength: 1,
        maxLength: 3,
      }),
      (batches) => {
        for (const tells of batches) {
          for (const tell of tells) {
            writer.add(
              tell.recipient,
              tell.type,
              tell.codec,
              tell.payload,
              tell.traceparent,
            );
          }
          assert.deepStrictEqual(
            writer.finish().slice(),
            encodeMessage({ kind: "tells", tells }),
          );
          writer.reset();
        }
      },
    ),
    { numRuns: 200 },
  );
});

/** What decoding `bytes` gives: the tells, or the error's text. */
function outcome(decode: () => readonly Tell[] | null): unknown {
  try {
    const tells = decode();
    return tells === null ? null : tells.map((tell) => ({
      ...tell,
      payload: Array.from(tell.payload),
    }));
  } catch (error) {
    return `${(error as Error).name}: ${(error as Error).message}`;
  }
}

test("decodeTellsFrame() reads a frame of tells as decodeMessage() does, errors included, and leaves other frames to it", () => {
  const columns = new TellColumns();
  const framesArb = fc.oneof(
    fc.array(tellArb, { minLength: 1, maxLength: 5 }).map((tells) =>
      encodeMessage({ kind: "tells", tells })
    ),
    // Damaged batches: a byte changed, or cut short.
    fc.tuple(
      fc.array(tellArb, { minLength: 1, maxLength: 3 }),
      fc.nat(),
      fc.integer({ min: 0, max: 255 }),
      fc.boolean(),
    ).map(([tells, at, value, cut]) => {
      const bytes = encodeMessage({ kind: "tells", tells }).slice();
      const i = at % bytes.length;
      if (cut) return bytes.subarray(0, i);
      bytes[i] = value;
      return bytes;
    }),
    fc.uint8Array({ maxLength: 40 }).map((bytes) =>
      Uint8Array.of(82, ...bytes)
    ),
    fc.constant(encodeMessage({ kind: "ping", id: 3 })),
  );
  fc.assert(
    fc.property(framesArb, (bytes) => {
      let fast = false;
      const got = outcome(() => {
        // Somewhere inside a larger buffer, as frames are.
        const buf = new Uint8Array(bytes.length + 5).fill(82);
        buf.set(bytes, 3);
        fast = decodeTellsFrame(buf, 3, 3 + bytes.length, columns);
        if (!fast) return null;
        const tells: Tell[] = [];
        for (let i = 0; i < columns.count; i++) {
          tells.push({
            recipient: columns.recipients[i],
            type: columns.types[i],
            codec: columns.codecs[i],
            payload: columns.payload(i).slice(),
            ...(columns.traceparents[i] === ""
              ? {}
              : { traceparent: columns.traceparents[i] }),
          });
        }
        columns.release();
        return tells;
      });
      if (got === null) return;
      const expected = outcome(() => {
        const message = decodeMessage(bytes);
        assert.equal(message.kind, "tells");
        return message.kind === "tells" ? message.tells : [];
      });
      assert.deepStrictEqual(got, expected);
      if (typeof got === "string") assert.equal(columns.count, 0);
    }),
    { numRuns: 300 },
  );
  // A batch sent the usual way always takes this path.
  const bytes = encodeMessage({ kind: "tells", tells: [sampleTell] });
  assert.equal(decodeTellsFrame(bytes, 0, bytes.length, columns), true);
  assert.equal(columns.count, 1);
  columns.release();
  assert.equal(columns.count, 0);
});
