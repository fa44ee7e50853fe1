import { type Core, type DeviceMessage, disconnect } from "./_core.ts";
import type { Device } from "./device.ts";
import type { DeviceId } from "./device_id.ts";
import { DeviceDisconnectedError } from "./errors.ts";
import { cascadeFault, errorFault, type Fault, thrownFault } from "./fault.ts";
import { err, isResult, type Result } from "./result.ts";

/**
 * Why managed work ended without a value (see {@linkcode Device.manage}).
 *
 * - `shutdown`: the device was asked to shut down by `requester` and disconnected cleanly.
 * - `error`: the work resolved `err(error)`.
 * - `thrown`: the work threw or rejected with `error`.
 * - `cascade`: the linked device `source` disconnected with `fault`.
 */
export type Crash<E> =
  | { readonly kind: "shutdown"; readonly requester: DeviceId }
  | { readonly kind: "error"; readonly error: E }
  | { readonly kind: "thrown"; readonly error: unknown }
  | {
    readonly kind: "cascade";
    readonly source: DeviceId;
    readonly fault: Fault;
  };

/** Implements Device.partManage (full = false) and Device.manage (full = true). */
export function runManaged<T, E>(
  device: Device,
  core: Core,
  work: (device: Device) => Promise<Result<T, E>>,
  full: boolean,
): Promise<Result<T, Crash<E>>> {
  if (typeof work !== "function") {
    return Promise.reject(
      new TypeError("Cannot manage device: work must be a function"),
    );
  }
  if (!core.connected) {
    return Promise.reject(
      new DeviceDisconnectedError(core.id, core.fault, "manage device"),
    );
  }
  if (core.managed || core.receiver !== null || core.waiter !== null) {
    return Promise.reject(
      new TypeError(
        `Cannot manage device "${core.id}": its messages are already taken by ${
          core.managed
            ? "managed work"
            : core.receiver !== null
            ? "onMessage"
            : "receive()"
        }`,
      ),
    );
  }
  return new Promise((resolve) => {
    let settled = false;
    core.managed = true;
    const finish = (
      outcome: Result<T, Crash<E>>,
      fault: Fault | undefined,
      stop: boolean,
    ) => {
      settled = true;
      core.managed = false;
      core.receiver = null;
      try {
        if (stop) disconnect(core, fault);
      } finally {
        resolve(outcome);
      }
    };
    const onMessage = (message: DeviceMessage) => {
      if (settled) return;
      if (message.kind === "shutdown") {
        finish(
          err({ kind: "shutdown", requester: message.id }),
          undefined,
          true,
        );
      } else if (message.fault !== undefined) {
        const crash: Crash<E> = {
          kind: "cascade",
          source: message.id,
          fault: message.fault,
        };
        finish(err(crash), cascadeFault(message.id, message.fault), true);
      }
      // A clean disconnect of a linked device: its link is already gone; work goes on.
    };
    // Messages that arrived before management began count first.
    const queue = core.queue;
    if (queue !== null) {
      while (!settled && core.head < queue.length) {
        onMessage(queue[core.head++]);
      }
      core.queue = null;
      core.head = 0;
      if (settled) return;
    }
    core.receiver = onMessage;
    let running: Promise<Result<T, E>>;
    try {
      running = Promise.resolve(work(device));
    } catch (error) {
      running = Promise.reject(error);
    }
    running.then((result) => {
      if (settled) return;
      if (!isResult(result)) {
        const error = new TypeError(
          `Managed work of device "${core.id}" must resolve to ok(value) or err(error)`,
        );
        finish(err({ kind: "thrown", error }), thrownFault(error), true);
      } else if (result.ok) {
        finish(result, undefined, full);
      } else {
        finish(
          err({ kind: "error", error: result.error }),
          errorFault(result.error),
          true,
        );
      }
    }, (error: unknown) => {
      if (settled) return;
      finish(err({ kind: "thrown", error }), thrownFault(error), true);
    });
  });
}
