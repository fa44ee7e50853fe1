// The examples in examples/ are programs for Deno (`deno task example`, `example:account`,
// `example:remote`): each one is run here, to the end, so none of them can rot. Under Deno only
// (the npm build does not include them).
import assert from "node:assert/strict";
import { test } from "../src/platform/test_harness.ts";
import { spawnTestProcess } from "../src/platform/test_process.ts";
import { sameRuntime, testRuntime } from "../src/platform/test_runtime.ts";

async function runExample(file: string): Promise<string> {
  const { command, args } = sameRuntime(
    new URL(`../examples/${file}`, import.meta.url),
  );
  const child = spawnTestProcess(command, args);
  const exit = await child.exited;
  const output = child.output();
  assert.deepEqual(exit, { code: 0, signal: null }, output);
  return output;
}

test({
  name:
    "examples/remote.ts: two processes, remote spawn, asks, tells and death watch",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const output = await runExample("remote.ts");
    assert.match(output, /1\. connected to node "worker"/);
    assert.match(output, /2\. spawned troupe:\/\/worker\/counter/);
    assert.match(output, /worker \| counter started in process \d+ at 40/);
    assert.match(output, /ask "get" -> 42/);
    assert.match(
      output,
      /the worker process exited \(code 0\); the watch fired for troupe:\/\/worker\/counter: .*unreachable/,
    );
    assert.match(output, /4\. the shop closed its node and its system/);
  },
});

test({
  name: "examples/tour.ts: runs to the end",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const output = await runExample("tour.ts");
    assert.match(
      output,
      /deposit 5000 -> refused: amount 5000 is over the limit/,
    );
    assert.match(output, /troupe_actor_created_total/);
  },
});

test({
  name:
    "examples/account.ts: recovers the balance and deletes the keys it wrote",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const output = await runExample("account.ts");
    assert.match(output, /After a restart the balance is 82 \(expected 82\)\./);
    if (output.includes("Storing events in Redis")) {
      assert.match(output, /Deleted this run's 3 keys from Redis\./);
    }
  },
});

test({
  name:
    "examples/cluster.ts: three nodes form a cluster from seeds, and one leaves gracefully",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const output = await runExample("cluster.ts");
    assert.match(output, /2\. members: n1:up n2:up n3:up; leader n1/);
    assert.match(output, /n1 sees: n3 leaving/);
    assert.match(output, /n1 sees: n3 exited/);
    assert.match(output, /n1 sees: n3 removed/);
    assert.match(output, /4\. closed every node/);
  },
});

test({
  name:
    "examples/chat/main.ts: three node processes, clients on each, every message once and in order",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const output = await runExample("chat/main.ts");
    assert.match(output, /2\. cluster up: n1 .*, n2 .*, n3 /);
    assert.match(output, /ann@n1 got 5 live/);
    assert.match(output, /bob@n2 got 3 live/);
    assert.match(output, /cat@n3 got 5 live/);
    assert.match(output, /4\. dan joined help on n2 late; its history \(2\)/);
    assert.match(
      output,
      /5\. lobby's history read on n2 without joining: ann, bob, cat/,
    );
    assert.match(output, /6\. stopped n1, n2, n3/);
    if (/^1\. Redis at/m.test(output)) {
      assert.match(output, /deleted this run's \d+ keys from Redis/);
    }
    assert.match(output, /7\. every check held/);
  },
});
