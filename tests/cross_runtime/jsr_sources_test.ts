// The package's sources (what JSR serves: mod.ts and src/, not the npm build) on Node and Bun,
// talking to the Deno node of the test: src/platform/mod.ts picks the platform when it loads, so
// the same files run on each runtime. Node gets tsc's file-for-file JavaScript of the sources
// (Node 20 cannot run TypeScript; this is the shape of JSR's own npm compatibility output), with
// the platform left as it is; Bun runs the .ts files as they are. Runs in the Deno pass, which
// has the sources; the compiled passes skip it.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { copyFile, mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { test } from "../../src/platform/test_harness.ts";
import {
  makeTempDir,
  removeDir,
  spawnTestProcess,
  type TestProcess,
} from "../../src/platform/test_process.ts";
import { testRuntime } from "../../src/platform/test_runtime.ts";
import { platform } from "../../src/platform/mod.ts";
import { ActorSystem, defineActor, RemoteNode } from "../../mod.ts";
import { CLUSTER, ON_CI, SECRET } from "./support.ts";

const ROOT = decodeURIComponent(new URL("../..", import.meta.url).pathname)
  .replace(/\/$/, "");
const SCRIPT = "tests/cross_runtime/sources_main.ts";
const COMPILED_PASS =
  "the Deno pass runs it: it needs the TypeScript sources, which a compiled pass does not have";

/** Writes tsc's JavaScript of sources_main.ts and everything it imports under `out`. */
async function transpileSources(out: string): Promise<void> {
  const config = {
    compilerOptions: {
      target: "ES2022",
      module: "ESNext",
      moduleResolution: "Bundler",
      rewriteRelativeImportExtensions: true,
      verbatimModuleSyntax: true,
      // Emit only: deno.ts's Deno types are not there, and its code runs only on Deno.
      noCheck: true,
      skipLibCheck: true,
      types: [],
      newLine: "lf",
      rootDir: ROOT,
      outDir: out,
    },
    files: [`${ROOT}/${SCRIPT}`],
  };
  const tsconfig = `${out}/tsconfig.json`;
  await mkdir(out, { recursive: true });
  await writeFile(tsconfig, JSON.stringify(config, null, 2));
  const tscPath = `${ROOT}/node_modules/.bin/tsc`;
  if (!existsSync(tscPath)) {
    // A fresh clone: let Deno lay out node_modules/ from deno.json (as build_npm.ts does).
    const install = spawnTestProcess(
      platform.env("TROUPE_DENO_BIN") || "deno",
      [
        "install",
        "--config",
        `${ROOT}/deno.json`,
      ],
    );
    await install.exited;
    assert.ok(existsSync(tscPath), `no ${tscPath}:\n${install.output()}`);
  }
  const tsc = spawnTestProcess(tscPath, [
    "-p",
    tsconfig,
    "--pretty",
    "false",
  ]);
  const exit = await tsc.exited;
  assert.equal(exit.code, 0, `tsc failed:\n${tsc.output()}`);
  // The generated protobuf code is JavaScript already (with its .d.ts): it ships as it is.
  const generated = "src/remote/protocol/generated";
  await mkdir(`${out}/${generated}`, { recursive: true });
  for (const name of await readdir(`${ROOT}/${generated}`)) {
    if (name.endsWith(".js")) {
      await copyFile(
        `${ROOT}/${generated}/${name}`,
        `${out}/${generated}/${name}`,
      );
    }
  }
  await writeFile(`${out}/package.json`, `{ "type": "module" }\n`);
  await symlink(`${ROOT}/node_modules`, `${out}/node_modules`);
}

/**
 * Starts `command args` as a node from the sources, asks it, lets it ask this Deno node, and
 * ends it cleanly; `runtime` is what its platform must say it is.
 */
async function askBothWays(
  command: string,
  args: readonly string[],
  runtime: string,
): Promise<void> {
  const system = new ActorSystem({ node: "deno", logger: { error() {} } });
  const remote = await RemoteNode.start(system, {
    cluster: CLUSTER,
    secret: SECRET,
    logger: { error() {} },
  });
  let child: TestProcess | undefined;
  try {
    await system.spawn(
      defineActor({
        name: "echo",
        init: () => ({}),
        handlers: { runtime: () => platform.runtime },
      }),
      undefined,
      { id: "echo" },
    );
    child = spawnTestProcess(command, [
      ...args,
      CLUSTER,
      SECRET,
      `${runtime}-from-sources`,
      remote.address,
    ]);
    let gone = false;
    void child.exited.then(() => gone = true, () => gone = true);
    let address: string | undefined;
    for (let i = 0; i < 1200 && address === undefined && !gone; i++) {
      address = /READY (\S+)/.exec(child.output())?.[1];
      if (address === undefined) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(
      address !== undefined,
      `the node did not start:\n${child.output()}`,
    );
    assert.match(child.output(), /^ASKED deno$/m);
    const node = await remote.connect(address);
    assert.equal(node, `${runtime}-from-sources`);
    const echo = remote.ref<{ echo(text: string): string; runtime(): string }>(
      node,
      "echo",
    );
    assert.equal(await echo.ask("runtime"), runtime);
    assert.equal(await echo.ask("echo", "über 🎭"), "über 🎭");
    assert.equal(
      await remote.ref<{ shutdown(): string }>(node, "control").ask("shutdown"),
      "bye",
    );
    assert.equal((await child.exited).code, 0, child.output());
  } finally {
    child?.kill("SIGKILL");
    await child?.exited.catch(() => {});
    await remote.close();
    await system.shutdown();
  }
}

test({
  name:
    "The package's sources on Node (tsc's JavaScript, platform chosen at run time): remote asks both ways with Deno",
  ignore: testRuntime !== "deno" && COMPILED_PASS,
  fn: async () => {
    const out = await makeTempDir("troupe-sources-node-");
    try {
      await transpileSources(out);
      await askBothWays(
        platform.env("TROUPE_NODE_BIN") || "node",
        [`${out}/${SCRIPT.replace(/\.ts$/, ".js")}`],
        "node",
      );
    } finally {
      await removeDir(out);
    }
  },
});

const bun = platform.env("TROUPE_BUN_BIN");
test({
  name:
    "The package's sources on Bun (the .ts files as they are): remote asks both ways with Deno",
  ignore: testRuntime !== "deno"
    ? COMPILED_PASS
    : !bun && !ON_CI && "no Bun: set TROUPE_BUN_BIN (scripts/test.ts does)",
  fn: async () => {
    assert.ok(bun, "TROUPE_BUN_BIN is not set (scripts/test.ts sets it)");
    await askBothWays(bun, [`${ROOT}/${SCRIPT}`], "bun");
  },
});
