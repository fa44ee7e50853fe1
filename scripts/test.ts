// The project's test command: the suite under Deno (with sanitizers), and, at the same time, the
// npm build followed by the compiled suite under Node and under Bun. Every runtime always runs
// (on CI a missing Bun is a failure; elsewhere its pass is skipped, loudly). The last line
// printed is the total, `N passed, M failed` (`, K skipped` when any were), and the exit code is
// non-zero when anything failed or a runner crashed.
//
// The runs overlap (each still runs its files one after another): much of the suite waits on
// real time (processes, servers, sockets) rather than using the CPU, and the runs share nothing
// (each test takes its own ports, key prefixes and schemas). Their output is interleaved line by
// line, each line tagged with its runner; `--serial` runs them one after the other, untagged.
//
// Bun runs the compiled files with `bun test` (Bun's runner, which implements `node:test`):
// `node --test` would be Node's. Each file gets a `bun test` process of its own, as each gets a
// Node process under `node --test`, so one file's leftovers cannot fail another's tests.
//
//   deno run -A scripts/test.ts [--serial]      (deno task test)

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");

interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface RunResult {
  success: boolean;
  output: string;
}

// deno-lint-ignore no-control-regex -- the escape character is what colour codes start with
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** The path of executable `name` on PATH (or in `override`, when set), or `undefined`. */
function findBinary(name: string, override?: string): string | undefined {
  if (override !== undefined && override !== "") return override;
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    if (dir === "") continue;
    try {
      const info = Deno.statSync(`${dir}/${name}`);
      if (info.isFile && ((info.mode ?? 0) & 0o111) !== 0) {
        return `${dir}/${name}`;
      }
    } catch {
      // Not in this directory.
    }
  }
  return undefined;
}

const NODE = findBinary("node", Deno.env.get("TROUPE_NODE_BIN"));
const BUN = findBinary("bun", Deno.env.get("TROUPE_BUN_BIN"));
const ON_CI =
  ((value) =>
    value !== undefined && value !== "" && value !== "0" && value !== "false")(
      Deno.env.get("CI"),
    );

/** Files under `dir` (relative to the repository) whose names end with `suffix`, sorted. */
async function findFiles(dir: string, suffix: string): Promise<string[]> {
  const found: string[] = [];
  const entries: Deno.DirEntry[] = [];
  try {
    for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
      entries.push(entry);
    }
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return found;
    throw error;
  }
  for (const entry of entries) {
    const path = `${dir}/${entry.name}`;
    if (
      entry.isDirectory && !entry.name.startsWith(".") &&
      entry.name !== "node_modules"
    ) {
      found.push(...await findFiles(path, suffix));
    } else if (entry.isFile && entry.name.endsWith(suffix)) {
      found.push(path);
    }
  }
  return found.sort();
}

interface Output {
  write(bytes: Uint8Array): Promise<number>;
}

const encoder = new TextEncoder();

/** Writes all of `bytes`; writes to one output are queued, so lines never mix. */
function writer(to: Output): (bytes: Uint8Array) => Promise<void> {
  let queue = Promise.resolve();
  return (bytes) =>
    queue = queue.then(async () => {
      let written = 0;
      while (written < bytes.byteLength) {
        written += await to.write(bytes.subarray(written));
      }
    });
}

const stdout = writer(Deno.stdout);
const stderr = writer(Deno.stderr);

/** Streams `from` to `to` (whole lines, each after `tag`, when there is a tag) and into `sink`. */
async function pump(
  from: ReadableStream<Uint8Array>,
  to: (bytes: Uint8Array) => Promise<void>,
  sink: string[],
  tag: string,
): Promise<void> {
  const decoder = new TextDecoder();
  let partial = "";
  for await (const chunk of from) {
    const text = decoder.decode(chunk, { stream: true });
    sink.push(text);
    if (tag === "") {
      await to(chunk);
      continue;
    }
    const lines = (partial + text).split("\n");
    partial = lines.pop()!;
    if (lines.length > 0) {
      await to(encoder.encode(lines.map((l) => `${tag}${l}\n`).join("")));
    }
  }
  const rest = decoder.decode();
  sink.push(rest);
  partial += rest;
  if (tag !== "" && partial !== "") {
    await to(encoder.encode(`${tag}${partial}\n`));
  }
}

/** Prints a line of this script's own (after `tag`). */
async function say(tag: string, line: string, error = false): Promise<void> {
  await (error ? stderr : stdout)(encoder.encode(`${tag}${line}\n`));
}

/** Runs a command with its output streamed through (tagged) and also captured for parsing. */
async function run(
  tag: string,
  command: string,
  args: string[],
): Promise<RunResult> {
  await say(tag, `\n$ ${[command, ...args].join(" ")}`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // The cross-runtime tests start children in the other runtimes.
      env: {
        RUST_BACKTRACE: "0",
        TROUPE_DENO_BIN: Deno.execPath(),
        TROUPE_REPO_ROOT: ROOT,
        ...(NODE === undefined ? {} : { TROUPE_NODE_BIN: NODE }),
        ...(BUN === undefined ? {} : { TROUPE_BUN_BIN: BUN }),
      },
    }).spawn();
  } catch (error) {
    await say(tag, `test: cannot start ${command}: ${error}`, true);
    return { success: false, output: "" };
  }
  const out: string[] = [];
  const err: string[] = [];
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, stdout, out, tag),
    pump(child.stderr, stderr, err, tag),
  ]);
  return {
    success: status.success,
    output: out.join("") + "\n" + err.join(""),
  };
}

/** Reads `ok | 12 passed | 0 failed | 1 ignored (3s)` (or `FAILED | ...`), the last one printed. */
function parseDeno(output: string): Counts | undefined {
  const lines = output.replace(ANSI, "").split("\n").filter((line) =>
    /^(ok|FAILED) \| \d+ passed/.test(line.trim())
  );
  const summary = lines.at(-1);
  if (summary === undefined) return undefined;
  const count = (label: string): number => {
    const match = new RegExp(`\\| (\\d+) ${label}\\b`).exec(summary);
    return match === null ? 0 : Number(match[1]);
  };
  return {
    passed: count("passed"),
    failed: count("failed"),
    skipped: count("ignored"),
  };
}

/** Reads the `# pass N`, `# fail N`, ... trailer of node's TAP reporter. */
function parseNodeTap(output: string): Counts | undefined {
  const text = output.replace(ANSI, "");
  const count = (label: string): number | undefined => {
    const matches = [...text.matchAll(new RegExp(`^# ${label} (\\d+)$`, "gm"))];
    const last = matches.at(-1);
    return last === undefined ? undefined : Number(last[1]);
  };
  const passed = count("pass");
  const failed = count("fail");
  if (passed === undefined || failed === undefined) return undefined;
  return {
    passed,
    failed: failed + (count("cancelled") ?? 0),
    skipped: (count("skipped") ?? 0) + (count("todo") ?? 0),
  };
}

/**
 * Reads the trailer of `bun test` (` 12 pass`, ` 1 skip`, ` 0 fail`, `Ran 13 tests across 1
 * file.`), the last one printed.
 */
function parseBun(output: string): Counts | undefined {
  const text = output.replace(ANSI, "");
  const count = (label: string): number | undefined => {
    const matches = [
      ...text.matchAll(new RegExp(`^\\s*(\\d+) ${label}$`, "gm")),
    ];
    const last = matches.at(-1);
    return last === undefined ? undefined : Number(last[1]);
  };
  const passed = count("pass");
  const failed = count("fail");
  if (passed === undefined || failed === undefined) return undefined;
  return {
    passed,
    failed,
    skipped: (count("skip") ?? 0) + (count("todo") ?? 0),
  };
}

function describe(counts: Counts): string {
  const line = `${counts.passed} passed, ${counts.failed} failed`;
  return counts.skipped > 0 ? `${line}, ${counts.skipped} skipped` : line;
}

/** Counts of one runner; a crash or a missing summary counts as one failure. */
function settle(
  runner: string,
  result: RunResult,
  counts: Counts | undefined,
): Counts {
  if (counts === undefined) {
    console.error(
      `test: ${runner} printed no summary (crashed?); counting it as 1 failure`,
    );
    return { passed: 0, failed: 1, skipped: 0 };
  }
  if (!result.success && counts.failed === 0) {
    console.error(
      `test: ${runner} exited with an error although no test failed; counting 1 failure`,
    );
    return { ...counts, failed: 1 };
  }
  return counts;
}

/** What one runner (or the build) reported. */
interface Report {
  runner: string;
  counts: Counts;
}

/** The Deno run: every test file, with the sanitizers on. */
async function denoSuite(tag: string): Promise<Report[]> {
  const files = [
    ...await findFiles("src", "_test.ts"),
    ...await findFiles("tests", "_test.ts"),
    // The bench table's parsing and rewriting (the benches themselves run by hand).
    ...await findFiles("bench", "_test.ts"),
  ];
  if (files.length === 0) return [];
  const result = await run(tag, Deno.execPath(), [
    "test",
    "--allow-all",
    "--sanitize-ops",
    "--sanitize-resources",
    ...files,
  ]);
  const runner = "deno test";
  return [{ runner, counts: settle(runner, result, parseDeno(result.output)) }];
}

/** The npm build; a failed build counts as one failure (the runs still use what it emitted). */
async function npmBuild(tag: string): Promise<Report[]> {
  const build = await run(tag, Deno.execPath(), [
    "run",
    "--allow-all",
    "scripts/build_npm.ts",
  ]);
  return build.success
    ? []
    : [{ runner: "build_npm", counts: { passed: 0, failed: 1, skipped: 0 } }];
}

/** The compiled test files: Node 20 takes no globs, so they are listed. */
async function compiledTests(): Promise<string[]> {
  return [
    ...await findFiles("npm/src", "_test.js"),
    ...await findFiles("npm/tests", "_test.js"),
  ];
}

/** The Node run over the compiled suite. */
async function nodeSuite(tag: string): Promise<Report[]> {
  // A build that failed on type errors still emitted JavaScript, so this runs unless nothing
  // was emitted.
  const files = await compiledTests();
  if (files.length === 0) return [];
  const result = await run(tag, NODE ?? "node", [
    "--test",
    "--test-reporter=tap",
    ...files,
  ]);
  const runner = "node --test";
  return [{
    runner,
    counts: settle(runner, result, parseNodeTap(result.output)),
  }];
}

/** The Bun run over the compiled suite: `bun test`, one process per file. */
async function bunSuite(tag: string): Promise<Report[]> {
  const runner = "bun test";
  if (BUN === undefined) {
    const message = "test: no bun on PATH: the Bun pass did not run" +
      (ON_CI ? " (a failure on CI)" : " (install it: see .ci/run)");
    await say(tag, message, true);
    return ON_CI
      ? [{ runner, counts: { passed: 0, failed: 1, skipped: 0 } }]
      : [];
  }
  const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
  const failing: string[] = [];
  for (const file of await compiledTests()) {
    // A path, not a filter: `bun test` takes an argument with a slash as a file to run. The
    // per-test timeout is Bun's (5 s by default); the suite's real-process tests need more.
    const result = await run(tag, BUN, [
      "test",
      "--timeout",
      "120000",
      `./${file}`,
    ]);
    const counts = settle(`${runner} ${file}`, result, parseBun(result.output));
    totals.passed += counts.passed;
    totals.failed += counts.failed;
    totals.skipped += counts.skipped;
    if (counts.failed > 0) failing.push(file);
  }
  if (failing.length > 0) {
    await say(tag, `test: bun test failed in ${failing.join(", ")}`, true);
  }
  return [{ runner, counts: totals }];
}

/** The npm build, then the compiled suite under Node and Bun (at once unless `serial`). */
async function npmSuites(serial: boolean): Promise<Report[]> {
  const reports = await npmBuild(serial ? "" : "[build] ");
  if (serial) {
    reports.push(...await nodeSuite(""), ...await bunSuite(""));
  } else {
    const [node, bun] = await Promise.all([
      nodeSuite("[node] "),
      bunSuite("[bun] "),
    ]);
    reports.push(...node, ...bun);
  }
  return reports;
}

async function main(): Promise<number> {
  const serial = Deno.args.includes("--serial");
  const unknown = Deno.args.filter((arg) => arg !== "--serial");
  if (unknown.length > 0) {
    console.error(`test: unknown argument(s) ${unknown.join(" ")}`);
    return 2;
  }
  const started = performance.now();
  const [deno, npm] = serial
    ? [await denoSuite(""), await npmSuites(true)]
    : await Promise.all([denoSuite("[deno] "), npmSuites(false)]);

  const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
  for (const { runner, counts } of [...deno, ...npm]) {
    console.log(
      `test: ${runner} -> passed ${counts.passed} / failed ${counts.failed} / skipped ${counts.skipped}`,
    );
    totals.passed += counts.passed;
    totals.failed += counts.failed;
    totals.skipped += counts.skipped;
  }
  const seconds = (performance.now() - started) / 1000;
  console.log(`test: took ${seconds.toFixed(0)} s`);
  console.log(describe(totals));
  return totals.failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
