/**
 * The backplane: Erlang-style failure propagation between owned presences ("devices").
 *
 * Devices link to each other (`Monitor`, `Notify`, `Peer`) and are told, synchronously, when a
 * linked device disconnects and why. Managed work turns those notices into cascades; a
 * cascade is delivered in a loop, not by nested calls, so it reaches the end of a chain of any
 * length. Every failure-handling feature of Troupe (watching, supervision, remote death watch)
 * is built on it.
 *
 * @example Usage
 * ```ts
 * import { Device, LinkMode, ok } from "@troupe/troupe";
 * using parent = new Device();
 * const child = new Device();
 * parent.link(child, LinkMode.Monitor);
 * const outcome = await child.manage(() => Promise.resolve(ok("done")));
 * console.log(outcome.ok, (await parent.receive())?.kind); // true "disconnected"
 * ```
 *
 * @module
 */
export type { DeviceMessage, Disconnected, Shutdown } from "./_core.ts";
export { Device, type DeviceOptions, Line, LinkMode } from "./device.ts";
export { type DeviceId, isDeviceId, PROCESS_TAG } from "./device_id.ts";
export {
  DeviceDisconnectedError,
  isDeviceDisconnectedError,
} from "./errors.ts";
export {
  cascadeFault,
  describeFault,
  DROPPED,
  errorFault,
  type Fault,
  rootFault,
  thrownFault,
} from "./fault.ts";
export type { Crash } from "./manage.ts";
export { type Err, err, isResult, type Ok, ok, type Result } from "./result.ts";
