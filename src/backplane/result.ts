/** The success arm of a {@linkcode Result}. */
export interface Ok<T> {
  /** Always `true` for a success. */
  readonly ok: true;
  /** The value produced. */
  readonly value: T;
}

/** The failure arm of a {@linkcode Result}. */
export interface Err<E> {
  /** Always `false` for a failure. */
  readonly ok: false;
  /** The error produced. */
  readonly error: E;
}

/**
 * A value or an error, returned rather than thrown. Managed work returns one so that a failure
 * it reports (`err`) stays distinguishable from an exception it throws.
 */
export type Result<T, E> = Ok<T> | Err<E>;

/**
 * Wraps a value as a successful {@linkcode Result}.
 *
 * @param value The value.
 * @returns `{ ok: true, value }`.
 *
 * @example Usage
 * ```ts
 * import { ok } from "@troupe/troupe";
 * const result = ok(42);
 * console.log(result.ok, result.value); // true 42
 * ```
 */
export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}

/**
 * Wraps an error as a failed {@linkcode Result}.
 *
 * @param error The error.
 * @returns `{ ok: false, error }`.
 *
 * @example Usage
 * ```ts
 * import { err } from "@troupe/troupe";
 * const result = err("disk full");
 * console.log(result.ok, result.error); // false "disk full"
 * ```
 */
export function err<E>(error: E): Err<E> {
  return { ok: false, error };
}

/**
 * Tells whether a value has the shape of a {@linkcode Result}.
 *
 * @param value Anything.
 * @returns `true` when `value` is `{ ok: true, value }` or `{ ok: false, error }`.
 *
 * @example Usage
 * ```ts
 * import { isResult, ok } from "@troupe/troupe";
 * console.log(isResult(ok(1)), isResult(1)); // true false
 * ```
 */
export function isResult(value: unknown): value is Result<unknown, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const r = value as { ok?: unknown };
  return (r.ok === true && "value" in r) || (r.ok === false && "error" in r);
}
