// Shared by the codec tests: a round trip, the ProtocolError of bad bytes, and a batch of tells.
import assert from "node:assert/strict";
import { ProtocolError } from "./errors.ts";
import {
  decodeMessage,
  encodeMessage,
  type RemoteMessage,
  type Tell,
} from "./mod.ts";
import { decodeChecked } from "./_fixtures_test.ts";

/** A message encoded and decoded again. */
export function roundTrip(message: RemoteMessage): RemoteMessage {
  return decodeMessage(encodeMessage(message));
}

/** The ProtocolError decodeMessage throws for `bytes`. */
export function decodeError(bytes: Uint8Array): ProtocolError {
  const result = decodeChecked(bytes);
  assert.ok(
    result instanceof ProtocolError,
    `expected a ProtocolError, decoded ${(result as RemoteMessage).kind}`,
  );
  return result;
}

/** A batch of tells. */
export function tells(...list: Tell[]): RemoteMessage {
  return { kind: "tells", tells: list };
}
