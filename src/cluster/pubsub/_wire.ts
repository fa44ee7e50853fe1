// The frames of the pub/sub extension and their codec. A publication's message is encoded to
// JSON once per publish and carried as text, so sending it to several nodes encodes it once,
// and a message that cannot be encoded fails the publish before anything is delivered.
import type { Codec } from "../../actor/mod.ts";
import { InvalidPubSubFrameError } from "./errors.ts";

/** The extension's name. */
export const PUBSUB_EXTENSION = "troupe.pubsub";

/** One node's part of the registry: the topics it has subscribers for, at a version. */
export interface Bucket {
  readonly node: string;
  readonly incarnation: string;
  readonly version: number;
  /** Topic ids (see `topicId`). */
  readonly topics: readonly string[];
}

/** Which version of each node's bucket a node holds: `[node, incarnation, version]`. */
export type Versions = readonly (readonly [string, string, number])[];

/** A frame of the extension. Each names the node it is for (one extension may serve several). */
export type PubSubFrame =
  | {
    readonly t: "status";
    readonly to: string;
    readonly versions: Versions;
    /** Whether this status answers one (an answer is not answered). */
    readonly reply: boolean;
  }
  | {
    readonly t: "delta";
    readonly to: string;
    readonly buckets: readonly Bucket[];
  }
  | {
    readonly t: "pub";
    readonly to: string;
    /**
     * Publications, in publication order, as pairs: a topic id, then the message as JSON
     * text (several per frame: the publications of one turn to one node go together).
     */
    readonly items: readonly string[];
  };

const MAX_NAME = 1000;
const MAX_ITEMS = 100_000;

function fail(what: string): never {
  throw new InvalidPubSubFrameError(`Invalid pub/sub frame: ${what}`);
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length > MAX_NAME) {
    fail(`${what} is not a string of at most ${MAX_NAME} characters`);
  }
  return value;
}

function version(value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) {
    fail("a version is not an integer ≥ 0");
  }
  return value as number;
}

function list(value: unknown, what: string): unknown[] {
  if (!Array.isArray(value) || value.length > MAX_ITEMS) {
    fail(`${what} is not an array of at most ${MAX_ITEMS} items`);
  }
  return value;
}

/**
 * Checks a decoded frame from another node.
 *
 * @throws {InvalidPubSubFrameError} When it is malformed.
 */
export function checkFrame(value: unknown): PubSubFrame {
  if (typeof value !== "object" || value === null) fail("not an object");
  const frame = value as Record<string, unknown>;
  const to = text(frame.to, "`to`");
  switch (frame.t) {
    case "status":
      if (typeof frame.reply !== "boolean") fail("`reply` is not a boolean");
      return {
        t: "status",
        to,
        reply: frame.reply,
        versions: list(frame.versions, "`versions`").map((entry) => {
          const row = list(entry, "a version entry");
          if (row.length !== 3) fail("a version entry is not a triple");
          return [
            text(row[0], "a node"),
            text(row[1], "an incarnation"),
            version(row[2]),
          ] as const;
        }),
      };
    case "delta":
      return {
        t: "delta",
        to,
        buckets: list(frame.buckets, "`buckets`").map(checkBucket),
      };
    case "pub": {
      const items = list(frame.items, "`items`");
      if (items.length === 0 || items.length % 2 !== 0) {
        fail("`items` is not a non-empty list of pairs");
      }
      for (let i = 0; i < items.length; i += 2) {
        text(items[i], "a topic");
        if (typeof items[i + 1] !== "string") fail("a message is not a string");
      }
      return { t: "pub", to, items: items as string[] };
    }
    default:
      return fail(`unknown kind ${JSON.stringify(frame.t)}`);
  }
}

function checkBucket(value: unknown): Bucket {
  if (typeof value !== "object" || value === null) {
    fail("a bucket is not an object");
  }
  const bucket = value as Record<string, unknown>;
  return {
    node: text(bucket.node, "a bucket's node"),
    incarnation: text(bucket.incarnation, "a bucket's incarnation"),
    version: version(bucket.version),
    topics: list(bucket.topics, "a bucket's topics").map((t) =>
      text(t, "a topic")
    ),
  };
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/**
 * The extension's codec: JSON, except that a frame of publications is its header (JSON), then
 * for each publication its topic id and its message's JSON as it was encoded once for every
 * node, each ended by a newline (JSON text never holds a raw newline, and topic ids hold no
 * control characters).
 */
export const PUBSUB_CODEC: Codec = Object.freeze({
  encode(_type: string, value: unknown): Uint8Array {
    const frame = value as PubSubFrame;
    if (frame.t === "pub") {
      return encoder.encode(
        `${JSON.stringify({ t: "pub", to: frame.to })}\n${
          frame.items.join("\n")
        }`,
      );
    }
    return encoder.encode(JSON.stringify(frame));
  },
  decode(_type: string, data: Uint8Array): unknown {
    const all = decoder.decode(data);
    const newline = all.indexOf("\n");
    if (newline < 0) return JSON.parse(all);
    const header = JSON.parse(all.slice(0, newline));
    if (typeof header !== "object" || header === null) return header;
    return { ...header, items: all.slice(newline + 1).split("\n") };
  },
});
