// What the membership tests share: a member row to start from, and random fault schedules for the
// property tests on TestCluster.
import fc from "fast-check";
import type { MemberRow } from "./membership_table.ts";

/** A member row of `node` with a fixed address and roles, for unit tests of the state. */
export function row(
  node: string,
  status: MemberRow["status"] = "up",
  upNumber = 1,
  incarnation = "i1",
): MemberRow {
  return {
    node,
    incarnation,
    address: `${node}:1`,
    status,
    roles: [],
    upNumber,
  };
}

/** The five nodes of the property tests. */
export const NODES: readonly string[] = ["a", "b", "c", "d", "e"];

/** One step of a random fault schedule. */
export type Step =
  | { readonly kind: "split"; readonly side: readonly string[] }
  | { readonly kind: "cut"; readonly from: string; readonly to: string }
  | { readonly kind: "heal" }
  | { readonly kind: "kill"; readonly node: string }
  | { readonly kind: "wait"; readonly ms: number };

/** Random steps: a two-way split, a one-way cut, a heal, a kill, or waiting. */
export const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.subarray([...NODES], { minLength: 1, maxLength: 4 }).map((side) => ({
    kind: "split" as const,
    side,
  })),
  fc.record({
    kind: fc.constant("cut" as const),
    from: fc.constantFrom(...NODES),
    to: fc.constantFrom(...NODES),
  }),
  fc.constant({ kind: "heal" as const }),
  fc.constantFrom(...NODES).map((node) => ({ kind: "kill" as const, node })),
  fc.integer({ min: 200, max: 9000 }).map((ms) => ({
    kind: "wait" as const,
    ms,
  })),
);
