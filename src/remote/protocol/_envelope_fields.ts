// The Envelope's field number of each message kind (proto/troupe_remote.proto), both ways.
import type { RemoteMessageKind } from "./messages.ts";

/** The Envelope field number of each body. */
export const FIELD_OF_KIND: Readonly<Record<RemoteMessageKind, number>> = {
  hello: 1,
  welcome: 2,
  proof: 3,
  accepted: 4,
  refused: 5,
  tells: 10,
  ask: 11,
  reply: 12,
  failure: 13,
  ping: 20,
  pong: 21,
  watch: 30,
  unwatch: 31,
  terminated: 32,
  spawn: 40,
  lookup: 41,
  stop: 42,
  goodbye: 50,
  extension: 60,
};

/** The kind of each Envelope field number; `undefined` for a field that is not a body. */
export const KIND_OF_FIELD: ReadonlyArray<RemoteMessageKind | undefined> =
  (() => {
    const kinds: Array<RemoteMessageKind | undefined> = [];
    for (const [kind, field] of Object.entries(FIELD_OF_KIND)) {
      kinds[field] = kind as RemoteMessageKind;
    }
    return kinds;
  })();
