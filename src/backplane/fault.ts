import type { DeviceId } from "./device_id.ts";

/**
 * Why a device disconnected abnormally. A clean disconnect has no fault (`undefined`).
 *
 * - `dropped`: the owner disposed of the device (`[Symbol.dispose]()`) without disconnecting it.
 * - `error`: managed work returned `err(error)`, or the owner disconnected with an error.
 * - `thrown`: managed work threw (or rejected with) `error`.
 * - `cascade`: a device this one depended on (`source`) disconnected with `fault`.
 */
export type Fault =
  | { readonly kind: "dropped" }
  | { readonly kind: "error"; readonly error: unknown }
  | { readonly kind: "thrown"; readonly error: unknown }
  | {
    readonly kind: "cascade";
    readonly source: DeviceId;
    readonly fault: Fault;
  };

/** The fault of a device that was dropped (disposed) while still connected. */
export const DROPPED: Fault = Object.freeze({ kind: "dropped" });

/**
 * Builds an `error` fault: the work reported a failure.
 *
 * @param error What went wrong.
 * @returns `{ kind: "error", error }`.
 *
 * @example Usage
 * ```ts
 * import { Device, errorFault } from "@troupe/troupe";
 * const device = new Device();
 * device.disconnect(errorFault(new Error("bad config")));
 * ```
 */
export function errorFault(error: unknown): Fault {
  return { kind: "error", error };
}

/**
 * Builds a `thrown` fault: the work threw an exception.
 *
 * @param error What was thrown.
 * @returns `{ kind: "thrown", error }`.
 *
 * @example Usage
 * ```ts
 * import { thrownFault } from "@troupe/troupe";
 * console.log(thrownFault(new TypeError("x")).kind); // "thrown"
 * ```
 */
export function thrownFault(error: unknown): Fault {
  return { kind: "thrown", error };
}

/**
 * Builds a `cascade` fault: `source` disconnected with `fault`, and this device goes down with it.
 *
 * @param source The device whose failure this follows.
 * @param fault The fault of `source`.
 * @returns `{ kind: "cascade", source, fault }`.
 *
 * @example Usage
 * ```ts
 * import { cascadeFault, DROPPED } from "@troupe/troupe";
 * console.log(cascadeFault("5f2a9c1e04b7.1", DROPPED).kind); // "cascade"
 * ```
 */
export function cascadeFault(source: DeviceId, fault: Fault): Fault {
  return { kind: "cascade", source, fault };
}

/**
 * Follows a chain of cascades back to the fault that started it.
 *
 * @param fault A fault.
 * @returns The first fault in the chain that is not a cascade.
 *
 * @example Usage
 * ```ts
 * import { cascadeFault, errorFault, rootFault } from "@troupe/troupe";
 * const root = errorFault("boom");
 * console.log(rootFault(cascadeFault("5f2a9c1e04b7.1", root)) === root); // true
 * ```
 */
export function rootFault(fault: Fault): Fault {
  let f = fault;
  while (f.kind === "cascade") f = f.fault;
  return f;
}

// describeFault shows this many cascade levels, then looks at most CASCADES_SEARCHED further
// for the fault that started the chain: the description stays short and costs a bounded walk,
// however deep the cascade (a chain of a million devices builds one a million levels deep).
const CASCADES_SHOWN = 3;
const CASCADES_SEARCHED = 256;

/**
 * Describes a fault in one line, for logs. A deep cascade is abridged: the first three
 * levels, how many more there are, and the fault that started it (or, past 259 levels, only
 * that there are more; {@linkcode rootFault} finds the start of any chain).
 *
 * @param fault A fault, or `undefined` for a clean disconnect.
 * @returns For example `"thrown: TypeError: x"` or `"clean"`.
 *
 * @example Usage
 * ```ts
 * import { describeFault, DROPPED } from "@troupe/troupe";
 * console.log(describeFault(DROPPED)); // "dropped"
 * ```
 */
export function describeFault(fault: Fault | undefined): string {
  if (fault === undefined) return "clean";
  let text = "";
  let open = 0;
  let f = fault;
  while (f.kind === "cascade" && open < CASCADES_SHOWN) {
    text += `cascade from ${f.source} (`;
    open++;
    f = f.fault;
  }
  if (f.kind === "cascade") {
    let skipped = 0;
    while (f.kind === "cascade" && skipped < CASCADES_SEARCHED) {
      f = f.fault;
      skipped++;
    }
    text += f.kind === "cascade"
      ? `more than ${skipped} further cascades`
      : `${skipped} further ${skipped === 1 ? "cascade" : "cascades"} from ${
        describeLeaf(f)
      }`;
  } else {
    text += describeLeaf(f);
  }
  return text + ")".repeat(open);
}

function describeLeaf(fault: Fault): string {
  switch (fault.kind) {
    case "dropped":
      return "dropped";
    case "error":
    case "thrown":
      return `${fault.kind}: ${describeError(fault.error)}`;
    case "cascade":
      return `cascade from ${fault.source}`;
  }
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  try {
    return typeof error === "string"
      ? error
      : JSON.stringify(error) ?? String(error);
  } catch {
    return String(error);
  }
}
