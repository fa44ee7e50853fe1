// The HTTP API on a three-node loopback cluster: every read endpoint, the write endpoints and
// their token, sharding through a provider, and the OpenAPI document.
import assert from "node:assert/strict";
import { ActorSystem } from "../../mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import { HttpApi, type ShardingStatsProvider } from "../../src/http/mod.ts";
import { LoopbackCluster, supervisor, TOKEN } from "./support.ts";

const NAMES = ["n1", "n2", "n3"];

async function get(
  api: HttpApi,
  path: string,
  init?: RequestInit,
): Promise<Response> {
  return await api.fetch(new Request(`http://localhost${path}`, init));
}

async function body(response: Response): Promise<Record<string, unknown>> {
  return await response.json() as Record<string, unknown>;
}

test("HttpApi answers the read endpoints of a three-node cluster", async () => {
  await using lc = await LoopbackCluster.start(NAMES);
  const api = lc.apis[0];
  await lc.systems[0].spawn(supervisor, 3, { id: "sup" });

  const health = await get(api, "/health");
  assert.equal(health.status, 200);
  const healthBody = await body(health);
  assert.equal(healthBody.status, "healthy", JSON.stringify(healthBody));
  assert.deepEqual(healthBody.reasons, []);
  assert.equal((await get(api, "/health/ready")).status, 200);
  assert.equal((await get(api, "/health/alive")).status, 200);

  const members = await body(await get(api, "/cluster/members"));
  assert.equal(members.self, "n1");
  assert.equal(members.converged, true);
  const list = members.members as Array<Record<string, unknown>>;
  assert.deepEqual(list.map((m) => m.node), NAMES);
  assert.ok(list.every((m) => m.status === "up" && m.reachable === true));
  assert.ok(list.some((m) => m.leader === true));
  assert.ok(
    list.some((m) => typeof m.phi === "number" && m.phi >= 0),
    `n1 monitors the others and reports their φ: ${JSON.stringify(list)}`,
  );
  assert.equal(
    lc.clusters[0].phi("zz"),
    undefined,
    "Cluster.phi() of no member",
  );
  assert.equal(
    lc.clusters[0].phi("n1"),
    undefined,
    "a node does not monitor itself",
  );
  assert.equal(
    (await body(await get(api, "/cluster/leader"))).leader,
    lc.clusters[0].leader()?.node,
  );

  const tree = await body(await get(api, "/actors?max_depth=2&max_children=2"));
  const sup = (tree.roots as Array<Record<string, unknown>>).find((r) =>
    r.id === "sup"
  )!;
  assert.equal(sup.type, "supervisor");
  assert.equal(sup.childCount, 3);
  assert.deepEqual(
    (sup.children as Array<{ path: string }>).map((c) => c.path),
    ["sup/w0", "sup/w1"],
  );
  assert.equal(sup.truncated, true);
  const shallow = await body(await get(api, "/actors?max_depth=1"));
  const shallowSup = (shallow.roots as Array<Record<string, unknown>>).find((
    r,
  ) => r.id === "sup")!;
  assert.deepEqual(shallowSup.children, []);

  const stats = await body(await get(api, "/system/stats"));
  assert.equal(stats.node, "n1");
  assert.equal(stats.actors, lc.systems[0].size);
  assert.equal((stats.remote as { connectedPeers: number }).connectedPeers, 2);

  await lc.systems[0].lookup("sup/w0")!.stop();
  lc.systems[0].lookup("sup/w1")!.tell("nope" as never);
  // A tell to a stopped actor is a dead letter.
  const stopped = lc.systems[0].lookup("sup/w2")!;
  await stopped.stop();
  stopped.tell("work" as never);
  const dead = await body(await get(api, "/dead-letters"));
  assert.ok((dead.total as number) >= 1);
  assert.ok(
    ((dead.byReason as Record<string, number>)["actor-stopped"] ?? 0) >= 1,
  );

  const topics = await body(await get(api, "/pubsub/topics"));
  assert.deepEqual(topics.topics, []);

  const metrics = await get(api, "/metrics");
  assert.match(
    metrics.headers.get("content-type") ?? "",
    /^text\/plain; version=0\.0\.4/,
  );
  assert.match(
    await metrics.text(),
    /troupe_actor_created_total\{node="n1",actor_type="worker"\} 3/,
  );

  const dashboard = await get(api, "/dashboard");
  assert.match(await dashboard.text(), /EventSource\("dashboard\/events"\)/);
  const root = await get(api, "/");
  assert.equal(root.status, 302);
});

test("HttpApi write endpoints need the bearer token and down or leave a member", async () => {
  await using lc = await LoopbackCluster.start(NAMES);
  const api = lc.apis[0];
  const post = (path: string, token?: string) =>
    get(api, path, {
      method: "POST",
      headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
    });

  const none = await post("/cluster/members/n3/down");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("content-type"), "application/problem+json");
  assert.equal((await body(none)).code, "UNAUTHORIZED");
  assert.equal(
    (await post("/cluster/members/n3/down", TOKEN + "x")).status,
    401,
  );
  assert.equal(
    (await post("/cluster/members/n3/down", TOKEN.slice(0, -1))).status,
    401,
  );
  assert.equal(
    (await body(await post("/cluster/members/zz/down", TOKEN))).code,
    "UNKNOWN_MEMBER",
  );
  const leaveOther = await post("/cluster/members/n2/leave", TOKEN);
  assert.equal(leaveOther.status, 409);
  assert.equal((await body(leaveOther)).code, "NOT_THIS_NODE");

  const down = await post("/cluster/members/n3/down", TOKEN);
  assert.equal(down.status, 202);
  await lc.until(
    () => !lc.clusters[0].members().some((m) => m.node === "n3"),
    10_000,
    "n3 removed",
  );
  assert.equal((await get(lc.apis[2], "/health/alive")).status, 503);
  assert.equal((await get(lc.apis[2], "/health/ready")).status, 503);
  assert.equal(
    (await body(await get(lc.apis[2], "/health"))).status,
    "unhealthy",
  );

  const leave = await get(lc.apis[1], "/cluster/members/n2/leave", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(leave.status, 202);
  await lc.until(
    () => !lc.clusters[0].members().some((m) => m.node === "n2"),
    10_000,
    "n2 left",
  );
});

test("HttpApi write endpoints are off without a token, and need a cluster", async () => {
  await using system = new ActorSystem({ node: "solo" });
  await using api = new HttpApi({ system });
  const down = await get(api, "/cluster/members/solo/down", {
    method: "POST",
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  assert.equal(down.status, 403);
  assert.equal((await body(down)).code, "WRITES_DISABLED");
  const members = await get(api, "/cluster/members");
  assert.equal(members.status, 404);
  assert.equal((await body(members)).code, "NO_CLUSTER");
  assert.equal((await body(await get(api, "/health/ready"))).ready, true);
  assert.throws(() => new HttpApi({ system, token: "short" }), TypeError);
  assert.throws(() => new HttpApi({ system, maxBodyBytes: 0 }), RangeError);
});

test("HttpApi sharding endpoints answer 404 without a provider and the provider's figures with one", async () => {
  await using system = new ActorSystem({ node: "s" });
  await using without = new HttpApi({ system });
  const types = await get(without, "/sharding/types");
  assert.equal(types.status, 404);
  const problem = await body(types);
  assert.equal(problem.code, "SHARDING_UNAVAILABLE");
  assert.match(problem.detail as string, /no sharding provider/);
  assert.equal(
    (await body(await get(without, "/sharding/stats/cart"))).code,
    "SHARDING_UNAVAILABLE",
  );

  const sharding: ShardingStatsProvider = {
    types: () => ["cart"],
    stats: (type) =>
      type !== "cart" ? undefined : {
        type,
        nodes: [{ node: "s", shards: 2, entities: 5 }],
        shards: [{ id: "0", node: "s", entities: 2 }, {
          id: "1",
          node: "s",
          entities: 3,
        }],
      },
  };
  await using withProvider = new HttpApi({ system, sharding });
  assert.deepEqual(await body(await get(withProvider, "/sharding/types")), {
    types: ["cart"],
  });
  const stats = await body(await get(withProvider, "/sharding/stats/cart"));
  assert.deepEqual(stats.nodes, [{ node: "s", shards: 2, entities: 5 }]);
  assert.equal(
    (await body(await get(withProvider, "/sharding/stats/order"))).code,
    "UNKNOWN_SHARDING_TYPE",
  );
  // The dashboard's live state carries the shards per node, and null without a provider.
  for (
    const [api, expected] of [[withProvider, [{
      type: "cart",
      nodes: [{ node: "s", shards: 2, entities: 5 }],
    }]], [without, null]] as const
  ) {
    const events = await get(api, "/dashboard/events");
    const reader = events.body!.pipeThrough(new TextDecoderStream())
      .getReader();
    let text = "";
    while (!text.includes("event: state")) {
      text += (await reader.read()).value ?? "";
    }
    while (!/event: state\ndata: .*\n\n/.test(text)) {
      text += (await reader.read()).value ?? "";
    }
    await reader.cancel();
    const state = JSON.parse(/event: state\ndata: (.*)\n\n/.exec(text)![1]);
    assert.deepEqual(state.sharding, expected);
  }
  assert.equal(withProvider.liveListeners, 0);
});

test("HttpApi's OpenAPI document lists every endpoint it answers", async () => {
  await using system = new ActorSystem({ node: "o" });
  await using api = new HttpApi({ system });
  const doc = await body(await get(api, "/openapi.json"));
  assert.equal(doc.openapi, "3.1.0");
  const paths = doc.paths as Record<
    string,
    Record<string, { operationId: string }>
  >;
  const listed = Object.entries(paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`)
  ).sort();
  assert.deepEqual(listed, [
    "GET /actors",
    "GET /cluster/leader",
    "GET /cluster/members",
    "GET /dashboard",
    "GET /dashboard/events",
    "GET /dead-letters",
    "GET /health",
    "GET /health/alive",
    "GET /health/ready",
    "GET /metrics",
    "GET /openapi.json",
    "GET /pubsub/topics",
    "GET /sharding/stats/{type}",
    "GET /sharding/types",
    "GET /system/stats",
    "POST /cluster/members/{node}/down",
    "POST /cluster/members/{node}/leave",
  ]);
  // Each listed GET endpoint exists (none answers 404 NOT_FOUND or 405).
  for (
    const entry of listed.filter((e) =>
      e.startsWith("GET ") && !e.includes("events")
    )
  ) {
    const path = entry.slice(4).replace("{type}", "cart");
    const response = await get(api, path);
    const code = response.status >= 400
      ? (await body(response)).code
      : undefined;
    assert.ok(
      code !== "NOT_FOUND" && code !== "METHOD_NOT_ALLOWED",
      `${entry}: ${code}`,
    );
  }
});
