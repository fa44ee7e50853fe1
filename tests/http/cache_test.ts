// The rendered /cluster/members and /metrics are reused for at most `cacheMs`, and a membership
// event drops the members view at once: a change shows on the next request however long the
// bound.
import assert from "node:assert/strict";
import { defineActor } from "../../mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import { HttpApi } from "../../src/http/mod.ts";
import { LoopbackCluster } from "./support.ts";

const echo = defineActor({
  name: "echo",
  init: () => 0,
  handlers: { ping: (n: number) => n + 1 },
});

async function members(
  api: HttpApi,
): Promise<Array<{ node: string; status: string }>> {
  const response = await api.fetch(
    new Request("http://localhost/cluster/members"),
  );
  return (await response.json()).members;
}

async function metrics(api: HttpApi): Promise<string> {
  return await (await api.fetch(new Request("http://localhost/metrics")))
    .text();
}

test("HttpApi shows a membership change on the next request even with a long cacheMs, and reuses /metrics within the bound", async () => {
  await using lc = await LoopbackCluster.start(["c1", "c2", "c3"]);
  const system = lc.systems[0];
  await using cached = new HttpApi({
    system,
    cluster: lc.clusters[0],
    cacheMs: 60_000,
  });
  await using uncached = new HttpApi({
    system,
    cluster: lc.clusters[0],
    cacheMs: 0,
  });
  assert.deepEqual(
    (await members(cached)).map((m) => m.status),
    ["up", "up", "up"],
  );
  lc.clusters[0].down("c3");
  // The event reaches the API within the turn; no wait on the bound.
  await new Promise((resolve) => setTimeout(resolve, 0));
  const after = await members(cached);
  assert.equal(after.find((m) => m.node === "c3")?.status, "down");

  // /metrics within the bound is the text rendered first; without a bound it is fresh.
  const before = await metrics(cached);
  const ref = await system.spawn(echo, undefined, { id: "e" });
  await ref.ask("ping");
  assert.equal(await metrics(cached), before);
  assert.notEqual(await metrics(uncached), before);
  assert.throws(
    () => new HttpApi({ system, cacheMs: -1 }),
    RangeError,
  );
});
