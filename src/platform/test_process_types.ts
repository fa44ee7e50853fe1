/** How a process started by `spawnTestProcess` ended. */
export interface TestProcessExit {
  /** The exit code, or `null` when a signal ended it. */
  readonly code: number | null;
  /** The signal that ended it (e.g. `"SIGKILL"`), or `null`. */
  readonly signal: string | null;
}

/** A child process started by a test. */
export interface TestProcess {
  /** The operating system's process id. */
  readonly pid: number;
  /**
   * Resolves once the process has exited and its output is fully read; rejects when it could
   * not be started (e.g. the command does not exist).
   */
  readonly exited: Promise<TestProcessExit>;
  /** Sends a signal (default `"SIGTERM"`); a no-op once the process has exited. */
  kill(signal?: "SIGTERM" | "SIGKILL"): void;
  /** Everything it wrote to stdout and stderr so far, interleaved in arrival order. */
  output(): string;
}
