// The tests of the shared suite that do not run on Bun, each with the reason; the Node harness
// (test_harness_node.ts) skips them there and prints the reason. Test-only: not published.

const VIRTUAL_TIME_JOIN =
  "flaky on Bun 1.4.5 under load: in a run on a loaded machine (load average 10) a member's " +
  "join timed out in virtual time (ClusterJoinError) in this fixed-seed property run, though " +
  "it passed 3 runs of 3 at load 3-4, and Deno and Node pass it. Suspected: TestCluster's " +
  "quiet phase (poolRound in src/testing/test_cluster.ts) counts on a crypto.subtle digest " +
  "finishing after the handshakes' HMACs queued before it, which Bun's thread pool does not " +
  "promise, so virtual time can outrun a handshake";

const VIRTUAL_TIME_DELIVERY =
  "flaky on Bun 1.4.5: in CI (load about 6) a tell between two never-partitioned nodes was " +
  "not delivered by the end of this fixed-seed property run on the in-memory network, while " +
  "Deno and Node pass it and Bun passed it in an earlier full run. The same suspected cause as " +
  "the membership property runs: TestCluster's quiet phase relies on the order of Deno's and " +
  "Node's crypto thread pool, so on Bun virtual time can outrun a handshake";

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
  [
    "RemoteNode associations under random schedules: one entry per node, tells in order without duplicates",
    VIRTUAL_TIME_DELIVERY,
  ],
]);
