// The W3C Trace Context `traceparent` header (https://www.w3.org/TR/trace-context/), both ways:
// `version-traceid-parentid-flags`, lowercase hex. It comes from other nodes, so parsing is
// strict and never throws: whatever is not a valid header is no header.

/** The fields of a `traceparent`: what continues a trace on another node. */
export interface TraceParent {
  /** The trace's id: 32 lowercase hex digits, not all zero. */
  readonly traceId: string;
  /** The id of the sender's span: 16 lowercase hex digits, not all zero. */
  readonly spanId: string;
  /** The trace flags (bit 0: sampled), 0 to 255. */
  readonly traceFlags: number;
}

/** A header longer than this is not taken (version 00 is 55 characters). */
const MAX_LENGTH = 512;
const HEADER =
  /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-[^]*)?$/;
const ZERO_TRACE = "00000000000000000000000000000000";
const ZERO_SPAN = "0000000000000000";

/**
 * Reads a `traceparent` header value as the W3C rules say: version `ff` and all-zero ids are
 * invalid, version `00` has exactly four fields, and a later version may add fields after them
 * (ignored).
 *
 * @example Usage
 * ```ts
 * import { parseTraceparent } from "@troupe/troupe/otel";
 *
 * const parent = parseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
 * console.log(parent?.spanId); // "00f067aa0ba902b7"
 * console.log(parseTraceparent("not a header")); // undefined
 * ```
 *
 * @param value The header's value (from the wire: anything).
 * @returns Its fields, or `undefined` when it is not a valid header.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== "string" || value.length > MAX_LENGTH) return undefined;
  const match = HEADER.exec(value);
  if (match === null) return undefined;
  const [, version, traceId, spanId, flags, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) {
    return undefined;
  }
  if (traceId === ZERO_TRACE || spanId === ZERO_SPAN) return undefined;
  return { traceId, spanId, traceFlags: parseInt(flags, 16) };
}

/**
 * Writes a `traceparent` header value (version `00`).
 *
 * @example Usage
 * ```ts
 * import { formatTraceparent } from "@troupe/troupe/otel";
 *
 * console.log(formatTraceparent({
 *   traceId: "4bf92f3577b34da6a3ce929d0e0e4736",
 *   spanId: "00f067aa0ba902b7",
 *   traceFlags: 1,
 * })); // "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
 * ```
 *
 * @param parent The trace and span ids and the flags.
 * @returns The header's value.
 * @throws {TypeError} When an id is not lowercase hex of the right length, or all zero.
 * @throws {RangeError} When the flags are not an integer from 0 to 255.
 */
export function formatTraceparent(parent: TraceParent): string {
  const { traceId, spanId, traceFlags } = parent;
  if (
    typeof traceId !== "string" || !/^[0-9a-f]{32}$/.test(traceId) ||
    traceId === ZERO_TRACE
  ) {
    throw new TypeError(
      `Invalid trace id ${
        JSON.stringify(traceId)
      }: expected 32 lowercase hex digits, not all zero`,
    );
  }
  if (
    typeof spanId !== "string" || !/^[0-9a-f]{16}$/.test(spanId) ||
    spanId === ZERO_SPAN
  ) {
    throw new TypeError(
      `Invalid span id ${
        JSON.stringify(spanId)
      }: expected 16 lowercase hex digits, not all zero`,
    );
  }
  if (!Number.isInteger(traceFlags) || traceFlags < 0 || traceFlags > 255) {
    throw new RangeError(
      `Invalid trace flags ${traceFlags}: expected an integer from 0 to 255`,
    );
  }
  return `00-${traceId}-${spanId}-${traceFlags < 16 ? "0" : ""}${
    traceFlags.toString(16)
  }`;
}
