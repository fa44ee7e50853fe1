// Shared by the FrameConnection tests: a TcpConn in memory, where every write, chunk boundary
// and stall is under the test's control, and a `test()` that runs each test over it twice (with
// streams only, and with the direct path).
import { test as register } from "../../platform/test_harness.ts";
import { type NetAddr, platform, type TcpConn } from "../../platform/mod.ts";
import { FrameConnection, type FrameConnectionOptions } from "./mod.ts";

export interface PendingWrite {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A TcpConn in memory. Inbound bytes are fed by the test; each outbound write is recorded (as a
 * copy) and, while `blocked`, stays pending until released: a peer that does not read.
 */
export class FakeConn implements TcpConn {
  readonly localAddr: NetAddr = { hostname: "fake", port: 1 };
  readonly remoteAddr: NetAddr = { hostname: "fake", port: 2 };
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** Every write handed to the socket, in order (copies). */
  readonly written: Uint8Array[] = [];
  blocked = false;
  closeCalls = 0;
  #closed = false;
  #pending: PendingWrite[] = [];
  #readController!: ReadableStreamDefaultController<Uint8Array>;
  #writeController!: WritableStreamDefaultController;

  constructor() {
    this.readable = new ReadableStream<Uint8Array>({
      start: (controller) => {
        this.#readController = controller;
      },
    });
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.#writeController = controller;
      },
      write: (chunk) => {
        if (this.#closed) throw new Error("fake connection is closed");
        this.written.push(chunk.slice());
        if (!this.blocked) return;
        return new Promise<void>((resolve, reject) => {
          this.#pending.push({ resolve, reject });
        });
      },
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** All bytes written so far, as one buffer. */
  get bytes(): Uint8Array {
    return concat(this.written);
  }

  feed(chunk: Uint8Array): void {
    this.#readController.enqueue(chunk);
  }

  end(): void {
    this.#readController.close();
  }

  fail(error: unknown): void {
    this.#readController.error(error);
  }

  /** Lets the pending writes complete, and the next ones at once. */
  unblock(): void {
    this.blocked = false;
    for (const write of this.#pending.splice(0)) write.resolve();
  }

  /** Lets the oldest pending write complete. */
  releaseOne(): void {
    this.#pending.shift()?.resolve();
  }

  setNoDelay(): void {}

  close(): void {
    this.closeCalls++;
    if (this.#closed) return;
    this.#closed = true;
    const error = new Error("fake connection is closed");
    for (const write of this.#pending.splice(0)) write.reject(error);
    try {
      this.#readController.close();
    } catch {
      // Already ended by the test.
    }
    this.#writeController.error(error);
  }
}

/**
 * A FakeConn that also offers the direct path of TcpConn (startReading(), write()), the one the
 * platforms' connections have; FrameConnection then uses it instead of the streams.
 */
export class DirectFakeConn extends FakeConn {
  #writer: WritableStreamDefaultWriter<Uint8Array> | null = null;
  startReadingCalls = 0;
  writeCalls = 0;

  startReading(
    onData: (chunk: Uint8Array) => void,
    onEnd: (error?: unknown) => void,
  ): void {
    this.startReadingCalls++;
    const reader = this.readable.getReader();
    (async () => {
      while (true) {
        let result: ReadableStreamReadResult<Uint8Array>;
        try {
          result = await reader.read();
        } catch (error) {
          onEnd(error);
          return;
        }
        if (result.done) {
          onEnd();
          return;
        }
        onData(result.value);
      }
    })();
  }

  write(chunk: Uint8Array): Promise<void> {
    this.writeCalls++;
    this.#writer ??= this.writable.getWriter();
    return this.#writer.write(chunk);
  }
}

// Every test runs twice: over a TcpConn with streams only (under its plain name), and over one
// with the direct path.
let direct = false;

export function test(name: string, fn: () => void | Promise<void>): void {
  register(name, () => {
    direct = false;
    return fn();
  });
  register(`${name} (direct TcpConn)`, () => {
    direct = true;
    return fn();
  });
}

export function fakeConn(): FakeConn {
  return direct ? new DirectFakeConn() : new FakeConn();
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.byteLength, 0);
  const bytes = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

/** Lets queued microtasks and stream callbacks run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, 0));
}

export interface Recorder {
  frames: Uint8Array[];
  closes: unknown[];
  onFrame(payload: Uint8Array): void;
  onClose(error?: unknown): void;
}

export function recorder(): Recorder {
  const frames: Uint8Array[] = [];
  const closes: unknown[] = [];
  return {
    frames,
    closes,
    onFrame: (payload) => {
      frames.push(payload);
    },
    onClose: (error) => {
      closes.push(error);
    },
  };
}

/** A connection over a FakeConn, closed by `using`. */
export function open(
  options: FrameConnectionOptions = {},
): { conn: FakeConn; frames: FrameConnection } & Disposable {
  const conn = fakeConn();
  const frames = new FrameConnection(conn, options);
  return {
    conn,
    frames,
    [Symbol.dispose]: () => frames.close(),
  };
}

export function payload(length: number, seed = length): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 7 + seed) & 0xff;
  return bytes;
}
