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
