// The request guards: the body size limit and the constant-time token check.
import { HttpRequestError } from "./errors.ts";

const encoder = new TextEncoder();

/**
 * Refuses a body over `maxBytes` (by its Content-Length, or by counting a streamed one, which
 * is then read and dropped: no endpoint takes a body).
 */
export async function checkBody(
  request: Request,
  maxBytes: number,
): Promise<void> {
  const length = request.headers.get("content-length");
  if (length !== null) {
    const value = /^[0-9]{1,15}$/.test(length.trim()) ? Number(length) : NaN;
    if (Number.isNaN(value)) {
      throw new HttpRequestError("BAD_QUERY", "Invalid Content-Length header");
    }
    if (value > maxBytes) {
      throw new HttpRequestError(
        "PAYLOAD_TOO_LARGE",
        `The body (${value} bytes) is over the limit of ${maxBytes} bytes`,
      );
    }
  }
  if (request.body === null || request.bodyUsed) return;
  const reader = request.body.getReader();
  let total = 0;
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      total += value.byteLength;
      if (total > maxBytes) {
        throw new HttpRequestError(
          "PAYLOAD_TOO_LARGE",
          `The body is over the limit of ${maxBytes} bytes`,
        );
      }
    }
  } catch (error) {
    void reader.cancel().catch(() => {});
    if (error instanceof HttpRequestError) throw error;
    throw new HttpRequestError(
      "BAD_QUERY",
      "The request body could not be read",
      {
        cause: error,
      },
    );
  }
}

/**
 * Whether `given` equals `expected`, in time that does not depend on where they differ: both
 * are hashed (SHA-256) first, so even their lengths do not show, and the digests are compared
 * byte by byte without an early exit.
 */
export async function tokenMatches(
  given: string,
  expected: string,
): Promise<boolean> {
  const [a, b] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(given)),
    crypto.subtle.digest("SHA-256", encoder.encode(expected)),
  ]);
  const x = new Uint8Array(a);
  const y = new Uint8Array(b);
  let difference = 0;
  for (let i = 0; i < x.length; i++) difference |= x[i] ^ y[i];
  return difference === 0 && given.length > 0;
}
