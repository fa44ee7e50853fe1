// Which runtime runs the tests, and how to start another process running a script of the test
// suite. The npm build replaces this file with test_runtime_node.ts. Test-only: not published.
import type { ChildCommand, TestRuntime } from "./test_runtime_types.ts";
export type { ChildCommand, TestRuntime } from "./test_runtime_types.ts";

/** The repository (this file is src/platform/test_runtime.ts). */
const ROOT = decodeURIComponent(new URL("../..", import.meta.url).pathname)
  .replace(/\/$/, "");

/** The runtime running the tests. */
export const testRuntime: TestRuntime = "deno";

/** A command running `script` (a module of the test suite) in this same runtime. */
export function sameRuntime(script: URL): ChildCommand {
  return {
    command: Deno.execPath(),
    args: ["run", "-A", decodeURIComponent(script.pathname)],
  };
}

/**
 * A command running `repoPath` (relative to the repository, a `.ts` file) in `runtime`, or
 * `undefined` when this run cannot start that runtime. The Deno run starts only Deno: Node and
 * Bun would need the npm build (the test-only platform files here are Deno's), which the Deno
 * run does not have.
 */
export function runtimeChild(
  runtime: TestRuntime,
  repoPath: string,
): ChildCommand | undefined {
  return runtime === "deno"
    ? { command: Deno.execPath(), args: ["run", "-A", `${ROOT}/${repoPath}`] }
    : undefined;
}

/**
 * A command running `repoPath` (relative to the repository, a `.ts` file) with Deno, from a
 * test that runs in another runtime; `undefined` here, where the tests already run in Deno.
 */
export function denoChild(_repoPath: string): ChildCommand | undefined {
  return undefined;
}

/** The arguments this process was started with (after the script). */
export function scriptArgs(): string[] {
  return [...Deno.args];
}
