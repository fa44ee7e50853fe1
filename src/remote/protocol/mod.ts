/**
 * The remoting wire protocol as a pure codec: one frame payload (a protobuf `Envelope`, see
 * `proto/troupe_remote.proto`) to a typed {@linkcode RemoteMessage} and back. Framing (the length
 * prefix) belongs to the transport; what the messages mean belongs to the node.
 *
 * Decoding never trusts the bytes: anything malformed is a `ProtocolError` (code
 * `MALFORMED_FRAME`), never another error.
 *
 * @example Usage
 * ```ts
 * import { decodeMessage, encodeMessage, type RemoteMessage } from "./mod.ts";
 *
 * const message: RemoteMessage = {
 *   kind: "tells",
 *   tells: [{
 *     recipient: "orders/42",
 *     type: "Ship",
 *     codec: "json",
 *     payload: new TextEncoder().encode('{"express":true}'),
 *   }],
 * };
 * const bytes = encodeMessage(message);
 * const decoded = decodeMessage(bytes);
 * console.log(decoded.kind); // "tells"
 * ```
 *
 * @module
 */

export {
  decodeMessage,
  decodeTellsFrame,
  encodeMessage,
  readAskFrame,
  readReplyFrame,
} from "./codec.ts";
export { isProtocolError, ProtocolError } from "./errors.ts";
// The hot path: encodings into reused buffers, for senders that copy the bytes at once.
export {
  type ByteRange,
  encodeAsk,
  encodeAskView,
  encoded,
  encodeReply,
  encodeReplyView,
  RequestFields,
} from "./_ask_reply.ts";
export { TellBatchWriter, TellColumns } from "./_tell_batch.ts";
export { asciiText } from "./_wire.ts";
export {
  errorTextBound,
  MAX_ERROR_TEXT_BYTES,
  truncateErrorText,
} from "./_error_text.ts";
export {
  MAX_EXTENSIONS,
  MAX_STRING_BYTES,
  NONCE_BYTES,
  PROOF_BYTES,
  PROTOCOL_VERSION,
} from "./messages.ts";
export type {
  AcceptedMessage,
  AskMessage,
  ExtensionMessage,
  FailureMessage,
  GoodbyeMessage,
  HelloMessage,
  LookupMessage,
  PingMessage,
  PongMessage,
  ProofMessage,
  RefusedMessage,
  RemoteMessage,
  RemoteMessageKind,
  ReplyMessage,
  SpawnMessage,
  StopMessage,
  Tell,
  TellBatchMessage,
  TerminatedMessage,
  UnwatchMessage,
  WatchMessage,
  WelcomeMessage,
} from "./messages.ts";
