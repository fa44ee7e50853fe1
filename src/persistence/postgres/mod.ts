/**
 * The PostgreSQL persistence provider: event journals and snapshots of persistent actors in
 * PostgreSQL (11 or later), through the `postgres` npm package (postgres.js 3). It is its own
 * subpath export, `@troupe/troupe/postgres`, and loads the client only when a provider is made,
 * so programs that do not use it never load a PostgreSQL client. In the npm build `postgres` is
 * an optional peer dependency: install it with `npm install postgres@^3`.
 *
 * ## Tables
 *
 * {@linkcode PostgresPersistence.migrate} creates them (idempotent, under an advisory lock);
 * `schema.sql` beside this module holds the same script for the default names, and
 * {@linkcode postgresSchemaSql} returns it for a `schema` and `tablePrefix` of your choice
 * (default: no schema, prefix `troupe_`):
 *
 * | table | key | content |
 * | --- | --- | --- |
 * | `troupe_events` | `persistence_id, sequence_nr` | `record`: the event, encoded (`bytea`) |
 * | `troupe_snapshots` | `persistence_id, sequence_nr` | `record`: the snapshot, encoded (`bytea`) |
 * | `troupe_streams` | `persistence_id` | `last_sequence_nr` when events were last deleted |
 *
 * Events and snapshots are stored in Troupe's binary record form (sequence number, schema
 * version, timestamp, type name, data and a CRC-32), so damage is detected on read
 * (`CorruptRecordError`). An id's last sequence number is the greater of its newest event and
 * what `deleteTo` recorded in `troupe_streams` when it deleted, so numbers are never reused. An
 * append inserts its events only when that last number is the expected one, in one statement,
 * and the primary key on id and sequence number refuses a second writer racing for the same
 * numbers: either way the second writer gets a `JournalConflictError` and nothing of its append
 * is stored. Appends of many ids issued at once share one statement and one commit, each still
 * checked on its own; a conflict fails only its own append. Reads are paged (`readPageSize`
 * events, at most 8 MiB), each page one `bytea` value, the next fetched while the last is
 * decoded.
 *
 * @example Persist and read back events
 * ```ts ignore
 * import { PostgresPersistence } from "@troupe/troupe/postgres";
 *
 * await using provider = await PostgresPersistence.connect({
 *   url: "postgres://postgres@127.0.0.1:5432/shop",
 *   tablePrefix: "shop_",
 * });
 * await provider.migrate();
 * const data = new TextEncoder().encode(JSON.stringify({ sku: "tea", count: 2 }));
 * await provider.journal.append("cart/7", 0, [{ type: "added", version: 1, data, timestamp: Date.now() }]);
 * for (const event of await provider.journal.read("cart/7", 1)) {
 *   console.log(event.sequenceNr, event.type, new TextDecoder().decode(event.data));
 * }
 * ```
 *
 * @module
 */
export {
  PostgresPersistence,
  type PostgresPersistenceOptions,
} from "./postgres_persistence.ts";
export { postgresSchemaSql, type PostgresTableOptions } from "./schema.ts";
export {
  isPostgresClientMissingError,
  PostgresClientMissingError,
} from "./errors.ts";
// The contract it implements, so this entry point documents itself completely.
export type {
  Journal,
  NewEvent,
  PersistenceProvider,
  ReadOptions,
  SnapshotStore,
  StoredEvent,
  StoredSnapshot,
} from "../journal.ts";
