// A tiny HTTPS/1.1 server for tests, on platform.listen({ tls }), so the same test runs under
// Deno and Node: one request per connection, answered and closed. It registers no test itself
// (named *_test.ts so that it is never published). The certificate is the repository's test
// fixture for localhost/127.0.0.1 (tests/fixtures/tls): test-only, its key is public.
import { platform, type TcpConn, type TcpListener } from "./mod.ts";
import {
  LOCALHOST_CERTIFICATE,
  LOCALHOST_PRIVATE_KEY,
} from "../../tests/fixtures/tls/localhost.ts";

/** The CA a client must trust to talk to the server (the self-signed test certificate). */
export const TEST_CA: string = LOCALHOST_CERTIFICATE;

/** A request as the server saw it. */
export interface TestRequest {
  readonly method: string;
  /** The path with its query, as sent. */
  readonly target: string;
  /** Headers, lower-case names. */
  readonly headers: Readonly<Record<string, string>>;
}

/** What to answer; `"hang"` never answers (until the server closes). */
export type TestAnswer =
  | {
    readonly status: number;
    readonly body?: string | Uint8Array;
    readonly headers?: Readonly<Record<string, string>>;
  }
  | "hang";

/** A running test server. */
export interface TestHttpsServer {
  /** `https://127.0.0.1:<port>`. */
  readonly origin: string;
  readonly port: number;
  /** Every request received so far. */
  readonly requests: TestRequest[];
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const REASONS: Record<number, string> = {
  200: "OK",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  410: "Gone",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

async function serve(
  conn: TcpConn,
  handler: (request: TestRequest) => TestAnswer | Promise<TestAnswer>,
  requests: TestRequest[],
  closing: Promise<void>,
): Promise<void> {
  const reader = conn.readable.getReader();
  const decoder = new TextDecoder();
  let head = "";
  while (!head.includes("\r\n\r\n")) {
    const { value, done } = await reader.read();
    if (done) return;
    head += decoder.decode(value, { stream: true });
    if (head.length > 65536) return;
  }
  reader.releaseLock();
  const [requestLine, ...lines] = head.slice(0, head.indexOf("\r\n\r\n"))
    .split("\r\n");
  const [method, target] = requestLine.split(" ");
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1)
        .trim();
    }
  }
  const request = { method, target, headers };
  requests.push(request);
  const answer = await handler(request);
  if (answer === "hang") {
    await closing;
    return;
  }
  const body = typeof answer.body === "string"
    ? new TextEncoder().encode(answer.body)
    : answer.body ?? new Uint8Array(0);
  let text = `HTTP/1.1 ${answer.status} ${
    REASONS[answer.status] ?? "Status"
  }\r\ncontent-length: ${body.byteLength}\r\nconnection: close\r\n`;
  for (const [name, value] of Object.entries(answer.headers ?? {})) {
    text += `${name}: ${value}\r\n`;
  }
  const bytes = new TextEncoder().encode(`${text}\r\n`);
  const whole = new Uint8Array(bytes.byteLength + body.byteLength);
  whole.set(bytes);
  whole.set(body, bytes.byteLength);
  const writer = conn.writable.getWriter();
  await writer.write(whole);
  await writer.close();
}

/**
 * Starts the server on 127.0.0.1 and a free port; `handler` answers each request.
 */
export async function startTestHttpsServer(
  handler: (request: TestRequest) => TestAnswer | Promise<TestAnswer>,
): Promise<TestHttpsServer> {
  const listener: TcpListener = await platform.listen({
    hostname: "127.0.0.1",
    port: 0,
    tls: {
      certificate: LOCALHOST_CERTIFICATE,
      privateKey: LOCALHOST_PRIVATE_KEY,
    },
  });
  const conns = new Set<TcpConn>();
  const served: Promise<void>[] = [];
  const requests: TestRequest[] = [];
  let close!: () => void;
  const closing = new Promise<void>((resolve) => close = resolve);
  const accepting = (async () => {
    while (true) {
      let conn: TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return;
      }
      conns.add(conn);
      served.push(
        serve(conn, handler, requests, closing).catch(() => {}).finally(() => {
          conn.close();
          conns.delete(conn);
        }),
      );
    }
  })();
  return {
    origin: `https://127.0.0.1:${listener.addr.port}`,
    port: listener.addr.port,
    requests,
    async close() {
      listener.close();
      close();
      await accepting;
      for (const conn of conns) conn.close();
      await Promise.all(served);
    },
  };
}
