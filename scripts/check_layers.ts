// Fails when an import under src/ breaks the layering of ../shared/STYLE.md:
//
// - an import that goes up the layers (platform → backplane → timer, metrics → actor →
//   persistence, remote → cluster → http), or sideways between two folders of the same layer;
// - an import of another folder's private `_file.ts` (a folder's `_files` are its own; other
//   folders go through its `mod.ts` or its public files).
//
// Test files (`*_test.ts`) are consumers: they may import from any layer, and may import another
// folder's shared test suite (a private file that is itself a test module, such as
// `persistence/_conformance_test.ts`), but not another folder's private implementation files.
//
//   deno run --allow-read scripts/check_layers.ts [root]

/**
 * The layers, lowest first. A file belongs to the longest folder of this table that contains
 * it; it may import from its own folder and from folders of a lower layer.
 */
export const LAYERS: readonly (readonly string[])[] = [
  ["src/platform"],
  ["src/backplane"],
  ["src/timer", "src/metrics"],
  ["src/actor"],
  // The remote layer's own lower layers: the pure codec, then the bytes (whose framing errors
  // are protocol errors); the node sits on both.
  ["src/remote/protocol"],
  ["src/remote/transport"],
  ["src/persistence", "src/remote"],
  // Providers build on the persistence contract.
  ["src/persistence/redis", "src/persistence/postgres"],
  ["src/cluster"],
  ["src/http", "src/otel"],
  ["src/testing"],
];

interface Layer {
  readonly folder: string;
  readonly rank: number;
}

function layerOf(path: string): Layer | undefined {
  let found: Layer | undefined;
  LAYERS.forEach((folders, rank) => {
    for (const folder of folders) {
      if (
        path.startsWith(`${folder}/`) &&
        (found === undefined || folder.length > found.folder.length)
      ) {
        found = { folder, rank };
      }
    }
  });
  return found;
}

function dirname(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** Resolves a relative specifier against the importing file; both relative to the root. */
function resolve(from: string, specifier: string): string {
  const parts = dirname(from).split("/").filter((part) => part !== "");
  for (const part of specifier.split("/")) {
    if (part === "." || part === "") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return parts.join("/");
}

const IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(?\s*|\bexport\s*\*\s*from\s*)["'](\.{1,2}\/[^"']+)["']/g;

function isCommentLine(line: string): boolean {
  const trimmed = line.trim();
  return trimmed.startsWith("//") || trimmed.startsWith("*") ||
    trimmed.startsWith("/*");
}

/**
 * Every layering problem of the given files, as `path:line: reason`.
 *
 * @param sources The source text of each file, by its path relative to the repository root
 * (for example `src/remote/node.ts`). Only files under `src/` are checked.
 * @returns The problems, in file and line order; empty when the layering holds.
 */
export function findLayerViolations(
  sources: ReadonlyMap<string, string>,
): string[] {
  const problems: string[] = [];
  for (const file of [...sources.keys()].sort()) {
    if (!file.startsWith("src/") || !file.endsWith(".ts")) continue;
    const isTest = file.endsWith("_test.ts");
    const from = layerOf(file);
    const lines = sources.get(file)!.split("\n");
    lines.forEach((line, index) => {
      if (isCommentLine(line)) return;
      for (const match of line.matchAll(IMPORT)) {
        const target = resolve(file, match[1]);
        const where = `${file}:${index + 1}`;
        const name = basename(target);
        if (
          name.startsWith("_") && dirname(target) !== dirname(file) &&
          !(isTest && name.endsWith("_test.ts"))
        ) {
          problems.push(
            `${where}: imports "${target}", a private file of another folder; go through ${
              dirname(target)
            }/mod.ts`,
          );
        }
        if (isTest || from === undefined) continue;
        const to = layerOf(target);
        if (to === undefined || to.folder === from.folder) continue;
        if (to.rank > from.rank) {
          problems.push(
            `${where}: ${from.folder} imports "${target}" from ${to.folder}, a higher layer; move the code down`,
          );
        } else if (to.rank === from.rank) {
          problems.push(
            `${where}: ${from.folder} imports "${target}" from ${to.folder}, a folder of the same layer; move the shared code down`,
          );
        }
      }
    });
  }
  return problems;
}

async function readSources(
  root: string,
  dir: string,
  into: Map<string, string>,
): Promise<void> {
  for await (const entry of Deno.readDir(`${root}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) await readSources(root, path, into);
    else if (entry.isFile && entry.name.endsWith(".ts")) {
      into.set(path, await Deno.readTextFile(`${root}/${path}`));
    }
  }
}

if (import.meta.main) {
  const root = Deno.args[0] ??
    decodeURIComponent(new URL("..", import.meta.url).pathname).replace(
      /\/$/,
      "",
    );
  const sources = new Map<string, string>();
  await readSources(root, "src", sources);
  const problems = findLayerViolations(sources);
  if (problems.length > 0) {
    console.error(
      `check_layers: ${problems.length} import(s) break the layering:\n  ${
        problems.join("\n  ")
      }`,
    );
    Deno.exit(1);
  }
  console.log(
    `check_layers: ${sources.size} files, every import goes down the layers`,
  );
}
