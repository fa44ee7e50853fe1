// Fails when code outside src/platform/ reaches the runtime directly: `Deno.` anywhere in a .ts
// file under src/, or a `node:` import in a non-test .ts file under src/. Test files may import
// `node:` modules (`node:assert/strict`, `node:test`), since both runtimes provide them.
//
//   deno run --allow-read scripts/check_platform.ts

const ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname)
  .replace(/\/$/, "");
const PLATFORM_DIR = "src/platform/";

const DENO_USE = /\bDeno\./;
const NODE_IMPORT =
  /(?:\bfrom\s*|\bimport\s*\(?\s*|\brequire\s*\(\s*)["']node:/;

async function listTsFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(`${ROOT}/${dir}`)) {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory) files.push(...await listTsFiles(path));
    else if (entry.isFile && entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

function isCommentLine(line: string): boolean {
  const trimmed = line.trim();
  return trimmed.startsWith("//") || trimmed.startsWith("*") ||
    trimmed.startsWith("/*");
}

/** Every offending line of the files under src/ outside src/platform/, as `path:line: reason`. */
export async function findPlatformLeaks(): Promise<string[]> {
  const problems: string[] = [];
  for (const file of await listTsFiles("src")) {
    if (file.startsWith(PLATFORM_DIR)) continue;
    const isTest = file.endsWith("_test.ts");
    const lines = (await Deno.readTextFile(`${ROOT}/${file}`)).split("\n");
    lines.forEach((line, index) => {
      if (isCommentLine(line)) return;
      if (DENO_USE.test(line)) {
        problems.push(
          `${file}:${index + 1}: uses Deno.*; go through src/platform/mod.ts`,
        );
      }
      if (!isTest && NODE_IMPORT.test(line)) {
        problems.push(
          `${file}:${
            index + 1
          }: imports a node: module; go through src/platform/mod.ts`,
        );
      }
    });
  }
  return problems;
}

if (import.meta.main) {
  const problems = await findPlatformLeaks();
  if (problems.length > 0) {
    console.error(
      `check_platform: runtime APIs outside ${PLATFORM_DIR}:\n  ${
        problems.join("\n  ")
      }`,
    );
    Deno.exit(1);
  }
  console.log(`check_platform: only ${PLATFORM_DIR} touches Deno.* and node:*`);
}
