// Node twin of test_runtime.ts: the npm build copies this file over it.
import process from "node:process";
import { fileURLToPath } from "node:url";
import type { ChildCommand } from "./test_runtime_types.ts";
export type { ChildCommand } from "./test_runtime_types.ts";

/** The runtime running the tests. */
export const testRuntime: "deno" | "node" = "node";

/** A command running `script` (a module of the test suite) in this same runtime. */
export function sameRuntime(script: URL): ChildCommand {
  // The compiled suite is JavaScript: a module named .ts in the sources is .js here.
  return {
    command: process.execPath,
    args: [fileURLToPath(script).replace(/\.ts$/, ".js")],
  };
}

/**
 * A command running `repoPath` (relative to the repository) with Deno, from the sources, so a
 * Node process and a Deno process can talk. Needs TROUPE_DENO_BIN and TROUPE_REPO_ROOT (set by
 * scripts/test.ts); `undefined` without them.
 */
export function denoChild(repoPath: string): ChildCommand | undefined {
  const deno = process.env.TROUPE_DENO_BIN;
  const root = process.env.TROUPE_REPO_ROOT;
  if (!deno || !root) return undefined;
  return { command: deno, args: ["run", "-A", `${root}/${repoPath}`] };
}

/** The arguments this process was started with (after the script). */
export function scriptArgs(): string[] {
  return process.argv.slice(2);
}
