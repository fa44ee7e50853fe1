// The layering check of `deno task ok` (scripts/check_layers.ts), run as ok runs it, on small
// trees written for each case: it must fail on an upward or sideways import and on a reach into
// another folder's private `_file`, and pass on a tree that keeps the layers. Under Deno only
// (the npm build does not include scripts/).
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "../src/platform/test_harness.ts";
import { spawnTestProcess } from "../src/platform/test_process.ts";
import { sameRuntime, testRuntime } from "../src/platform/test_runtime.ts";

interface CheckResult {
  readonly code: number | null;
  readonly output: string;
}

/** Writes `files` (path relative to the root → source) into a fresh root and checks it. */
async function checkTree(files: Record<string, string>): Promise<CheckResult> {
  const root = await mkdtemp(join(tmpdir(), "troupe-layers-"));
  try {
    for (const [path, source] of Object.entries(files)) {
      await mkdir(dirname(join(root, path)), { recursive: true });
      await writeFile(join(root, path), source);
    }
    const { command, args } = sameRuntime(
      new URL("../scripts/check_layers.ts", import.meta.url),
    );
    const child = spawnTestProcess(command, [...args, root]);
    const exit = await child.exited;
    return { code: exit.code, output: child.output() };
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const CLEAN: Record<string, string> = {
  "src/platform/mod.ts": "export const platform = 1;\n",
  "src/timer/mod.ts":
    'import { platform } from "../platform/mod.ts";\nexport const clock = platform;\n',
  "src/remote/protocol/errors.ts":
    "export class ProtocolError extends Error {}\n",
  "src/remote/protocol/_wire.ts":
    'import { ProtocolError } from "./errors.ts";\nexport const wire = ProtocolError;\n',
  "src/remote/protocol/mod.ts": 'export { wire } from "./_wire.ts";\n',
  "src/remote/transport/mod.ts":
    'import { wire } from "../protocol/mod.ts";\nexport const frames = wire;\n',
  "src/remote/node.ts": [
    'import { clock } from "../timer/mod.ts";',
    'import { frames } from "./transport/mod.ts";',
    "// An example in a comment is not an import:",
    ' * import { node } from "../cluster/mod.ts";',
    "export const node = [clock, frames];",
    "",
  ].join("\n"),
  // A test may use any layer, and another folder's shared test suite.
  "src/remote/protocol/_suite_test.ts": "export const suite = 1;\n",
  "src/remote/node_test.ts": [
    'import { suite } from "./protocol/_suite_test.ts";',
    'import { probe } from "../testing/mod.ts";',
    "console.log(suite, probe);",
    "",
  ].join("\n"),
  "src/testing/mod.ts": "export const probe = 1;\n",
};

test({
  name:
    "scripts/check_layers.ts passes a tree whose imports go down the layers",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const result = await checkTree(CLEAN);
    assert.equal(result.code, 0, result.output);
    assert.match(result.output, /every import goes down the layers/);
  },
});

test({
  name:
    "scripts/check_layers.ts fails on an import up the layers (protocol importing the node's errors)",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const result = await checkTree({
      ...CLEAN,
      "src/remote/errors.ts": "export class NodeError extends Error {}\n",
      "src/remote/protocol/codec.ts":
        'import { NodeError } from "../errors.ts";\nexport const codec = NodeError;\n',
    });
    assert.equal(result.code, 1, result.output);
    assert.match(
      result.output,
      /src\/remote\/protocol\/codec\.ts:1: src\/remote\/protocol imports "src\/remote\/errors\.ts" from src\/remote, a higher layer/,
    );
  },
});

test({
  name:
    "scripts/check_layers.ts fails on an import between two folders of one layer",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const result = await checkTree({
      ...CLEAN,
      "src/metrics/mod.ts":
        'import { clock } from "../timer/mod.ts";\nexport const metrics = clock;\n',
    });
    assert.equal(result.code, 1, result.output);
    assert.match(
      result.output,
      /src\/metrics\/mod\.ts:1: .*from src\/timer, a folder of the same layer/,
    );
  },
});

test({
  name:
    "scripts/check_layers.ts fails on a reach into another folder's private _file",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const result = await checkTree({
      ...CLEAN,
      "src/persistence/_append_batcher.ts": "export class AppendBatcher {}\n",
      "src/persistence/redis/redis_persistence.ts": [
        "import {",
        "  AppendBatcher,",
        '} from "../_append_batcher.ts";',
        "export const batcher = AppendBatcher;",
        "",
      ].join("\n"),
      // Even a test may not reach into another folder's private implementation.
      "src/remote/transport/frames_test.ts":
        'import { wire } from "../protocol/_wire.ts";\nconsole.log(wire);\n',
    });
    assert.equal(result.code, 1, result.output);
    assert.match(
      result.output,
      /src\/persistence\/redis\/redis_persistence\.ts:3: imports "src\/persistence\/_append_batcher\.ts", a private file of another folder/,
    );
    assert.match(
      result.output,
      /src\/remote\/transport\/frames_test\.ts:1: imports "src\/remote\/protocol\/_wire\.ts", a private file/,
    );
    assert.match(result.output, /2 import\(s\) break the layering/);
  },
});
