// Error text on the wire: a remote error's name and message and a stop's reason are cut to a
// bound well under MAX_STRING_BYTES, so an error or a notice always fits in its message and a
// long one cannot cost the connection.

/**
 * The most UTF-8 bytes of an error name, an error message or a stop reason that a node sends
 * (16 KiB). Longer text is cut, and ends with `… (truncated, N chars)`, N being the length of
 * the whole text in UTF-16 code units.
 */
export const MAX_ERROR_TEXT_BYTES = 16_384;

const encoder = new TextEncoder();

function utf8Length(text: string): number {
  return encoder.encode(text).byteLength;
}

/**
 * Cuts `text` to at most `maxBytes` UTF-8 bytes, marker included, never inside a surrogate pair.
 *
 * @param text The text.
 * @param maxBytes The bound (default {@linkcode MAX_ERROR_TEXT_BYTES}).
 * @returns `text` itself when it fits, else its start and `… (truncated, N chars)`.
 * @throws {RangeError} When `maxBytes` is too small for the marker.
 *
 * @example Usage
 * ```ts
 * import { truncateErrorText } from "./mod.ts";
 * console.log(truncateErrorText("x".repeat(100), 40)); // "xxxxxxxxxxxxxx… (truncated, 100 chars)"
 * ```
 */
export function truncateErrorText(
  text: string,
  maxBytes: number = MAX_ERROR_TEXT_BYTES,
): string {
  if (text.length * 3 <= maxBytes || utf8Length(text) <= maxBytes) return text;
  const marker = `… (truncated, ${text.length} chars)`;
  const room = maxBytes - utf8Length(marker);
  if (!(room >= 0)) {
    throw new RangeError(
      `Invalid maxBytes ${maxBytes}: too small for the truncation marker`,
    );
  }
  let end = 0;
  let used = 0;
  while (end < text.length) {
    const c = text.charCodeAt(end);
    let size = 3;
    let step = 1;
    if (c < 0x80) size = 1;
    else if (c < 0x800) size = 2;
    else if (c >= 0xd800 && c < 0xdc00 && end + 1 < text.length) {
      const next = text.charCodeAt(end + 1);
      if (next >= 0xdc00 && next < 0xe000) {
        size = 4;
        step = 2;
      }
    }
    if (used + size > room) break;
    used += size;
    end += step;
  }
  return text.slice(0, end) + marker;
}

/**
 * The bound for one error text field of a Failure or Terminated message when frames may be at
 * most `maxFrameBytes`: {@linkcode MAX_ERROR_TEXT_BYTES}, or less when frames are small, so that
 * two such fields and the rest of the message always fit in a frame.
 *
 * @param maxFrameBytes The largest frame a node sends.
 * @returns The bound in UTF-8 bytes (at least 64).
 *
 * @example Usage
 * ```ts
 * import { errorTextBound } from "./mod.ts";
 * console.log(errorTextBound(8 * 1024 * 1024)); // 16384
 * console.log(errorTextBound(4096)); // 1536
 * ```
 */
export function errorTextBound(maxFrameBytes: number): number {
  return Math.max(
    64,
    Math.min(MAX_ERROR_TEXT_BYTES, Math.floor((maxFrameBytes - 1024) / 2)),
  );
}
