// Platform.serve on both runtimes (the npm build runs this file on Node): the handler sees
// the method, path, headers and streamed body; responses stream; a handler that throws gets a
// 500 and the server goes on; close() stops listening.
import assert from "node:assert/strict";
import { test } from "./test_harness.ts";
import { platform } from "./mod.ts";

test("Platform.serve() hands the handler a web Request and streams its Response", async () => {
  await using server = await platform.serve(async (request) => {
    const url = new URL(request.url);
    if (url.pathname === "/throw") throw new Error("handler failed");
    if (url.pathname === "/stream") {
      let n = 0;
      return new Response(
        new ReadableStream<Uint8Array>({
          pull(controller) {
            if (n === 3) return controller.close();
            controller.enqueue(new TextEncoder().encode(`chunk${n++};`));
          },
        }),
        { headers: { "content-type": "text/plain" } },
      );
    }
    const body = request.body === null ? "" : await request.text();
    return Response.json({
      method: request.method,
      path: url.pathname,
      query: url.search,
      header: request.headers.get("x-probe"),
      body,
    }, { status: 201, headers: { "x-answer": "yes" } });
  });
  assert.equal(server.addr.hostname, "127.0.0.1");
  assert.ok(server.addr.port > 0);
  const base = `http://127.0.0.1:${server.addr.port}`;

  const posted = await fetch(`${base}/echo?a=1`, {
    method: "POST",
    headers: { "x-probe": "p" },
    body: "hello",
  });
  assert.equal(posted.status, 201);
  assert.equal(posted.headers.get("x-answer"), "yes");
  assert.deepEqual(await posted.json(), {
    method: "POST",
    path: "/echo",
    query: "?a=1",
    header: "p",
    body: "hello",
  });

  const streamed = await fetch(`${base}/stream`);
  assert.equal(await streamed.text(), "chunk0;chunk1;chunk2;");

  const failed = await fetch(`${base}/throw`);
  assert.equal(failed.status, 500);
  await failed.body?.cancel();
  const again = await fetch(`${base}/echo`);
  assert.equal(again.status, 201, "the server goes on after a handler threw");
  await again.body?.cancel();

  await server.close();
  await assert.rejects(fetch(`${base}/echo`));
});

test("Platform.serve() aborts a request's signal when its client goes away before the answer", async () => {
  let aborted!: () => void;
  const sawAbort = new Promise<void>((resolve) => aborted = resolve);
  let started!: () => void;
  const handling = new Promise<void>((resolve) => started = resolve);
  await using server = await platform.serve((request) => {
    started();
    return new Promise<Response>((resolve) => {
      const answer = () => resolve(new Response("late"));
      if (request.signal.aborted) {
        aborted();
        return answer();
      }
      request.signal.addEventListener("abort", () => {
        aborted();
        answer();
      }, { once: true });
    });
  });
  const conn = await platform.connect({ port: server.addr.port });
  const writer = conn.writable.getWriter();
  await writer.write(
    new TextEncoder().encode("GET /slow HTTP/1.1\r\nhost: x\r\n\r\n"),
  );
  writer.releaseLock();
  await handling;
  conn.close();
  await sawAbort; // (the test would time out without it)
  // A request answered in full does not see its signal abort.
  const quick = await platform.serve((request) =>
    new Response(request.signal.aborted ? "aborted" : "fine")
  );
  try {
    const response = await fetch(`http://127.0.0.1:${quick.addr.port}/`);
    assert.equal(await response.text(), "fine");
  } finally {
    await quick.close();
  }
});
