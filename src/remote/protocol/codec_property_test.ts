import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { ProtocolError } from "./errors.ts";
import {
  decodeMessage,
  encodeMessage,
  type RemoteMessage,
  type Tell,
} from "./mod.ts";
import {
  anyMessageArb,
  decodeChecked,
  encodeWithGenerated,
  kinds,
  messageArbs,
  nameArb,
  tellArb,
  v1,
} from "./_fixtures_test.ts";

/** Every Envelope tag of a body, as the varint bytes on the wire. */
const BODY_TAGS: readonly number[][] = [
  1,
  2,
  3,
  4,
  5,
  10,
  11,
  12,
  13,
  20,
  21,
  30,
  31,
  32,
  40,
  41,
  42,
  50,
]
  .map((field) => {
    const tag = (field << 3) | 2;
    return tag < 128 ? [tag] : [(tag & 127) | 128, tag >>> 7];
  });

type Mutation =
  | { kind: "truncate"; at: number }
  | { kind: "flip"; at: number; mask: number }
  | { kind: "overwrite"; at: number; value: number }
  | { kind: "insert"; at: number; bytes: Uint8Array }
  | { kind: "remove"; at: number; count: number }
  | { kind: "append"; bytes: Uint8Array };

const position = fc.nat({ max: 4096 });
const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant("truncate" as const), at: position }),
  fc.record({
    kind: fc.constant("flip" as const),
    at: position,
    mask: fc.integer({ min: 1, max: 255 }),
  }),
  fc.record({
    kind: fc.constant("overwrite" as const),
    at: position,
    value: fc.constantFrom(0, 1, 0x7f, 0x80, 0xff, 0x0a, 0x12, 0x52),
  }),
  fc.record({
    kind: fc.constant("insert" as const),
    at: position,
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({
    kind: fc.constant("remove" as const),
    at: position,
    count: fc.integer({ min: 1, max: 8 }),
  }),
  fc.record({
    kind: fc.constant("append" as const),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }),
  }),
);

function mutate(bytes: Uint8Array, mutation: Mutation): Uint8Array {
  const at = bytes.length === 0 ? 0 : (mutation as { at?: number }).at ?? 0;
  const i = at % (bytes.length + 1);
  const list = [...bytes];
  switch (mutation.kind) {
    case "truncate":
      return bytes.slice(0, i);
    case "flip":
      if (i < list.length) list[i] ^= mutation.mask;
      break;
    case "overwrite":
      if (i < list.length) list[i] = mutation.value;
      break;
    case "insert":
      list.splice(i, 0, ...mutation.bytes);
      break;
    case "remove":
      list.splice(i, mutation.count);
      break;
    case "append":
      list.push(...mutation.bytes);
      break;
  }
  return Uint8Array.from(list);
}

/** A decoded message must be valid: it encodes again, to the same message. */
function assertValid(message: RemoteMessage): void {
  assert.deepStrictEqual(decodeMessage(encodeMessage(message)), message);
}

/** What the generated decoder makes of a TellBatch envelope, as our type. */
function generatedTells(bytes: Uint8Array): Tell[] {
  const envelope = v1.Envelope.decode(bytes);
  assert.equal(envelope.body, "tells");
  return (envelope.tells?.tells ?? []).map((tell) => ({
    recipient: tell.recipient ?? "",
    type: tell.type ?? "",
    codec: tell.codec ?? "",
    payload: new Uint8Array(tell.payload ?? []),
    ...(tell.traceparent ? { traceparent: tell.traceparent } : {}),
  }));
}

function withPlainPayloads(tells: readonly Tell[]): Tell[] {
  return tells.map((tell) => ({
    ...tell,
    payload: new Uint8Array(tell.payload),
  }));
}

for (const kind of kinds) {
  test(`decodeMessage(encodeMessage(m)) equals m for arbitrary ${kind} messages`, () => {
    fc.assert(
      fc.property(messageArbs[kind], (message) => {
        const bytes = encodeMessage(message);
        assert.deepStrictEqual(bytes, encodeWithGenerated(message));
        assert.deepStrictEqual(decodeMessage(bytes), message);
      }),
      { numRuns: kind === "tells" ? 300 : 150 },
    );
  });
}

test("decodeMessage() reads the generated encoder's tell batches like the generated decoder", () => {
  fc.assert(
    fc.property(fc.array(tellArb, { minLength: 1, maxLength: 40 }), (tells) => {
      const bytes = encodeWithGenerated({ kind: "tells", tells });
      const decoded = decodeMessage(bytes);
      assert.ok(decoded.kind === "tells");
      assert.deepStrictEqual(
        withPlainPayloads(decoded.tells),
        generatedTells(bytes),
      );
    }),
    { numRuns: 200 },
  );
});

test("decodeMessage() returns the right strings when many names share intern slots", () => {
  fc.assert(
    fc.property(
      fc.uniqueArray(nameArb, { minLength: 50, maxLength: 400 }),
      fc.array(fc.nat(), { minLength: 1, maxLength: 200 }),
      (names, picks) => {
        const tells = picks.map((pick, i) => ({
          recipient: names[pick % names.length],
          type: names[(pick + i) % names.length],
          codec: "c",
          payload: new Uint8Array(0),
        }));
        for (let round = 0; round < 2; round++) {
          assert.deepStrictEqual(
            decodeMessage(encodeMessage({ kind: "tells", tells })),
            {
              kind: "tells",
              tells,
            },
          );
        }
      },
    ),
    { numRuns: 60 },
  );
});

test("decodeMessage() fuzz: random bytes decode to a valid message or throw ProtocolError", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const result = decodeChecked(bytes);
      if (!(result instanceof ProtocolError)) assertValid(result);
    }),
    { numRuns: 3000 },
  );
});

test("decodeMessage() fuzz: random bodies after a valid tag decode or throw ProtocolError", () => {
  fc.assert(
    fc.property(
      fc.constantFrom(...BODY_TAGS),
      fc.uint8Array({ maxLength: 120 }),
      fc.boolean(),
      (tag, body, honestLength) => {
        const length = honestLength ? [body.length & 127] : [];
        const bytes = Uint8Array.from([...tag, ...length, ...body]);
        const result = decodeChecked(bytes);
        if (!(result instanceof ProtocolError)) assertValid(result);
      },
    ),
    { numRuns: 3000 },
  );
});

test("decodeMessage() fuzz: mutated valid frames decode or throw ProtocolError", () => {
  fc.assert(
    fc.property(
      anyMessageArb,
      fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
      (message, mutations) => {
        let bytes = encodeMessage(message);
        for (const mutation of mutations) bytes = mutate(bytes, mutation);
        const result = decodeChecked(bytes);
        if (!(result instanceof ProtocolError)) assertValid(result);
      },
    ),
    { numRuns: 3000 },
  );
});

test("decodeMessage() fuzz: a mutated tell batch it accepts, the generated decoder reads the same", () => {
  fc.assert(
    fc.property(
      fc.array(tellArb, { minLength: 1, maxLength: 6 }),
      fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
      (tells, mutations) => {
        let bytes = encodeMessage({ kind: "tells", tells });
        for (const mutation of mutations) bytes = mutate(bytes, mutation);
        const result = decodeChecked(bytes);
        if (result instanceof ProtocolError || result.kind !== "tells") return;
        // Ours is stricter (names, sizes, one body); whatever it accepts must mean the same.
        assert.deepStrictEqual(
          withPlainPayloads(result.tells),
          generatedTells(bytes),
        );
      },
    ),
    { numRuns: 3000 },
  );
});

test("decodeMessage() fuzz: a mutated ask or reply it accepts, the generated decoder reads the same", () => {
  fc.assert(
    fc.property(
      fc.oneof(messageArbs.ask, messageArbs.reply),
      fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
      (message, mutations) => {
        let bytes = encodeMessage(message);
        for (const mutation of mutations) bytes = mutate(bytes, mutation);
        const result = decodeChecked(bytes);
        if (result instanceof ProtocolError) return;
        if (result.kind !== "ask" && result.kind !== "reply") return;
        const envelope = v1.Envelope.decode(bytes);
        assert.equal(envelope.body, result.kind);
        const { kind: _, ...fields } = result;
        const generated = envelope[result.kind]!;
        for (const [key, value] of Object.entries(fields)) {
          const expected =
            (generated as unknown as Record<string, unknown>)[key];
          if (value instanceof Uint8Array) {
            assert.deepStrictEqual([...value], [...(expected as Uint8Array)]);
          } else {
            assert.equal(value, expected, key);
          }
        }
      },
    ),
    { numRuns: 5000 },
  );
});
