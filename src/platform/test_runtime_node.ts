// Node twin of test_runtime.ts: the npm build copies this file over it. The compiled suite runs
// under Node and under Bun, so the runtime is told apart at run time.
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { ChildCommand, TestRuntime } from "./test_runtime_types.ts";
export type { ChildCommand, TestRuntime } from "./test_runtime_types.ts";

/** The npm build (this file is npm/src/platform/test_runtime.js). */
const BUILD = fileURLToPath(new URL("../..", import.meta.url)).replace(
  /\/$/,
  "",
);

/** The runtime running the tests. */
export const testRuntime: TestRuntime = "Bun" in globalThis ? "bun" : "node";

/** A command running `script` (a module of the test suite) in this same runtime. */
export function sameRuntime(script: URL): ChildCommand {
  // The compiled suite is JavaScript: a module named .ts in the sources is .js here.
  return {
    command: process.execPath,
    args: [fileURLToPath(script).replace(/\.ts$/, ".js")],
  };
}

/**
 * A command running `repoPath` (relative to the repository, a `.ts` file) in `runtime`, or
 * `undefined` when this run cannot start that runtime. Node and Bun run the compiled module of
 * the npm build; Deno runs the sources. A runtime other than this one is found through
 * TROUPE_DENO_BIN (with TROUPE_REPO_ROOT), TROUPE_NODE_BIN or TROUPE_BUN_BIN, which
 * scripts/test.ts sets.
 */
export function runtimeChild(
  runtime: TestRuntime,
  repoPath: string,
): ChildCommand | undefined {
  const compiled = `${BUILD}/${repoPath.replace(/\.ts$/, ".js")}`;
  if (runtime === testRuntime) {
    return { command: process.execPath, args: [compiled] };
  }
  if (runtime === "deno") {
    const deno = process.env.TROUPE_DENO_BIN;
    const root = process.env.TROUPE_REPO_ROOT;
    if (!deno || !root) return undefined;
    return { command: deno, args: ["run", "-A", `${root}/${repoPath}`] };
  }
  const binary = runtime === "node"
    ? process.env.TROUPE_NODE_BIN
    : process.env.TROUPE_BUN_BIN;
  return binary ? { command: binary, args: [compiled] } : undefined;
}

/**
 * A command running `repoPath` (relative to the repository) with Deno, from the sources, so a
 * Node process and a Deno process can talk. Needs TROUPE_DENO_BIN and TROUPE_REPO_ROOT (set by
 * scripts/test.ts); `undefined` without them.
 */
export function denoChild(repoPath: string): ChildCommand | undefined {
  return runtimeChild("deno", repoPath);
}

/** The arguments this process was started with (after the script). */
export function scriptArgs(): string[] {
  return process.argv.slice(2);
}
