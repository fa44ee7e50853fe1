// Requests per second, and the server's CPU per request, of the HTTP API's /metrics and
// /cluster/members against bare servers of the same runtime in the same run, with `wrk`
// (Debian's wrk 4.1: `apt-get install -y wrk`). The server is its own process
// (bench/runtimes/http_server.mjs: a three-node loopback cluster with the first node's API on a
// port, plus the bare servers), so its CPU time is read from /proc without wrk's. With
// `taskset` and two or more cores, the server is pinned to core 0 and wrk to core 1, so they do
// not take turns on one core.
//
// Targets: a bare server answering "ok" (the issue's baseline), bare servers answering fixed
// copies of /cluster/members' and /metrics' bytes and headers (what the payload costs the
// runtime, whatever the handler does), and the two endpoints. Rounds interleave the targets so
// the machine's ups and downs hit them alike; prints each target's median and range over the
// rounds, its ratio to bare "ok" and to the bare server sending the same bytes, and the server's
// CPU per request (steadier than requests/s on a shared machine).
//
//   deno run -A bench/http_bench.ts [--rounds 5] [--seconds 3] [--connections 16]
//   deno run -A bench/http_bench.ts --node       (the npm build under Node: deno task build:npm)
//   deno run -A bench/http_bench.ts --against DIR   (also the endpoints of another checkout,
//                                                    e.g. `git archive <commit> | tar -x -C DIR`)

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const ROUNDS = flag("rounds", 5);
const SECONDS = flag("seconds", 3);
const CONNECTIONS = flag("connections", 16);
const NODE = Deno.args.includes("--node");
const AGAINST = Deno.args.includes("--against")
  ? Deno.args[Deno.args.indexOf("--against") + 1]
  : undefined;
const decoder = new TextDecoder();

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    return (await new Deno.Command(command, {
      args,
      stdout: "null",
      stderr: "null",
    })
      .output()).success;
  } catch {
    return false;
  }
}

const PIN = navigator.hardwareConcurrency >= 2 &&
  await succeeds("taskset", ["-c", "0", "true"]);

/** The CPU time of a process (all its threads), in seconds. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  // Fields after the command name (which may hold spaces): utime and stime are 14th and 15th.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Run {
  readonly rps: number;
  /** The server's CPU time per request, in µs. */
  readonly cpuUs: number;
}

async function wrk(url: string, pid: number, seconds = SECONDS): Promise<Run> {
  const args = ["-t1", `-c${CONNECTIONS}`, `-d${seconds}s`, url];
  const before = await cpuSeconds(pid);
  const output = await new Deno.Command(PIN ? "taskset" : "wrk", {
    args: PIN ? ["-c", "1", "wrk", ...args] : args,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpu = await cpuSeconds(pid) - before;
  const text = decoder.decode(output.stdout);
  const rate = /Requests\/sec:\s+([0-9.]+)/.exec(text);
  const total = /([0-9]+) requests in/.exec(text);
  if (!output.success || rate === null || total === null) {
    throw new Error(`wrk failed: ${text}${decoder.decode(output.stderr)}`);
  }
  if (/Non-2xx|Socket errors/.test(text)) {
    throw new Error(`wrk saw errors: ${text}`);
  }
  return { rps: Number(rate[1]), cpuUs: cpu * 1e6 / Number(total[1]) };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[mid]
    : (sorted[mid - 1] + sorted[mid]) / 2;
}

interface ServerInfo {
  runtime: string;
  pid: number;
  api: number;
  ok: number;
  members: number;
  metrics: number;
  sizes: Record<string, number>;
}

/** Starts bench/runtimes/http_server.mjs over the tree at `root`; resolves once it listens. */
async function startServer(
  root: string,
): Promise<{ info: ServerInfo; stop: () => Promise<void> }> {
  const server = new Deno.Command(NODE ? "node" : Deno.execPath(), {
    args: NODE
      ? ["bench/runtimes/http_server.mjs", root]
      : ["run", "-A", "bench/runtimes/http_server.mjs", root],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = server.stdout.pipeThrough(new TextDecoderStream())
    .getReader();
  let line = "";
  while (!line.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the server exited before listening: ${line}`);
    line += value;
  }
  const info = JSON.parse(line) as ServerInfo;
  if (PIN) {
    await new Deno.Command("taskset", {
      args: ["-a", "-p", "-c", "0", String(info.pid)],
      stdout: "null",
    }).output();
  }
  return {
    info,
    stop: async () => {
      await server.stdin.close();
      await reader.cancel();
      await server.status;
    },
  };
}

const main = await startServer(NODE ? "npm" : ".");
const info = main.info;
const other = AGAINST === undefined
  ? undefined
  : await startServer(NODE ? `${AGAINST}/npm` : AGAINST);

const url = (port: number, path = "/") => `http://127.0.0.1:${port}${path}`;
const targets: Record<string, { url: string; pid: number; same?: string }> = {
  'bare "ok"': { url: url(info.ok), pid: info.pid },
  "bare, /members bytes": { url: url(info.members), pid: info.pid },
  "bare, /metrics bytes": { url: url(info.metrics), pid: info.pid },
  "/cluster/members": {
    url: url(info.api, "/cluster/members"),
    pid: info.pid,
    same: "bare, /members bytes",
  },
  "/metrics": {
    url: url(info.api, "/metrics"),
    pid: info.pid,
    same: "bare, /metrics bytes",
  },
};
if (other !== undefined) {
  targets["/cluster/members, against"] = {
    url: url(other.info.api, "/cluster/members"),
    pid: other.info.pid,
    same: "bare, /members bytes",
  };
  targets["/metrics, against"] = {
    url: url(other.info.api, "/metrics"),
    pid: other.info.pid,
    same: "bare, /metrics bytes",
  };
}
console.log(
  `${info.runtime}; wrk -t1 -c${CONNECTIONS} -d${SECONDS}s, ${ROUNDS} rounds, ${
    PIN ? "server pinned to core 0, wrk to core 1" : "not pinned"
  }; /cluster/members is ${info.sizes["/cluster/members"]} bytes, /metrics ${
    info.sizes["/metrics"]
  } bytes; load ${
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ")
  }`,
);
for (const target of Object.values(targets)) {
  await wrk(target.url, target.pid, 1);
}
const results: Record<string, Run[]> = {};
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, target] of Object.entries(targets)) {
    (results[name] ??= []).push(await wrk(target.url, target.pid));
  }
}
const medianRps = (name: string) => median(results[name].map((r) => r.rps));
const baseline = medianRps('bare "ok"');
for (const [name, runs] of Object.entries(results)) {
  const rps = runs.map((r) => r.rps);
  const cpu = runs.map((r) => r.cpuUs);
  const m = median(rps);
  const same = targets[name].same;
  console.log(
    `${name.padEnd(26)} ${m.toFixed(0).padStart(7)} req/s (${
      Math.min(...rps).toFixed(0)
    }–${Math.max(...rps).toFixed(0)})  ${
      (100 * m / baseline).toFixed(0).padStart(3)
    }% of bare "ok"${
      same === undefined
        ? "                     "
        : `, ${
          (100 * m / medianRps(same)).toFixed(0).padStart(3)
        }% of same bytes`
    }  CPU ${median(cpu).toFixed(1)} µs/req (${Math.min(...cpu).toFixed(1)}–${
      Math.max(...cpu).toFixed(1)
    })`,
  );
}
console.log(
  `load ${
    (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ")
  }`,
);
await main.stop();
await other?.stop();
