// The failure detector membership uses unless a test replaces it: the heartbeat monitor with
// φ-accrual detectors over the monitor ring.
import {
  DEFAULT_FAILURE_DETECTOR_SETTINGS,
  type FailureDetectorSettings,
} from "./failure_detector.ts";
import { HeartbeatMonitor } from "./_heartbeat_monitor.ts";
import type {
  LocalReachability,
  LocalReachabilityFactory,
  LocalReachabilityOptions,
} from "./_local_reachability.ts";

/**
 * Builds heartbeat monitors with `settings`.
 *
 * @param settings The failure detector's settings.
 * @returns The factory.
 */
export function heartbeatReachability(
  settings: FailureDetectorSettings = DEFAULT_FAILURE_DETECTOR_SETTINGS,
): LocalReachabilityFactory {
  return (options: LocalReachabilityOptions): LocalReachability =>
    new HeartbeatMonitor({ ...options, settings });
}
