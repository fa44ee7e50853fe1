// Remember-entities: the ids of each shard's running entities, kept in the journal (one
// persistence id per shard), so the shard's next owner starts them again after a rebalance or
// a crash instead of waiting for their next message. An entity is added when it starts and
// removed when it is passivated; a hand-off or a node's end keeps it.
import { isJournalConflictError, type Journal } from "../../persistence/mod.ts";
import { InvalidShardingMessageError } from "./errors.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface ShardRecord {
  ids: Set<string>;
  lastSeq: number;
  /** Appends run one after the other (each expects the previous one's sequence number). */
  chain: Promise<void>;
}

/** The persistence id of the remembered entities of one shard. */
export function rememberedId(entityType: string, shard: number): string {
  return `troupe.sharding.remembered.${entityType}.${shard}`;
}

/** The remembered entities of one entity type's shards, on one node. */
export class RememberedEntities {
  readonly #journal: Journal;
  readonly #entityType: string;
  readonly #logError: (message: string, error: unknown) => void;
  readonly #now: () => number;
  readonly #shards = new Map<number, Promise<ShardRecord>>();

  constructor(
    journal: Journal,
    entityType: string,
    logError: (message: string, error: unknown) => void,
    now: () => number,
  ) {
    this.#journal = journal;
    this.#now = now;
    this.#entityType = entityType;
    this.#logError = logError;
  }

  /**
   * The ids remembered for `shard`, read from the journal again (another node may have
   * changed them while it owned the shard).
   *
   * @throws {InvalidShardingMessageError} (as a rejection) When a stored event is malformed.
   */
  async load(shard: number): Promise<string[]> {
    const loading = this.#read(shard);
    this.#shards.set(shard, loading);
    return [...(await loading).ids];
  }

  /** Records that `id` started (`true`) or was passivated (`false`). */
  record(shard: number, id: string, running: boolean): void {
    let loading = this.#shards.get(shard);
    if (loading === undefined) {
      loading = this.#read(shard);
      this.#shards.set(shard, loading);
    }
    void loading.then(
      (record) => {
        record.chain = record.chain.then(() =>
          this.#append(shard, record, id, running)
        );
      },
      (error) =>
        this.#logError(
          `Cannot read the remembered entities of shard ${shard}`,
          error,
        ),
    );
  }

  async #append(
    shard: number,
    record: ShardRecord,
    id: string,
    running: boolean,
  ): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      if (record.ids.has(id) === running) return;
      try {
        await this.#journal.append(
          rememberedId(this.#entityType, shard),
          record.lastSeq,
          [{
            type: running ? "started" : "passivated",
            version: 1,
            data: encoder.encode(JSON.stringify({ id })),
            timestamp: this.#now(),
          }],
        );
        record.lastSeq++;
        if (running) record.ids.add(id);
        else record.ids.delete(id);
        return;
      } catch (error) {
        if (!isJournalConflictError(error)) {
          this.#logError(`Cannot remember entity ${JSON.stringify(id)}`, error);
          return;
        }
        // The previous owner wrote since we read: read again and retry.
        const fresh = await this.#read(shard).catch(() => undefined);
        if (fresh === undefined) return;
        record.ids = fresh.ids;
        record.lastSeq = fresh.lastSeq;
      }
    }
  }

  async #read(shard: number): Promise<ShardRecord> {
    const events = await this.#journal.read(
      rememberedId(this.#entityType, shard),
      1,
    );
    const ids = new Set<string>();
    let lastSeq = 0;
    for (const event of events) {
      let id: unknown;
      try {
        id = (JSON.parse(decoder.decode(event.data)) as { id?: unknown })?.id;
      } catch {
        id = undefined;
      }
      if (typeof id !== "string") {
        throw new InvalidShardingMessageError(
          `remembered entity event ${event.sequenceNr} of shard ${shard} has no id`,
        );
      }
      if (event.type === "started") ids.add(id);
      else ids.delete(id);
      lastSeq = event.sequenceNr;
    }
    return { ids, lastSeq, chain: Promise.resolve() };
  }
}
