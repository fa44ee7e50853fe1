// Random requests against the HTTP API: whatever the method, path, query, headers and body,
// the answer is never a 5xx, and every refusal is a JSON problem body with its status and code.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../src/platform/test_harness.ts";
import { HTTP_REQUEST_ERROR_STATUS, type HttpApi } from "../../src/http/mod.ts";
import { LoopbackCluster, supervisor, TOKEN } from "./support.ts";

const KNOWN_PATHS = [
  "/",
  "/health",
  "/health/ready",
  "/health/alive",
  "/system/stats",
  "/actors",
  "/cluster/members",
  "/cluster/leader",
  "/dead-letters",
  "/pubsub/topics",
  "/sharding/types",
  "/sharding/stats/cart",
  "/metrics",
  "/openapi.json",
  "/dashboard",
  "/dashboard/events",
  "/cluster/members/n1/leave",
  "/cluster/members/n2/down",
  "/cluster/members/zz/down",
];

const segment = fc.oneof(
  fc.constantFrom(
    "health",
    "cluster",
    "members",
    "actors",
    "..",
    ".",
    "",
    "%",
    "%zz",
    "%00",
    "%2F",
    "n1",
    "down",
    "leave",
    "é",
    "%E2%82",
  ),
  fc.string({ maxLength: 12 }).map(encodeURIComponent),
);

const path = fc.oneof(
  fc.constantFrom(...KNOWN_PATHS),
  fc.tuple(fc.constantFrom(...KNOWN_PATHS), segment).map(([p, s]) =>
    `${p}/${s}`
  ),
  fc.array(segment, { minLength: 1, maxLength: 6 }).map((parts) =>
    "/" + parts.join("/")
  ),
);

const queryValue = fc.oneof(
  fc.constantFrom(
    "0",
    "1",
    "8",
    "64",
    "65",
    "-1",
    "1e3",
    "abc",
    "",
    "99999999999",
    "10000",
    "10001",
    "1.5",
    " 2",
  ),
  fc.string({ maxLength: 10 }),
);
const query = fc.array(
  fc.tuple(
    fc.constantFrom("max_depth", "max_children", "x", "", "max_depth "),
    queryValue,
  ),
  { maxLength: 3 },
).map((pairs) =>
  pairs.length === 0 ? "" : "?" + new URLSearchParams(pairs).toString()
);

const request = fc.record({
  method: fc.constantFrom(
    "GET",
    "GET",
    "GET",
    "POST",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "HEAD",
    "OPTIONS",
  ),
  path,
  query,
  authorization: fc.option(
    fc.oneof(
      fc.constant(`Bearer ${TOKEN}`),
      fc.constant(`bearer ${TOKEN}x`),
      fc.string({ maxLength: 40 }).filter((s) => /^[\x20-\x7e]*$/.test(s)),
    ),
  ),
  contentLength: fc.option(
    fc.constantFrom("0", "10", "99999999", "abc", "-1", "16384", "16385"),
  ),
  bodySize: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 40_000 })),
});

type RandomRequest = typeof request extends fc.Arbitrary<infer T> ? T : never;

async function check(api: HttpApi, r: RandomRequest): Promise<void> {
  const headers = new Headers();
  if (r.authorization !== null) headers.set("authorization", r.authorization);
  if (r.contentLength !== null) headers.set("content-length", r.contentLength);
  const hasBody = r.bodySize > 0 && r.method !== "GET" && r.method !== "HEAD";
  let req: Request;
  try {
    req = new Request(`http://localhost${r.path}${r.query}`, {
      method: r.method,
      headers,
      body: hasBody ? new Uint8Array(r.bodySize) : undefined,
    });
  } catch {
    return; // not a request a server could receive
  }
  const response = await api.fetch(req);
  const label = `${r.method} ${r.path}${r.query} → ${response.status}`;
  assert.ok(response.status < 500, label);
  if (
    response.status >= 400 && response.status !== 503 && r.method !== "HEAD"
  ) {
    assert.equal(
      response.headers.get("content-type"),
      "application/problem+json",
      label,
    );
    const problem = await response.json() as {
      status: number;
      code: string;
      detail: string;
    };
    assert.equal(problem.status, response.status, label);
    assert.equal(
      HTTP_REQUEST_ERROR_STATUS[
        problem.code as keyof typeof HTTP_REQUEST_ERROR_STATUS
      ],
      response.status,
      label,
    );
    assert.equal(typeof problem.detail, "string", label);
  } else {
    await response.body?.cancel();
  }
}

test("HttpApi answers random requests with 2xx, 3xx, 503 or a 4xx problem, never a 5xx", async () => {
  // One node: the down and leave endpoints are exercised against a live cluster, and a
  // successful down or leave of n1 would end the run early, so the token is never valid here.
  await using lc = await LoopbackCluster.start(["n1"], {
    token: "another-token-0123456789",
  });
  await lc.systems[0].spawn(supervisor, 2, { id: "sup" });
  const api = lc.apis[0];
  await fc.assert(
    fc.asyncProperty(request, (r) => check(api, r)),
    { numRuns: 400, seed: 1414 },
  );
  assert.equal(lc.clusters[0].self.status, "up");
  assert.equal(api.liveListeners, 0, "every event stream opened was cancelled");
});
