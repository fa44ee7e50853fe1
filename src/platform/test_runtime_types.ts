/** A command that starts a child process. */
export interface ChildCommand {
  /** The executable. */
  readonly command: string;
  /** Its arguments. */
  readonly args: readonly string[];
}
