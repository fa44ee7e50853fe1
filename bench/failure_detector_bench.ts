// The cluster failure detector's costs, each against a plain-Map baseline in the same run:
//
// - phi: one φ computation (the detector's per-subject judgement) and one heartbeat record.
//   Baseline: one `Map.set` of an arrival time, the least any detector must do per heartbeat.
// - tick: one heartbeat tick of a node in a 1,000-member cluster, including the acks it causes
//   (sent back synchronously, so each tick judges, sends and records every subject once): with
//   the default k = 5 subjects, and with every member a subject (k = 999, the all-to-all design
//   the ring avoids). Baseline: 1,000 `Map.set`s, one per member.
// - ring: setMembers() with 1,000 members (the node's slice recomputed, as on every join or
//   leave), and the whole ring built (what a node needs to know who watches a member).
//
//   deno bench -A bench/failure_detector_bench.ts
import type { Clock, TimerHandle } from "../src/timer/mod.ts";
import { failureDetectorSettings } from "../src/cluster/failure_detector.ts";
import { MonitorRing } from "../src/cluster/_monitor_ring.ts";
import { PhiAccrualDetector } from "../src/cluster/_phi_accrual.ts";
import {
  type HeartbeatMessage,
  HeartbeatMonitor,
} from "../src/cluster/_heartbeat_monitor.ts";

const MEMBERS = Array.from(
  { length: 1000 },
  (_, i) => `10.1.${i >> 8}.${i & 255}:4000#1`,
);

// --- phi ---------------------------------------------------------------------------------
const settings = failureDetectorSettings();
const detector = new PhiAccrualDetector(settings);
let t = 0;
for (let i = 0; i < 1000; i++) {
  detector.heartbeat(t += settings.heartbeatIntervalMs + (i % 7) * 3);
}
const recorder = new PhiAccrualDetector(settings);
let r = 0;
const arrivals = new Map<string, number>();
let sink = 0;

Deno.bench({
  name: "baseline: Map.set of an arrival time",
  group: "phi",
  baseline: true,
  fn: () => {
    arrivals.set(MEMBERS[t % 1000], t++);
  },
});
Deno.bench({
  name: "PhiAccrualDetector.phi()",
  group: "phi",
  fn: () => {
    sink += detector.phi(t + 100);
  },
});
Deno.bench({
  name: "PhiAccrualDetector.heartbeat() (window of 1000)",
  group: "phi",
  fn: () => {
    recorder.heartbeat(r += settings.heartbeatIntervalMs);
  },
});

// --- tick --------------------------------------------------------------------------------
/** A clock the bench drives by hand: `fire()` moves one interval on and runs the tick. */
class HandClock implements Clock {
  time = 0;
  #callback: (() => void) | undefined;
  now(): number {
    return this.time;
  }
  setTimer(callback: () => void, _delayMs: number): TimerHandle {
    this.#callback = callback;
    return { unref() {} } as TimerHandle;
  }
  clearTimer(_handle: TimerHandle): void {
    this.#callback = undefined;
  }
  fire(step: number): void {
    this.time += step;
    const callback = this.#callback;
    this.#callback = undefined;
    callback?.();
  }
}

function tickingMonitor(
  monitoredBy: number,
): { clock: HandClock; tick(): void } {
  const clock = new HandClock();
  const s = failureDetectorSettings({ monitoredBy });
  const monitor: HeartbeatMonitor = new HeartbeatMonitor({
    self: MEMBERS[0],
    clock,
    settings: s,
    send: (to: string, message: HeartbeatMessage) => {
      if (message.kind === "heartbeat") {
        monitor.receive(to, { kind: "heartbeat-ack", seq: message.seq });
      }
    },
    onReachability: () => {
      throw new Error("bench: nobody should be suspected");
    },
  });
  monitor.setMembers(MEMBERS);
  if (monitor.subjects().length !== Math.min(monitoredBy, MEMBERS.length - 1)) {
    throw new Error("bench: unexpected subject count");
  }
  for (let i = 0; i < 50; i++) clock.fire(s.heartbeatIntervalMs); // warm the detectors
  return { clock, tick: () => clock.fire(s.heartbeatIntervalMs) };
}

const small = tickingMonitor(5);
const all = tickingMonitor(999);

Deno.bench({
  name: "baseline: 1,000 Map.set (one per member)",
  group: "tick",
  baseline: true,
  fn: () => {
    for (let i = 0; i < MEMBERS.length; i++) arrivals.set(MEMBERS[i], t);
    t++;
  },
});
Deno.bench({
  name: "tick of 1,000 members, k = 5 (judge + heartbeat + ack per subject)",
  group: "tick",
  fn: () => small.tick(),
});
Deno.bench({
  name: "tick of 1,000 members, all 999 as subjects",
  group: "tick",
  fn: () => all.tick(),
});

// --- ring --------------------------------------------------------------------------------
const ringMonitor = new HeartbeatMonitor({
  self: MEMBERS[0],
  clock: new HandClock(),
  settings,
  send: () => {},
  onReachability: () => {},
});
let flip = 0;
Deno.bench({
  name:
    "setMembers() of 1,000 members (own slice recomputed, one joins or leaves)",
  group: "ring",
  fn: () => {
    // Alternate between 999 and 1,000 members so each call is a real membership change.
    ringMonitor.setMembers(flip++ & 1 ? MEMBERS : MEMBERS.slice(0, 999));
  },
});

Deno.bench({
  name: "new MonitorRing() of 1,000 members (the whole ring, for observersOf)",
  group: "ring",
  fn: () => {
    sink +=
      new MonitorRing(MEMBERS, 5).observersOf(MEMBERS[flip++ % 1000]).length;
  },
});

// Keep the φ results observable, so the computation cannot be dropped as dead code.
globalThis.addEventListener("unload", () => {
  if (!Number.isFinite(sink)) console.log("bench: φ was not finite");
});
