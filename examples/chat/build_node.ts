// Compiles the chat example for Node, against the npm build. The npm build (scripts/build_npm.ts)
// compiles mod.ts, src/ and tests/, not the examples; this script runs it, then compiles
// examples/chat/*.ts into npm/examples/chat/*.js, where the example's imports of the sources
// (`../../mod.ts`, `../../src/...`) land on the compiled package (`npm/mod.js`, with Node's
// platform files). Then:
//
//   deno run -A examples/chat/build_node.ts && node npm/examples/chat/main.js
//
// `--no-build` skips the npm build (when npm/ is fresh). Type errors fail the script.
const ROOT = decodeURIComponent(new URL("../..", import.meta.url).pathname)
  .replace(/\/$/, "");
const SOURCE = `${ROOT}/examples/chat`;
const OUT = `${ROOT}/npm/examples/chat`;
const SELF = "build_node.ts";

async function run(command: string, args: string[]): Promise<string> {
  const result = await new Deno.Command(command, {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const output = new TextDecoder().decode(result.stdout) +
    new TextDecoder().decode(result.stderr);
  if (!result.success) {
    throw new Error(`${command} ${args.join(" ")} failed:\n${output}`);
  }
  return output;
}

if (!Deno.args.includes("--no-build")) {
  console.log(
    (await run(Deno.execPath(), ["run", "-A", "scripts/build_npm.ts"])).trim(),
  );
}
try {
  await Deno.stat(`${ROOT}/npm/mod.js`);
} catch {
  throw new Error("npm/mod.js is missing: run without --no-build");
}

// Stage the sources where their output goes, with imports of the sources pointed at the
// compiled package: `../../x.ts` → `../../x.js` (a .js with its .d.ts beside it).
await Deno.remove(OUT, { recursive: true }).catch(() => {});
await Deno.mkdir(OUT, { recursive: true });
const staged: string[] = [];
for await (const entry of Deno.readDir(SOURCE)) {
  if (!entry.isFile || !entry.name.endsWith(".ts") || entry.name === SELF) {
    continue;
  }
  const text = (await Deno.readTextFile(`${SOURCE}/${entry.name}`))
    .replace(/(["'])(\.\.\/\.\.\/[^"']+)\.ts\1/g, "$1$2.js$1");
  await Deno.writeTextFile(`${OUT}/${entry.name}`, text);
  staged.push(entry.name);
}
const tsconfig = {
  compilerOptions: {
    target: "ES2022",
    lib: ["ES2022", "ESNext.Disposable", "DOM", "DOM.Iterable"],
    module: "NodeNext",
    moduleResolution: "NodeNext",
    types: ["node"],
    strict: true,
    skipLibCheck: true,
    rewriteRelativeImportExtensions: true,
    verbatimModuleSyntax: true,
    newLine: "lf",
    rootDir: ".",
    outDir: ".",
  },
  files: staged.sort(),
};
await Deno.writeTextFile(
  `${OUT}/tsconfig.json`,
  JSON.stringify(tsconfig, null, 2),
);
try {
  await run(`${ROOT}/node_modules/.bin/tsc`, [
    "-p",
    `${OUT}/tsconfig.json`,
    "--pretty",
    "false",
  ]);
} finally {
  for (const file of [...staged, "tsconfig.json"]) {
    await Deno.remove(`${OUT}/${file}`);
  }
}
console.log(
  `build_node: compiled ${staged.length} files to npm/examples/chat; run: node npm/examples/chat/main.js`,
);
