// Collects an HTTP response body for Platform.httpsGet on both runtimes, refusing one larger
// than the limit (so a broken or hostile server cannot fill the memory).

/** The default of `HttpsGetOptions.maxBodyBytes`: 64 MiB. */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;

/** Gathers chunks up to `max` bytes. */
export class BodyCollector {
  readonly #max: number;
  readonly #chunks: Uint8Array[] = [];
  #size = 0;

  /** @param max The largest body accepted, in bytes. */
  constructor(max: number = MAX_BODY_BYTES) {
    this.#max = max;
  }

  /**
   * Adds a chunk.
   *
   * @throws {RangeError} When the body grows past the limit.
   */
  add(chunk: Uint8Array): void {
    this.#size += chunk.byteLength;
    if (this.#size > this.#max) {
      throw new RangeError(
        `The response body is larger than ${this.#max} bytes`,
      );
    }
    this.#chunks.push(chunk);
  }

  /** The body so far, in one array. */
  bytes(): Uint8Array {
    const whole = new Uint8Array(this.#size);
    let offset = 0;
    for (const chunk of this.#chunks) {
      whole.set(chunk, offset);
      offset += chunk.byteLength;
    }
    return whole;
  }
}
