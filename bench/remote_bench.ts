// Remoting between two processes on loopback. The baseline, measured in the same run against the
// same peer process: a raw TCP ping-pong.
//
//   deno run -A bench/remote_bench.ts [--only sequential,tells,pipelined] [--blocks N]
//                                     [--warmup N] [--json]
//
//   sequential   awaited asks one at a time: median round trip, against raw TCP ping-pong
//                (the two alternate in blocks of 250 round trips; 10 blocks of each by default),
//                after `--warmup` round trips of each kind (20,000 by default; see WARMUP). The
//                first 2,500 of the warm-up are timed too: the cold figures, for a process
//                whose JIT has not yet compiled the ask path.
//   tells        1M one-way tells of a small message, until the far actor counted them all
//   pipelined    200k asks with 1000 in flight
// Each line also gives the CPU time both processes spent per message (Linux), which a busy
// machine disturbs less than the rates, and the load average at the end. `--json` prints one
// JSON line instead (what bench/table.ts reads).
import { ActorSystem, RemoteNode } from "../mod.ts";

interface Sink {
  hit(n: number): void;
  count(): number;
  echo(n: number): number;
}

const PARTS = ["sequential", "tells", "pipelined"] as const;

/**
 * Round trips of each kind before the timed ones. V8 compiles a function with its optimizing
 * tiers only after some thousands of calls, and an ask runs through many more functions than
 * the raw ping-pong: with 500 warm-up round trips the timed asks were still partly interpreted
 * (five alternating runs: sequential ask ÷ raw 1.21 against 1.13 warm on Deno, 1.66 against
 * 1.17 on Node; CPU per ask 103 against 77 µs on Deno, 214 against 75 on Node; bench/README.md,
 * third pass); medians of successive 2,500-ask windows of one Deno run with no warm-up went
 * 1.59, 1.20, 1.19, 1.14 and then stayed at 1.11-1.25. 20,000 is past that on both runtimes
 * (about a second per kind); the cold figures are reported beside the warm ones.
 */
const WARMUP = 20_000;
/** Warm-up round trips whose times make the cold figures. */
const COLD = 2_500;
type Part = typeof PARTS[number];

function parseArgs(
  args: string[],
): { only: Set<Part>; blocks: number; warmup: number; json: boolean } {
  let only = new Set<Part>(PARTS);
  let blocks = 10;
  let warmup = WARMUP;
  let json = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--json") json = true;
    else if (arg === "--only") {
      const names = (args[++i] ?? "").split(",").filter((s) => s !== "");
      for (const name of names) {
        if (!(PARTS as readonly string[]).includes(name)) {
          throw new TypeError(
            `Unknown part "${name}": expected some of ${PARTS.join(",")}`,
          );
        }
      }
      only = new Set(names as Part[]);
    } else if (arg === "--blocks") {
      blocks = Number(args[++i]);
      if (!(Number.isInteger(blocks) && blocks > 0)) {
        throw new RangeError(`Invalid block count ${args[i]}`);
      }
    } else if (arg === "--warmup") {
      warmup = Number(args[++i]);
      if (!(Number.isInteger(warmup) && warmup >= 0)) {
        throw new RangeError(`Invalid warm-up count ${args[i]}`);
      }
    } else {
      throw new TypeError(
        `Unknown argument "${arg}". Usage: deno run -A bench/remote_bench.ts [--only ${
          PARTS.join(",")
        }] [--blocks N] [--json]`,
      );
    }
  }
  return { only, blocks, warmup, json };
}

const options = parseArgs(Deno.args);

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

// CPU time of both processes (from /proc on Linux; null elsewhere): on a shared machine the CPU
// per message is steadier than the wall-clock rates, which swing with the load. Each thread's
// schedstat gives nanoseconds; /proc/<pid>/stat (10 ms ticks) is the fallback.
function cpuMs(pid: number | "self"): number | null {
  try {
    let ns = 0;
    for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(
          Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/schedstat`)
            .split(" ")[0],
        );
      } catch {
        // The thread ended meanwhile.
      }
    }
    if (ns > 0) return ns / 1e6;
  } catch {
    // No schedstat: use the ticks.
  }
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

/** [client, peer] µs of CPU per op since `before`, or null when /proc is not there. */
function cpuPer(
  before: [number, number] | null,
  count: number,
): [number, number] | null {
  const after = cpuNow();
  if (before === null || after === null) return null;
  return [
    (after[0] - before[0]) * 1000 / count,
    (after[1] - before[1]) * 1000 / count,
  ];
}

function cpuText(cpu: [number, number] | null, unit: string): string {
  return cpu === null
    ? ""
    : `  cpu ${cpu[0].toFixed(2)} + ${
      cpu[1].toFixed(2)
    } µs per ${unit} (client + peer)`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

const system = new ActorSystem({ node: "bench-client", askTimeoutMs: 60_000 });
const remote = await RemoteNode.start(system, {
  cluster: "bench",
  secret: "bench secret, not real",
});
await remote.connect(nodeAddress);
const sink = remote.ref<Sink>("sink-node", "sink");

/** What one run measured (absent parts were not run); the `--json` line. */
interface RemoteResult {
  bench: "remote";
  runtime: string;
  rawUs?: number;
  askUs?: number;
  askRatio?: number;
  /** The first warm-up round trips (at most COLD of each kind): before the JIT is done. */
  coldRawUs?: number;
  coldAskUs?: number;
  coldAskRatio?: number;
  rawCpuUs?: [number, number] | null;
  askCpuUs?: [number, number] | null;
  tellsPerSec?: number;
  tellCpuUs?: [number, number] | null;
  pipelinedPerSec?: number;
  pipelinedCpuUs?: [number, number] | null;
  load?: number[];
}
const result: RemoteResult = {
  bench: "remote",
  runtime: `deno ${Deno.version.deno}`,
};

// ---- sequential asks against the baseline, a raw TCP ping-pong ---------------------------------
// The two alternate in blocks, so that both medians see the same conditions: on a shared VM the
// wake-up latency of a round trip swings between about 20 and 120 µs within one run.
if (options.only.has("sequential")) {
  const [host, port] = echoAddress.split(":");
  const raw = await Deno.connect({ hostname: host, port: Number(port) });
  raw.setNoDelay(true);
  const ping = new Uint8Array(32);
  const pong = new Uint8Array(32);

  const rawRoundTrips = async (
    count: number,
    times: number[] | null,
  ): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await raw.write(ping);
      let got = 0;
      while (got < ping.length) {
        got += (await raw.read(pong.subarray(got))) ?? 0;
      }
      times?.push(performance.now() - t);
    }
  };
  const askRoundTrips = async (
    count: number,
    times: number[] | null,
  ): Promise<void> => {
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await sink.ask("echo", i);
      times?.push(performance.now() - t);
    }
  };

  const rawTimes: number[] = [];
  const askTimes: number[] = [];
  const coldRawTimes: number[] = [];
  const coldAskTimes: number[] = [];
  const cold = Math.min(COLD, options.warmup);
  await rawRoundTrips(cold, coldRawTimes);
  await rawRoundTrips(options.warmup - cold, null);
  await askRoundTrips(cold, coldAskTimes);
  await askRoundTrips(options.warmup - cold, null);
  // CPU of both processes per round trip, summed over the blocks of each kind.
  const seqCpu = { raw: [0, 0], ask: [0, 0] };
  let cpuKnown = true;
  const addCpu = (into: number[], before: [number, number] | null): void => {
    const after = cpuNow();
    if (before === null || after === null) {
      cpuKnown = false;
      return;
    }
    into[0] += after[0] - before[0];
    into[1] += after[1] - before[1];
  };
  const BLOCK = 250;
  for (let block = 0; block < options.blocks; block++) {
    let before = cpuNow();
    await rawRoundTrips(BLOCK, rawTimes);
    addCpu(seqCpu.raw, before);
    before = cpuNow();
    await askRoundTrips(BLOCK, askTimes);
    addCpu(seqCpu.ask, before);
  }
  raw.close();
  const perTrip = (ms: number[]): [number, number] | null =>
    cpuKnown
      ? [
        ms[0] * 1000 / (BLOCK * options.blocks),
        ms[1] * 1000 / (BLOCK * options.blocks),
      ]
      : null;
  result.rawUs = median(rawTimes) * 1000;
  result.askUs = median(askTimes) * 1000;
  result.askRatio = result.askUs / result.rawUs;
  if (cold > 0) {
    result.coldRawUs = median(coldRawTimes) * 1000;
    result.coldAskUs = median(coldAskTimes) * 1000;
    result.coldAskRatio = result.coldAskUs / result.coldRawUs;
  }
  result.rawCpuUs = perTrip(seqCpu.raw);
  result.askCpuUs = perTrip(seqCpu.ask);
}

if (options.only.has("tells")) {
  const TELLS = 1_000_000;
  const before = await sink.ask("count");
  const tellCpu = cpuNow();
  const t0 = performance.now();
  for (let i = 0; i < TELLS; i++) {
    sink.tell("hit", i);
    // Yield now and then so the batches go out while we produce (like a real producer would).
    if ((i & 0xffff) === 0xffff) await new Promise((r) => setTimeout(r, 0));
  }
  while (await sink.ask("count") < before + TELLS) {
    await new Promise((r) => setTimeout(r, 1));
  }
  result.tellsPerSec = TELLS / ((performance.now() - t0) / 1000);
  result.tellCpuUs = cpuPer(tellCpu, TELLS);
}

if (options.only.has("pipelined")) {
  const ASKS = 200_000;
  const WINDOW = 1000;
  const askCpu = cpuNow();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: WINDOW }, async () => {
    while (next < ASKS) {
      next++;
      await sink.ask("echo", next);
    }
  }));
  result.pipelinedPerSec = ASKS / ((performance.now() - t0) / 1000);
  result.pipelinedCpuUs = cpuPer(askCpu, ASKS);
}

try {
  result.load = Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3)
    .map(Number);
} catch {
  // Not Linux: no load to report.
}

if (options.json) {
  console.log(JSON.stringify(result));
} else {
  if (result.rawUs !== undefined && result.askUs !== undefined) {
    console.log(
      `raw TCP ping-pong (baseline)  median ${result.rawUs.toFixed(1)} µs${
        cpuText(result.rawCpuUs ?? null, "round trip")
      }`,
    );
    console.log(
      `sequential_ask                median ${result.askUs.toFixed(1)} µs  = ${
        result.askRatio!.toFixed(2)
      }x baseline (target ≤ 1.3x)${
        cpuText(result.askCpuUs ?? null, "round trip")
      }`,
    );
    if (result.coldAskRatio !== undefined) {
      console.log(
        `cold: first ${Math.min(COLD, options.warmup)} asks    median ${
          result.coldAskUs!.toFixed(1)
        } µs  = ${result.coldAskRatio.toFixed(2)}x the first raw round trips (${
          result.coldRawUs!.toFixed(1)
        } µs)`,
      );
    }
  }
  if (result.tellsPerSec !== undefined) {
    console.log(
      `tell_throughput               ${
        (result.tellsPerSec / 1e6).toFixed(2)
      }M msgs/s (target ≥ 2M)${cpuText(result.tellCpuUs ?? null, "op")}`,
    );
  }
  if (result.pipelinedPerSec !== undefined) {
    console.log(
      `pipelined_asks                ${
        (result.pipelinedPerSec / 1000).toFixed(0)
      }k round trips/s with 1000 in flight (target ≥ 300k)${
        cpuText(result.pipelinedCpuUs ?? null, "op")
      }`,
    );
  }
  if (result.load !== undefined) {
    console.log(`load average ${result.load.join(" ")}`);
  }
}

await remote.close();
await system.shutdown();
child.kill("SIGKILL");
await child.status;
