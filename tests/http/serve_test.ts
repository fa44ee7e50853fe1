// The HTTP API on a real port (Platform.serve: Deno.serve or node:http): answers over the
// wire, oversized bodies refused, the live feed's server-sent events follow a change within a
// second, and /metrics passes `promtool check metrics`.
import assert from "node:assert/strict";
import { ActorSystem } from "../../mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import { spawnTestProcess } from "../../src/platform/test_process.ts";
import { platform } from "../../src/platform/mod.ts";
import { HttpApi, serveHttpApi } from "../../src/http/mod.ts";
import { LoopbackCluster, ON_CI, supervisor } from "./support.ts";

test("serveHttpApi() answers over the wire and refuses an oversized body with 413", async () => {
  await using system = new ActorSystem({ node: "wire" });
  await using api = new HttpApi({ system, maxBodyBytes: 1024 });
  await using server = await serveHttpApi(api);
  const base = `http://127.0.0.1:${server.addr.port}`;
  const health = await fetch(`${base}/health`);
  assert.equal(health.status, 200);
  assert.equal((await health.json()).status, "healthy");
  const big = await fetch(`${base}/cluster/members/x/down`, {
    method: "POST",
    body: new Uint8Array(4096),
  });
  assert.equal(big.status, 413);
  assert.equal((await big.json()).code, "PAYLOAD_TOO_LARGE");
  const chunked = await fetch(`${base}/health`, {
    method: "POST",
    body: new ReadableStream({
      start(controller) {
        for (let i = 0; i < 8; i++) controller.enqueue(new Uint8Array(512));
        controller.close();
      },
    }),
    duplex: "half",
  } as RequestInit);
  assert.equal(chunked.status, 413);
  await chunked.body?.cancel();
  const missing = await fetch(`${base}/nope?x=1`);
  assert.equal(missing.status, 404);
  assert.equal((await missing.json()).code, "NOT_FOUND");
});

/** Reads server-sent `state` events from a response body. */
class EventReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  #buffer = "";

  constructor(body: ReadableStream<Uint8Array>) {
    this.#reader = body.getReader();
  }

  /** The next `state` event's data, or `undefined` when the stream ended. */
  async next(): Promise<Record<string, unknown> | undefined> {
    while (true) {
      const end = this.#buffer.indexOf("\n\n");
      if (end >= 0) {
        const frame = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        const data = frame.split("\n").find((line) =>
          line.startsWith("data: ")
        );
        if (frame.includes("event: state") && data !== undefined) {
          return JSON.parse(data.slice(6));
        }
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) return undefined;
      this.#buffer += this.#decoder.decode(value, { stream: true });
    }
  }

  cancel(): Promise<void> {
    return this.#reader.cancel();
  }
}

test("HttpApi's live feed sends a new state within a second of a change, and close() ends it", async () => {
  await using lc = await LoopbackCluster.start(["l1", "l2"]);
  const api = lc.apis[0];
  await using server = await serveHttpApi(api);
  const response = await fetch(
    `http://127.0.0.1:${server.addr.port}/dashboard/events`,
  );
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const events = new EventReader(response.body!);
  const first = await events.next();
  const cluster = first!.cluster as {
    members: Array<{ node: string; status: string }>;
  };
  assert.deepEqual(cluster.members.map((m) => `${m.node}:${m.status}`), [
    "l1:up",
    "l2:up",
  ]);

  const changedAt = platform.now();
  await lc.systems[0].spawn(supervisor, 1, { id: "fresh" });
  let state = await events.next();
  while (
    !(state!.actors as { roots: Array<{ id: string }> }).roots.some((r) =>
      r.id === "fresh"
    )
  ) {
    state = await events.next();
  }
  assert.ok(
    platform.now() - changedAt < 1000,
    "the change arrived within a second",
  );
  assert.equal(api.liveListeners, 1);
  // A client that goes away is dropped (and the sampling stops with the last one).
  const other = await fetch(
    `http://127.0.0.1:${server.addr.port}/dashboard/events`,
  );
  const otherEvents = new EventReader(other.body!);
  assert.ok(await otherEvents.next());
  assert.equal(api.liveListeners, 2);
  await otherEvents.cancel();
  await lc.until(
    () => api.liveListeners === 1,
    2000,
    "the gone client dropped",
  );
  await api.close();
  assert.equal(await events.next(), undefined, "close() ended the stream");
  assert.equal(api.liveListeners, 0);
});

test("HttpApi /metrics passes promtool check metrics", async () => {
  const probe = spawnTestProcess("promtool", ["--version"]);
  const found = await probe.exited.then((exit) => exit.code === 0, () => false);
  if (!found) {
    // .ci/run installs Debian's prometheus package: a missing promtool there is a failure.
    if (ON_CI) {
      assert.fail(
        "promtool is not installed on CI (apt-get install -y prometheus)",
      );
    }
    console.warn(
      "\n*** SKIPPED promtool check metrics: promtool is not installed (apt-get install -y prometheus) ***\n",
    );
    return;
  }
  await using lc = await LoopbackCluster.start(["m1"]);
  await lc.systems[0].spawn(supervisor, 2, { id: "sup" });
  const text =
    await (await lc.apis[0].fetch(new Request("http://localhost/metrics")))
      .text();
  const check = spawnTestProcess("sh", [
    "-c",
    'printf "%s" "$1" | promtool check metrics',
    "sh",
    text,
  ]);
  const exit = await check.exited;
  assert.equal(exit.code, 0, check.output());
});

test("serveHttpApi()'s close() ends the open event streams instead of waiting for them", async () => {
  await using system = new ActorSystem({ node: "closing" });
  await using api = new HttpApi({ system, liveIntervalMs: 50 });
  const server = await serveHttpApi(api);
  const response = await fetch(
    `http://127.0.0.1:${server.addr.port}/dashboard/events`,
  );
  const events = new EventReader(response.body!);
  assert.ok(await events.next());
  assert.equal(api.liveListeners, 1);
  await server.close();
  assert.equal(api.liveListeners, 0);
  // The stream ended (or, on Node, the connection was cut).
  assert.equal(await events.next().catch(() => undefined), undefined);
  // The API itself still answers.
  assert.equal((await api.fetch(new Request("http://x/health"))).status, 200);
});
