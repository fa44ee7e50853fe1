// Remoting between two processes on loopback (run: deno run -A bench/remote_bench.ts).
// The baseline, measured in the same run against the same peer process: a raw TCP ping-pong.
//
//   tell_throughput   1M one-way tells of a small message, until the far actor counted them all
//   pipelined_asks    200k asks with 1000 in flight
//   sequential_ask    awaited asks one at a time: median round trip, against raw TCP ping-pong
//                     (the two alternate in blocks of 250 round trips)
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
for (let block = 0; block < 10; block++) {
  await rawRoundTrips(250, rawTimes);
  await askRoundTrips(250, askTimes);
}
raw.close();

const TELLS = 1_000_000;
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

const ASKS = 200_000;
const WINDOW = 1000;
t0 = performance.now();
let next = 0;
await Promise.all(Array.from({ length: WINDOW }, async () => {
  while (next < ASKS) {
    next++;
    await sink.ask("echo", next);
  }
}));
const askSeconds = (performance.now() - t0) / 1000;

const rawMedian = median(rawTimes);
const askMedian = median(askTimes);
console.log(
  `raw TCP ping-pong (baseline)  median ${(rawMedian * 1000).toFixed(1)} µs`,
);
console.log(
  `sequential_ask                median ${
    (askMedian * 1000).toFixed(1)
  } µs  = ${(askMedian / rawMedian).toFixed(2)}x baseline (target ≤ 1.3x)`,
);
console.log(
  `tell_throughput               ${
    (TELLS / tellSeconds / 1e6).toFixed(2)
  }M msgs/s (target ≥ 1M)`,
);
console.log(
  `pipelined_asks                ${
    (ASKS / askSeconds / 1000).toFixed(0)
  }k round trips/s with ${WINDOW} in flight (target ≥ 200k)`,
);

await remote.close();
await system.shutdown();
child.kill("SIGKILL");
await child.status;
