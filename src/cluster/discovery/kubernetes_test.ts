// KubernetesDiscovery against a local HTTPS server that answers like the Kubernetes API server
// (PodList pages, Status errors), with the answers of testdata/ and the service-account files
// of testdata/serviceaccount/. No real cluster: see the top of kubernetes.ts.
import assert from "node:assert/strict";
import fc from "fast-check";
import process from "node:process";
import { platform } from "../../platform/mod.ts";
import { test } from "../../platform/test_harness.ts";
import {
  startTestHttpsServer,
  type TestAnswer,
  type TestHttpsServer,
  type TestRequest,
} from "../../platform/_https_server_test.ts";
import type { DiscoveredNode } from "../discovery.ts";
import {
  isClusterClosedError,
  isDiscoveryForbiddenError,
  isDiscoveryResponseError,
  isDiscoveryUnavailableError,
} from "../errors.ts";
import { discoveryConformance } from "./discovery_conformance.ts";
import {
  KubernetesDiscovery,
  type KubernetesDiscoveryOptions,
} from "./kubernetes.ts";
import { parseNodeAddress } from "./static_seeds.ts";

function testdata(name: string): string {
  return decodeURIComponent(
    new URL(`./testdata/${name}`, import.meta.url).pathname,
  );
}
const SA = {
  tokenPath: testdata("serviceaccount/token"),
  caPath: testdata("serviceaccount/ca.crt"),
  namespacePath: testdata("serviceaccount/namespace"),
};
const TOKEN = (await platform.readTextFile(SA.tokenPath)).trim();
const POD_LIST = JSON.parse(
  await platform.readTextFile(testdata("pod_list.json")),
);
const FORBIDDEN = await platform.readTextFile(
  testdata("status_forbidden.json"),
);
const UNAUTHORIZED = await platform.readTextFile(
  testdata("status_unauthorized.json"),
);
const EXPIRED = await platform.readTextFile(testdata("status_expired.json"));

interface Pod {
  metadata: Record<string, unknown>;
}

/** Answers a pod list request like the API server: checks the token, pages with limit/continue. */
function podListServer(
  items: readonly Pod[],
): (request: TestRequest) => TestAnswer {
  return (request) => {
    if (request.headers.authorization !== `Bearer ${TOKEN}`) {
      return { status: 401, body: UNAUTHORIZED };
    }
    const url = new URL(request.target, "https://api");
    if (url.pathname !== "/api/v1/namespaces/troupe-test/pods") {
      return { status: 404, body: "{}" };
    }
    const limit = Number(url.searchParams.get("limit") ?? "0") || items.length;
    const from = Number(url.searchParams.get("continue") ?? "0");
    const page = items.slice(from, from + limit);
    const rest = items.length - from - page.length;
    return {
      status: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        kind: "PodList",
        apiVersion: "v1",
        metadata: rest > 0
          ? {
            resourceVersion: "48327",
            continue: String(from + limit),
            remainingItemCount: rest,
          }
          : { resourceVersion: "48327" },
        items: page,
      }),
    };
  };
}

async function withServer(
  handler: (request: TestRequest) => TestAnswer,
  body: (
    server: TestHttpsServer,
    options: KubernetesDiscoveryOptions,
  ) => Promise<void>,
  extra: Partial<KubernetesDiscoveryOptions> = {},
): Promise<void> {
  const server = await startTestHttpsServer(handler);
  try {
    await body(server, {
      labelSelector: "app.kubernetes.io/name=orders",
      apiServer: server.origin,
      ...SA,
      ...extra,
    });
  } finally {
    await server.close();
  }
}

/** Pods for the conformance suite: one ready pod per node, in creation order, plus noise. */
function podsFor(nodes: readonly DiscoveredNode[]): Pod[] {
  const template = POD_LIST.items[1];
  const pods: Pod[] = nodes.map((node, i) => {
    const { host, port } = parseNodeAddress(node.address);
    const pod = structuredClone(template);
    pod.metadata.name = `pod-${i}`;
    pod.metadata.creationTimestamp = new Date(Date.UTC(2026, 10, 30, 9, 0, i))
      .toISOString();
    pod.status.podIP = host;
    pod.status.podIPs = [{ ip: host }];
    pod.spec.containers[0].ports[0].containerPort = port;
    return pod;
  });
  // Pods that must not be found: not ready, pending, terminating, without the port.
  return [...pods, ...POD_LIST.items.slice(3)];
}

for (
  const c of discoveryConformance("KubernetesDiscovery", async (nodes) => {
    const server = await startTestHttpsServer(podListServer(podsFor(nodes)));
    return {
      discovery: new KubernetesDiscovery({
        labelSelector: "app.kubernetes.io/name=orders",
        apiServer: server.origin,
        pageSize: 4,
        ...SA,
      }),
      dispose: () => server.close(),
    };
  }, { runs: 10 })
) test(c.name, c.fn);

test("KubernetesDiscovery finds the Running, Ready, not terminating pods with the named port, oldest first, and asks as the API expects", async () => {
  await withServer(podListServer(POD_LIST.items), async (server, options) => {
    const discovery = new KubernetesDiscovery(options);
    try {
      assert.deepEqual(await discovery.discover(), [
        { address: "10.244.1.17:4000" }, // orders-0
        { address: "10.244.2.9:4000" }, // orders-1
        { address: "10.244.1.23:4000" }, // orders-5
      ]);
      const [request] = server.requests;
      assert.equal(request.method, "GET");
      assert.equal(
        request.target,
        "/api/v1/namespaces/troupe-test/pods?labelSelector=app.kubernetes.io%2Fname%3Dorders&limit=500",
      );
      assert.equal(request.headers.authorization, `Bearer ${TOKEN}`);
      assert.equal(request.headers.accept, "application/json");
    } finally {
      await discovery.close();
    }
  });
});

test("KubernetesDiscovery follows continue tokens across pages", async () => {
  await withServer(podListServer(POD_LIST.items), async (server, options) => {
    const discovery = new KubernetesDiscovery(options);
    try {
      assert.equal((await discovery.discover()).length, 3);
      assert.equal(server.requests.length, 4);
      assert.match(server.requests[1].target, /&limit=2&continue=2$/);
    } finally {
      await discovery.close();
    }
  }, { pageSize: 2 });
});

test("KubernetesDiscovery with a port number, or another port name, takes that port", async () => {
  await withServer(podListServer(POD_LIST.items), async (_, options) => {
    const byNumber = new KubernetesDiscovery({
      ...options,
      port: 7000,
      namespace: "troupe-test",
    });
    const byName = new KubernetesDiscovery({ ...options, portName: "metrics" });
    const http = new KubernetesDiscovery({ ...options, portName: "http" });
    try {
      assert.deepEqual((await byNumber.discover()).map((n) => n.address), [
        "10.244.1.17:7000",
        "10.244.2.9:7000",
        "10.244.1.23:7000",
        "10.244.3.8:7000", // orders-debug has no troupe port, but the number needs none
      ]);
      assert.equal((await byName.discover())[0].address, "10.244.1.17:9090");
      assert.deepEqual(await http.discover(), [{ address: "10.244.3.8:8080" }]);
    } finally {
      await byNumber.close();
      await byName.close();
      await http.close();
    }
  });
});

test("KubernetesDiscovery: 403 is a DiscoveryForbiddenError that says the service account needs list on pods (RBAC)", async () => {
  await withServer(
    () => ({ status: 403, body: FORBIDDEN }),
    async (_, options) => {
      const discovery = new KubernetesDiscovery(options);
      try {
        const error = await discovery.discover().catch((e: unknown) => e);
        assert.ok(isDiscoveryForbiddenError(error), String(error));
        assert.equal(error.status, 403);
        assert.match(error.message, /RBAC/);
        assert.match(error.message, /"list" verb on "pods"/);
        assert.match(error.message, /namespace "troupe-test"/);
        assert.match(error.message, /cannot list resource/); // the server's own words
      } finally {
        await discovery.close();
      }
    },
  );
});

test("KubernetesDiscovery: 401 (a token the server refuses) is a DiscoveryForbiddenError", async () => {
  await withServer(podListServer(POD_LIST.items), async (_, options) => {
    const discovery = new KubernetesDiscovery({
      ...options,
      tokenPath: testdata("serviceaccount/namespace"), // not the token
    });
    try {
      const error = await discovery.discover().catch((e: unknown) => e);
      assert.ok(isDiscoveryForbiddenError(error), String(error));
      assert.equal(error.status, 401);
      assert.match(error.message, /refused the service-account token/);
    } finally {
      await discovery.close();
    }
  });
});

test("KubernetesDiscovery: 410 (expired continue), 500 and 503 are DiscoveryUnavailableError", async () => {
  for (
    const [status, body] of [[410, EXPIRED], [500, "oops"], [503, ""]] as const
  ) {
    await withServer(() => ({ status, body }), async (_, options) => {
      const discovery = new KubernetesDiscovery(options);
      try {
        const error = await discovery.discover().catch((e: unknown) => e);
        assert.ok(isDiscoveryUnavailableError(error), String(error));
        assert.match(error.message, new RegExp(`answered ${status}`));
      } finally {
        await discovery.close();
      }
    });
  }
});

test("KubernetesDiscovery: a body of random bytes or random JSON is a DiscoveryResponseError, never a crash (fast-check)", async () => {
  let answer: Uint8Array = new Uint8Array(0);
  await withServer(
    () => ({ status: 200, body: answer }),
    async (_, options) => {
      const discovery = new KubernetesDiscovery(options);
      try {
        await fc.assert(
          fc.asyncProperty(
            fc.oneof(
              fc.uint8Array({ maxLength: 512 }),
              fc.json().map((text) => new TextEncoder().encode(text)),
              fc.jsonValue().map((items) =>
                new TextEncoder().encode(
                  JSON.stringify({ kind: "PodList", items: [items] }),
                )
              ),
            ),
            async (bytes) => {
              answer = bytes;
              try {
                const found = await discovery.discover();
                // Only a PodList whose items are objects is accepted, and nothing in it is ready.
                assert.ok(Array.isArray(found));
              } catch (error) {
                assert.ok(isDiscoveryResponseError(error), String(error));
              }
            },
          ),
          { numRuns: 60 },
        );
        answer = new TextEncoder().encode('{"kind":"Status"}');
        await assert.rejects(discovery.discover(), isDiscoveryResponseError);
        answer = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);
        await assert.rejects(discovery.discover(), isDiscoveryResponseError);
      } finally {
        await discovery.close();
      }
    },
  );
});

test("KubernetesDiscovery: no answer within timeoutMs is a DiscoveryUnavailableError; an abort rejects with the signal's reason", async () => {
  await withServer(() => "hang", async (server, options) => {
    const discovery = new KubernetesDiscovery({ ...options, timeoutMs: 200 });
    // The abort gets a timeout it cannot lose to: on a loaded machine the request can take
    // longer than 200 ms to reach the server, and the timeout would win the race.
    const patient = new KubernetesDiscovery({ ...options, timeoutMs: 60_000 });
    try {
      const error = await discovery.discover().catch((e: unknown) => e);
      assert.ok(isDiscoveryUnavailableError(error), String(error));
      assert.match(error.message, /did not answer within 200 ms/);
      const controller = new AbortController();
      const reason = new Error("shutting down");
      // Under load the first request may time out before it even reaches the server, so wait
      // for one more request than the server has seen (at most 5 s: an abort must reject with
      // its reason whether or not the request got there).
      const before = server.requests.length;
      const pending = assert.rejects(
        patient.discover(controller.signal),
        (e) => e === reason,
      );
      for (
        let waited = 0;
        server.requests.length <= before && waited < 5000;
        waited += 5
      ) {
        await new Promise((resolve) =>
          platform.setTimer(() => resolve(undefined), 5)
        );
      }
      controller.abort(reason);
      await pending;
    } finally {
      await discovery.close();
      await patient.close();
    }
  });
});

test("KubernetesDiscovery: missing service-account files and an unreachable server are DiscoveryUnavailableError", async () => {
  const missing = new KubernetesDiscovery({
    labelSelector: "app=x",
    apiServer: "https://127.0.0.1:1",
    tokenPath: testdata("serviceaccount/no-such-token"),
    caPath: SA.caPath,
    namespacePath: SA.namespacePath,
  });
  const error = await missing.discover().catch((e: unknown) => e);
  assert.ok(isDiscoveryUnavailableError(error), String(error));
  assert.match(error.message, /no-such-token/);
  await missing.close();
  const unreachable = new KubernetesDiscovery({
    labelSelector: "app=x",
    apiServer: "https://127.0.0.1:1",
    ...SA,
  });
  await assert.rejects(unreachable.discover(), isDiscoveryUnavailableError);
  await unreachable.close();
  await assert.rejects(unreachable.discover(), isClusterClosedError);
});

test("new KubernetesDiscovery() refuses bad options with TypeError/RangeError", () => {
  const base = { labelSelector: "app=x" };
  assert.throws(
    () => new KubernetesDiscovery({ labelSelector: "" }),
    TypeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({} as KubernetesDiscoveryOptions),
    TypeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({ ...base, apiServer: "http://x:1" }),
    TypeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({ ...base, apiServer: "nope" }),
    TypeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({ ...base, portName: "" }),
    TypeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({ ...base, port: 0 }),
    RangeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({ ...base, port: 1.5 }),
    RangeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({ ...base, timeoutMs: 0 }),
    RangeError,
  );
  assert.throws(
    () => new KubernetesDiscovery({ ...base, pageSize: 0 }),
    RangeError,
  );
});

test("KubernetesDiscovery without apiServer uses KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT, and says so when they are missing", async () => {
  const saved = {
    host: process.env.KUBERNETES_SERVICE_HOST,
    port: process.env.KUBERNETES_SERVICE_PORT,
  };
  const restore = () => {
    for (
      const [name, value] of [["KUBERNETES_SERVICE_HOST", saved.host], [
        "KUBERNETES_SERVICE_PORT",
        saved.port,
      ]]
    ) {
      if (value === undefined) delete process.env[name!];
      else process.env[name!] = value;
    }
  };
  try {
    await withServer(podListServer(POD_LIST.items), async (server, options) => {
      process.env.KUBERNETES_SERVICE_HOST = "127.0.0.1";
      process.env.KUBERNETES_SERVICE_PORT = String(server.port);
      const discovery = new KubernetesDiscovery({
        ...options,
        apiServer: undefined,
      });
      try {
        assert.equal((await discovery.discover()).length, 3);
        delete process.env.KUBERNETES_SERVICE_HOST;
        const error = await discovery.discover().catch((e: unknown) => e);
        assert.ok(isDiscoveryUnavailableError(error), String(error));
        assert.match(error.message, /KUBERNETES_SERVICE_HOST/);
      } finally {
        await discovery.close();
      }
    });
  } finally {
    restore();
  }
});
