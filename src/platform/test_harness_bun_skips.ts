// The tests of the shared suite that do not run on Bun, each with the reason; the Node harness
// (test_harness_node.ts) skips them there and prints the reason. Test-only: not published.
//
// Empty now: the virtual-time tests that flaked on Bun under load (two membership property runs,
// the associations property run, and in one loaded CI run most virtual-time cluster tests) had
// one cause, TestCluster moving virtual time on while handshake cryptography was still on the
// thread pool; it now waits for it (handshakeCryptoInFlight in src/remote/handshake.ts).

/** Test name → why it cannot run on Bun. */
export const BUN_SKIPS: ReadonlyMap<string, string> = new Map<string, string>();
