// Shared by the PostgreSQL provider's tests; it registers no test itself (named *_test.ts so that
// neither the JSR publish nor the npm package ships it).
//
// The tests use the server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
// each file in a schema of its own that it drops at the end. When that server does not answer,
// the tests fail on CI (env CI set) and are skipped, with a loud notice, everywhere else.
import { platform } from "../../platform/mod.ts";
import { test } from "../../platform/test_harness.ts";
import {
  loadPostgresFactory,
  PostgresConnection,
  type SqlParameter,
  type SqlRow,
} from "./_client.ts";
import { PostgresPersistence } from "./postgres_persistence.ts";

/** The shared server of the tests. */
export const DATABASE_URL: string = platform.env("DATABASE_URL") ||
  "postgres://postgres@127.0.0.1:5432/test";

const ON_CI =
  ((value) =>
    value !== undefined && value !== "" && value !== "0" && value !== "false")(
      platform.env("CI"),
    );

/** Whether the tests run on CI, where missing infrastructure is a failure, not a skip. */
export const IS_CI: boolean = ON_CI;

async function probe(): Promise<string | undefined> {
  try {
    const provider = await PostgresPersistence.connect({
      url: DATABASE_URL,
      connectTimeoutMs: 2000,
    });
    await provider.close();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const unreachable = await probe();
if (unreachable !== undefined) {
  const notice =
    `PostgreSQL at ${DATABASE_URL} does not answer (${unreachable}): `;
  if (ON_CI) {
    console.error(
      `\n!!! ${notice}the PostgreSQL provider tests will FAIL (CI is set) !!!\n`,
    );
  } else {
    console.warn(
      `\n!!! ${notice}SKIPPING the PostgreSQL provider tests. Start PostgreSQL or set DATABASE_URL. !!!\n`,
    );
  }
}

/** Why the tests that need the shared server are skipped, or undefined when they run. */
export const SKIP_POSTGRES: string | undefined =
  unreachable !== undefined && !ON_CI
    ? `PostgreSQL not reachable at ${DATABASE_URL}`
    : undefined;

/** Registers a test that needs the shared server. */
export function postgresTest(name: string, fn: () => Promise<void>): void {
  test({
    name: SKIP_POSTGRES === undefined
      ? name
      : `${name} (skipped: ${SKIP_POSTGRES})`,
    ignore: SKIP_POSTGRES !== undefined,
    fn,
  });
}

/** A schema name no other run uses. */
export function randomSchema(label: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2)).join("_");
  return `troupe_test_${label}_${random}`;
}

/** Runs raw statements on a connection of its own (to plant bad data or look at tables). */
export async function rawQuery(
  text: string,
  parameters: readonly SqlParameter[] = [],
  url: string = DATABASE_URL,
): Promise<SqlRow[]> {
  const connection = new PostgresConnection(loadPostgresFactory(), {
    url,
    maxConnections: 1,
    connectTimeoutMs: 2000,
    reconnectMinDelayMs: 50,
    reconnectMaxDelayMs: 500,
  });
  try {
    return parameters.length === 0
      ? await connection.query(text, [])
      : await connection.query(text, parameters);
  } finally {
    await connection.close();
  }
}

/** Drops a schema and everything in it; returns how many tables it had. */
export async function dropSchema(schema: string): Promise<number> {
  const [{ tables }] = await rawQuery(
    "SELECT count(*)::int4 AS tables FROM pg_tables WHERE schemaname = $1",
    [schema],
  );
  await rawQuery(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  return tables as number;
}

/** A TCP port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const listener = await platform.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, ms));
}
