import type { DeviceId } from "./device_id.ts";
import { describeFault, type Fault } from "./fault.ts";

/**
 * A device was used after it disconnected, or work tied to a device was cut short because the
 * device disconnected (this is the `reason` of {@linkcode Device.signal}).
 *
 * @example Usage
 * ```ts
 * import { Device, isDeviceDisconnectedError } from "@troupe/troupe";
 * const device = new Device();
 * device.disconnect();
 * console.log(isDeviceDisconnectedError(device.signal.reason)); // true
 * ```
 */
export class DeviceDisconnectedError extends Error {
  /** A stable code for this error. */
  readonly code = "DEVICE_DISCONNECTED" as const;
  /** The device that disconnected. */
  readonly deviceId: DeviceId;
  /** Why it disconnected; `undefined` for a clean disconnect. */
  readonly fault: Fault | undefined;

  /**
   * Creates the error.
   *
   * @param deviceId The device that disconnected.
   * @param fault Its fault, if any.
   * @param action What could not be done, completing "Cannot ...".
   */
  constructor(
    deviceId: DeviceId,
    fault: Fault | undefined,
    action = "use device",
  ) {
    super(
      `Cannot ${action} "${deviceId}": device is disconnected (${
        describeFault(fault)
      })`,
    );
    this.name = "DeviceDisconnectedError";
    this.deviceId = deviceId;
    this.fault = fault;
  }
}

/**
 * Tells whether a value is a {@linkcode DeviceDisconnectedError}, also across copies of the
 * library (where `instanceof` fails).
 *
 * @param value Anything.
 * @returns `true` for a `DeviceDisconnectedError`.
 *
 * @example Usage
 * ```ts
 * import { isDeviceDisconnectedError } from "@troupe/troupe";
 * console.log(isDeviceDisconnectedError(new Error("x"))); // false
 * ```
 */
export function isDeviceDisconnectedError(
  value: unknown,
): value is DeviceDisconnectedError {
  return value instanceof Error &&
    (value as { code?: unknown }).code === "DEVICE_DISCONNECTED";
}
