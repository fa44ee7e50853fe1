// What the chat's pieces say to each other: a message as stored and shown, the frames the
// server sends a browser over server-sent events, and the checks every input from a browser
// goes through before it reaches an actor.

/** One chat message, as stored in a stream's journal and shown to every reader. */
export interface ChatMessage {
  /** The stream it was posted to. */
  readonly stream: string;
  /** Its position in the stream: 1, 2, 3, ... with no gaps (the journal's order). */
  readonly seq: number;
  /** Who posted it. */
  readonly from: string;
  /** What they wrote. */
  readonly text: string;
  /** When the stream stored it (ms since the epoch). */
  readonly at: number;
  /** The node whose HTTP server took the post. */
  readonly via: string;
}

/** What a join answers: the stream's recent history. */
export interface StreamHistory {
  /** The stream. */
  readonly stream: string;
  /** The last messages, oldest first (at most {@linkcode HISTORY_LIMIT}). */
  readonly messages: readonly ChatMessage[];
  /** How many messages the stream holds in all. */
  readonly total: number;
}

/** The most messages a join returns. */
export const HISTORY_LIMIT = 100;

/** The frames of a browser connection's event stream (`event:` name → `data:` JSON). */
export interface ChatEvents {
  /** First frame: the connection's id (for joins) and the node serving it. */
  hello: { readonly connection: string; readonly node: string };
  /** The history of a stream this connection joined. */
  history: StreamHistory;
  /** A message posted to a stream this connection joined. */
  message: ChatMessage;
}

/** A post as it arrives from a browser, once checked. */
export interface Post {
  readonly stream: string;
  readonly from: string;
  readonly text: string;
}

const STREAM = /^[a-z0-9][a-z0-9-]{0,39}$/;
// deno-lint-ignore no-control-regex -- control characters are what the check refuses
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Input from a browser that the chat refuses; answered with 400 and the message. */
export class ChatInputError extends Error {
  /** A stable code for the kind of mistake. */
  readonly code = "CHAT_BAD_INPUT";
  constructor(message: string) {
    super(message);
    this.name = "ChatInputError";
  }
}

/** Whether `error` is a {@linkcode ChatInputError}. */
export function isChatInputError(error: unknown): error is ChatInputError {
  return error instanceof Error && error.name === "ChatInputError" &&
    (error as { code?: unknown }).code === "CHAT_BAD_INPUT";
}

/** A stream name: 1 to 40 of `a-z 0-9 -`, starting with a letter or digit. */
export function checkStream(value: unknown): string {
  if (typeof value !== "string" || !STREAM.test(value)) {
    throw new ChatInputError(
      `Invalid stream ${
        JSON.stringify(value)?.slice(0, 60)
      }: expected 1 to 40 of a-z 0-9 - (starting with a letter or digit)`,
    );
  }
  return value;
}

function checkText(what: string, value: unknown, max: number): string {
  if (
    typeof value !== "string" || value.trim() === "" || value.length > max ||
    CONTROL.test(value)
  ) {
    throw new ChatInputError(
      `Invalid ${what}: expected 1 to ${max} characters, not blank, no control characters`,
    );
  }
  return value.trim();
}

/** A display name: 1 to 32 characters. */
export function checkName(value: unknown): string {
  return checkText("name", value, 32);
}

/**
 * A post's body (`{ stream, from, text }`), from untrusted JSON.
 *
 * @throws {ChatInputError} When a field is missing or invalid.
 */
export function checkPost(body: unknown): Post {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ChatInputError("Invalid post: expected a JSON object");
  }
  const { stream, from, text } = body as Record<string, unknown>;
  return {
    stream: checkStream(stream),
    from: checkName(from),
    text: checkText("text", text, 500),
  };
}

/**
 * A join's body (`{ connection, stream }`), from untrusted JSON.
 *
 * @throws {ChatInputError} When a field is missing or invalid.
 */
export function checkJoin(
  body: unknown,
): { connection: string; stream: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new ChatInputError("Invalid join: expected a JSON object");
  }
  const { connection, stream } = body as Record<string, unknown>;
  if (
    typeof connection !== "string" || !/^c-[a-z0-9-]{1,60}$/.test(connection)
  ) {
    throw new ChatInputError("Invalid join: unknown connection");
  }
  return { connection, stream: checkStream(stream) };
}
