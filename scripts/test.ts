// The project's test command: the suite under Deno (with sanitizers), then the npm build, then
// the compiled suite under Node. Both runtimes always run. The last line printed is the total,
// `N passed, M failed` (`, K skipped` when any were), and the exit code is non-zero when anything
// failed or a runner crashed.
//
//   deno run -A scripts/test.ts      (deno task test)

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

async function pump(
  from: ReadableStream<Uint8Array>,
  to: Output,
  sink: string[],
): Promise<void> {
  const decoder = new TextDecoder();
  for await (const chunk of from) {
    sink.push(decoder.decode(chunk, { stream: true }));
    let written = 0;
    while (written < chunk.byteLength) {
      written += await to.write(chunk.subarray(written));
    }
  }
  sink.push(decoder.decode());
}

/** Runs a command with its output streamed through and also captured for parsing. */
async function run(command: string, args: string[]): Promise<RunResult> {
  console.log(`\n$ ${[command, ...args].join(" ")}`);
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      // The Node run starts Deno children for the cross-runtime tests.
      env: {
        RUST_BACKTRACE: "0",
        TROUPE_DENO_BIN: Deno.execPath(),
        TROUPE_REPO_ROOT: ROOT,
      },
    }).spawn();
  } catch (error) {
    console.error(`test: cannot start ${command}: ${error}`);
    return { success: false, output: "" };
  }
  const out: string[] = [];
  const err: string[] = [];
  const [status] = await Promise.all([
    child.status,
    pump(child.stdout, Deno.stdout, out),
    pump(child.stderr, Deno.stderr, err),
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

async function main(): Promise<number> {
  const totals: Counts = { passed: 0, failed: 0, skipped: 0 };
  const add = (runner: string, counts: Counts): void => {
    console.log(
      `test: ${runner} -> passed ${counts.passed} / failed ${counts.failed} / skipped ${counts.skipped}`,
    );
    totals.passed += counts.passed;
    totals.failed += counts.failed;
    totals.skipped += counts.skipped;
  };

  // 1. Deno, with the sanitizers on.
  const denoFiles = [
    ...await findFiles("src", "_test.ts"),
    ...await findFiles("tests", "_test.ts"),
  ];
  if (denoFiles.length > 0) {
    const result = await run(Deno.execPath(), [
      "test",
      "--allow-all",
      "--sanitize-ops",
      "--sanitize-resources",
      ...denoFiles,
    ]);
    add("deno test", settle("deno test", result, parseDeno(result.output)));
  }

  // 2. The npm build.
  const build = await run(Deno.execPath(), [
    "run",
    "--allow-all",
    "scripts/build_npm.ts",
  ]);
  if (!build.success) add("build_npm", { passed: 0, failed: 1, skipped: 0 });

  // 3. Node, over the compiled suite (Node 20 takes no globs, so the files are listed). A build
  // that failed on type errors still emitted JavaScript, so this runs unless nothing was emitted.
  const nodeFiles = [
    ...await findFiles("npm/src", "_test.js"),
    ...await findFiles("npm/tests", "_test.js"),
  ];
  if (nodeFiles.length > 0) {
    const result = await run("node", [
      "--test",
      "--test-reporter=tap",
      ...nodeFiles,
    ]);
    add(
      "node --test",
      settle("node --test", result, parseNodeTap(result.output)),
    );
  }

  console.log(describe(totals));
  return totals.failed > 0 ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
