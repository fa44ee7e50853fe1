// Errors of the PostgreSQL provider that the persistence subsystem's own errors do not cover.
// Storage failures are JournalUnavailableError and conflicts JournalConflictError, as for every
// provider; this file holds what is particular to loading the optional client package.

/**
 * The `postgres` npm package (the PostgreSQL client the provider uses) could not be loaded. In
 * the npm build it is an optional peer dependency: install it next to `@troupe/troupe` with
 * `npm install postgres@^3`. The cause is the loader's error.
 *
 * @example Usage
 * ```ts ignore
 * import { isPostgresClientMissingError, PostgresPersistence } from "@troupe/troupe/postgres";
 *
 * try {
 *   await PostgresPersistence.connect();
 * } catch (error) {
 *   if (isPostgresClientMissingError(error)) console.error(error.message);
 * }
 * ```
 */
export class PostgresClientMissingError extends Error {
  /** Stable code. */
  readonly code = "POSTGRES_CLIENT_MISSING" as const;
  /**
   * Creates the error.
   *
   * @param cause Why the package could not be loaded.
   */
  constructor(cause?: unknown) {
    super(
      `Cannot load the PostgreSQL client: the "postgres" package is missing or broken (${
        cause instanceof Error ? cause.message : String(cause)
      }). Install it with \`npm install postgres@^3\``,
      { cause },
    );
    this.name = "PostgresClientMissingError";
  }
}

/**
 * Tells whether a value is a {@linkcode PostgresClientMissingError}.
 *
 * @param value Anything.
 * @returns Whether it is one (by its code, so it works across copies of the package).
 *
 * @example Usage
 * ```ts
 * import { isPostgresClientMissingError } from "@troupe/troupe/postgres";
 * console.log(isPostgresClientMissingError(new Error())); // false
 * ```
 */
export function isPostgresClientMissingError(
  value: unknown,
): value is PostgresClientMissingError {
  return value instanceof Error &&
    (value as { code?: unknown }).code === "POSTGRES_CLIENT_MISSING";
}
