// Remoting protocol codec benchmarks: encode + decode of one frame payload. The baseline of each
// group is the naive wire format (JSON.stringify + TextEncoder, then TextDecoder + JSON.parse) of
// the same data; the generated protobufjs code on its own (Envelope.encode/decode, message
// instances) is there for comparison. Divide the TellBatch times by 100 for the cost per tell.
import {
  decodeMessage,
  encodeMessage,
  type RemoteMessage,
  type Tell,
} from "../src/remote/protocol/mod.ts";
import { troupe } from "../src/remote/protocol/generated/troupe_remote.js";

const v1 = troupe.remote.v1;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

const BATCH = 100;
const tells: Tell[] = Array.from({ length: BATCH }, (_, i) => ({
  recipient: `orders/${i}`,
  type: "OrderPlaced",
  codec: "json",
  payload: encoder.encode(`{"id":${i},"qty":3}`),
}));
const batch: RemoteMessage = { kind: "tells", tells };
const batchBytes = encodeMessage(batch);
/** The same data in a JSON-native form (payloads as the JSON text they hold). */
const batchJson = {
  kind: "tells",
  tells: tells.map((tell) => ({
    ...tell,
    payload: decoder.decode(tell.payload),
  })),
};

const ask: RemoteMessage = {
  kind: "ask",
  id: 123_456,
  recipient: "orders/42",
  type: "GetTotal",
  codec: "json",
  payload: encoder.encode('{"currency":"EUR"}'),
  timeoutMs: 5_000,
};
const askJson = { ...ask, payload: '{"currency":"EUR"}' };

let sink: unknown;

function jsonRoundTrip(value: unknown): unknown {
  return JSON.parse(decoder.decode(encoder.encode(JSON.stringify(value))));
}

Deno.bench({
  name: "tells x100: JSON + TextEncoder (baseline)",
  group: "tells x100",
  baseline: true,
  fn: () => {
    sink = jsonRoundTrip(batchJson);
  },
});

Deno.bench({
  name: "tells x100: encodeMessage + decodeMessage",
  group: "tells x100",
  fn: () => {
    sink = decodeMessage(encodeMessage(batch));
  },
});

Deno.bench({
  name: "tells x100: encodeMessage",
  group: "tells x100",
  fn: () => {
    sink = encodeMessage(batch);
  },
});

Deno.bench({
  name: "tells x100: decodeMessage",
  group: "tells x100",
  fn: () => {
    sink = decodeMessage(batchBytes);
  },
});

Deno.bench({
  name: "tells x100: generated protobufjs encode + decode",
  group: "tells x100",
  fn: () => {
    sink = v1.Envelope.decode(
      v1.Envelope.encode({ tells: { tells } }).finish(),
    );
  },
});

Deno.bench({
  name: "ask: JSON + TextEncoder (baseline)",
  group: "ask",
  baseline: true,
  fn: () => {
    sink = jsonRoundTrip(askJson);
  },
});

Deno.bench({
  name: "ask: encodeMessage + decodeMessage",
  group: "ask",
  fn: () => {
    sink = decodeMessage(encodeMessage(ask));
  },
});

Deno.bench({
  name: "ask: generated protobufjs encode + decode",
  group: "ask",
  fn: () => {
    const { kind: _, ...body } = ask;
    sink = v1.Envelope.decode(v1.Envelope.encode({ ask: body }).finish());
  },
});

globalThis.addEventListener("unload", () => {
  if (sink === undefined) console.log("nothing measured");
});
