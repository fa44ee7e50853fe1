// The chat's HTTP side on one node: the page, one server-sent-event stream per browser
// connection (server → browser), and JSON POSTs for joins and posts (browser → server).
// Everything else goes to the node's HttpApi (health, members, metrics, the dashboard).
//
// Why server-sent events and not WebSocket (Coerce's chat uses WebSocket): the server runs
// through src/platform's serve, which is Deno.serve on Deno and node:http on Node 20; node:http
// has no WebSocket server (that would mean the `ws` package), while a streaming Response works
// unchanged on both. A browser sends little (a join, a post), so plain POSTs are enough that way.
// What a user gets is the same live chat: messages are pushed as they are published, once and in
// order per stream. The differences: each post is an HTTP request (a round trip and its headers,
// where a WebSocket would send a frame); a dropped event stream is reopened by the browser's
// EventSource by itself, and the page then joins its streams again and gets their history
// (no Last-Event-ID resume); and over HTTP/1.1 a browser keeps at most six connections per
// host, each open page holding one for its events, so a seventh tab on the same node waits.
import type { ActorRef, ActorSystem, ProtocolOfDefinition } from "../../mod.ts";
import type { PubSub, Topic } from "../../src/cluster/mod.ts";
import { connection, type ConnectionArgs, type StreamRefs } from "./actors.ts";
import { CHAT_PAGE } from "./page.ts";
import {
  type ChatEvents,
  ChatInputError,
  type ChatMessage,
  checkJoin,
  checkPost,
  checkStream,
  isChatInputError,
} from "./protocol.ts";

/** What the chat's handler needs from its node. */
export interface ChatHttpOptions {
  readonly system: ActorSystem;
  readonly node: string;
  readonly pubsub: PubSub;
  readonly topic: Topic<ChatMessage>;
  readonly streams: StreamRefs;
  /** The HttpApi's handler, for every path the chat does not answer. */
  readonly fallback: (request: Request) => Promise<Response>;
  /** Where problems are reported. */
  readonly logger: { error(message: string, error: unknown): void };
}

interface OpenConnection {
  readonly ref: ActorRef<ProtocolOfDefinition<typeof connection>>;
  readonly end: () => void;
}

const MAX_BODY = 4096;
const KEEP_ALIVE_MS = 15_000;
const encoder = new TextEncoder();

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
}

/** The chat's routes on one node (a web-standard handler). */
export class ChatHttp {
  readonly #options: ChatHttpOptions;
  readonly #connections = new Map<string, OpenConnection>();
  #closed = false;

  constructor(options: ChatHttpOptions) {
    this.#options = options;
    this.fetch = this.fetch.bind(this);
  }

  /** How many browser connections are open. */
  get connections(): number {
    return this.#connections.size;
  }

  /** Answers one request. */
  async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const route = `${request.method} ${url.pathname}`;
    try {
      switch (route) {
        case "GET /":
        case "GET /chat":
          return new Response(CHAT_PAGE, {
            headers: { "content-type": "text/html; charset=utf-8" },
          });
        case "GET /chat/events":
          return await this.#events();
        case "POST /chat/join":
          return await this.#join(await readJson(request));
        case "POST /chat/post":
          return await this.#post(await readJson(request));
        case "GET /chat/history": {
          const stream = checkStream(url.searchParams.get("stream"));
          return json(200, await this.#options.streams(stream).ask("join"));
        }
        case "GET /chat/where": {
          const stream = checkStream(url.searchParams.get("stream"));
          return json(200, await this.#options.streams(stream).ask("where"));
        }
        case "GET /chat/routes": {
          // The nodes this node sends the stream's publications to (pub/sub's registry).
          const stream = checkStream(url.searchParams.get("stream"));
          return json(
            200,
            this.#options.pubsub.nodesFor(this.#options.topic.withKey(stream))
              .sort(),
          );
        }
      }
      if (url.pathname.startsWith("/chat")) {
        return json(404, { error: `No chat endpoint ${route.slice(0, 80)}` });
      }
      return await this.#options.fallback(request);
    } catch (error) {
      if (isChatInputError(error)) {
        return json(400, { error: error.message, code: error.code });
      }
      // A stream that does not answer in time (its shard moving, its node lost): try again.
      this.#options.logger.error(`chat: ${route} failed`, error);
      return json(503, {
        error: `The chat could not answer: ${(error as Error)?.message}`,
      });
    }
  }

  /** Ends every browser connection (before the server closes, which waits for them). */
  close(): void {
    this.#closed = true;
    for (const open of this.#connections.values()) open.end();
  }

  /** A new browser connection: an actor, and the event stream it writes to. */
  async #events(): Promise<Response> {
    if (this.#closed) return json(503, { error: "This node is stopping" });
    const { system, node, pubsub, topic, streams } = this.#options;
    const id = `c-${crypto.randomUUID()}`;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let ended = false;
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      cancel: () => end(),
    });
    const send = <K extends keyof ChatEvents>(
      event: K,
      data: ChatEvents[K],
    ): void => {
      if (ended) return;
      try {
        controller.enqueue(
          encoder.encode(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`),
        );
      } catch {
        end(); // the browser went away
      }
    };
    const args: ConnectionArgs = { streams, pubsub, topic, send };
    const ref = await system.spawn(connection, args, { id });
    const end = (): void => {
      if (ended) return;
      ended = true;
      clearInterval(keepAlive);
      this.#connections.delete(id);
      // Stopping the actor ends its subscriptions.
      ref.stop().catch(() => {});
      try {
        controller.close();
      } catch {
        // Closed or cancelled already.
      }
    };
    this.#connections.set(id, { ref, end });
    const keepAlive = setInterval(() => {
      try {
        controller.enqueue(encoder.encode(": keep-alive\n\n"));
      } catch {
        end();
      }
    }, KEEP_ALIVE_MS);
    send("hello", { connection: id, node });
    return new Response(body, {
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
      },
    });
  }

  async #join(body: unknown): Promise<Response> {
    const { connection: id, stream } = checkJoin(body);
    const open = this.#connections.get(id);
    if (open === undefined) {
      throw new ChatInputError(
        `No connection ${id} on this node (it ended, or belongs to another node)`,
      );
    }
    return json(200, await open.ref.ask("join", stream));
  }

  async #post(body: unknown): Promise<Response> {
    const post = checkPost(body);
    const message = await this.#options.streams(post.stream).ask("post", {
      from: post.from,
      text: post.text,
      via: this.#options.node,
    });
    return json(201, message);
  }
}

/** A request's JSON body, at most {@linkcode MAX_BODY} bytes. */
async function readJson(request: Request): Promise<unknown> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY) {
    throw new ChatInputError(`Body too large: at most ${MAX_BODY} bytes`);
  }
  const text = await request.text();
  if (text.length > MAX_BODY) {
    throw new ChatInputError(`Body too large: at most ${MAX_BODY} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new ChatInputError("Invalid body: expected JSON");
  }
}
