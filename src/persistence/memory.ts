import { JournalConflictError, JournalUnavailableError } from "./errors.ts";
import {
  checkAppend,
  checkPersistenceId,
  checkSequenceNr,
  type Journal,
  type NewEvent,
  type PersistenceProvider,
  type ReadOptions,
  type SnapshotStore,
  type StoredEvent,
  type StoredSnapshot,
} from "./journal.ts";

interface Stream {
  events: StoredEvent[]; // events[i].sequenceNr === first + i
  first: number;
  last: number;
  snapshots: StoredSnapshot[]; // ascending sequenceNr
}

/**
 * The in-memory persistence provider: the default, so persistent actors work with no server.
 * It keeps everything in this process (lost when the process exits) and copies bytes in and
 * out, so callers cannot change what is stored. It follows the full provider contract.
 *
 * @example Usage
 * ```ts
 * import { MemoryPersistence } from "@troupe/troupe";
 * await using provider = new MemoryPersistence();
 * const data = new TextEncoder().encode("{}");
 * await provider.journal.append("a", 0, [{ type: "created", version: 1, data, timestamp: 0 }]);
 * console.log(await provider.journal.lastSequenceNr("a")); // 1
 * ```
 */
export class MemoryPersistence implements PersistenceProvider {
  #streams = new Map<string, Stream>();
  #closed = false;
  /** The event journal. */
  readonly journal: Journal;
  /** The snapshot store. */
  readonly snapshots: SnapshotStore;

  /** Creates an empty provider. */
  constructor() {
    this.journal = {
      append: (id, expected, events) => this.#append(id, expected, events),
      read: (id, from, options) => this.#read(id, from, options),
      lastSequenceNr: (id) => {
        this.#check();
        checkPersistenceId(id);
        return Promise.resolve(this.#streams.get(id)?.last ?? 0);
      },
      deleteTo: (id, to) => this.#deleteTo(id, to),
    };
    this.snapshots = {
      save: (snapshot) => this.#save(snapshot),
      loadLatest: (id, max) => this.#loadLatest(id, max),
      keepLatest: (id, count) => this.#keepLatest(id, count),
    };
  }

  /** Drops everything; further calls reject with JournalUnavailableError. */
  close(): Promise<void> {
    this.#closed = true;
    this.#streams.clear();
    return Promise.resolve();
  }

  /** Closes the provider (for `await using`). */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #check(): void {
    if (this.#closed) {
      throw new JournalUnavailableError(
        "MemoryPersistence is closed",
        undefined,
        { notApplied: true },
      );
    }
  }

  #stream(id: string): Stream {
    let stream = this.#streams.get(id);
    if (stream === undefined) {
      stream = { events: [], first: 1, last: 0, snapshots: [] };
      this.#streams.set(id, stream);
    }
    return stream;
  }

  #append(
    id: string,
    expected: number,
    events: readonly NewEvent[],
  ): Promise<void> {
    try {
      this.#check();
      checkAppend(id, expected, events);
      const stream = this.#stream(id);
      if (stream.last !== expected) {
        throw new JournalConflictError(id, expected, stream.last);
      }
      let seq = expected;
      for (const e of events) {
        stream.events.push({
          persistenceId: id,
          sequenceNr: ++seq,
          type: e.type,
          version: e.version,
          data: e.data.slice(),
          timestamp: e.timestamp,
        });
      }
      stream.last = seq;
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #read(
    id: string,
    from: number,
    options: ReadOptions | undefined,
  ): Promise<StoredEvent[]> {
    try {
      this.#check();
      checkPersistenceId(id);
      checkSequenceNr("fromSequenceNr", from, 0);
      const to = options?.toSequenceNr ?? Infinity;
      const max = options?.max ?? Infinity;
      checkSequenceNr("toSequenceNr", to, 0, true);
      checkSequenceNr("max", max, 0, true);
      const stream = this.#streams.get(id);
      const out: StoredEvent[] = [];
      if (stream === undefined) return Promise.resolve(out);
      const start = Math.max(from, stream.first) - stream.first;
      for (let i = start; i < stream.events.length && out.length < max; i++) {
        const e = stream.events[i];
        if (e.sequenceNr > to) break;
        out.push({ ...e, data: e.data.slice() });
      }
      return Promise.resolve(out);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #deleteTo(id: string, to: number): Promise<void> {
    try {
      this.#check();
      checkPersistenceId(id);
      checkSequenceNr("toSequenceNr", to, 0, true);
      const stream = this.#streams.get(id);
      if (stream !== undefined) {
        const upTo = Math.min(to, stream.last);
        if (upTo >= stream.first) {
          stream.events.splice(0, upTo - stream.first + 1);
          stream.first = upTo + 1;
        }
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #save(snapshot: StoredSnapshot): Promise<void> {
    try {
      this.#check();
      checkPersistenceId(snapshot?.persistenceId);
      checkSequenceNr("snapshot sequenceNr", snapshot.sequenceNr, 0);
      if (!(snapshot.data instanceof Uint8Array)) {
        throw new TypeError("Cannot save snapshot: data must be a Uint8Array");
      }
      const list = this.#stream(snapshot.persistenceId).snapshots;
      const copy = { ...snapshot, data: snapshot.data.slice() };
      const i = list.findIndex((s) => s.sequenceNr >= snapshot.sequenceNr);
      if (i === -1) list.push(copy);
      else if (list[i].sequenceNr === snapshot.sequenceNr) list[i] = copy;
      else list.splice(i, 0, copy);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #loadLatest(id: string, max = Infinity): Promise<StoredSnapshot | undefined> {
    try {
      this.#check();
      checkPersistenceId(id);
      checkSequenceNr("maxSequenceNr", max, 0, true);
      const list = this.#streams.get(id)?.snapshots ?? [];
      for (let i = list.length - 1; i >= 0; i--) {
        if (list[i].sequenceNr <= max) {
          return Promise.resolve({ ...list[i], data: list[i].data.slice() });
        }
      }
      return Promise.resolve(undefined);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  #keepLatest(id: string, count: number): Promise<void> {
    try {
      this.#check();
      checkPersistenceId(id);
      checkSequenceNr("count", count, 1);
      const list = this.#streams.get(id)?.snapshots;
      if (list !== undefined && list.length > count) {
        list.splice(0, list.length - count);
      }
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(error);
    }
  }
}
