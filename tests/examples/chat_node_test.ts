// The chat example on Node, from the npm build, in the Node suite (under Deno,
// tests/examples_test.ts runs it). The npm build does not include the examples, so this test
// first compiles examples/chat against npm/ with examples/chat/build_node.ts (run by Deno,
// through TROUPE_DENO_BIN as the cross-runtime tests do; scripts/test.ts sets it), then runs
// `node npm/examples/chat/main.js` to the end: three Node processes form the cluster, the
// scripted clients check every message.
import assert from "node:assert/strict";
import { test } from "../../src/platform/test_harness.ts";
import { spawnTestProcess } from "../../src/platform/test_process.ts";
import {
  denoChild,
  sameRuntime,
  testRuntime,
} from "../../src/platform/test_runtime.ts";
import { ON_CI } from "../http/support.ts";

test({
  name:
    "examples/chat on Node: compiled against the npm build, the whole example runs to the end",
  ignore: testRuntime !== "node",
  fn: async () => {
    const build = denoChild("examples/chat/build_node.ts");
    if (build === undefined) {
      if (ON_CI) {
        throw new Error(
          "TROUPE_DENO_BIN and TROUPE_REPO_ROOT are not set (scripts/test.ts sets them)",
        );
      }
      console.warn(
        "\n*** SKIPPED the chat example on Node: TROUPE_DENO_BIN and TROUPE_REPO_ROOT are not set (run it through `deno task test`) ***\n",
      );
      return;
    }
    const compile = spawnTestProcess(build.command, [
      ...build.args,
      "--no-build",
    ]);
    assert.deepEqual(
      await compile.exited,
      { code: 0, signal: null },
      compile.output(),
    );
    const { command, args } = sameRuntime(
      new URL("../../examples/chat/main.ts", import.meta.url),
    );
    const example = spawnTestProcess(command, args);
    const exit = await example.exited;
    const output = example.output();
    assert.deepEqual(exit, { code: 0, signal: null }, output);
    assert.match(output, /2\. cluster up: n1 .*, n2 .*, n3 /);
    assert.match(output, /ann@n1 got 5 live/);
    assert.match(output, /7\. every check held/);
  },
});
