// Group commit of appends. An append goes out at once (on the next microtask) unless
// MAX_IN_FLIGHT script calls are already on their way; then it waits for one of them to come
// back and goes out with every other append that waited, in one APPEND_BATCH call. A lone
// writer pays no extra latency, and many actors appending at once share round trips and
// scripts instead of each paying for a command of its own.
//
// One call goes to the connection per event-loop turn; what is left waits for the next turn
// (platform.setImmediate). The client writes what it was handed in a turn as one socket write,
// and Redis answers what it read in one go before it reads again: a hundred appends handed over
// at once would be run by Redis while this side waits, then settled here while Redis waits. Cut
// into writes of their own, Redis runs the first call while this side encodes and hands over
// the next, and the replies come back in pieces this side settles while Redis runs the rest.
// Measured with 100 writers at once, against all calls handed over in one turn (`deno run -A
// bench/runtimes/persistence_runtimes.mjs --runtimes deno --runs 5 --rounds 9 --base <that>`,
// medians of five alternating runs): persistent actors 0.60-0.61 -> 0.78-0.83 of the raw
// client's throughput on the VM of the first two comparisons, and 0.58 (0.51-0.62) -> 0.79
// (0.65-0.98) on another, higher in 5 of 5 pairs (bench/README.md). The provider's long job
// (100 x 200 appends) went 1.11-1.12 -> 1.31-1.41 on the first VM and did not move on the
// other (1.32 -> 1.26, ranges overlapping).
//
// Each append in a batch is checked and applied on its own, so batching changes no outcome: an
// append conflicts, succeeds or is refused exactly as if it had been sent alone. When the call
// as a whole fails (connection lost, closed), every append in it rejects: whether it was
// stored is then unknown, as the contract allows.
//
// An append is encoded when it is made (so later changes to the caller's data are not
// stored), straight into a shared slab in the batch form APPEND_BATCH reads: the appends of a
// batch are then one contiguous byte range, sent as a single argument. That saves an
// allocation per record here, and a Buffer, a socket write and an argument per record in the
// client; the slabs are dropped once the calls that use them are written.
//
// Appends wait here only while MAX_IN_FLIGHT calls are on their way, and a call gets a reply or
// fails within the connection's command timeout; still, a connection that stops answering
// would let the queue grow for that long at the rate appends come in. So it is bounded: beyond
// `maxQueued` waiting appends, an append fails at once with JournalQueueFullError (nothing sent).
//
// Batching puts keys of many persistence ids in one script call, which a standalone Redis
// accepts; a Redis Cluster client would have to batch per hash slot instead.
import {
  isJournalUnavailableError,
  JournalConflictError,
  JournalQueueFullError,
  JournalUnavailableError,
} from "../errors.ts";
import type { NewEvent } from "../journal.ts";
import { encodedRecordLength, encodeRecordInto } from "../record_format.ts";
import { platform } from "../../platform/mod.ts";
import type { RedisCommands, RedisReply } from "./_client.ts";
import { APPEND_BATCH, APPEND_HEADER, RECORD_PREFIX } from "./_scripts.ts";

/** Script calls of appends on their way at once before new appends wait and batch. */
const MAX_IN_FLIGHT = 8;
/**
 * At most this many appends per call... Small enough that many writers keep several calls on
 * their way (a hundred keep four or five), so that Redis runs one while this side settles
 * another and encodes the next: measured with 100 writers, 24 gave 1.3-1.5x the throughput
 * of 32 or 64, where the calls bunch up into two or three and each side waits for the other.
 */
const MAX_BATCH_APPENDS = 24;
/** ...and at most this many records and bytes (one append bigger than that goes alone). */
const MAX_BATCH_RECORDS = 8192;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;
/** Size of a shared slab; an append of more than a quarter of it gets a buffer of its own. */
const SLAB_SIZE = 64 * 1024;

interface AppendRequest {
  readonly persistenceId: string;
  readonly expected: number;
  readonly eventsKey: string;
  readonly metaKey: string;
  readonly records: number;
  /** The slab holding the append in batch form, and where. */
  readonly slab: Uint8Array;
  readonly start: number;
  readonly end: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

const BANG = 0x21; // "!"
const decoder = new TextDecoder();

/** Sends appends through one connection, batching those that would otherwise wait. */
export class AppendBatcher {
  readonly #commands: RedisCommands;
  readonly #maxQueued: number;
  /** Appends waiting to be sent: those of #queue from #head on (sent ones are cleared). */
  #queue: (AppendRequest | undefined)[] = [];
  #head = 0;
  #inFlight = 0;
  #scheduled = false;
  /** Whether a flush waits for the next event-loop turn (see the top of this file). */
  #nextTurn = false;
  #slab = new Uint8Array(0);
  #slabUsed = 0;

  /**
   * Creates the batcher.
   *
   * @param commands The connection.
   * @param maxQueued How many appends may wait to be sent.
   */
  constructor(commands: RedisCommands, maxQueued: number) {
    this.#commands = commands;
    this.#maxQueued = maxQueued;
  }

  /** How many appends wait to be sent (not counting those on their way). */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /**
   * Appends events after `expected`, atomically. They are encoded at once, numbered from
   * `expected + 1`; the caller has checked them (a RangeError from encoding is thrown before
   * anything is queued).
   *
   * @param persistenceId The persistence id, for errors.
   * @param eventsKey The events list.
   * @param metaKey The meta hash.
   * @param expected The expected last sequence number.
   * @param events The events.
   * @returns Resolves when appended; rejects with JournalConflictError when the last sequence
   * number is not `expected`, with JournalQueueFullError when too many appends wait already,
   * else with JournalUnavailableError.
   * @throws {RangeError} When an event cannot be encoded (type name too long).
   */
  append(
    persistenceId: string,
    eventsKey: string,
    metaKey: string,
    expected: number,
    events: readonly NewEvent[],
  ): Promise<void> {
    if (this.#queue.length - this.#head >= this.#maxQueued) {
      return Promise.reject(
        new JournalQueueFullError(persistenceId, this.#maxQueued),
      );
    }
    let size = APPEND_HEADER;
    for (let i = 0; i < events.length; i++) {
      size += RECORD_PREFIX + encodedRecordLength(events[i]);
    }
    let slab = this.#slab;
    let start = this.#slabUsed;
    if (size > SLAB_SIZE / 4) {
      slab = new Uint8Array(size);
      start = 0;
    } else if (start + size > slab.length) {
      slab = new Uint8Array(SLAB_SIZE);
      start = 0;
      this.#slab = slab;
      this.#slabUsed = 0;
    }
    let at = start + APPEND_HEADER;
    for (let i = 0; i < events.length; i++) {
      const event = events[i];
      const end = encodeRecordInto(slab, at + RECORD_PREFIX, {
        sequenceNr: expected + 1 + i,
        type: event.type,
        version: event.version,
        data: event.data,
        timestamp: event.timestamp,
      });
      writeU32(slab, at, end - at - RECORD_PREFIX);
      at = end;
    }
    writeU32(slab, start, Math.floor(expected / 2 ** 32));
    writeU32(slab, start + 4, expected >>> 0);
    writeU32(slab, start + 8, events.length);
    writeU32(slab, start + 12, at - start - APPEND_HEADER);
    if (slab === this.#slab) this.#slabUsed = at;
    return new Promise((resolve, reject) => {
      this.#queue.push({
        persistenceId,
        expected,
        eventsKey,
        metaKey,
        records: events.length,
        slab,
        start,
        end: at,
        resolve,
        reject,
      });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (
      this.#scheduled || this.#nextTurn || this.#inFlight >= MAX_IN_FLIGHT
    ) return;
    this.#scheduled = true;
    queueMicrotask(this.#flushNow);
  }

  readonly #flushNow = (): void => {
    this.#scheduled = false;
    this.#flush();
  };

  readonly #flushNextTurn = (): void => {
    this.#nextTurn = false;
    this.#flush();
  };

  /** Sends the first batch of the queue, and leaves the rest to the next turn. */
  #flush(): void {
    const queue = this.#queue;
    let head = this.#head;
    if (head < queue.length && this.#inFlight < MAX_IN_FLIGHT) {
      // A batch is a run of appends that lie back to back in one slab.
      const first = queue[head]!;
      let count = 1;
      let records = first.records;
      let end = first.end;
      while (head + count < queue.length && count < MAX_BATCH_APPENDS) {
        const next = queue[head + count]!;
        if (
          next.slab !== first.slab || next.start !== end ||
          records + next.records > MAX_BATCH_RECORDS ||
          next.end - first.start > MAX_BATCH_BYTES
        ) break;
        records += next.records;
        end = next.end;
        count++;
      }
      this.#send(queue.slice(head, head + count) as AppendRequest[]);
      // The slots let go of what was sent (its slab, its callbacks) before the array is cut.
      queue.fill(undefined, head, head + count);
      head += count;
    }
    if (head === queue.length) {
      this.#queue = [];
      this.#head = 0;
      return;
    }
    // Taken appends are dropped from the front once they are half the array.
    if (head > queue.length >> 1) {
      this.#queue = queue.slice(head);
      head = 0;
    }
    this.#head = head;
    if (this.#inFlight < MAX_IN_FLIGHT) {
      this.#nextTurn = true;
      platform.setImmediate(this.#flushNextTurn);
    }
  }

  #done(): void {
    this.#inFlight--;
    if (this.#head < this.#queue.length) this.#schedule();
  }

  #send(batch: AppendRequest[]): void {
    const keys: string[] = new Array(batch.length * 2);
    for (let i = 0; i < batch.length; i++) {
      keys[2 * i] = batch[i].eventsKey;
      keys[2 * i + 1] = batch[i].metaKey;
    }
    const first = batch[0];
    const bytes = first.slab.subarray(first.start, batch[batch.length - 1].end);
    this.#inFlight++;
    APPEND_BATCH.run(this.#commands, keys, [bytes]).then(
      (reply) => {
        this.#done();
        settle(batch, reply);
      },
      (error: unknown) => {
        this.#done();
        for (const request of batch) request.reject(failed(request, error));
      },
    );
  }
}

function writeU32(target: Uint8Array, at: number, value: number): void {
  target[at] = value >>> 24;
  target[at + 1] = value >>> 16;
  target[at + 2] = value >>> 8;
  target[at + 3] = value;
}

function settle(batch: readonly AppendRequest[], reply: RedisReply): void {
  if (reply === 0) {
    // Every append was appended.
    for (let i = 0; i < batch.length; i++) batch[i].resolve();
    return;
  }
  if (!Array.isArray(reply) || reply.length !== batch.length) {
    const error = new JournalUnavailableError(
      "Redis answered an append with an unexpected reply",
    );
    for (const request of batch) request.reject(failed(request, error));
    return;
  }
  for (let i = 0; i < batch.length; i++) {
    const outcome = reply[i];
    const request = batch[i];
    if (outcome === 0) {
      request.resolve();
    } else if (outcome instanceof Uint8Array && outcome[0] === BANG) {
      // The script wrote nothing of an append Redis refused.
      const refused = new JournalUnavailableError(
        `Redis refused the append: ${decoder.decode(outcome.subarray(1))}`,
        undefined,
        { notApplied: true },
      );
      request.reject(failed(request, refused));
    } else {
      const text = outcome instanceof Uint8Array
        ? decoder.decode(outcome)
        : String(outcome);
      const actual = Number(text);
      if (Number.isSafeInteger(actual) && actual >= 0) {
        request.reject(
          new JournalConflictError(
            request.persistenceId,
            request.expected,
            actual,
          ),
        );
      } else {
        const unexpected = new JournalUnavailableError(
          `Unexpected last sequence number ${JSON.stringify(text)} in Redis`,
        );
        request.reject(failed(request, unexpected));
      }
    }
  }
}

/** The error of an append that failed for another reason than a conflict. */
function failed(request: AppendRequest, error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  return new JournalUnavailableError(
    `Cannot append to journal "${request.persistenceId}": ${message}`,
    error,
    { notApplied: isJournalUnavailableError(error) && error.notApplied },
  );
}
