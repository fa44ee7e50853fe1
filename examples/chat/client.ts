// A scripted chat client: what the page does, with fetch. It opens the node's event stream
// (server-sent events), joins streams and posts with POSTs, and records everything it is sent.
import type { ChatEvents, ChatMessage, StreamHistory } from "./protocol.ts";

/** One client connected to one node. */
export class ChatClient {
  /** Who posts. */
  readonly name: string;
  /** The node's HTTP base URL. */
  readonly base: string;
  /** The node that serves this client (from the hello frame). */
  node = "";
  /** Live messages, in arrival order. */
  readonly received: ChatMessage[] = [];
  /** The history each join returned, by stream. */
  readonly histories = new Map<string, StreamHistory>();
  /** Why the event stream ended, when the node ended it. */
  error: unknown = undefined;
  readonly #abort = new AbortController();
  #connection = "";
  #reading: Promise<void> = Promise.resolve();
  #reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
  #changed: () => void = () => {};

  private constructor(name: string, base: string) {
    this.name = name;
    this.base = base;
  }

  /** Connects to a node (resolves once its hello frame arrived). */
  static async connect(name: string, base: string): Promise<ChatClient> {
    const client = new ChatClient(name, base);
    const response = await fetch(`${base}/chat/events`, {
      signal: client.#abort.signal,
    });
    if (!response.ok || response.body === null) {
      throw new Error(`${base}/chat/events answered ${response.status}`);
    }
    const hello = new Promise<void>((resolve) => client.#changed = resolve);
    client.#reading = client.#read(response.body);
    await hello;
    return client;
  }

  /** Joins a stream; answers its history (also kept in `histories`). */
  async join(stream: string): Promise<StreamHistory> {
    const history = await this.#call("/chat/join", {
      connection: this.#connection,
      stream,
    }) as StreamHistory;
    this.histories.set(stream, history);
    return history;
  }

  /** Posts to a stream; answers the stored message. */
  post(stream: string, text: string): Promise<ChatMessage> {
    return this.#call("/chat/post", {
      stream,
      from: this.name,
      text,
    }) as Promise<ChatMessage>;
  }

  /** Reads a stream's history without joining it. */
  async history(stream: string): Promise<StreamHistory> {
    const response = await fetch(
      `${this.base}/chat/history?stream=${encodeURIComponent(stream)}`,
    );
    if (!response.ok) throw new Error(await response.text());
    return await response.json() as StreamHistory;
  }

  /** Waits until `done()` holds (checked at each frame), or fails after `timeoutMs`. */
  async until(done: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!done()) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`${this.name}: timed out after ${timeoutMs} ms`);
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#changed = resolve;
        timer = setTimeout(resolve, Math.min(left, 100));
      });
      clearTimeout(timer);
    }
  }

  /** Disconnects (the node stops this connection's actor). */
  async close(): Promise<void> {
    this.#abort.abort();
    await this.#reader?.cancel().catch(() => {});
    await this.#reading;
  }

  async #call(path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${this.base}${path}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
    const answer = await response.json();
    if (!response.ok) {
      throw new Error(`${path} answered ${response.status}: ${answer.error}`);
    }
    return answer;
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    let buffer = "";
    try {
      const reader = body.getReader();
      const decoder = new TextDecoder();
      this.#reader = reader;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          this.#frame(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (error) {
      // Aborted by close(), or the node went away: the client is simply disconnected.
      if (!this.#abort.signal.aborted) this.error = error;
    }
    this.#changed();
  }

  #frame(frame: string): void {
    let event = "";
    let data = "";
    for (const line of frame.split("\n")) {
      if (line.startsWith("event: ")) event = line.slice(7);
      else if (line.startsWith("data: ")) data += line.slice(6);
    }
    if (data === "") return; // a keep-alive comment
    const parsed = JSON.parse(data);
    if (event === "hello") {
      const hello = parsed as ChatEvents["hello"];
      this.#connection = hello.connection;
      this.node = hello.node;
    } else if (event === "message") {
      this.received.push(parsed as ChatEvents["message"]);
    }
    this.#changed();
  }
}
