/** One test of the shared suite. */
export interface TestDefinition {
  /** The symbol under test and the behaviour, e.g. `"Device.link() ..."`. */
  readonly name: string;
  /** The test body. */
  readonly fn: () => void | Promise<void>;
  /**
   * Skip the test (it is reported as ignored/skipped). A string skips it and says why; the
   * runner prints the reason.
   */
  readonly ignore?: boolean | string;
}
