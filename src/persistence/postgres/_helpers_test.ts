// Shared by the PostgreSQL provider's tests; it registers no test itself (named *_test.ts so that
// neither the JSR publish nor the npm package ships it).
//
// The tests use the server at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test),
// each file in a schema of its own that it drops at the end. When that server does not answer,
// the tests fail on CI (env CI set) and are skipped, with a loud notice, everywhere else.
import { platform } from "../../platform/mod.ts";
import { freePort, ON_CI, serviceGate } from "../_service_gate_test.ts";
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

const gate = await serviceGate(
  "PostgreSQL",
  DATABASE_URL,
  "Start PostgreSQL or set DATABASE_URL.",
  probe,
);

/** Why the tests that need the shared server are skipped, or undefined when they run. */
export const SKIP_POSTGRES: string | undefined = gate.skip;

/** Registers a test that needs the shared server. */
export function postgresTest(name: string, fn: () => Promise<void>): void {
  gate.test(name, fn);
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

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, ms));
}

export { freePort };
