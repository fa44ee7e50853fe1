// Builds the npm package into npm/: stages mod.ts, src/ and tests/, swaps the Deno platform files
// for their Node twins, compiles with TypeScript to ESM + .d.ts, and writes npm/package.json.
//
//   deno run -A scripts/build_npm.ts
//
// Fails (exit 1) on a compile error or on anything Node could not load.

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");
const OUT = `${ROOT}/npm`;
/** Inside npm/ so that bare imports resolve from the repository's node_modules/. */
const STAGING = `${OUT}/.staging`;
/** deno.json imports needed only to build and test, never by the published package. */
const DEV_ONLY = new Set(["typescript", "fast-check", "@types/node"]);
/** Clients only a subpath export loads (dynamically): optional peer dependencies, not dependencies. */
const OPTIONAL_PEERS = new Set(["postgres"]);
/** Test-only platform files (in src/platform/) and the Node twins that take their place. */
const TEST_TWINS: ReadonlyArray<readonly [string, string]> = [
  ["test_harness.ts", "test_harness_node.ts"],
  ["test_process.ts", "test_process_node.ts"],
  ["test_runtime.ts", "test_runtime_node.ts"],
];

interface DenoConfig {
  name: string;
  version: string;
  license?: string;
  description?: string;
  exports?: string | Record<string, string>;
  imports?: Record<string, string>;
}

class BuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BuildError";
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Every file under `dir`, as paths relative to it, sorted for a deterministic build. */
async function listFiles(dir: string, prefix = ""): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${dir}/${prefix}`)) {
    const path = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) files.push(...await listFiles(dir, path));
    else if (entry.isFile) files.push(path);
  }
  return files.sort();
}

async function copyFile(from: string, to: string): Promise<void> {
  await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
  await Deno.copyFile(from, to);
}

async function replaceOnce(
  path: string,
  search: string,
  replacement: string,
): Promise<void> {
  const text = await Deno.readTextFile(path);
  if (!text.includes(search)) {
    throw new BuildError(
      `Cannot swap platform in ${path}: expected to find ${
        JSON.stringify(search)
      }`,
    );
  }
  await Deno.writeTextFile(path, text.replace(search, replacement));
}

/** Splits `npm:@scope/name@^1.2/sub/path` into the package name and its version range. */
function parseNpmSpecifier(
  specifier: string,
): { name: string; range: string } | undefined {
  const match = /^npm:\/?((?:@[^/@]+\/)?[^/@]+)(?:@([^/]+))?(?:\/.*)?$/.exec(
    specifier,
  );
  if (match === null) return undefined;
  return { name: match[1], range: match[2] ?? "*" };
}

/** The optional peer dependencies (package.json `peerDependencies` with their ranges). */
function optionalPeersOf(config: DenoConfig): Record<string, string> {
  const peers: Record<string, string> = {};
  for (const specifier of Object.values(config.imports ?? {})) {
    const parsed = parseNpmSpecifier(specifier);
    if (parsed !== undefined && OPTIONAL_PEERS.has(parsed.name)) {
      peers[parsed.name] = parsed.range;
    }
  }
  return peers;
}

function dependenciesOf(config: DenoConfig): Record<string, string> {
  const dependencies: Record<string, string> = {};
  for (const [key, specifier] of Object.entries(config.imports ?? {})) {
    const parsed = parseNpmSpecifier(specifier);
    if (parsed === undefined) {
      throw new BuildError(
        `Cannot build for npm: import "${key}" maps to "${specifier}", which Node cannot load`,
      );
    }
    if (key !== parsed.name && !key.startsWith(`${parsed.name}/`)) {
      throw new BuildError(
        `Cannot build for npm: import "${key}" is an alias of "${parsed.name}"; Node resolves ` +
          `bare imports by package name, so the key must be the package name`,
      );
    }
    if (DEV_ONLY.has(parsed.name) || OPTIONAL_PEERS.has(parsed.name)) continue;
    const known = dependencies[parsed.name];
    if (known !== undefined && known !== parsed.range) {
      throw new BuildError(
        `Cannot build for npm: "${parsed.name}" is imported as both "${known}" and "${parsed.range}"`,
      );
    }
    dependencies[parsed.name] = parsed.range;
  }
  return Object.fromEntries(
    Object.entries(dependencies).sort(([a], [b]) => a < b ? -1 : 1),
  );
}

async function packageExports(
  config: DenoConfig,
): Promise<Record<string, { types: string; default: string }>> {
  const entries = typeof config.exports === "string"
    ? { ".": config.exports }
    : config.exports ?? {};
  const result: Record<string, { types: string; default: string }> = {};
  for (const [subpath, source] of Object.entries(entries)) {
    if (!source.endsWith(".ts")) {
      throw new BuildError(`Cannot export "${source}": not a .ts file`);
    }
    if (!await exists(`${ROOT}/${source}`)) {
      console.warn(
        `build_npm: skipping export "${subpath}": ${source} does not exist yet`,
      );
      continue;
    }
    const base = source.slice(0, -".ts".length);
    result[subpath] = { types: `${base}.d.ts`, default: `${base}.js` };
  }
  return result;
}

async function stage(): Promise<string[]> {
  const staged: string[] = [];
  if (await exists(`${ROOT}/mod.ts`)) {
    await copyFile(`${ROOT}/mod.ts`, `${STAGING}/mod.ts`);
    staged.push("mod.ts");
  }
  for (const dir of ["src", "tests"]) {
    if (!await exists(`${ROOT}/${dir}`)) continue;
    for (const file of await listFiles(`${ROOT}/${dir}`)) {
      await copyFile(`${ROOT}/${dir}/${file}`, `${STAGING}/${dir}/${file}`);
      staged.push(`${dir}/${file}`);
    }
  }
  // The Node twins take the place of the Deno platform files.
  const platformDir = `${STAGING}/src/platform`;
  await replaceOnce(
    `${platformDir}/mod.ts`,
    `import { denoPlatform } from "./deno.ts";`,
    `import { nodePlatform } from "./node.ts";`,
  );
  await replaceOnce(
    `${platformDir}/mod.ts`,
    `export const platform: Platform = denoPlatform;`,
    `export const platform: Platform = nodePlatform;`,
  );
  await Deno.remove(`${platformDir}/deno.ts`);
  const removed = new Set(["src/platform/deno.ts"]);
  for (const [denoFile, nodeTwin] of TEST_TWINS) {
    await Deno.rename(
      `${platformDir}/${nodeTwin}`,
      `${platformDir}/${denoFile}`,
    );
    removed.add(`src/platform/${nodeTwin}`);
  }
  const files = staged.filter((file) => !removed.has(file));

  const problems: string[] = [];
  for (const file of files.filter((file) => file.endsWith(".ts"))) {
    const text = await Deno.readTextFile(`${STAGING}/${file}`);
    if (
      /\bfrom\s+["'](?:npm|jsr|https?):/.test(text) ||
      /\bimport\(\s*["'](?:npm|jsr):/.test(text)
    ) {
      problems.push(
        `${file}: imports an npm:/jsr:/URL specifier; use a deno.json import instead`,
      );
    }
    if (/(?:\bfrom\s*|\bimport\s*\(?\s*)["'][^"']*\/deno\.ts["']/.test(text)) {
      problems.push(
        `${file}: imports src/platform/deno.ts; import src/platform/mod.ts instead`,
      );
    }
  }
  if (problems.length > 0) {
    throw new BuildError(`Cannot build for npm:\n  ${problems.join("\n  ")}`);
  }
  return files;
}

async function compile(): Promise<void> {
  const tsc = `${ROOT}/node_modules/.bin/tsc`;
  if (!await exists(tsc)) {
    // A fresh clone: let Deno lay out node_modules/ from deno.json and deno.lock.
    const install = await new Deno.Command(Deno.execPath(), {
      args: ["install"],
      cwd: ROOT,
    })
      .output();
    if (!install.success || !await exists(tsc)) {
      throw new BuildError(
        `Cannot compile: ${tsc} is missing and \`deno install\` did not provide it`,
      );
    }
  }
  await Deno.writeTextFile(`${STAGING}/package.json`, `{ "type": "module" }\n`);
  const tsconfig = {
    compilerOptions: {
      target: "ES2022",
      lib: ["ES2022", "ESNext.Disposable", "DOM", "DOM.Iterable"],
      module: "NodeNext",
      moduleResolution: "NodeNext",
      types: ["node"],
      strict: true,
      skipLibCheck: true,
      declaration: true,
      rewriteRelativeImportExtensions: true,
      verbatimModuleSyntax: true,
      // Emit even on type errors, so `deno task test` can still run the Node suite; the build
      // itself fails all the same.
      noEmitOnError: false,
      newLine: "lf",
      rootDir: ".",
      outDir: "..",
    },
    include: ["**/*.ts"],
    // Explicit, or tsc leaves out everything under outDir, which holds the staging dir.
    exclude: [],
  };
  await Deno.writeTextFile(
    `${STAGING}/tsconfig.json`,
    JSON.stringify(tsconfig, null, 2) + "\n",
  );
  const result = await new Deno.Command(tsc, {
    args: ["-p", `${STAGING}/tsconfig.json`, "--pretty", "false"],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  // Point the messages at the sources rather than at their staged copies.
  const decoder = new TextDecoder();
  const output = (decoder.decode(result.stdout) + decoder.decode(result.stderr))
    .replaceAll("npm/.staging/", "");
  if (!result.success) {
    throw new BuildError(
      `TypeScript failed to compile the npm build:\n${output.trimEnd()}`,
    );
  }
}

async function writePackage(config: DenoConfig): Promise<void> {
  const exports = await packageExports(config);
  const peers = optionalPeersOf(config);
  const packageJson = {
    name: config.name,
    version: config.version,
    ...(config.description === undefined
      ? {}
      : { description: config.description }),
    ...(config.license === undefined ? {} : { license: config.license }),
    type: "module",
    engines: { node: ">=20" },
    sideEffects: false,
    exports,
    files: [
      "**/*.js",
      "**/*.d.ts",
      "**/*.sql",
      "!**/*_test.js",
      "!**/*_test.d.ts",
      "!tests/",
      "!src/platform/test_harness*",
      "!src/platform/test_process*",
      "!.staging/",
    ],
    dependencies: dependenciesOf(config),
    peerDependencies: peers,
    peerDependenciesMeta: Object.fromEntries(
      Object.keys(peers).map((name) => [name, { optional: true }]),
    ),
  };
  await Deno.writeTextFile(
    `${OUT}/package.json`,
    JSON.stringify(packageJson, null, 2) + "\n",
  );
  for (const file of ["README.md", "LICENSE"]) {
    if (await exists(`${ROOT}/${file}`)) {
      await Deno.copyFile(`${ROOT}/${file}`, `${OUT}/${file}`);
    }
  }
}

/** Loads every export under Node, so a missing dependency or a bad import fails the build. */
async function smokeTest(config: DenoConfig): Promise<void> {
  const exports = await packageExports(config);
  const urls = Object.values(exports).map((entry) =>
    new URL(entry.default, `file://${OUT}/`).href
  );
  if (urls.length === 0) return;
  const script = `for (const url of ${
    JSON.stringify(urls)
  }) await import(url);`;
  const result = await new Deno.Command("node", {
    args: ["--input-type=module", "--eval", script],
    cwd: OUT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!result.success) {
    throw new BuildError(
      `Node cannot load the built package:\n${
        new TextDecoder().decode(result.stderr).trimEnd()
      }`,
    );
  }
}

async function main(): Promise<void> {
  const started = performance.now();
  const config: DenoConfig = JSON.parse(
    await Deno.readTextFile(`${ROOT}/deno.json`),
  );
  await Deno.remove(OUT, { recursive: true }).catch((error) => {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  });
  const files = await stage();
  await compile();
  // Files that are not TypeScript sources (fixtures, generated .js with its .d.ts) ship as they are.
  for (const file of files) {
    if (!file.endsWith(".ts") || file.endsWith(".d.ts")) {
      await copyFile(`${STAGING}/${file}`, `${OUT}/${file}`);
    }
  }
  await Deno.remove(STAGING, { recursive: true });
  await writePackage(config);
  await smokeTest(config);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(
    `build_npm: wrote ${config.name}@${config.version} to npm/ in ${seconds}s`,
  );
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(
      error instanceof BuildError ? `build_npm: ${error.message}` : error,
    );
    Deno.exit(1);
  }
}
