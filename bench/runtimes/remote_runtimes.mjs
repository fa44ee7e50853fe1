// Runtime-neutral take on bench/remote_bench.ts: a peer process of the same runtime, raw TCP
// ping-pong (node:net) as the baseline of sequential asks, 1M tells, 200k pipelined asks.
//   <runtime> remote_runtimes.mjs <module path> <runtime command...> [--warmup N] [--json]
// `--json` prints one JSON line (what bench/table.ts reads) with the figures and, on Linux, the
// CPU time both processes spent per message. `--warmup N`: round trips of each kind before the
// timed ones (20,000 by default, as in bench/remote_bench.ts, which says why); the first 2,500 of
// them give the cold figures.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import process from "node:process";
const allArgs = globalThis.Deno ? Deno.args : process.argv.slice(2);
const json = allArgs.includes("--json");
const args = allArgs.filter((a) => a !== "--json");
const warmupAt = args.indexOf("--warmup");
const warmupText = warmupAt === -1 ? "20000" : args.splice(warmupAt, 2)[1];
const WARMUP = Number(warmupText);
if (!(Number.isInteger(WARMUP) && WARMUP >= 0)) {
  throw new RangeError(`Invalid warm-up count ${warmupText}`);
}
const [modPath, ...peerCmd] = args;
const modUrl = new URL(modPath, `file://${process.cwd()}/`).href;
const { ActorSystem, RemoteNode } = await import(modUrl);
const peerScript = new URL("./remote_peer.mjs", import.meta.url).pathname;
const child = spawn(peerCmd[0], [...peerCmd.slice(1), peerScript, modPath], {
  stdio: ["ignore", "pipe", "inherit"],
});
let banner = "";
await new Promise((resolve) =>
  child.stdout.on("data", (d) => {
    banner += d;
    if (banner.includes("\n")) resolve();
  })
);
const [, nodeAddress, echoAddress] = /READY (\S+) (\S+)/.exec(banner);
// CPU time of a process in ms, from /proc on Linux (each thread's schedstat, in ns; else the
// 10 ms ticks of /proc/<pid>/stat); null elsewhere.
function cpuMs(pid) {
  try {
    let ns = 0;
    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(
          readFileSync(`/proc/${pid}/task/${task}/schedstat`, "utf8").split(
            " ",
          )[0],
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
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return null;
  }
}
const cpuNow = () => {
  const mine = cpuMs("self"), peer = cpuMs(child.pid);
  return mine === null || peer === null ? null : [mine, peer];
};
// [client, peer] µs per op since `before`, or null.
const cpuPer = (before, after, count) =>
  before === null || after === null
    ? null
    : [0, 1].map((i) => (after[i] - before[i]) * 1000 / count);
const median = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const [host, port] = echoAddress.split(":");
const raw = net.connect(Number(port), host);
raw.setNoDelay(true);
await new Promise((r) => raw.on("connect", r));
let waiting = null, got = 0;
raw.on("data", (d) => {
  got += d.length;
  if (got >= 32 && waiting) {
    got -= 32;
    const w = waiting;
    waiting = null;
    w();
  }
});
const ping = Buffer.alloc(32);
async function rawRoundTrips(n, times) {
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await new Promise((r) => {
      waiting = r;
      raw.write(ping);
    });
    times?.push(performance.now() - t);
  }
}
const system = new ActorSystem({ node: "bench-client", askTimeoutMs: 60_000 });
const remote = await RemoteNode.start(system, {
  cluster: "bench",
  secret: "bench secret, not real",
});
await remote.connect(nodeAddress);
const sink = remote.ref("sink-node", "sink");
async function askRoundTrips(n, times) {
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await sink.ask("echo", i);
    times?.push(performance.now() - t);
  }
}
const rawTimes = [], askTimes = [];
const COLD = Math.min(2_500, WARMUP);
const coldRawTimes = [], coldAskTimes = [];
await rawRoundTrips(COLD, coldRawTimes);
await rawRoundTrips(WARMUP - COLD, null);
await askRoundTrips(COLD, coldAskTimes);
await askRoundTrips(WARMUP - COLD, null);
const seqCpu = { raw: [0, 0], ask: [0, 0] };
let cpuKnown = true;
const addCpu = (into, before) => {
  const after = cpuNow();
  if (before === null || after === null) cpuKnown = false;
  else for (const i of [0, 1]) into[i] += after[i] - before[i];
};
for (let b = 0; b < 10; b++) {
  let before = cpuNow();
  await rawRoundTrips(250, rawTimes);
  addCpu(seqCpu.raw, before);
  before = cpuNow();
  await askRoundTrips(250, askTimes);
  addCpu(seqCpu.ask, before);
}
raw.destroy();
const TELLS = 1_000_000;
const tellCpu = cpuNow();
let t0 = performance.now();
for (let i = 0; i < TELLS; i++) {
  sink.tell("hit", i);
  if ((i & 0xffff) === 0xffff) await new Promise((r) => setTimeout(r, 0));
}
while (await sink.ask("count") < TELLS) {
  await new Promise((r) => setTimeout(r, 1));
}
const tellS = (performance.now() - t0) / 1000;
const tellCpuUs = cpuPer(tellCpu, cpuNow(), TELLS);
const ASKS = 200_000, WINDOW = 1000;
const askCpu = cpuNow();
t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: WINDOW }, async () => {
  while (next < ASKS) {
    next++;
    await sink.ask("echo", next);
  }
}));
const askS = (performance.now() - t0) / 1000;
const askCpuUs = cpuPer(askCpu, cpuNow(), ASKS);
const runtime = globalThis.Deno ? `deno` : globalThis.Bun ? `bun` : `node`;
const rm = median(rawTimes), am = median(askTimes);
let load;
try {
  load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).map(
    Number,
  );
} catch {
  // Not Linux: no load to report.
}
const perTrip = (ms) => cpuKnown ? ms.map((v) => v * 1000 / 2500) : null;
if (json) {
  console.log(JSON.stringify({
    bench: "remote",
    runtime: globalThis.Deno
      ? `deno ${Deno.version.deno}`
      : globalThis.Bun
      ? `bun ${Bun.version}`
      : `node ${process.version}`,
    rawUs: rm * 1000,
    askUs: am * 1000,
    askRatio: am / rm,
    ...(COLD > 0
      ? {
        coldRawUs: median(coldRawTimes) * 1000,
        coldAskUs: median(coldAskTimes) * 1000,
        coldAskRatio: median(coldAskTimes) / median(coldRawTimes),
      }
      : {}),
    rawCpuUs: perTrip(seqCpu.raw),
    askCpuUs: perTrip(seqCpu.ask),
    tellsPerSec: TELLS / tellS,
    tellCpuUs,
    pipelinedPerSec: ASKS / askS,
    pipelinedCpuUs: askCpuUs,
    load,
  }));
} else {
  console.log(
    `${runtime}\traw ping-pong ${(rm * 1000).toFixed(1)} µs\tseq ask ${
      (am * 1000).toFixed(1)
    } µs (${(am / rm).toFixed(2)}x)\ttells ${
      (TELLS / tellS / 1e6).toFixed(2)
    }M/s\tpipelined asks ${(ASKS / askS / 1000).toFixed(0)}k/s`,
  );
}
await remote.close();
await system.shutdown();
child.kill("SIGKILL");
process.exit(0);
