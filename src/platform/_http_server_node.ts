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

function toRequest(
  req: http.IncomingMessage,
  signal: AbortSignal,
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
  const init: RequestInit & { duplex?: "half" } = { method, headers, signal };
  if (hasBody) {
    init.body = Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>;
    init.duplex = "half";
  }
  return new Request(new URL(req.url ?? "/", origin), init);
}

async function writeResponse(
  response: Response,
  res: http.ServerResponse,
  signal: AbortSignal,
): Promise<void> {
  const headers: Record<string, string | string[]> = {};
  response.headers.forEach((value, name) => {
    const known = headers[name];
    if (known === undefined) headers[name] = value;
    else headers[name] = [...(Array.isArray(known) ? known : [known]), value];
  });
  res.writeHead(response.status, headers);
  if (response.body === null) {
    res.end();
    return;
  }
  const reader = response.body.getReader();
  const cancel = () => void reader.cancel(signal.reason).catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          res.once("drain", resolve);
          res.once("close", resolve);
        });
      }
      if (res.destroyed) break;
    }
    res.end();
  } catch {
    res.destroy();
  } finally {
    signal.removeEventListener("abort", cancel);
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
  const server = http.createServer((req, res) => {
    const controller = new AbortController();
    res.on("close", () => controller.abort(new Error("client went away")));
    const origin = `http://${req.headers.host ?? hostname}`;
    void (async () => {
      let response: Response;
      try {
        response = await handler(toRequest(req, controller.signal, origin));
      } catch {
        response = new Response("Internal Server Error", { status: 500 });
      }
      await writeResponse(response, res, controller.signal);
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
