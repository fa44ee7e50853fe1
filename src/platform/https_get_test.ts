// platform.httpsGet() and platform.readTextFile(), against the runtime's own implementation
// (deno.ts under `deno test`, node.ts in the npm build under `node --test`), with a local HTTPS
// server whose certificate only the test's CA vouches for.
import assert from "node:assert/strict";
import { test } from "./test_harness.ts";
import { platform } from "./mod.ts";
import { startTestHttpsServer, TEST_CA } from "./_https_server_test.ts";

test("platform.httpsGet() trusts the given CA, sends the headers and reads status, headers and body", async () => {
  const server = await startTestHttpsServer((request) => ({
    status: 200,
    body: JSON.stringify({
      target: request.target,
      auth: request.headers.authorization,
    }),
    headers: { "content-type": "application/json" },
  }));
  try {
    const response = await platform.httpsGet(
      `${server.origin}/api/v1/pods?labelSelector=app%3Dx`,
      {
        caCertificates: [TEST_CA],
        headers: { authorization: "Bearer t0k3n" },
      },
    );
    assert.equal(response.status, 200);
    assert.equal(response.headers["content-type"], "application/json");
    assert.deepEqual(JSON.parse(new TextDecoder().decode(response.body)), {
      target: "/api/v1/pods?labelSelector=app%3Dx",
      auth: "Bearer t0k3n",
    });
  } finally {
    await server.close();
  }
});

test("platform.httpsGet() returns error statuses as they are, with their body", async () => {
  const server = await startTestHttpsServer(() => ({
    status: 403,
    body: "no",
  }));
  try {
    const response = await platform.httpsGet(server.origin, {
      caCertificates: [TEST_CA],
    });
    assert.equal(response.status, 403);
    assert.equal(new TextDecoder().decode(response.body), "no");
  } finally {
    await server.close();
  }
});

test("platform.httpsGet() rejects a server whose certificate is not trusted", async () => {
  const server = await startTestHttpsServer(() => ({
    status: 200,
    body: "secret",
  }));
  try {
    await assert.rejects(platform.httpsGet(server.origin));
  } finally {
    await server.close();
  }
});

test("platform.httpsGet() rejects with the signal's reason when aborted while waiting for the answer", async () => {
  const server = await startTestHttpsServer(() => "hang");
  try {
    const controller = new AbortController();
    const reason = new Error("took too long");
    const pending = platform.httpsGet(server.origin, {
      caCertificates: [TEST_CA],
      signal: controller.signal,
    });
    while (server.requests.length === 0) {
      await new Promise((resolve) =>
        platform.setTimer(() => resolve(undefined), 5)
      );
    }
    controller.abort(reason);
    await assert.rejects(pending, (error) => error === reason);
    // Already aborted: rejects at once.
    await assert.rejects(
      platform.httpsGet(server.origin, { signal: controller.signal }),
      (error) => error === reason,
    );
  } finally {
    await server.close();
  }
});

test("platform.httpsGet() refuses a body over maxBodyBytes, and a URL that is not https:", async () => {
  const server = await startTestHttpsServer(() => ({
    status: 200,
    body: "x".repeat(5000),
  }));
  try {
    await assert.rejects(
      platform.httpsGet(server.origin, {
        caCertificates: [TEST_CA],
        maxBodyBytes: 1000,
      }),
      RangeError,
    );
    await assert.rejects(
      platform.httpsGet(`http://127.0.0.1:${server.port}/`),
      TypeError,
    );
  } finally {
    await server.close();
  }
});

test("platform.readTextFile() reads a UTF-8 file and rejects a missing one", async () => {
  const path = decodeURIComponent(
    new URL("../../tests/fixtures/tls/localhost_cert.pem", import.meta.url)
      .pathname,
  );
  const text = await platform.readTextFile(path);
  assert.equal(text.trim(), TEST_CA.trim());
  await assert.rejects(platform.readTextFile(`${path}.missing`));
});
