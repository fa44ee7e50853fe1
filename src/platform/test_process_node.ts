// Node twin of test_process.ts: the npm build copies this file over it.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProcess, TestProcessExit } from "./test_process_types.ts";
export type { TestProcess, TestProcessExit } from "./test_process_types.ts";

/**
 * Starts `command` with `args`, stdin closed and stdout/stderr captured. The caller must
 * await {@linkcode TestProcess.exited} (after kill() if need be) before the test ends.
 */
export function spawnTestProcess(
  command: string,
  args: readonly string[],
): TestProcess {
  const child = spawn(command, [...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const chunks: string[] = [];
  let done = false;
  child.stdout.setEncoding("utf8").on(
    "data",
    (text: string) => chunks.push(text),
  );
  child.stderr.setEncoding("utf8").on(
    "data",
    (text: string) => chunks.push(text),
  );
  const exited = new Promise<TestProcessExit>((resolve, reject) => {
    child.once("error", (error) => {
      done = true;
      reject(error);
    });
    // 'close' comes after 'exit' and after both output streams have ended.
    child.once("close", (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
  });
  exited.catch(() => {});
  return {
    pid: child.pid ?? 0,
    exited,
    kill(signal = "SIGTERM") {
      if (!done) child.kill(signal);
    },
    output: () => chunks.join(""),
  };
}

/** Creates a fresh temporary directory and returns its path. */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}

/** Removes a directory and everything in it; a no-op when it does not exist. */
export function removeDir(path: string): Promise<void> {
  return rm(path, { recursive: true, force: true });
}
