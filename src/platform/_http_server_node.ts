// Platform.serve on Node: node:http in front of a web-standard handler. Requests become
// `Request`s (the body streamed, `signal` aborted when the client goes away) and `Response`s
// are written back chunk by chunk, so server-sent events flow as they are produced.
import * as http from "node:http";
import { Readable } from "node:stream";
import type {
  HttpHandler,
  HttpServer,
  NetAddr,
  ServeOptions,
} from "./types.ts";

/**
 * A request's abort signal, made only when the handler reads it: Node's `Request` given a
 * `signal` follows it with listeners and a finalization registry, which costs several times
 * the rest of making the request, and few handlers read it.
 */
class ClientPresence {
  #controller: AbortController | undefined;
  #gone = false;
  /** Called once when the client goes away (the response writer stops reading the body). */
  onGone: (() => void) | undefined;

  get signal(): AbortSignal {
    this.#controller ??= new AbortController();
    if (this.#gone) this.#controller.abort(new Error("client went away"));
    return this.#controller.signal;
  }

  /** The client went away before the answer was complete. */
  gone(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#controller?.abort(new Error("client went away"));
    this.onGone?.();
  }
}

function toRequest(
  req: http.IncomingMessage,
  client: ClientPresence,
  origin: string,
): Request {
  const headers = new Headers();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    for (const one of Array.isArray(value) ? value : [value]) {
      headers.append(name, one);
    }
  }
  const method = req.method ?? "GET";
  const hasBody = method !== "GET" && method !== "HEAD";
  const init: RequestInit & { duplex?: "half" } = { method, headers };
  if (hasBody) {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = "half";
  }
  const target = req.url ?? "/";
  // Concatenation is enough for the usual origin-form target, and cheaper than a URL object.
  const request = new Request(
    target.startsWith("/") && !target.startsWith("//")
      ? origin + target
      : new URL(target, origin),
    init,
  );
  // The request's own `signal` property, in front of the prototype's (which would never abort).
  Object.defineProperty(request, "signal", {
    get: () => client.signal,
    enumerable: true,
  });
  return request;
}

/** What a read that is not ready by the next turn of the event loop gives. */
const LATE: unique symbol = Symbol("late");

function nextTurn(): Promise<typeof LATE> {
  return new Promise((resolve) => setImmediate(() => resolve(LATE)));
}

async function writeResponse(
  response: Response,
  res: http.ServerResponse,
  client: ClientPresence,
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    const known = headers[name];
    if (known === undefined) headers[name] = value;
    else headers[name] = [...(Array.isArray(known) ? known : [known]), value];
  });
  if (response.body === null) {
    res.writeHead(response.status, headers);
    res.end();
    return;
  }
  const reader = response.body.getReader();
  client.onGone = () =>
    void reader.cancel(new Error("client went away")).catch(() => {});
  try {
    // A body that is all there at once (a string or bytes: every answer but an event stream)
    // goes out in one write with its Content-Length, headers included. A stream whose next
    // chunk is not ready within a turn of the event loop is streamed instead, its headers and
    // first chunk sent at once.
    const first = await reader.read();
    let pending: Promise<ReadableStreamReadResult<Uint8Array>> | undefined;
    let next: ReadableStreamReadResult<Uint8Array> | typeof LATE = first;
    if (!first.done) {
      pending = reader.read();
      next = await Promise.race([pending, nextTurn()]);
    }
    if (next !== LATE && next.done) {
      const body = first.value ?? new Uint8Array(0);
      headers["content-length"] = String(body.byteLength);
      res.writeHead(response.status, headers);
      res.end(body);
      return;
    }
    res.writeHead(response.status, headers);
    res.write(first.value);
    let chunk = next === LATE ? await pending! : next;
    while (!chunk.done) {
      if (!res.write(chunk.value)) {
        await new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
      }
      if (res.destroyed) break;
      chunk = await reader.read();
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    client.onGone = undefined;
  }
}

/**
 * Serves `handler` with node:http.
 *
 * @param handler Answers each request.
 * @param options Where to listen.
 * @returns The server, once listening.
 */
export function nodeServe(
  handler: HttpHandler,
  options: ServeOptions = {},
): Promise<HttpServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const defaultHost = hostname.includes(":") ? `[${hostname}]` : hostname;
  const server = http.createServer((req, res) => {
    const client = new ClientPresence();
    // Aborted only when the client went away before the answer was complete: aborting after
    // every answer costs an event per request and changes nothing.
    res.on("close", () => {
      if (!res.writableFinished) client.gone();
    });
    const origin = `http://${req.headers.host ?? defaultHost}`;
    let request: Request;
    try {
      request = toRequest(req, client, origin);
    } catch {
      // A Host header or target that makes no URL: the client's mistake (Deno's parser
      // refuses these with 400 before the handler too).
      void writeResponse(
        new Response("Bad Request", { status: 400 }),
        res,
        client,
      );
      return;
    }
    void (async () => {
      let response: Response;
      try {
        response = await handler(request);
      } catch {
        response = new Response("Internal Server Error", { status: 500 });
      }
      await writeResponse(response, res, client);
    })();
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, hostname, () => {
      server.off("error", reject);
      const address = server.address();
      const addr: NetAddr = typeof address === "object" && address !== null
        ? { hostname: address.address, port: address.port }
        : { hostname, port: options.port ?? 0 };
      let closed: Promise<void> | undefined;
      const close = (): Promise<void> =>
        closed ??= new Promise<void>((done) => {
          server.close(() => done());
          server.closeAllConnections();
        });
      resolve({
        addr,
        close,
        [Symbol.asyncDispose]: close,
      });
    });
  });
}
