// Shared by the handshake tests: nodes on real TCP, a hand-driven client that sends what a test
// says and records what it receives, and waits bounded for CI.
import assert from "node:assert/strict";
import { platform } from "../platform/mod.ts";
import { ActorSystem, defineActor } from "../../mod.ts";
import type { ManualClock } from "../timer/mod.ts";
import { isHandshakeRefusedError } from "./errors.ts";
import { newNonce } from "./handshake.ts";
import { RemoteNode } from "./node.ts";
import type { RemoteNodeOptions } from "./options.ts";
import {
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type RemoteMessage,
} from "./protocol/mod.ts";
import { connectFrames, type FrameConnection } from "./transport/mod.ts";

export const SECRET = "handshake secret, test only";
export const OTHER_SECRET = "another secret, also a test one";
export const quiet = { error() {} };

export const echo = defineActor({
  name: "echo",
  init: () => ({}),
  handlers: { echo: (_s, text: string) => text },
});

/** A logger that keeps every line. */
export function capture(): {
  lines: string[];
  error(m: string, e: unknown): void;
} {
  const lines: string[] = [];
  return {
    lines,
    error(message, error) {
      lines.push(
        `${message}: ${error instanceof Error ? error.message : String(error)}`,
      );
    },
  };
}

/** Waits for `promise`, failing the test after `ms` (a bound for CI, not a measurement). */
export async function within<T>(ms: number, promise: Promise<T>, what: string) {
  let timer: ReturnType<typeof platform.setTimer> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = platform.setTimer(
          () => reject(new Error(`timed out waiting for ${what}`)),
          ms,
        );
      }),
    ]);
  } finally {
    if (timer !== undefined) platform.clearTimer(timer);
  }
}

/** Polls `condition` (real I/O on the other side) until it holds. */
export async function until(
  condition: () => boolean,
  what: string,
): Promise<void> {
  await within(
    10_000,
    (async () => {
      while (!condition()) {
        await new Promise<void>((r) => platform.setTimer(r, 5));
      }
    })(),
    what,
  );
}

/**
 * A hand-driven client: it sends what the test says, and records every frame it receives (raw
 * and decoded) and when the connection closes.
 */
export class RawClient implements AsyncDisposable {
  readonly raw: Uint8Array[] = [];
  readonly messages: RemoteMessage[] = [];
  readonly closed: Promise<void>;
  readonly #frames: FrameConnection;
  #isClosed = false;

  private constructor(frames: FrameConnection) {
    this.#frames = frames;
    let resolve!: () => void;
    this.closed = new Promise((r) => resolve = r);
    frames.start({
      onFrame: (bytes) => {
        this.raw.push(bytes.slice());
        this.messages.push(decodeMessage(bytes.slice()));
      },
      onClose: () => {
        this.#isClosed = true;
        resolve();
      },
    });
  }

  static async connect(address: string): Promise<RawClient> {
    const [hostname, port] = address.split(":");
    return new RawClient(
      await connectFrames({ hostname, port: Number(port) }),
    );
  }

  get isClosed(): boolean {
    return this.#isClosed;
  }

  send(message: RemoteMessage): void {
    this.#frames.send(encodeMessage(message));
  }

  /** The `index`-th message received (waits for it). */
  async message(index: number): Promise<RemoteMessage> {
    await until(
      () => this.messages.length > index || this.#isClosed,
      `message ${index}`,
    );
    const message = this.messages[index];
    if (message === undefined) {
      throw new Error(`closed after ${this.messages.length} message(s)`);
    }
    return message;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.#frames.close();
    await this.#frames.ended();
  }
}

export function hello(
  overrides: Partial<{ protocolVersion: number; cluster: string }> = {},
): RemoteMessage {
  return {
    kind: "hello",
    protocolVersion: overrides.protocolVersion ?? PROTOCOL_VERSION,
    node: "raw",
    address: "127.0.0.1:1",
    cluster: overrides.cluster ?? "test",
    nonce: newNonce(),
  };
}

export function contains(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) {
      if (haystack[i + j] !== needle[j]) continue outer;
    }
    return true;
  }
  return false;
}

export async function startNode(
  name: string,
  options: Partial<RemoteNodeOptions> = {},
  clock?: ManualClock,
): Promise<{ system: ActorSystem; node: RemoteNode } & AsyncDisposable> {
  const system = new ActorSystem({
    node: name,
    logger: quiet,
    stopTimeoutMs: 100,
    ...(clock === undefined ? {} : { clock }),
  });
  await system.spawn(echo, undefined, { id: "echo" });
  const node = await RemoteNode.start(system, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
    ...options,
  });
  return {
    system,
    node,
    async [Symbol.asyncDispose]() {
      await node.close();
      await system.shutdown();
    },
  };
}

export async function refusalOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => assert.fail("expected a refusal"),
    (e: unknown) => e,
  );
  assert.ok(isHandshakeRefusedError(error), String(error));
  return error.refusal;
}
