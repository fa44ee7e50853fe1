/**
 * The identity of a device: `"<process tag>.<sequence>"`, for example `"5f2a9c1e04b7.42"`.
 *
 * The process tag is 48 random bits drawn once per process and the sequence counts up from 1, so
 * an id is never reused while the process lives and names the same device when it is sent to
 * another process. Ids are plain strings: compare them with `===`, store and send them as they are.
 */
export type DeviceId = string;

function drawProcessTag(): string {
  const bytes = new Uint8Array(6);
  crypto.getRandomValues(bytes);
  let tag = "";
  for (const b of bytes) tag += b.toString(16).padStart(2, "0");
  return tag;
}

/** This process's random tag, the first part of every {@linkcode DeviceId} made here. */
export const PROCESS_TAG: string = drawProcessTag();

/** Formats the id of the `sequence`-th device made in this process. */
export function formatDeviceId(sequence: number): DeviceId {
  return PROCESS_TAG + "." + sequence;
}

const DEVICE_ID_PATTERN = /^[0-9a-f]{12}\.[1-9][0-9]*$/;

/**
 * Tells whether a string is a well-formed {@linkcode DeviceId}, for checking ids that arrive from
 * outside (the network, storage).
 *
 * @param value Anything.
 * @returns `true` for a string of the form `"<12 hex digits>.<positive integer>"`.
 *
 * @example Usage
 * ```ts
 * import { Device, isDeviceId } from "@troupe/troupe";
 * using device = new Device();
 * console.log(isDeviceId(device.id), isDeviceId("nope")); // true false
 * ```
 */
export function isDeviceId(value: unknown): value is DeviceId {
  return typeof value === "string" && DEVICE_ID_PATTERN.test(value);
}
