// Group commit of appends. An append goes out at once (on the next microtask) unless
// MAX_IN_FLIGHT script calls are already on their way; then it waits for one of them to come
// back and goes out with every other append that waited, in one APPEND_BATCH call. A lone
// writer pays no extra latency, and many actors appending at once share round trips and
// scripts instead of each paying for a command of its own.
//
// Each append in a batch is checked and applied on its own, so batching changes no outcome: an
// append conflicts, succeeds or is refused exactly as if it had been sent alone. When the call
// as a whole fails (connection lost, closed), every append in it rejects: whether it was
// stored is then unknown, as the contract allows.
//
// Batching puts keys of many persistence ids in one script call, which a standalone Redis
// accepts; a Redis Cluster client would have to batch per hash slot instead.
import { JournalUnavailableError } from "../errors.ts";
import type { RedisArgument, RedisCommands, RedisReply } from "./_client.ts";
import { APPEND_BATCH } from "./_scripts.ts";

/** Script calls of appends on their way at once before new appends wait and batch. */
const MAX_IN_FLIGHT = 8;
/** At most this many appends per call... */
const MAX_BATCH_APPENDS = 32;
/** ...and at most this many records and bytes (one append bigger than that goes alone). */
const MAX_BATCH_RECORDS = 8192;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

/** `undefined` when appended, else the journal's actual last sequence number (a conflict). */
export type AppendOutcome = number | undefined;

interface AppendRequest {
  readonly eventsKey: string;
  readonly metaKey: string;
  readonly expected: string;
  readonly records: readonly Uint8Array[];
  readonly resolve: (outcome: AppendOutcome) => void;
  readonly reject: (error: unknown) => void;
}

const BANG = 0x21; // "!"
const decoder = new TextDecoder();

/** Sends appends through one connection, batching those that would otherwise wait. */
export class AppendBatcher {
  readonly #commands: RedisCommands;
  #queue: AppendRequest[] = [];
  #inFlight = 0;
  #scheduled = false;

  /**
   * Creates the batcher.
   *
   * @param commands The connection.
   */
  constructor(commands: RedisCommands) {
    this.#commands = commands;
  }

  /**
   * Appends encoded records after `expected`, atomically.
   *
   * @param eventsKey The events list.
   * @param metaKey The meta hash.
   * @param expected The expected last sequence number.
   * @param records The encoded records, numbered from `expected + 1`.
   * @returns Undefined when appended, or the actual last sequence number on a conflict.
   */
  append(
    eventsKey: string,
    metaKey: string,
    expected: number,
    records: readonly Uint8Array[],
  ): Promise<AppendOutcome> {
    return new Promise((resolve, reject) => {
      this.#queue.push({
        eventsKey,
        metaKey,
        expected: String(expected),
        records,
        resolve,
        reject,
      });
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#scheduled || this.#inFlight >= MAX_IN_FLIGHT) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#flush();
    });
  }

  #flush(): void {
    while (this.#queue.length > 0 && this.#inFlight < MAX_IN_FLIGHT) {
      let count = 0;
      let records = 0;
      let bytes = 0;
      while (count < this.#queue.length && count < MAX_BATCH_APPENDS) {
        const next = this.#queue[count];
        let size = 0;
        for (const record of next.records) size += 4 + record.length;
        if (
          count > 0 &&
          (records + next.records.length > MAX_BATCH_RECORDS ||
            bytes + size > MAX_BATCH_BYTES)
        ) break;
        records += next.records.length;
        bytes += size;
        count++;
      }
      this.#send(this.#queue.splice(0, count));
    }
  }

  #send(batch: AppendRequest[]): void {
    const keys: string[] = [];
    const args: RedisArgument[] = [];
    for (const request of batch) {
      keys.push(request.eventsKey, request.metaKey);
      args.push(request.expected, String(request.records.length));
      for (const record of request.records) args.push(record);
    }
    this.#inFlight++;
    APPEND_BATCH.run(this.#commands, keys, args).then(
      (reply) => {
        this.#done();
        settle(batch, reply);
      },
      (error: unknown) => {
        this.#done();
        for (const request of batch) request.reject(error);
      },
    );
  }

  #done(): void {
    this.#inFlight--;
    if (this.#queue.length > 0) this.#schedule();
  }
}

function settle(batch: readonly AppendRequest[], reply: RedisReply): void {
  if (!Array.isArray(reply) || reply.length !== batch.length) {
    const error = new JournalUnavailableError(
      "Redis answered an append with an unexpected reply",
    );
    for (const request of batch) request.reject(error);
    return;
  }
  for (let i = 0; i < batch.length; i++) {
    const outcome = reply[i];
    const request = batch[i];
    if (outcome === 0) {
      request.resolve(undefined);
    } else if (outcome instanceof Uint8Array && outcome[0] === BANG) {
      request.reject(
        new JournalUnavailableError(
          `Redis refused the append: ${decoder.decode(outcome.subarray(1))}`,
        ),
      );
    } else {
      const text = outcome instanceof Uint8Array
        ? decoder.decode(outcome)
        : String(outcome);
      const actual = Number(text);
      if (Number.isSafeInteger(actual) && actual >= 0) request.resolve(actual);
      else {
        request.reject(
          new JournalUnavailableError(
            `Unexpected last sequence number ${JSON.stringify(text)} in Redis`,
          ),
        );
      }
    }
  }
}
