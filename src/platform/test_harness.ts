// Test registration for the Deno run. The npm build replaces this file with
// test_harness_node.ts, so one suite runs under `deno test` (with sanitizers) and `node --test`.
import type { TestDefinition } from "./test_harness_types.ts";
export type { TestDefinition } from "./test_harness_types.ts";

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
  if (typeof definition.ignore === "string") {
    console.log(`skip: ${definition.name}: ${definition.ignore}`);
  }
  Deno.test({
    name: definition.name,
    fn: definition.fn,
    ignore: Boolean(definition.ignore),
    sanitizeOps: true,
    sanitizeResources: true,
    sanitizeExit: true,
  });
}
