// Node twin of test_harness.ts: the npm build copies this file over it.
import { test as nodeTest } from "node:test";
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
  nodeTest(definition.name, { skip: definition.ignore ?? false }, async () => {
    await definition.fn();
  });
}
