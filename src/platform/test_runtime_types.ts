/** A runtime the test suite runs on, or starts children in. */
export type TestRuntime = "deno" | "node" | "bun";

/** A command that starts a child process. */
export interface ChildCommand {
  /** The executable. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
}
