// The npm package as a Node user gets it: `npm pack` of the build in npm/, installed by name
// into a fresh project outside the repository, then type-checked by a strict TypeScript 7
// consumer and run by Node, with the README's JavaScript samples. Runs in the Node pass of `deno task test` only (after the build;
// this file is then npm/tests/npm_consumer_test.js, beside the package it checks).
//
// Installing needs protobufjs (the one dependency); npm takes it from its cache when it can
// (`--prefer-offline`). `redis` is not installed: it is an optional peer, and the test checks
// that a consumer without it gets an error naming it. For the "with redis" case the
// repository's own copy is linked in, so nothing more is downloaded.
import assert from "node:assert/strict";
import { existsSync, rmSync } from "node:fs";
import { mkdir, readFile, symlink, unlink, writeFile } from "node:fs/promises";
import process from "node:process";
import { test } from "../src/platform/test_harness.ts";
import {
  makeTempDir,
  spawnTestProcess,
  type TestProcessExit,
} from "../src/platform/test_process.ts";
import { testRuntime } from "../src/platform/test_runtime.ts";

/** npm/ when this runs compiled (npm/tests/npm_consumer_test.js). */
const PACKAGE_DIR = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");
/** The repository, for its TypeScript 7 and its installed redis and @types/node. */
const REPO = decodeURIComponent(new URL("../..", import.meta.url).pathname)
  .replace(/\/$/, "");
const TSC = `${REPO}/node_modules/.bin/tsc`;

const ignore = testRuntime !== "node";

interface Run {
  exit: TestProcessExit;
  output: string;
}

async function run(command: string, args: string[]): Promise<Run> {
  const child = spawnTestProcess(command, args);
  const exit = await child.exited;
  return { exit, output: child.output() };
}

async function runOk(command: string, args: string[]): Promise<string> {
  const { exit, output } = await run(command, args);
  assert.equal(
    exit.code,
    0,
    `${command} ${args.join(" ")} failed (${JSON.stringify(exit)}):\n${output}`,
  );
  return output;
}

interface PackedFile {
  path: string;
}

interface Consumer {
  dir: string;
  files: string[];
}

let consumer: Promise<Consumer> | undefined;

/** Packs npm/ and installs the tarball into a new consumer project, once for the file. */
function installed(): Promise<Consumer> {
  consumer ??= install();
  return consumer;
}

async function install(): Promise<Consumer> {
  const manifest = JSON.parse(
    await readFile(`${PACKAGE_DIR}/package.json`, "utf8"),
  ) as { name?: string };
  assert.equal(
    manifest.name,
    "@troupe/troupe",
    `${PACKAGE_DIR} is not the npm build`,
  );
  const dir = await makeTempDir("troupe-consumer-");
  process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
  const packed = await runOk("npm", [
    "pack",
    PACKAGE_DIR,
    "--pack-destination",
    dir,
    "--json",
    "--loglevel=error",
  ]);
  const json = packed.slice(packed.indexOf("["), packed.lastIndexOf("]") + 1);
  const [tarball] = JSON.parse(json) as Array<
    { filename: string; files: PackedFile[] }
  >;
  await writeFile(
    `${dir}/package.json`,
    JSON.stringify({ name: "consumer", private: true, type: "module" }),
  );
  await runOk("npm", [
    "install",
    "--prefix",
    dir,
    "--prefer-offline",
    "--no-audit",
    "--no-fund",
    "--ignore-scripts",
    "--loglevel=error",
    `${dir}/${tarball.filename}`,
  ]);
  for (const [name, text] of Object.entries(CONSUMER_FILES)) {
    await mkdir(`${dir}/${name.slice(0, name.lastIndexOf("/") + 1)}`, {
      recursive: true,
    });
    await writeFile(`${dir}/${name}`, text);
  }
  return { dir, files: tarball.files.map((file) => file.path) };
}

const STRICT = {
  module: "nodenext",
  moduleResolution: "nodenext",
  target: "ES2022",
  strict: true,
  skipLibCheck: false,
  types: [] as string[],
};

/** The consumer project: sources and one tsconfig per configuration it is checked in. */
const CONSUMER_FILES: Record<string, string> = {
  // The configuration of the issue: ES2022 only, no DOM, no @types/node. It also emits, so the
  // result can run (TypeScript compiles `await using` down for Node 20).
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      ...STRICT,
      lib: ["ES2022"],
      rootDir: "src",
      outDir: "dist",
    },
    files: ["src/main.ts"],
  }),
  // tsc's default library for ES2022 (with the DOM).
  "tsconfig.dom.json": JSON.stringify({
    compilerOptions: { ...STRICT, noEmit: true },
    files: ["src/main.ts"],
  }),
  // A typical Node project: @types/node and the disposal lib both declare what the package's
  // minimal globals declare; they must merge without conflicts.
  "tsconfig.node.json": JSON.stringify({
    compilerOptions: {
      ...STRICT,
      lib: ["ES2022", "ESNext.Disposable"],
      types: ["node"],
      noEmit: true,
    },
    files: ["src/main.ts"],
  }),
  "tsconfig.wrong.json": JSON.stringify({
    compilerOptions: { ...STRICT, lib: ["ES2022"], noEmit: true },
    files: ["src/wrong_names.ts"],
  }),
  "src/main.ts": `
import { type ActorRef, ActorSystem, defineActor, isAskTimeoutError } from "@troupe/troupe";
import { ManualClock, TestProbe } from "@troupe/troupe/testing";
import type { RedisPersistenceOptions } from "@troupe/troupe/redis";

const counter = defineActor({
  name: "counter",
  init: (start: number) => ({ count: start }),
  handlers: {
    add: (state, by: number) => {
      state.count += by;
    },
    get: (state) => state.count,
  },
});

interface Counter {
  add(by: number): void;
  get(): number;
}

export async function main(): Promise<number> {
  await using system = new ActorSystem();
  const ref = await system.spawn(counter, 40);
  ref.tell("add", 2);
  const typed: ActorRef<Counter> = ref;
  const n: number = await typed.ask("get", undefined, { timeoutMs: 1000 });
  return n;
}

// Type errors only: never called.
export async function wrong(ref: ActorRef<Counter>): Promise<string> {
  // @ts-expect-error a message the actor does not handle
  ref.tell("nope");
  // @ts-expect-error a wrong payload type
  ref.tell("add", "2");
  // @ts-expect-error a missing payload
  ref.tell("add");
  // @ts-expect-error ask results are typed
  const text: string = await ref.ask("get");
  // @ts-expect-error asks take the payload, then options
  await ref.ask("get", undefined, { timeout: 5 });
  const options: RedisPersistenceOptions = { url: "redis://127.0.0.1:6379" };
  void [options, ManualClock, TestProbe, isAskTimeoutError];
  return text;
}
`,
  "src/wrong_names.ts": `
import { type ActorRef, ActorSystem, defineActor } from "@troupe/troupe";
const account = defineActor({
  name: "account",
  init: () => ({ balance: 0 }),
  handlers: {
    deposit: (state, amount: number) => (state.balance += amount),
    balance: (state) => state.balance,
  },
});
interface Counter {
  add(by: number): void;
  get(): number;
}
export async function wrongNames(system: ActorSystem, counter: ActorRef<Counter>): Promise<void> {
  const ref = await system.spawn(account, undefined);
  ref.tell("withdraw", 5);
  await ref.ask("balence");
  counter.tell("ad", 1);
}
`,
  "run.mjs": `
import { main } from "./dist/main.js";
const result = { main: await main() };
try {
  await import("@troupe/troupe/redis");
  result.redis = "loaded";
} catch (error) {
  result.redis = { code: error.code, message: error.message };
}
// The cluster entry point loads without redis; its Redis providers name the package.
result.cluster = typeof (await import("@troupe/troupe/cluster")).StaticSeeds;
try {
  await import("@troupe/troupe/cluster/redis");
  result.clusterRedis = "loaded";
} catch (error) {
  result.clusterRedis = { code: error.code, message: error.message };
}
console.log("RESULT " + JSON.stringify(result));
`,
  "require.cjs": `
const { ActorSystem, defineActor } = require("@troupe/troupe");
const echo = defineActor({ name: "echo", init: () => ({}), handlers: { echo: (_s, x) => x } });
const system = new ActorSystem();
system.spawn(echo, undefined)
  .then((ref) => ref.ask("echo", "hi"))
  .then((answer) => console.log("RESULT " + JSON.stringify({ answer })))
  .finally(() => system.shutdown());
`,
  "redis.mjs": `
const { RedisPersistence } = await import("@troupe/troupe/redis");
const { isJournalUnavailableError } = await import("@troupe/troupe");
try {
  await RedisPersistence.connect({ url: "redis://127.0.0.1:1", connectTimeoutMs: 2000 });
  console.log("RESULT " + JSON.stringify({ connected: true }));
} catch (error) {
  console.log("RESULT " + JSON.stringify({ unavailable: isJournalUnavailableError(error) }));
}
`,
};

/** Whether `version` is in `range`, for the `^x.y.z` and `>=x.y.z` alternatives engines uses. */
function satisfies(version: string, range: string): boolean {
  const parse = (text: string): number[] => text.split(".").map(Number);
  const compare = (a: number[], b: number[]): number =>
    a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  const current = parse(version);
  return range.split("||").some((part) => {
    const match = /^\s*(\^|>=)(\d+\.\d+\.\d+)\s*$/.exec(part);
    assert.ok(match !== null, `cannot read engines range "${part}"`);
    const floor = parse(match[2]);
    if (compare(current, floor) < 0) return false;
    return match[1] === ">=" || current[0] === floor[0];
  });
}

function resultOf(output: string): unknown {
  const line = output.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line !== undefined, `no RESULT line in:\n${output}`);
  return JSON.parse(line.slice("RESULT ".length));
}

test({
  name:
    "npm package: the tarball ships no test files and package.json is complete",
  ignore,
  fn: async () => {
    const { dir, files } = await installed();
    const testFiles = files.filter((file) =>
      /(^|\/)tests\//.test(file) || /_test\.(js|d\.ts)$/.test(file) ||
      file.startsWith("src/platform/test_") || file.startsWith(".staging/")
    );
    assert.deepEqual(testFiles, [], "test-only files in the tarball");
    for (const file of ["mod.js", "mod.d.ts", "package.json", "README.md"]) {
      assert.ok(files.includes(file), `${file} is missing from the tarball`);
    }
    const manifest = JSON.parse(
      await readFile(
        `${dir}/node_modules/@troupe/troupe/package.json`,
        "utf8",
      ),
    );
    assert.equal(typeof manifest.description, "string");
    assert.equal(typeof manifest.repository?.url, "string");
    assert.equal(manifest.types, "./mod.d.ts");
    assert.equal(manifest.dependencies.redis, undefined);
    assert.match(manifest.peerDependencies.redis, /^\^5\./);
    assert.deepEqual(manifest.peerDependenciesMeta.redis, { optional: true });
    // npm left the optional peer out.
    assert.equal(existsSync(`${dir}/node_modules/redis`), false);
    // `engines` starts where require() loads ES modules, and this machine's Node is in it.
    assert.match(manifest.engines.node, /\^20\.19\.0/);
    assert.ok(
      satisfies(process.versions.node, manifest.engines.node),
      `Node ${process.versions.node} is outside engines ${manifest.engines.node}`,
    );
  },
});

test({
  name:
    "npm package: the declarations compile in strict consumers (no DOM and no @types/node; DOM; @types/node)",
  ignore,
  fn: async () => {
    const { dir } = await installed();
    // The configuration of the issue first: nodenext, ES2022, strict, no DOM, no @types/node.
    await runOk(TSC, ["-p", `${dir}/tsconfig.json`, "--pretty", "false"]);
    await runOk(TSC, ["-p", `${dir}/tsconfig.dom.json`, "--pretty", "false"]);
    const typesNode = `${REPO}/node_modules/@types/node`;
    assert.ok(existsSync(typesNode), `${typesNode} is missing (deno install)`);
    await mkdir(`${dir}/node_modules/@types`, { recursive: true });
    await symlink(typesNode, `${dir}/node_modules/@types/node`, "dir");
    await runOk(TSC, ["-p", `${dir}/tsconfig.node.json`, "--pretty", "false"]);
  },
});

test({
  name:
    "npm package: a wrong message name is a type error on the name that lists the valid names",
  ignore,
  fn: async () => {
    const { dir } = await installed();
    const { exit, output } = await run(TSC, [
      "-p",
      `${dir}/tsconfig.wrong.json`,
      "--pretty",
      "false",
    ]);
    assert.notEqual(exit.code, 0, output);
    for (
      const expected of [
        `Argument of type '"withdraw"' is not assignable to parameter of type '"balance" | "deposit"'`,
        `Argument of type '"balence"' is not assignable to parameter of type '"balance" | "deposit"'`,
        `Argument of type '"ad"' is not assignable to parameter of type '"add" | "get"'`,
      ]
    ) {
      assert.ok(
        output.includes(expected),
        `expected ${expected} in:\n${output}`,
      );
    }
    assert.doesNotMatch(output, /Expected \d+(-\d+)? arguments/, output);
  },
});

test({
  name:
    "npm package: the compiled consumer runs on Node, and without redis, ./redis names the package to install",
  ignore,
  fn: async () => {
    const { dir } = await installed();
    // The emitted JavaScript, from the first tsconfig (the test above may not have run first).
    await runOk(TSC, ["-p", `${dir}/tsconfig.json`, "--pretty", "false"]);
    const result = resultOf(
      await runOk(process.execPath, [`${dir}/run.mjs`]),
    ) as {
      main: number;
      redis: { code: string; message: string };
      cluster: string;
      clusterRedis: { code: string; message: string };
    };
    assert.equal(result.main, 42);
    assert.equal(result.redis.code, "ERR_MODULE_NOT_FOUND");
    assert.match(result.redis.message, /"redis"/);
    assert.match(result.redis.message, /npm install redis@\^5/);
    assert.equal(result.cluster, "function");
    assert.equal(result.clusterRedis.code, "ERR_MODULE_NOT_FOUND");
    assert.match(
      result.clusterRedis.message,
      /@troupe\/troupe\/cluster\/redis/,
    );
    assert.match(result.clusterRedis.message, /npm install redis@\^5/);
    const required = resultOf(
      await runOk(process.execPath, [`${dir}/require.cjs`]),
    );
    assert.deepEqual(required, { answer: "hi" });
  },
});

test({
  name:
    "npm package: the README's JavaScript samples run on Node against the package",
  ignore,
  fn: async () => {
    const { dir } = await installed();
    // The README shipped in the package is the repository's.
    const readme = await readFile(
      `${dir}/node_modules/@troupe/troupe/README.md`,
      "utf8",
    );
    const samples = [...readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((
      match,
    ) => match[1]);
    assert.ok(samples.length > 0, "no ```js block in the README");
    for (const [index, sample] of samples.entries()) {
      const file = `${dir}/readme_${index}.mjs`;
      await writeFile(file, sample);
      await runOk(process.execPath, [file]);
    }
  },
});

test({
  name: "npm package: with redis installed, ./redis loads and connects",
  ignore,
  fn: async () => {
    const { dir } = await installed();
    // The repository's copy of the optional peer (installed by Deno), linked in.
    const redis = `${REPO}/node_modules/redis`;
    assert.ok(existsSync(redis), `${redis} is missing (deno install)`);
    await symlink(redis, `${dir}/node_modules/redis`, "dir");
    try {
      const result = resultOf(
        await runOk(process.execPath, [`${dir}/redis.mjs`]),
      );
      // Nothing listens on port 1: the provider loaded and tried, and failed as documented.
      assert.deepEqual(result, { unavailable: true });
    } finally {
      await unlink(`${dir}/node_modules/redis`);
    }
  },
});
