// What the HTTP API answers when something it depends on is not available: the shard
// coordinator handing over or not started, sharding closed, a provider that fails or never
// answers. Always a 503 problem with Retry-After, never a 500; the dashboard's live state keeps
// flowing meanwhile. A property test mixes random requests with a provider that randomly fails,
// hangs or answers.
import assert from "node:assert/strict";
import fc from "fast-check";
import { ActorSystem } from "../../mod.ts";
import {
  ShardCoordinatorUnavailableError,
  ShardingClosedError,
} from "../../src/cluster/mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import {
  HTTP_REQUEST_ERROR_STATUS,
  HttpApi,
  type ShardingStatsProvider,
} from "../../src/http/mod.ts";
import { LoopbackCluster } from "./support.ts";
import { ManualClock } from "../../src/testing/mod.ts";

const CART = {
  type: "cart",
  nodes: [{ node: "s", shards: 1, entities: 2 }],
  shards: [{ id: "0", node: "s", entities: 2 }],
};

/** The failures a provider may meet, and how each must be answered. */
const FAILURES = {
  coordinator: {
    make: () => new ShardCoordinatorUnavailableError("cart"),
    code: "SHARD_COORDINATOR_UNAVAILABLE",
  },
  closed: {
    make: () => new ShardingClosedError("s"),
    code: "SHARDING_CLOSED",
  },
  other: {
    make: () => new Error("the provider broke"),
    code: "DEPENDENCY_UNAVAILABLE",
  },
} as const;

const DOCUMENTED_503 = new Set(
  Object.entries(HTTP_REQUEST_ERROR_STATUS).filter(([, s]) => s === 503).map((
    [code],
  ) => code),
);

async function problemOf(
  response: Response,
): Promise<{ code: string; title: string; detail: string; status: number }> {
  assert.equal(
    response.headers.get("content-type"),
    "application/problem+json",
  );
  return await response.json();
}

function failing(error: () => Error): ShardingStatsProvider {
  return {
    types: () => Promise.reject(error()),
    stats: () => Promise.reject(error()),
  };
}

test("HttpApi answers a 503 problem with Retry-After, never a 500, when the sharding provider fails", async () => {
  await using system = new ActorSystem({ node: "s" });
  for (const [name, failure] of Object.entries(FAILURES)) {
    const logged: unknown[] = [];
    await using api = new HttpApi({
      system,
      sharding: failing(failure.make),
      logger: { error: (_message, error) => logged.push(error) },
    });
    for (const path of ["/sharding/types", "/sharding/stats/cart"]) {
      const response = await api.fetch(new Request(`http://n${path}`));
      assert.equal(response.status, 503, `${name} ${path}`);
      assert.equal(response.headers.get("retry-after"), "2");
      const problem = await problemOf(response);
      assert.equal(problem.code, failure.code);
      assert.equal(problem.status, 503);
      assert.equal(typeof problem.title, "string");
      assert.ok(problem.detail.length > 0);
    }
    // Only the unexpected failure is logged (once: the second within 30 s is counted, see the
    // next test); a coordinator in hand-over is a normal state.
    assert.equal(logged.length, name === "other" ? 1 : 0, name);
  }
  // A provider that throws instead of rejecting is the same.
  await using throwing = new HttpApi({
    system,
    sharding: {
      types: () => {
        throw new ShardCoordinatorUnavailableError("cart");
      },
      stats: () => {
        throw new ShardCoordinatorUnavailableError("cart");
      },
    },
  });
  const response = await throwing.fetch(
    new Request("http://n/sharding/stats/cart"),
  );
  assert.equal(response.status, 503);
  assert.equal(
    (await problemOf(response)).code,
    "SHARD_COORDINATOR_UNAVAILABLE",
  );
  // The OpenAPI document says so.
  const doc = await (await throwing.fetch(new Request("http://n/openapi.json")))
    .json();
  for (const path of ["/sharding/types", "/sharding/stats/{type}"]) {
    assert.ok(
      doc.paths[path].get.responses["503"].headers["Retry-After"],
      path,
    );
  }
});

test("HttpApi logs a sharding provider that keeps failing once per 30 s, with how many failures it left out", async () => {
  const clock = new ManualClock();
  await using system = new ActorSystem({ node: "s", clock });
  const logged: string[] = [];
  await using api = new HttpApi({
    system,
    sharding: failing(() => new Error("disk on fire")),
    logger: { error: (message) => logged.push(message) },
  });
  const ask = async () => {
    const response = await api.fetch(new Request("http://n/sharding/types"));
    assert.equal(response.status, 503);
    await response.body?.cancel();
  };
  for (let i = 0; i < 10; i++) await ask();
  assert.deepEqual(logged, ["The sharding statistics failed"]);
  await clock.advance(29_000);
  await ask();
  assert.equal(logged.length, 1);
  await clock.advance(1_000);
  await ask();
  assert.deepEqual(logged, [
    "The sharding statistics failed",
    "The sharding statistics failed (and 10 more times in the last 30 s)",
  ]);
  // Nothing left out since: the plain message.
  await clock.advance(30_000);
  await ask();
  assert.equal(logged[2], "The sharding statistics failed");
});

test("HttpApi answers 503 DEPENDENCY_TIMEOUT when the sharding provider does not answer in time", async () => {
  await using system = new ActorSystem({ node: "s" });
  let release = () => {};
  const never = new Promise<never>((_, reject) => {
    release = () => reject(new Error("released"));
  });
  never.catch(() => {});
  await using api = new HttpApi({
    system,
    sharding: { types: () => never, stats: () => never },
    dependencyTimeoutMs: 50,
    logger: { error() {} },
  });
  const response = await api.fetch(new Request("http://n/sharding/stats/cart"));
  assert.equal(response.status, 503);
  assert.equal(response.headers.get("retry-after"), "2");
  const problem = await problemOf(response);
  assert.equal(problem.code, "DEPENDENCY_TIMEOUT");
  assert.match(problem.detail, /within 50 ms/);
  release(); // a late failure after the answer changes nothing
  assert.throws(
    () => new HttpApi({ system, dependencyTimeoutMs: 0 }),
    RangeError,
  );
});

async function firstState(api: HttpApi): Promise<Record<string, unknown>> {
  const response = await api.fetch(new Request("http://n/dashboard/events"));
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!/event: state\ndata: .*\n\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended");
    text += value;
  }
  await reader.cancel();
  return JSON.parse(/event: state\ndata: (.*)\n\n/.exec(text)![1]);
}

test("HttpApi's live state shows a type whose coordinator is unavailable, and is not held up by a provider that hangs", async () => {
  await using system = new ActorSystem({ node: "s" });
  await using unavailable = new HttpApi({
    system,
    sharding: {
      types: () => ["cart", "order"],
      stats: (type) =>
        type === "cart"
          ? CART
          : Promise.reject(new ShardCoordinatorUnavailableError(type)),
    },
  });
  assert.deepEqual((await firstState(unavailable)).sharding, [
    { type: "cart", nodes: CART.nodes },
    { type: "order", nodes: [], unavailable: "SHARD_COORDINATOR_UNAVAILABLE" },
  ]);

  let release = (_: readonly string[]) => {};
  const slow = new Promise<readonly string[]>((resolve) => release = resolve);
  await using hanging = new HttpApi({
    system,
    sharding: { types: () => slow, stats: () => CART },
  });
  // The state comes without the figures (none read yet) instead of waiting for them...
  const state = await firstState(hanging);
  assert.equal(state.node, "s");
  assert.equal(state.sharding, null);
  release(["cart"]);
  // ...and the next one has them.
  const response = await hanging.fetch(
    new Request("http://n/dashboard/events"),
  );
  const reader = response.body!.pipeThrough(new TextDecoderStream())
    .getReader();
  let text = "";
  while (!text.includes('"sharding":[{"type":"cart"')) {
    const { value, done } = await reader.read();
    if (done) throw new Error("the stream ended");
    text += value;
  }
  await reader.cancel();
});

const behaviour = fc.constantFrom(
  "answer",
  "undefined",
  "coordinator",
  "closed",
  "other",
  "hang",
  "throw",
);

const path = fc.oneof(
  fc.constantFrom(
    "/sharding/types",
    "/sharding/stats/cart",
    "/sharding/stats/",
    "/sharding/stats/%00",
    "/sharding/stats/%zz",
    "/sharding",
    "/metrics",
    "/cluster/members",
    "/health",
    "/actors",
    "/dashboard",
  ),
  fc.string({ maxLength: 16 }).map((s) =>
    `/sharding/stats/${encodeURIComponent(s)}`
  ),
  fc.array(fc.string({ maxLength: 8 }), { minLength: 1, maxLength: 4 }).map((
    parts,
  ) => "/" + parts.map(encodeURIComponent).join("/")),
);
const query = fc.oneof(
  fc.constant(""),
  fc.string({ maxLength: 24 }).map((s) => `?${s}`),
  fc.tuple(
    fc.constantFrom("max_depth", "max_children", "type", ""),
    fc.string({ maxLength: 8 }),
  ).map(([k, v]) => `?${new URLSearchParams([[k, v]])}`),
);

test("HttpApi never answers a 5xx other than a documented 503 problem, whatever the request and the sharding provider do", async () => {
  await using system = new ActorSystem({ node: "s" });
  let current = "answer";
  const act = <T>(value: T): T | Promise<T> => {
    switch (current) {
      case "answer":
        return value;
      case "undefined":
        return undefined as T;
      case "hang":
        return new Promise<T>(() => {});
      case "throw":
        throw new TypeError("synchronous failure");
      default:
        return Promise.reject(
          FAILURES[current as keyof typeof FAILURES].make(),
        );
    }
  };
  await using api = new HttpApi({
    system,
    sharding: {
      types: () => act(["cart"]),
      stats: (type) => act(type === "cart" ? CART : undefined),
    },
    dependencyTimeoutMs: 20,
    logger: { error() {} },
  });
  await fc.assert(
    fc.asyncProperty(behaviour, path, query, async (b, p, q) => {
      current = b;
      let request: Request;
      try {
        request = new Request(`http://n${p}${q}`);
      } catch {
        return; // not a URL a server could receive
      }
      const response = await api.fetch(request);
      const label = `${b}: GET ${p}${q} → ${response.status}`;
      assert.ok(response.status !== 500 && response.status < 600, label);
      if (response.status >= 500) {
        assert.equal(response.status, 503, label);
        const problem = await problemOf(response);
        assert.ok(DOCUMENTED_503.has(problem.code), label);
        assert.equal(response.headers.get("retry-after"), "2", label);
      } else {
        await response.body?.cancel();
      }
    }),
    { numRuns: 300, seed: 503 },
  );
});

test("HttpApi answers every read endpoint without a 5xx other than a health 503 after its cluster, node and system closed", async () => {
  const lc = await LoopbackCluster.start(["gone"]);
  const api = lc.apis[0];
  try {
    await lc.clusters[0].close();
    await lc.nodes[0].close();
    await lc.systems[0].shutdown();
    for (
      const path of [
        "/health",
        "/health/ready",
        "/health/alive",
        "/system/stats",
        "/actors",
        "/cluster/members",
        "/cluster/leader",
        "/dead-letters",
        "/pubsub/topics",
        "/metrics",
        "/openapi.json",
        "/dashboard",
      ]
    ) {
      const response = await api.fetch(new Request(`http://n${path}`));
      assert.ok(
        response.status < 500 ||
          (response.status === 503 && path.startsWith("/health")),
        `${path} → ${response.status}`,
      );
      await response.body?.cancel();
    }
  } finally {
    await lc[Symbol.asyncDispose]();
  }
});
