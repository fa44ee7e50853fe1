// Node twin of test_harness.ts: the npm build copies this file over it. The compiled suite runs
// under `node --test` and, on Bun, under `bun test` (whose node:test is Bun's own runner); a
// test that cannot run on Bun is skipped there with its reason (test_harness_bun_skips.ts).
import { test as nodeTest } from "node:test";
import { BUN_SKIPS } from "./test_harness_bun_skips.ts";
import type { TestDefinition } from "./test_harness_types.ts";
export type { TestDefinition } from "./test_harness_types.ts";

const ON_BUN = "Bun" in globalThis;

/** Registers a test with the runtime's own test runner. */
export function test(name: string, fn: () => void | Promise<void>): void;
/** Registers a test with options. */
export function test(definition: TestDefinition): void;
export function test(
  nameOrDefinition: string | TestDefinition,
  fn?: () => void | Promise<void>,
): void {
  const definition: TestDefinition = typeof nameOrDefinition === "string"
    ? { name: nameOrDefinition, fn: fn! }
    : nameOrDefinition;
  // On Bun a listed reason wins over a bare `ignore: true`, so the output says why.
  const skip = (ON_BUN && BUN_SKIPS.get(definition.name)) ||
    definition.ignore || false;
  if (skip !== false) {
    const why = typeof skip === "string"
      ? skip
      : `not for ${ON_BUN ? "Bun" : "Node"} (the test's own condition)`;
    console.log(`skip: ${definition.name}: ${why}`);
  }
  const body = async (): Promise<void> => {
    await definition.fn();
  };
  // Bun's node:test ignores the `skip` option (the body would run): `test.skip` it is there.
  if (ON_BUN && skip) nodeTest.skip(definition.name, body);
  else nodeTest(definition.name, { skip }, body);
}
