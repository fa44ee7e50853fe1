// Child processes and temporary directories for tests (e.g. a Redis server a test kills and
// restarts). The npm build replaces this file with test_process_node.ts, as it does
// test_harness.ts, so the same test runs under Deno and Node. Test-only: not published.
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
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command(command, {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (error) {
    const exited = Promise.reject(error);
    exited.catch(() => {});
    return { pid: 0, exited, kill: () => {}, output: () => "" };
  }
  const chunks: string[] = [];
  let done = false;
  const pump = async (stream: ReadableStream<Uint8Array>): Promise<void> => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      chunks.push(decoder.decode(chunk, { stream: true }));
    }
    chunks.push(decoder.decode());
  };
  const exited = Promise.all([
    child.status,
    pump(child.stdout),
    pump(child.stderr),
  ]).then(([status]): TestProcessExit => {
    done = true;
    return status.signal === null
      ? { code: status.code, signal: null }
      : { code: null, signal: status.signal };
  });
  return {
    pid: child.pid,
    exited,
    kill(signal = "SIGTERM") {
      if (done) return;
      try {
        child.kill(signal);
      } catch {
        // It exited meanwhile.
      }
    },
    output: () => chunks.join(""),
  };
}

/** Creates a fresh temporary directory and returns its path. */
export function makeTempDir(prefix: string): Promise<string> {
  return Deno.makeTempDir({ prefix });
}

/** Removes a directory and everything in it; a no-op when it does not exist. */
export async function removeDir(path: string): Promise<void> {
  try {
    await Deno.remove(path, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}
