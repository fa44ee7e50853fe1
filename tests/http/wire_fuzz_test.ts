// Random request lines over a real socket to a served HttpApi (Deno.serve or node:http): garbage
// paths, queries and methods get a 4xx (from the API or the server's parser) or a closed
// connection, never a 5xx, and the server goes on answering afterwards.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ActorSystem } from "../../mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import { platform } from "../../src/platform/mod.ts";
import { HttpApi, serveHttpApi } from "../../src/http/mod.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Sends raw bytes and returns what came back before the server closed or answered. */
async function exchange(port: number, bytes: Uint8Array): Promise<string> {
  const conn = await platform.connect({ port });
  try {
    const writer = conn.writable.getWriter();
    await writer.write(bytes).catch(() => {});
    writer.releaseLock();
    const reader = conn.readable.getReader();
    let text = "";
    // One answer's status line and headers are enough; the server may also just close.
    while (!text.includes("\r\n\r\n")) {
      const { value, done } = await reader.read().catch(() => ({
        value: undefined,
        done: true,
      }));
      if (done || value === undefined) break;
      text += decoder.decode(value);
    }
    reader.releaseLock();
    return text;
  } finally {
    conn.close();
  }
}

const pathChar = fc.constantFrom(
  "a",
  "/",
  "%",
  "%00",
  "%zz",
  "?",
  "&",
  "=",
  "#",
  "..",
  "\u00e9",
  "\u0001",
  " ",
  "\\",
  "metrics",
  "cluster",
  "members",
  "sharding",
  "stats",
  "max_depth=",
  "999999999999",
);
const target = fc.oneof(
  fc.array(pathChar, { maxLength: 12 }).map((parts) => "/" + parts.join("")),
  fc.string({ maxLength: 40 }),
);
const method = fc.constantFrom("GET", "GET", "HEAD", "POST", "PUT", "BREW", "");

test("serveHttpApi() answers garbage request lines with a 4xx or a close, never a 5xx, and goes on", async () => {
  await using system = new ActorSystem({ node: "wire" });
  await using api = new HttpApi({ system });
  await using server = await serveHttpApi(api);
  const port = server.addr.port;
  await fc.assert(
    fc.asyncProperty(method, target, async (m, t) => {
      const raw = `${m} ${t} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n`;
      const answer = await exchange(port, encoder.encode(raw));
      if (answer === "") return; // the server closed: a refusal, not a failure
      const status = /^HTTP\/1\.[01] ([0-9]{3})/.exec(answer)?.[1];
      assert.ok(status !== undefined, `${JSON.stringify(raw)} → ${answer}`);
      assert.ok(
        Number(status) < 500,
        `${JSON.stringify(raw)} → ${status}`,
      );
    }),
    { numRuns: 120, seed: 1404 },
  );
  const health = await fetch(`http://127.0.0.1:${port}/health`);
  assert.equal(health.status, 200);
  await health.body?.cancel();
});
