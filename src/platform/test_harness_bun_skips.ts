// The tests of the shared suite that do not run on Bun, each with the reason; the Node harness
// (test_harness_node.ts) skips them there and prints the reason. Test-only: not published.

const VIRTUAL_TIME_JOIN =
  "on Bun 1.4.5 this fixed-seed virtual-time property run (seed 20261206) fails: a member's " +
  "join times out after the first random steps, while Deno and Node pass the same run; not " +
  "explained yet (the cluster's other tests, and the real-process ones, pass on Bun)";

/** Test name → why it cannot run on Bun. */
export const BUN_SKIPS: ReadonlyMap<string, string> = new Map<string, string>([
  [
    "membership (property): after random partitions, kills and heals, the survivors converge on one view, with one leader, and never two sides running",
    VIRTUAL_TIME_JOIN,
  ],
  [
    "tableDowning(staticQuorum(2)) + syncWithTable (property): after random partitions, kills and heals, never two sides running, the table agrees with who runs, and no row ever moves back",
    VIRTUAL_TIME_JOIN,
  ],
]);
