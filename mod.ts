/**
 * Troupe: an actor runtime for TypeScript on Deno and Node, built on an Erlang-style backplane.
 *
 * This release contains the backplane: devices that link to each other and are told, with the
 * reason, when a linked device disconnects.
 *
 * @example Usage
 * ```ts
 * import { Device, errorFault, LinkMode } from "@troupe/troupe";
 * using supervisor = new Device();
 * const worker = new Device();
 * supervisor.link(worker, LinkMode.Monitor);
 * worker.disconnect(errorFault("crashed"));
 * console.log((await supervisor.receive())?.kind); // "disconnected"
 * ```
 *
 * @module
 */
export {
  cascadeFault,
  type Crash,
  describeFault,
  Device,
  DeviceDisconnectedError,
  type DeviceId,
  type DeviceMessage,
  type DeviceOptions,
  type Disconnected,
  DROPPED,
  type Err,
  err,
  errorFault,
  type Fault,
  isDeviceDisconnectedError,
  isDeviceId,
  isResult,
  Line,
  LinkMode,
  type Ok,
  ok,
  PROCESS_TAG,
  type Result,
  rootFault,
  type Shutdown,
  thrownFault,
} from "./src/backplane/mod.ts";
