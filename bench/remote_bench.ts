// Remoting between two processes on loopback (run: deno run -A bench/remote_bench.ts).
// The baseline, measured in the same run against the same peer process: a raw TCP ping-pong.
//
//   tell_throughput   1M one-way tells of a small message, until the far actor counted them all
//   pipelined_asks    200k asks with 1000 in flight
//   sequential_ask    awaited asks one at a time: median round trip, against raw TCP ping-pong
//                     (the two alternate in blocks of 250 round trips)
// Each line also gives the CPU time both processes spent per message (Linux), which a busy
// machine disturbs less than the rates, and the load average at the end.
import { ActorSystem, RemoteNode } from "../mod.ts";

interface Sink {
  hit(n: number): void;
  count(): number;
  echo(n: number): number;
}

const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", new URL("./remote_peer.ts", import.meta.url).pathname],
  stdout: "piped",
  stderr: "inherit",
}).spawn();
const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
let banner = "";
while (!banner.includes("\n")) {
  const { value, done } = await lines.read();
  if (done) throw new Error("the peer exited early");
  banner += value;
}
const [, nodeAddress, echoAddress] = /READY (\S+) (\S+)/.exec(banner)!;

// CPU time of both processes (user + system, from /proc on Linux; null elsewhere): on a shared
// machine the CPU per message is steadier than the wall-clock rates, which swing with the load.
function cpuMs(pid: number | "self"): number | null {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10; // clock ticks of 10 ms
  } catch {
    return null;
  }
}

function cpuNow(): [number, number] | null {
  const mine = cpuMs("self");
  const peer = cpuMs(child.pid);
  return mine === null || peer === null ? null : [mine, peer];
}

/** "client + peer µs of CPU per op", or "" when /proc is not there. */
function cpuPer(
  before: [number, number] | null,
  count: number,
): string {
  const after = cpuNow();
  if (before === null || after === null) return "";
  const per = (i: number) => ((after[i] - before[i]) * 1000 / count).toFixed(2);
  return `  cpu ${per(0)} + ${per(1)} µs per op (client + peer)`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// ---- sequential asks against the baseline, a raw TCP ping-pong ---------------------------------
// The two alternate in blocks, so that both medians see the same conditions: on a shared VM the
// wake-up latency of a round trip swings between about 20 and 120 µs within one run.
const [host, port] = echoAddress.split(":");
const raw = await Deno.connect({ hostname: host, port: Number(port) });
raw.setNoDelay(true);
const ping = new Uint8Array(32);
const pong = new Uint8Array(32);

async function rawRoundTrips(
  count: number,
  times: number[] | null,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await raw.write(ping);
    let got = 0;
    while (got < ping.length) got += (await raw.read(pong.subarray(got))) ?? 0;
    times?.push(performance.now() - t);
  }
}

const system = new ActorSystem({ node: "bench-client", askTimeoutMs: 60_000 });
const remote = await RemoteNode.start(system, {
  cluster: "bench",
  secret: "bench secret, not real",
});
await remote.connect(nodeAddress);
const sink = remote.ref<Sink>("sink-node", "sink");

async function askRoundTrips(
  count: number,
  times: number[] | null,
): Promise<void> {
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await sink.ask("echo", i);
    times?.push(performance.now() - t);
  }
}

const rawTimes: number[] = [];
const askTimes: number[] = [];
await rawRoundTrips(500, null);
await askRoundTrips(500, null);
// CPU of both processes per round trip, summed over the blocks of each kind.
const seqCpu = { raw: [0, 0], ask: [0, 0] };
function addCpu(into: number[], before: [number, number] | null): void {
  const after = cpuNow();
  if (before === null || after === null) return;
  into[0] += after[0] - before[0];
  into[1] += after[1] - before[1];
}
for (let block = 0; block < 10; block++) {
  let before = cpuNow();
  await rawRoundTrips(250, rawTimes);
  addCpu(seqCpu.raw, before);
  before = cpuNow();
  await askRoundTrips(250, askTimes);
  addCpu(seqCpu.ask, before);
}
const seqCpuText = (kind: "raw" | "ask"): string =>
  cpuNow() === null
    ? ""
    : `  cpu ${
      seqCpu[kind].map((ms) => (ms * 1000 / 2500).toFixed(1)).join(" + ")
    } µs per round trip (client + peer)`;
raw.close();

const TELLS = 1_000_000;
const tellCpu = cpuNow();
let t0 = performance.now();
for (let i = 0; i < TELLS; i++) {
  sink.tell("hit", i);
  // Yield now and then so the batches go out while we produce (like a real producer would).
  if ((i & 0xffff) === 0xffff) await new Promise((r) => setTimeout(r, 0));
}
while (await sink.ask("count") < TELLS) {
  await new Promise((r) => setTimeout(r, 1));
}
const tellSeconds = (performance.now() - t0) / 1000;
const tellCpuText = cpuPer(tellCpu, TELLS);

const ASKS = 200_000;
const WINDOW = 1000;
const askCpu = cpuNow();
t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: WINDOW }, async () => {
  while (next < ASKS) {
    next++;
    await sink.ask("echo", next);
  }
}));
const askSeconds = (performance.now() - t0) / 1000;
const askCpuText = cpuPer(askCpu, ASKS);

const rawMedian = median(rawTimes);
const askMedian = median(askTimes);
console.log(
  `raw TCP ping-pong (baseline)  median ${(rawMedian * 1000).toFixed(1)} µs${
    seqCpuText("raw")
  }`,
);
console.log(
  `sequential_ask                median ${
    (askMedian * 1000).toFixed(1)
  } µs  = ${(askMedian / rawMedian).toFixed(2)}x baseline (target ≤ 1.3x)${
    seqCpuText("ask")
  }`,
);
console.log(
  `tell_throughput               ${
    (TELLS / tellSeconds / 1e6).toFixed(2)
  }M msgs/s (target ≥ 2M)${tellCpuText}`,
);
console.log(
  `pipelined_asks                ${
    (ASKS / askSeconds / 1000).toFixed(0)
  }k round trips/s with ${WINDOW} in flight (target ≥ 300k)${askCpuText}`,
);
try {
  console.log(`load average ${Deno.readTextFileSync("/proc/loadavg").trim()}`);
} catch {
  // Not Linux: no load to report.
}

await remote.close();
await system.shutdown();
child.kill("SIGKILL");
await child.status;
