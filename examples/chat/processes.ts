// The launcher's side of the node processes: start one (examples/chat/node.ts, in this same
// runtime), wait for its ready line, pass its output on, stop it with SIGTERM (SIGKILL when it
// does not end in time). The process helpers are the test suite's, which run on Deno and on
// Node alike (the npm build swaps them).
import {
  spawnTestProcess,
  type TestProcess,
  type TestProcessExit,
} from "../../src/platform/test_process.ts";
import { sameRuntime } from "../../src/platform/test_runtime.ts";

/** What a node prints once it serves. */
export interface NodeInfo {
  readonly node: string;
  /** Its HTTP base URL (chat page, chat endpoints, HttpApi). */
  readonly http: string;
  /** Its cluster address (host:port). */
  readonly address: string;
  readonly journal: "memory" | "redis";
}

const READY = /^CHAT-READY (\{.*\})$/m;

/** One chat node process. */
export class ChatNodeProcess {
  readonly name: string;
  readonly #process: TestProcess;
  #shown = 0;
  #exit: TestProcessExit | undefined;
  readonly #forward: ReturnType<typeof setInterval>;

  /** Starts `node.ts <name> ...args`; its output is printed as `  <name> | line`. */
  constructor(name: string, args: readonly string[]) {
    this.name = name;
    const { command, args: script } = sameRuntime(
      new URL("./node.ts", import.meta.url),
    );
    this.#process = spawnTestProcess(command, [...script, name, ...args]);
    this.#process.exited.then(
      (exit) => this.#exit = exit,
      (error) => this.#exit = { code: -1, signal: String(error) },
    );
    this.#forward = setInterval(() => this.#show(), 100);
  }

  /** The process id. */
  get pid(): number {
    return this.#process.pid;
  }

  /** Waits for the ready line. */
  async ready(timeoutMs = 30_000): Promise<NodeInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = READY.exec(this.#process.output());
      if (match !== null) return JSON.parse(match[1]) as NodeInfo;
      if (this.#exit !== undefined || Date.now() > deadline) {
        this.#show();
        throw new Error(
          `node ${this.name} did not start (${
            this.#exit === undefined
              ? `no ready line in ${timeoutMs} ms`
              : `exit ${JSON.stringify(this.#exit)}`
          })`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Stops it (SIGTERM, then SIGKILL after `graceMs`); answers how it ended. */
  async stop(graceMs = 15_000): Promise<TestProcessExit & { killed: boolean }> {
    this.#process.kill("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) =>
      timer = setTimeout(() => resolve("late"), graceMs)
    );
    let killed = false;
    if (await Promise.race([this.#process.exited, late]) === "late") {
      killed = true;
      this.#process.kill("SIGKILL");
    }
    clearTimeout(timer);
    const exit = await this.#process.exited;
    clearInterval(this.#forward);
    this.#show();
    return { ...exit, killed };
  }

  /** Prints the lines it wrote since last time (but not its ready line). */
  #show(): void {
    const output = this.#process.output();
    const end = output.lastIndexOf("\n") + 1;
    if (end <= this.#shown) return;
    for (const line of output.slice(this.#shown, end - 1).split("\n")) {
      if (!line.startsWith("CHAT-READY ")) {
        console.log(`  ${this.name} | ${line}`);
      }
    }
    this.#shown = end;
  }
}
