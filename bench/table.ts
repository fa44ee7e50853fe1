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
  renderTable,
  replaceSection,
  type RunRecord,
} from "./table_format.ts";
import { SPECS } from "./table_specs.ts";

const ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
/** A bench that takes longer than this is killed and its run counts as failed. */
const RUN_TIMEOUT_MS = 10 * 60_000;

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
