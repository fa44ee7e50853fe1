/**
 * The Redis persistence provider: event journals and snapshots of persistent actors in Redis
 * (6.2 or later), through the `redis` npm package (node-redis 5). It is its own subpath export,
 * `@troupe/troupe/redis`, so programs that do not use it never load a Redis client.
 *
 * ## Key layout
 *
 * Every key starts with the provider's `keyPrefix` (default `"troupe:"`). Each persistence id
 * has three keys, with the id inside a Redis Cluster hash tag so that they share a slot and
 * one Lua script can update them atomically:
 *
 * | key | type | content |
 * | --- | --- | --- |
 * | `{prefix}{<id>}:events` | LIST | the events, encoded, in sequence order |
 * | `{prefix}{<id>}:meta` | HASH | `first`: sequence number of the list head; `last`: the highest ever appended |
 * | `{prefix}{<id>}:snapshots` | ZSET | snapshots, encoded, scored by sequence number |
 *
 * `<id>` is the persistence id as it is, unless it contains `{` or `}`, starts with `~`, or
 * has a lone UTF-16 surrogate: then it is `~` followed by four hex digits per UTF-16 code unit
 * (`a{b}` becomes `~0061007b0062007d`), so that no two ids share a key. The prefix may not
 * contain braces.
 *
 * Events and snapshots are stored in Troupe's binary record form (sequence number, schema
 * version, timestamp, type name, data and a CRC-32), so every record says its own sequence
 * number and damage is detected on read (`CorruptRecordError`). An append runs in one Lua
 * script that checks `last` and pushes all its events: it is atomic, and a second writer of
 * the same id gets a `JournalConflictError` instead of interleaving. Appends of many ids issued
 * at once share a script call (each still checked on its own), which needs a standalone Redis;
 * a Redis Cluster client would batch per hash slot. `deleteTo` trims the list and moves
 * `first`; `last` stays, so sequence numbers are never reused. Snapshots start at sequence
 * number 1.
 *
 * ## Durability
 *
 * An append is acknowledged once Redis has applied it in memory, so it is exactly as durable as
 * the server's persistence settings make it:
 *
 * | server settings | an acknowledged append survives |
 * | --- | --- |
 * | `appendonly no` (Redis's default) | nothing: it is lost when Redis restarts (an RDB snapshot may hold an older state) |
 * | `appendonly yes`, `appendfsync everysec` | a restart or crash of Redis; a crash of the machine may lose the last second |
 * | `appendonly yes`, `appendfsync always` | a restart of Redis and a crash of the machine |
 *
 * `RedisPersistence.connect()` reads `appendonly` and `appendfsync` (`CONFIG GET`) and, when
 * acknowledged appends would not survive a Redis restart or the settings cannot be read (CONFIG
 * disabled, renamed or not permitted), warns once through the `logger` (`durability: "warn"`,
 * the default), rejects with `DurabilityError` (`"require"`), or does not check (`"ignore"`).
 *
 * ## Failures
 *
 * While Redis is unreachable every call rejects at once with `JournalUnavailableError`
 * (`notApplied` is set: nothing was sent) and the provider reconnects with backoff. A
 * connection that stops answering (half-open) is closed when commands in flight get no reply
 * for `commandTimeoutMs` (default 10 s): they reject with `JournalUnavailableError`, and an
 * append among them may or may not have been stored. Appends waiting to be sent are bounded by
 * `maxQueuedAppends` (default 100000); beyond it an append rejects at once with
 * `JournalQueueFullError`.
 *
 * @example Persist and read back events
 * ```ts ignore
 * import { RedisPersistence } from "@troupe/troupe/redis";
 *
 * await using provider = await RedisPersistence.connect({
 *   url: "redis://127.0.0.1:6379",
 *   keyPrefix: "shop:",
 * });
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
  RedisPersistence,
  type RedisPersistenceLogger,
  type RedisPersistenceOptions,
} from "./redis_persistence.ts";
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
