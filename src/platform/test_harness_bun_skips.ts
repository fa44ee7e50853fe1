// The tests of the shared suite that do not run on Bun, each with the reason; the Node harness
// (test_harness_node.ts) skips them there and prints the reason. Test-only: not published.

/** Test name → why it cannot run on Bun. */
export const BUN_SKIPS: ReadonlyMap<string, string> = new Map<string, string>(
  [],
);
