// The pre-commit gate (deno task ok): formatting, lint, type check, doc lint (of all the
// modules together, then of each export alone, as a user of that one entry point sees it; a
// warning fails it too), a publish dry run, the README's code blocks type-checked, the
// platform-boundary check and the layering check (scripts/check_layers.ts: no import up the
// layers, none into another folder's private `_files`). Runs every step and fails if any failed.
//
//   deno run -A scripts/ok.ts

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");

interface DenoConfig {
  exports?: string | Record<string, string>;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(`${ROOT}/${path}`);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

async function existing(paths: string[]): Promise<string[]> {
  const found: string[] = [];
  for (const path of paths) if (await exists(path)) found.push(path);
  return found;
}

async function findModFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  if (!await exists(dir)) return found;
  for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
    if (entry.isDirectory) {
      found.push(...await findModFiles(`${dir}/${entry.name}`));
    } else if (entry.name === "mod.ts") found.push(`${dir}/mod.ts`);
  }
  return found.sort();
}

// deno-lint-ignore no-control-regex -- colour codes start with the escape character
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/**
 * Runs `deno <args>`. With `failOnWarning`, the output is captured (and printed) and a line
 * starting with "Warning" fails the step, since `deno doc` warns but exits 0.
 */
async function step(
  name: string,
  args: string[],
  failOnWarning = false,
): Promise<boolean> {
  console.log(`\n$ deno ${args.join(" ")}`);
  const command = new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdin: "null",
    env: { RUST_BACKTRACE: "0" },
    ...(failOnWarning ? { stdout: "piped", stderr: "piped" } as const : {}),
  });
  let success: boolean;
  if (failOnWarning) {
    const output = await command.output();
    const decoder = new TextDecoder();
    const text = decoder.decode(output.stdout) + decoder.decode(output.stderr);
    if (text.trim() !== "") console.log(text.trimEnd());
    const warnings = text.replace(ANSI, "").split("\n").filter((line) =>
      line.startsWith("Warning")
    );
    if (warnings.length > 0) {
      console.error(`ok: step "${name}" printed ${warnings.length} warning(s)`);
    }
    success = output.success && warnings.length === 0;
  } else {
    success = (await command.spawn().status).success;
  }
  if (!success) console.error(`ok: step "${name}" failed`);
  return success;
}

async function main(): Promise<number> {
  const config: DenoConfig = JSON.parse(
    await Deno.readTextFile(`${ROOT}/deno.json`),
  );
  const exportPaths = typeof config.exports === "string"
    ? [config.exports]
    : Object.values(config.exports ?? {});
  const exportFiles = exportPaths.map((path) => path.replace(/^\.\//, ""));
  const missing: string[] = [];
  for (const path of exportFiles) if (!await exists(path)) missing.push(path);

  const failed: string[] = [];
  const check = async (
    name: string,
    args: string[],
    failOnWarning = false,
  ): Promise<void> => {
    if (!await step(name, args, failOnWarning)) failed.push(name);
  };
  await check("fmt", ["fmt", "--check"]);
  await check("lint", ["lint"]);
  const checked = await existing([
    "mod.ts",
    "src",
    "tests",
    "bench",
    "scripts",
    "examples",
  ]);
  await check("check", ["check", ...checked]);
  // The README's code blocks are API promises: they must keep type-checking.
  await check("readme examples", ["check", "--doc-only", "README.md"]);
  if (missing.length > 0) {
    console.error(
      `ok: deno.json exports files that do not exist: ${missing.join(", ")}`,
    );
    failed.push("exports");
  } else {
    // The exports, plus every folder's mod.ts and the platform implementations behind them.
    const documented = new Set([
      ...exportFiles,
      ...await findModFiles("src"),
      ...await existing(["src/platform/deno.ts", "src/platform/node.ts"]),
    ]);
    await check("doc lint", ["doc", "--lint", ...documented], true);
    // Each export alone: a type it names but does not export is an error only then.
    for (const file of exportFiles) {
      await check(`doc lint ${file}`, ["doc", "--lint", file], true);
    }
    await check("publish dry run", ["publish", "--dry-run", "--allow-dirty"]);
  }
  await check("platform boundary", [
    "run",
    "--allow-read",
    "scripts/check_platform.ts",
  ]);
  await check("layers", [
    "run",
    "--allow-read",
    "scripts/check_layers.ts",
  ]);

  if (failed.length > 0) {
    console.error(`\nok: FAILED: ${failed.join(", ")}`);
    return 1;
  }
  console.log("\nok: all checks passed");
  return 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
