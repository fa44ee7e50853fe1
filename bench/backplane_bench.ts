// The seed's 17 backplane benchmarks (async-backplane benches/device.rs and benches/line.rs),
// same names and meanings. "drop" is `[Symbol.dispose]()`; "notify" means the watcher is still
// connected when the other side goes, so a Disconnected message is delivered to its queue.
// Each group has a baseline: the least a hand-written watcher list can do for the same job.
import { Device, errorFault, LinkMode } from "../mod.ts";

const ERROR = errorFault("bench");

// Baseline: two plain objects, a watcher array, one message pushed to a plain array.
interface Plain {
  out: Plain[] | null;
  inbox: unknown[] | null;
  alive: boolean;
}
function plainLinkNotify(): void {
  const a: Plain = { out: null, inbox: null, alive: true };
  const b: Plain = { out: null, inbox: null, alive: true };
  (b.out ??= []).push(a);
  b.alive = false;
  for (const w of b.out) {
    if (w.alive) {
      (w.inbox ??= []).push({ kind: "disconnected", fault: ERROR });
    }
  }
  a.alive = false;
}

for (const group of ["device", "line"] as const) {
  Deno.bench({
    name: `${group}: baseline (hand-written watcher list)`,
    group,
    baseline: true,
    fn: plainLinkNotify,
  });
}

// benches/device.rs
Deno.bench({
  name: "create_destroy",
  group: "device",
  fn: () => {
    const d = new Device();
    d[Symbol.dispose]();
  },
});
Deno.bench({
  name: "device_monitor_drop",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.link(d2, LinkMode.Monitor);
    d1[Symbol.dispose]();
    d2[Symbol.dispose]();
  },
});
Deno.bench({
  name: "device_monitor_drop_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.link(d2, LinkMode.Monitor);
    d2[Symbol.dispose]();
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "device_monitor_error_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.link(d2, LinkMode.Monitor);
    d2.disconnect(ERROR);
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "device_peer_drop_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.link(d2, LinkMode.Peer);
    d1[Symbol.dispose]();
    d2[Symbol.dispose]();
  },
});
Deno.bench({
  name: "device_peer_error_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.link(d2, LinkMode.Peer);
    d2.disconnect(ERROR);
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line_monitor_drop",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.linkLine(d2.line, LinkMode.Monitor);
    d1[Symbol.dispose]();
    d2[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line_monitor_drop_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.linkLine(d2.line, LinkMode.Monitor);
    d2[Symbol.dispose]();
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line_monitor_error_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.linkLine(d2.line, LinkMode.Monitor);
    d2.disconnect(ERROR);
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line_peer_drop_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.linkLine(d2.line, LinkMode.Peer);
    d1[Symbol.dispose]();
    d2[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line_peer_error_notify",
  group: "device",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.linkLine(d2.line, LinkMode.Peer);
    d2.disconnect(ERROR);
    d1[Symbol.dispose]();
  },
});

// benches/line.rs: Line ↔ Line links.
const held = new Device();
Deno.bench({
  name: "line/create_destroy",
  group: "line",
  fn: () => {
    held.line.clone();
  },
});
Deno.bench({
  name: "line/line_monitor_drop",
  group: "line",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.line.linkLine(d2.line, LinkMode.Monitor);
    d1[Symbol.dispose]();
    d2[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line/line_monitor_drop_notify",
  group: "line",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.line.linkLine(d2.line, LinkMode.Monitor);
    d2[Symbol.dispose]();
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line/line_monitor_error_notify",
  group: "line",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.line.linkLine(d2.line, LinkMode.Monitor);
    d2.disconnect(ERROR);
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line/line_peer_drop_notify",
  group: "line",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.line.linkLine(d2.line, LinkMode.Peer);
    d2[Symbol.dispose]();
    d1[Symbol.dispose]();
  },
});
Deno.bench({
  name: "line/line_peer_error_notify",
  group: "line",
  fn: () => {
    const d1 = new Device();
    const d2 = new Device();
    d1.line.linkLine(d2.line, LinkMode.Peer);
    d2.disconnect(ERROR);
    d1[Symbol.dispose]();
  },
});
