// Which runtime runs the tests, and how to start another process running a script of the test
// suite. The npm build replaces this file with test_runtime_node.ts. Test-only: not published.
import type { ChildCommand } from "./test_runtime_types.ts";
export type { ChildCommand } from "./test_runtime_types.ts";

/** The runtime running the tests. */
export const testRuntime: "deno" | "node" = "deno";

/** A command running `script` (a module of the test suite) in this same runtime. */
export function sameRuntime(script: URL): ChildCommand {
  return {
    command: Deno.execPath(),
    args: ["run", "-A", decodeURIComponent(script.pathname)],
  };
}

/**
 * A command running `repoPath` (relative to the repository, a `.ts` file) with Deno, from a
 * test that runs in the other runtime; `undefined` here, where the tests already run in Deno.
 */
export function denoChild(_repoPath: string): ChildCommand | undefined {
  return undefined;
}

/** The arguments this process was started with (after the script). */
export function scriptArgs(): string[] {
  return [...Deno.args];
}
