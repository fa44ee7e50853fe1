import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { isInvalidPubSubFrameError } from "./errors.ts";
import { checkFrame, PUBSUB_CODEC, type PubSubFrame } from "./_wire.ts";
import { PubSubExtensions } from "./pubsub_extensions.ts";

const arbFrame: fc.Arbitrary<PubSubFrame> = fc.oneof(
  fc.record({
    t: fc.constant("status" as const),
    to: fc.string(),
    reply: fc.boolean(),
    versions: fc.array(
      fc.tuple(fc.string(), fc.string(), fc.nat()),
    ),
  }),
  fc.record({
    t: fc.constant("delta" as const),
    to: fc.string(),
    buckets: fc.array(fc.record({
      node: fc.string(),
      incarnation: fc.string(),
      version: fc.nat(),
      topics: fc.array(fc.string()),
    })),
  }),
  fc.record({
    t: fc.constant("pub" as const),
    to: fc.string(),
    items: fc.array(
      fc.tuple(
        fc.string().filter((t) => ![...t].some((c) => c.charCodeAt(0) < 0x20)),
        fc.jsonValue().map((v) => JSON.stringify(v)),
      ),
      { minLength: 1 },
    ).map((pairs) => pairs.flat()),
  }),
);

test("pub/sub codec: every frame survives encoding and decoding, and checks as itself", () => {
  fc.assert(
    fc.property(arbFrame, (frame) => {
      const back = checkFrame(
        PUBSUB_CODEC.decode("x", PUBSUB_CODEC.encode("x", frame)),
      );
      assert.deepEqual(back, JSON.parse(JSON.stringify(frame)));
    }),
    { numRuns: 300 },
  );
});

test("pub/sub extension: random input is refused with InvalidPubSubFrameError, never anything else", () => {
  const [extension] = new PubSubExtensions().remote;
  fc.assert(
    fc.property(fc.anything(), (value) => {
      try {
        extension.handle(value, { node: "x" });
      } catch (error) {
        assert.ok(isInvalidPubSubFrameError(error), String(error));
      }
    }),
    { numRuns: 500 },
  );
  // Well-formed but for a node that runs no pub/sub here: dropped.
  extension.handle({ t: "pub", to: "nobody", items: ["t", "1"] }, {
    node: "x",
  });
  assert.throws(
    () =>
      extension.handle({ t: "status", to: "n", reply: 1, versions: [] }, {
        node: "x",
      }),
    isInvalidPubSubFrameError,
  );
});

test("pub/sub codec: random bytes decode to a value or throw (the remote layer makes that a CodecError)", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
      let value: unknown;
      try {
        value = PUBSUB_CODEC.decode("x", bytes);
      } catch (error) {
        assert.ok(error instanceof Error);
        return;
      }
      try {
        checkFrame(value);
      } catch (error) {
        assert.ok(isInvalidPubSubFrameError(error));
      }
    }),
    { numRuns: 500 },
  );
});
