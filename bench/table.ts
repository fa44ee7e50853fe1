// Runs the project's benchmark set several times and writes the reproducible table of
// bench/README.md (the section between <!-- table:begin --> and <!-- table:end -->):
//
//   deno run -A bench/table.ts [--runs 5] [--only remote,actor,redis,node] [--write]
//                              [--readme bench/README.md] [--no-build]
//
// Rows (`--only` takes ids, or a prefix: "redis" is every redis-* row, "node" every node-* row):
// remote, actor, redis-actors, redis-append, redis-rounds (Deno); node-remote, node-actor,
// node-redis (Node, against the npm build). redis-rounds and node-redis need
// bench/runtimes/persistence_runtimes.mjs (the same Redis jobs on both runtimes).
//
// Every run runs each selected bench once, in turn, so that the machine's ups and downs hit all
// alike; each bench carries its own same-run baseline. The table gives each figure's median over
// the runs with its range, the baseline of the same runs, the 1-minute load average before and
// after each run, the date, commit and runtime versions, and the command of each row. Without
// `--write` the section is printed instead. The Node rows run the npm build (made first with
// scripts/build_npm.ts unless `--no-build`). A bench that fails or cannot run (no Redis, no
// node) gives a row that says so; the other rows are still made.
import {
  type BenchReport,
  groupPair,
  lastJsonLine,
  type Measure,
  parseDenoBench,
  renderTable,
  replaceSection,
  type RunRecord,
} from "./table_format.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** A bench that takes longer than this is killed and its run counts as failed. */
const RUN_TIMEOUT_MS = 10 * 60_000;

/** One bench of the set: its command, its figures and how to read them from its output. */
interface BenchSpec {
  readonly id: string;
  readonly runtime: "deno" | "node";
  /** argv, program first ("deno" and "node" are replaced by the binaries found). */
  readonly argv: readonly string[];
  readonly measures: readonly Measure[];
  /** A file the bench needs (relative to the repository); the row says so when it is missing. */
  readonly requires?: string;
  /** The figures of one run from its stdout and stderr; throws with the reason when none. */
  read(stdout: string, stderr: string): Record<string, number>;
}

const REMOTE_MEASURES: readonly Measure[] = [
  { key: "rawUs", label: "raw TCP ping-pong (baseline)", unit: "µs" },
  {
    key: "askUs",
    label: "sequential remote ask",
    unit: "µs",
    baselineKey: "rawUs",
  },
  {
    key: "askRatio",
    label: "sequential ask ÷ raw ping-pong",
    unit: "x",
    target: "≤ 1.3x",
  },
  {
    key: "askCpuUs",
    label: "CPU per sequential ask (client + peer)",
    unit: "µs",
    baselineKey: "rawCpuUs",
  },
  {
    key: "pipelinedPerSec",
    label: "pipelined asks (1000 in flight)",
    unit: "/s",
    target: "≥ 300k/s",
  },
  {
    key: "pipelinedCpuUs",
    label: "CPU per pipelined ask (client + peer)",
    unit: "µs",
  },
  { key: "tellsPerSec", label: "one-way tells", unit: "/s", target: "≥ 2M/s" },
];

/** The remote figures of a `--json` line of remote_bench.ts or remote_runtimes.mjs. */
function readRemote(stdout: string): Record<string, number> {
  const line = lastJsonLine(stdout);
  if (line === null) throw new Error("no JSON line in its output");
  const values: Record<string, number> = {};
  for (
    const key of [
      "rawUs",
      "askUs",
      "askRatio",
      "tellsPerSec",
      "pipelinedPerSec",
    ]
  ) {
    if (typeof line[key] === "number") values[key] = line[key] as number;
  }
  // CPU figures come as [client, peer]: the table shows their sum.
  for (const key of ["rawCpuUs", "askCpuUs", "pipelinedCpuUs"]) {
    const pair = line[key];
    if (Array.isArray(pair) && pair.length === 2) {
      values[key] = Number(pair[0]) + Number(pair[1]);
    }
  }
  if (values.askRatio === undefined) {
    throw new Error("its JSON line has no askRatio");
  }
  return values;
}

const ACTOR_MEASURES: readonly Measure[] = [
  {
    key: "tellsPerSec",
    label: "local tells, 1M to one actor",
    unit: "/s",
    baselineKey: "tellsBaselinePerSec",
    target: "≥ 10M/s",
  },
  {
    key: "asksPerSec",
    label: "local sequential asks, 10k",
    unit: "/s",
    baselineKey: "asksBaselinePerSec",
    target: "≥ 2M/s",
  },
];

/** The actor figures of `deno bench --json bench/actor_bench.ts`. */
function readActorDenoBench(stdout: string): Record<string, number> {
  const results = parseDenoBench(stdout);
  const tells = groupPair(results, /^tell_throughput$/);
  const asks = groupPair(results, /^ask_roundtrip$/);
  if (tells === null || asks === null) {
    throw new Error(
      "groups tell_throughput and ask_roundtrip not both in its output",
    );
  }
  const perSec = (count: number, ns: number): number => count / (ns / 1e9);
  return {
    tellsPerSec: perSec(1e6, tells.bench.avgNs),
    tellsBaselinePerSec: perSec(1e6, tells.baseline.avgNs),
    asksPerSec: perSec(1e4, asks.bench.avgNs),
    asksBaselinePerSec: perSec(1e4, asks.baseline.avgNs),
  };
}

/** The actor figures of a `--json` line of bench/runtimes/actor_runtimes.mjs. */
function readActorRuntimes(stdout: string): Record<string, number> {
  const line = lastJsonLine(stdout) as {
    medianMs?: Record<string, number>;
    batch?: { tells: number; asks: number };
  } | null;
  const ms = line?.medianMs;
  const batch = line?.batch;
  if (ms === undefined || batch === undefined) {
    throw new Error("no JSON line with medianMs in its output");
  }
  const perSec = (count: number, millis: number | undefined): number =>
    millis === undefined ? NaN : count / (millis / 1000);
  return {
    tellsPerSec: perSec(batch.tells, ms["tell 1M"]),
    tellsBaselinePerSec: perSec(batch.tells, ms["tell 1M (baseline)"]),
    asksPerSec: perSec(batch.asks, ms["ask 10k"]),
    asksBaselinePerSec: perSec(batch.asks, ms["ask 10k (baseline)"]),
  };
}

/**
 * Redis figures, as the share of the raw client's speed (raw time ÷ our time) in the same run.
 * The Redis benches are `Deno.bench` files whose groups another change may rename: the group is
 * found by pattern, and the row says so when it is not there.
 */
function redisReader(
  group: RegExp,
  bench: RegExp,
  key: string,
): (stdout: string, stderr: string) => Record<string, number> {
  return (stdout, stderr) => {
    const skipped = /skipped[^\n]*/i.exec(stderr + stdout);
    let results;
    try {
      results = parseDenoBench(stdout);
    } catch (error) {
      if (skipped !== null) throw new Error(skipped[0]);
      throw error;
    }
    const pair = groupPair(results, group, bench);
    if (pair === null) {
      throw new Error(
        skipped !== null
          ? skipped[0]
          : `no group matching ${group} with a baseline and a bench matching ${bench} in its output`,
      );
    }
    return {
      [key]: pair.baseline.avgNs / pair.bench.avgNs,
      [`${key}RawMs`]: pair.baseline.avgNs / 1e6,
      [`${key}Ms`]: pair.bench.avgNs / 1e6,
    };
  };
}

const REDIS_ROUNDS_MEASURES: readonly Measure[] = [
  {
    key: "actors",
    label: "100 actors × 20 persists on Redis, speed ÷ raw RPUSH (rounds)",
    unit: "%",
    target: "≥ 80%",
  },
  {
    key: "actorsMs",
    label: "100 actors × 20 persists on Redis (time)",
    unit: "ms",
    baselineKey: "actorsRawMs",
  },
  {
    key: "append",
    label: "provider append (100 ids × 200), speed ÷ raw RPUSH (rounds)",
    unit: "x",
    target: "≥ 1.00x",
  },
];

/**
 * The Redis figures of a `--child` JSON line of bench/runtimes/persistence_runtimes.mjs (the
 * same jobs on Deno and Node, in interleaved rounds against the raw client).
 */
function readRedisRounds(stdout: string): Record<string, number> {
  const line = lastJsonLine(stdout) as {
    ratios?: Record<string, number>;
    jobs?: Record<string, { wallMs?: number }>;
  } | null;
  const ratios = line?.ratios;
  const jobs = line?.jobs;
  if (ratios === undefined || jobs === undefined) {
    throw new Error("no JSON line with ratios and jobs in its output");
  }
  const values: Record<string, number> = {};
  const put = (key: string, value: number | undefined): void => {
    if (typeof value === "number") values[key] = value;
  };
  put("actors", ratios["actors ÷ raw RPUSH (100×20)"]);
  put("append", ratios["provider ÷ raw RPUSH (100×200)"]);
  put("actorsMs", jobs["actors 100×20"]?.wallMs);
  put("actorsRawMs", jobs["raw RPUSH 100×20"]?.wallMs);
  if (values.actors === undefined && values.append === undefined) {
    throw new Error("its JSON line has neither ratio the table shows");
  }
  return values;
}

const SPECS: readonly BenchSpec[] = [
  {
    id: "remote",
    runtime: "deno",
    argv: ["deno", "run", "-A", "bench/remote_bench.ts", "--json"],
    measures: REMOTE_MEASURES,
    read: readRemote,
  },
  {
    id: "actor",
    runtime: "deno",
    argv: ["deno", "bench", "-A", "--json", "bench/actor_bench.ts"],
    measures: ACTOR_MEASURES,
    read: readActorDenoBench,
  },
  {
    id: "redis-actors",
    runtime: "deno",
    argv: ["deno", "bench", "-A", "--json", "bench/persistence_bench.ts"],
    measures: [
      {
        key: "actors",
        label:
          "100 actors × 20 persists on Redis, speed ÷ raw pipelined client",
        unit: "%",
        target: "≥ 80%",
      },
      {
        key: "actorsMs",
        label: "100 actors × 20 persists on Redis (time)",
        unit: "ms",
        baselineKey: "actorsRawMs",
      },
    ],
    read: redisReader(/100_actors_redis/, /persistent actors/i, "actors"),
  },
  {
    id: "redis-append",
    runtime: "deno",
    argv: [
      "deno",
      "bench",
      "-A",
      "--json",
      "bench/persistence_redis_bench.ts",
    ],
    measures: [
      {
        key: "append",
        label: "provider append (100 ids × 200), speed ÷ raw client",
        unit: "x",
        target: "≥ 1.00x",
      },
      {
        key: "appendMs",
        label: "provider append (100 ids × 200) (time)",
        unit: "ms",
        baselineKey: "appendRawMs",
      },
    ],
    read: redisReader(
      /append_100_writers/,
      /RedisPersistence|provider/i,
      "append",
    ),
  },
  {
    id: "redis-rounds",
    runtime: "deno",
    argv: [
      "deno",
      "run",
      "-A",
      "bench/runtimes/persistence_runtimes.mjs",
      "--child",
      "mod.ts",
      "9",
    ],
    requires: "bench/runtimes/persistence_runtimes.mjs",
    measures: REDIS_ROUNDS_MEASURES,
    read: readRedisRounds,
  },
  {
    id: "node-remote",
    runtime: "node",
    argv: [
      "node",
      "bench/runtimes/remote_runtimes.mjs",
      "npm/mod.js",
      "node",
      "--json",
    ],
    measures: REMOTE_MEASURES,
    read: readRemote,
  },
  {
    id: "node-actor",
    runtime: "node",
    argv: [
      "node",
      "bench/runtimes/actor_runtimes.mjs",
      "npm/mod.js",
      "7",
      "--json",
    ],
    measures: ACTOR_MEASURES,
    read: readActorRuntimes,
  },
  {
    id: "node-redis",
    runtime: "node",
    argv: [
      "node",
      "bench/runtimes/persistence_runtimes.mjs",
      "--child",
      "npm/mod.js",
      "9",
    ],
    requires: "bench/runtimes/persistence_runtimes.mjs",
    measures: REDIS_ROUNDS_MEASURES,
    read: readRedisRounds,
  },
];

interface Options {
  runs: number;
  only: Set<string>;
  write: boolean;
  readme: string;
  build: boolean;
}

const USAGE =
  "Usage: deno run -A bench/table.ts [--runs N] [--only id,...] [--write] [--readme path] [--no-build]";

function parseOptions(args: readonly string[]): Options {
  const ids = SPECS.map((s) => s.id);
  const options: Options = {
    runs: 5,
    only: new Set(ids),
    write: false,
    readme: `${ROOT}/bench/README.md`,
    build: true,
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (arg === "--write") options.write = true;
    else if (arg === "--no-build") options.build = false;
    else if (arg === "--runs") {
      options.runs = Number(args[++i]);
      if (!(Number.isInteger(options.runs) && options.runs > 0)) {
        throw new RangeError(`Invalid run count "${args[i]}". ${USAGE}`);
      }
    } else if (arg === "--readme") {
      const path = args[++i];
      if (path === undefined) {
        throw new TypeError(`--readme needs a path. ${USAGE}`);
      }
      options.readme = path;
    } else if (arg === "--only") {
      // "redis" selects both Redis rows, "node" both Node rows.
      const wanted = (args[++i] ?? "").split(",").filter((s) => s !== "");
      const chosen = new Set<string>();
      for (const name of wanted) {
        const matching = ids.filter((id) =>
          id === name || id.startsWith(`${name}-`)
        );
        if (matching.length === 0) {
          throw new TypeError(
            `Unknown bench "${name}": expected some of ${
              ids.join(",")
            } (or redis, node)`,
          );
        }
        for (const id of matching) chosen.add(id);
      }
      options.only = chosen;
    } else {
      throw new TypeError(`Unknown argument "${arg}". ${USAGE}`);
    }
  }
  return options;
}

/** The output of a command, or why it could not run. */
interface Outcome {
  ok: boolean;
  stdout: string;
  stderr: string;
  reason?: string;
}

async function runCommand(argv: readonly string[]): Promise<Outcome> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(argv[0], {
      args: argv.slice(1),
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      env: { RUST_BACKTRACE: "0", NO_COLOR: "1" },
    }).spawn();
  } catch (error) {
    return {
      ok: false,
      stdout: "",
      stderr: "",
      reason: `cannot start ${argv[0]}: ${(error as Error).message}`,
    };
  }
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited meanwhile.
    }
  }, RUN_TIMEOUT_MS);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    const stdout = decoder.decode(output.stdout);
    const stderr = decoder.decode(output.stderr);
    if (output.success) return { ok: true, stdout, stderr };
    const last = stderr.trim().split("\n").filter((l) => l.trim() !== "")
      .at(-1) ?? "";
    return {
      ok: false,
      stdout,
      stderr,
      reason: output.signal === "SIGKILL"
        ? `killed after ${RUN_TIMEOUT_MS / 60_000} min`
        : `exit code ${output.code}${
          last === "" ? "" : `: ${last.slice(0, 200)}`
        }`,
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Node's binary and version (`TROUPE_NODE_BIN`, else the first `node` on PATH that is Node), or
 * null. Deno puts a `node` of its own first on the PATH of what it runs (it runs Deno), so each
 * candidate must say a Node version ("v20.20.2").
 */
async function findNode(): Promise<{ bin: string; version: string } | null> {
  const override = Deno.env.get("TROUPE_NODE_BIN");
  const candidates = override !== undefined && override !== ""
    ? [override]
    : (Deno.env.get("PATH") ?? "").split(":").filter((dir) => dir !== "")
      .map((dir) => `${dir}/node`);
  for (const bin of candidates) {
    try {
      const info = Deno.statSync(bin);
      if (!info.isFile || ((info.mode ?? 0) & 0o111) === 0) continue;
    } catch {
      continue; // Not in this directory.
    }
    const version = await firstLine([bin, "--version"]);
    if (version !== null && /^v\d+\./.test(version)) return { bin, version };
  }
  return null;
}

function loadAverage(): number | null {
  try {
    return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
  } catch {
    return null;
  }
}

async function firstLine(argv: string[]): Promise<string | null> {
  const outcome = await runCommand(argv);
  return outcome.ok ? outcome.stdout.trim().split("\n")[0] : null;
}

function machine(): string {
  let cpu = "unknown CPU";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    const model = /model name\s*:\s*(.*)/.exec(info)?.[1];
    if (model !== undefined) cpu = model.trim();
  } catch {
    // Not Linux.
  }
  return `${navigator.hardwareConcurrency} cores, ${cpu}`;
}

async function main(): Promise<void> {
  const options = parseOptions(Deno.args);
  const specs = SPECS.filter((s) => options.only.has(s.id));
  const denoBin = Deno.execPath();
  const node = specs.some((s) => s.runtime === "node")
    ? await findNode()
    : null;
  const nodeBin = node?.bin;
  const nodeVersion = node?.version ?? null;
  const unavailable = new Map<string, string>();
  if (specs.some((s) => s.runtime === "node")) {
    if (node === null) {
      unavailable.set(
        "node",
        "node is not installed (not on PATH, TROUPE_NODE_BIN not set)",
      );
    } else if (options.build) {
      console.error("table: building the npm package (scripts/build_npm.ts)");
      const build = await runCommand([
        denoBin,
        "run",
        "-A",
        "scripts/build_npm.ts",
      ]);
      if (!build.ok) {
        unavailable.set("node", `the npm build failed (${build.reason})`);
      }
    }
  }
  const records = new Map<string, RunRecord[]>(specs.map((s) => [s.id, []]));
  const failures = new Map<string, string>();
  const attemptLoads = new Map<string, number[]>(specs.map((s) => [s.id, []]));
  for (let run = 1; run <= options.runs; run++) {
    for (const spec of specs) {
      let missing = unavailable.get(spec.runtime);
      if (missing === undefined && spec.requires !== undefined) {
        try {
          Deno.statSync(`${ROOT}/${spec.requires}`);
        } catch {
          missing = `${spec.requires} is not in this checkout`;
        }
      }
      if (missing !== undefined) {
        failures.set(spec.id, missing);
        continue;
      }
      // "deno" and "node" are the binaries found (also where a bench starts a peer of its own).
      const bin = (arg: string): string =>
        arg === "deno" ? denoBin : arg === "node" ? nodeBin! : arg;
      const argv = spec.argv.map((arg, i) =>
        i === 0 || spec.runtime === "node" ? bin(arg) : arg
      );
      const before = loadAverage();
      const outcome = await runCommand(argv);
      const after = loadAverage();
      const load = [before, after].filter((v): v is number => v !== null);
      attemptLoads.get(spec.id)!.push(...load);
      let values: Record<string, number> | null = null;
      try {
        if (!outcome.ok) throw new Error(outcome.reason);
        values = spec.read(outcome.stdout, outcome.stderr);
      } catch (error) {
        if (!failures.has(spec.id)) {
          failures.set(spec.id, (error as Error).message);
        }
      }
      if (values !== null) records.get(spec.id)!.push({ values, load });
      console.error(
        `table: run ${run}/${options.runs} ${spec.id}: ${
          values === null ? `failed (${failures.get(spec.id)})` : "ok"
        } (load ${load.join(" → ")})`,
      );
    }
  }
  const denoVersion = `Deno ${Deno.version.deno}`;
  const reports: BenchReport[] = specs.map((spec) => ({
    id: spec.id,
    runtime: spec.runtime === "deno"
      ? denoVersion
      : `Node ${nodeVersion ?? "(missing)"}`,
    // The Node rows run the npm build, which this script makes first.
    command: `${spec.runtime === "node" ? "deno task build:npm && " : ""}${
      spec.argv.join(" ")
    }`,
    measures: spec.measures,
    runs: records.get(spec.id)!,
    failure: failures.get(spec.id),
    attempted: options.runs,
    attemptLoads: attemptLoads.get(spec.id),
  }));
  const commit = await firstLine(["git", "rev-parse", "--short", "HEAD"]) ??
    "unknown";
  const dirty = await firstLine([
    "git",
    "status",
    "--porcelain",
    "--untracked-files=no",
  ]);
  const section = renderTable(reports, {
    date: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
    commit: dirty === null || dirty === ""
      ? commit
      : `${commit} (with uncommitted changes)`,
    runtimes: `${denoVersion}${
      nodeVersion === null ? "" : `, Node ${nodeVersion}`
    }`,
    machine: machine(),
    command: ["deno run -A bench/table.ts", ...Deno.args].join(" "),
  });
  if (options.write) {
    const readme = await Deno.readTextFile(options.readme);
    await Deno.writeTextFile(options.readme, replaceSection(readme, section));
    // In the project's Markdown style, so that `deno task ok` (fmt --check) stays clean.
    const fmt = await runCommand([denoBin, "fmt", options.readme]);
    if (!fmt.ok) console.error(`table: deno fmt failed: ${fmt.reason}`);
    console.error(`table: wrote ${options.readme}`);
  } else {
    console.log(section);
  }
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    if (error instanceof TypeError || error instanceof RangeError) {
      console.error(`table: ${error.message}`);
      Deno.exit(2);
    }
    throw error;
  }
}
