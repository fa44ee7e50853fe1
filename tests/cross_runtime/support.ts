// Helpers of the cross-runtime tests: the echo actor every node serves, how a watcher writes
// down a stop notice, and nodes in child processes of a given runtime (tests/cross_runtime/
// node_main.ts), started through src/platform/test_runtime.ts so each runtime runs the build it
// can load (Deno the sources, Node and Bun the npm build; Bun also runs the sources as they are).
import { defineActor, type StopNotice } from "../../mod.ts";
import { platform } from "../../src/platform/mod.ts";
import {
  spawnTestProcess,
  type TestProcess,
} from "../../src/platform/test_process.ts";
import type {
  ChildCommand,
  TestRuntime,
} from "../../src/platform/test_runtime.ts";

/** The cluster name of the cross-runtime tests. */
export const CLUSTER = "cross-runtime";
/** Their shared secret (tests only). */
export const SECRET = "cross-runtime secret, tests only";

/** Whether the tests run on CI (a runtime that cannot be started is then a failure). */
export const ON_CI: boolean =
  ((value) =>
    value !== undefined && value !== "" && value !== "0" && value !== "false")(
      platform.env("CI"),
    );

/** What the echo actor handles. */
export interface EchoProtocol {
  echo(text: string): string;
  add(item: { from: string; n: number }): void;
  seen(from: string): number[];
  runtime(): string;
}

interface EchoState {
  readonly seen: Map<string, number[]>;
}

/**
 * The echo actor: echoes text, records numbers per sender (to check per-sender order), and names
 * the runtime it runs on.
 *
 * @param runtime The runtime to report.
 * @returns Its definition.
 */
export function echo(runtime: string) {
  return defineActor({
    name: "echo",
    init: (_args: unknown): EchoState => ({ seen: new Map() }),
    handlers: {
      echo: (_s: EchoState, text: string) => text,
      add: (s: EchoState, item: { from: string; n: number }) => {
        const list = s.seen.get(item.from) ?? [];
        list.push(item.n);
        s.seen.set(item.from, list);
      },
      seen: (s: EchoState, from: string) => s.seen.get(from) ?? [],
      runtime: () => runtime,
    },
  });
}

/**
 * One line for a stop notice: `node/path clean` for a clean stop, `node/path fault` otherwise
 * (an actor that failed, or whose node was lost).
 */
export function noticeLine(notice: StopNotice): string {
  return `${notice.ref.address.node}/${notice.ref.path} ${
    notice.fault === undefined ? "clean" : "fault"
  }`;
}

/** A node_main.ts process. */
export interface NodeProcess extends AsyncDisposable {
  /** Its node name. */
  readonly node: string;
  /** The runtime it runs in. */
  readonly runtime: TestRuntime;
  /** The process. */
  readonly child: TestProcess;
  /** Where it listens (`host:port`). */
  readonly address: string;
}

/**
 * Starts node_main.ts with `command` (from `runtimeChild(runtime, ...)`) as node `node`, and
 * waits for its ready line.
 *
 * @throws {Error} When it exits, or prints no ready line within 60 s.
 */
export async function startNode(
  runtime: TestRuntime,
  command: ChildCommand,
  node: string,
): Promise<NodeProcess> {
  const child = spawnTestProcess(command.command, [
    ...command.args,
    CLUSTER,
    SECRET,
    node,
  ]);
  const dispose = async (): Promise<void> => {
    child.kill("SIGKILL");
    await child.exited.catch(() => {});
  };
  let gone = false;
  void child.exited.then(() => gone = true, () => gone = true);
  for (let i = 0; i < 1200; i++) {
    const match = /READY (\S+)/.exec(child.output());
    if (match !== null) {
      return {
        node,
        runtime,
        child,
        address: match[1],
        [Symbol.asyncDispose]: dispose,
      };
    }
    if (gone) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await dispose();
  throw new Error(
    `the ${runtime} node ${node} did not start:\n${child.output()}`,
  );
}

/** What node_main.ts's "control" actor does on the test's behalf. */
export interface ControlProtocol {
  connect(address: string): string;
  ask(target: { to: string; text: string }): { text: string; runtime: string };
  tell(target: { to: string; count: number }): number[];
  spawn(target: { to: string; id: string }): string;
  watch(target: { to: string; id: string }): string;
  notices(): string[];
  shutdown(): string;
}
