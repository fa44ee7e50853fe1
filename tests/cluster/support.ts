// Helpers for the real-process membership tests and the detection bench: cluster members in
// child processes (tests/cluster/member_main.ts) whose JSON lines are parsed as they arrive,
// and a controller node that asks a member's "control" actor to leave,
// report its view, down a node, storm the others with messages, or exit.
//
// The control goes through remoting, not stdin, because spawnTestProcess (src/platform) starts
// children with stdin closed in both runtimes.
import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, RemoteNode } from "../../mod.ts";
import type { MemberEvent } from "../../src/cluster/mod.ts";
import { platform } from "../../src/platform/mod.ts";
import {
  spawnTestProcess,
  type TestProcess,
  type TestProcessExit,
} from "../../src/platform/test_process.ts";
import {
  type ChildCommand,
  sameRuntime,
} from "../../src/platform/test_runtime.ts";

/** The cluster name and secret every member process and the controller use. */
export const CLUSTER = "membership-processes";
/** The shared secret of the test cluster (tests only). */
export const SECRET = "membership multi-process secret, tests only";

/** Whether the tests run on CI (missing infrastructure is then a failure, not a skip). */
export const ON_CI: boolean =
  ((value) =>
    value !== undefined && value !== "" && value !== "0" && value !== "false")(
      platform.env("CI"),
    );

/** One line a member process prints (JSON), with `node` the printing member. */
export type MemberLine =
  | { type: "ready"; node: string; address: string; at: number }
  | { type: "joined"; node: string; at: number; members: MemberView[] }
  | {
    type: "event";
    node: string;
    at: number;
    event: string;
    member?: string;
    status?: string;
    reachable?: boolean;
    leader?: string | null;
    reason?: string;
  }
  | { type: "left"; node: string; at: number }
  | { type: "log"; node: string; at: number; message: string }
  | { type: "error"; node: string; at: number; message: string };

/**
 * The `event` line a member script prints for a membership event (the shape of
 * {@linkcode MemberLine}; the script adds `node` and `at`).
 *
 * @param event The event.
 * @returns The line's fields.
 */
export function memberEventLine(event: MemberEvent): Record<string, unknown> {
  if (event.type === "leader-changed") {
    return {
      type: "event",
      event: event.type,
      leader: event.leader?.node ?? null,
    };
  }
  if (event.type === "self-downed") {
    return { type: "event", event: event.type, reason: event.reason };
  }
  return {
    type: "event",
    event: event.type,
    member: event.member.node,
    status: event.member.status,
    reachable: event.member.reachable,
  };
}

/** A member as the control actor reports it. */
export interface MemberView {
  readonly node: string;
  readonly status: string;
  readonly reachable: boolean;
  readonly upNumber: number;
  readonly incarnation: string;
  readonly address: string;
}

/** What `control.view` answers. */
export interface ControlView {
  readonly self: string;
  readonly status: string;
  readonly leader: string | null;
  readonly converged: boolean;
  readonly members: MemberView[];
  /** The gossip state's digest, its tombstones (removed rows) and pruning watermark (once joined). */
  readonly digest?: string;
  readonly tombstones?: number;
  readonly prunedThrough?: number;
}

/** The protocol of a member process's "control" actor. */
export interface ControlProtocol {
  view(): ControlView;
  leave(): string;
  down(node: string): string;
  storm(on: boolean): string;
  stats(): { asks: number; tells: number; failures: number };
  exit(): string;
}

/** Options of {@linkcode MemberProcess.start}. */
export interface MemberProcessOptions {
  /** The node name. */
  readonly node: string;
  /** The interface to listen on (default 127.0.0.1). */
  readonly hostname?: string;
  /** The port (default 0: a free one, reported on the ready line). */
  readonly port?: number;
  /** The seed addresses (`host:port`); give these or `table`. */
  readonly seeds?: readonly string[];
  /** Join through the Redis membership table at `url` under `keyPrefix` instead of seeds. */
  readonly table?: { readonly url: string; readonly keyPrefix: string };
  /** `downing.stableAfterMs` (default: the core's default). */
  readonly stableAfterMs?: number;
  /** `pruneTombstonesAfterMs` (default: the core's default). */
  readonly pruneTombstonesAfterMs?: number;
  /** With `table`: syncWithTable's `deleteDefunctAfterMs` (default: its default). */
  readonly deleteDefunctAfterMs?: number;
  /** Runs the child through this prefix (e.g. `ip netns exec <ns>`). */
  readonly prefix?: readonly string[];
  /**
   * The member script (default member_main.ts); another script takes the same flags and prints
   * the same lines (for example singleton_main.ts).
   */
  readonly script?: URL;
  /** More flags for the script, after the common ones. */
  readonly extraArgs?: readonly string[];
  /**
   * The command that runs the member script in another runtime (from `runtimeChild`), for a
   * cluster of several runtimes; by default the script runs in the tests' own runtime.
   */
  readonly command?: ChildCommand;
}

const MEMBER_MAIN = new URL("./member_main.ts", import.meta.url);

/** A cluster member in a child process. */
export class MemberProcess implements AsyncDisposable {
  readonly node: string;
  readonly #child: TestProcess;
  #parsed = 0;
  #partial = "";
  readonly #lines: MemberLine[] = [];
  #exit: TestProcessExit | undefined;

  private constructor(node: string, child: TestProcess) {
    this.node = node;
    this.#child = child;
    void child.exited.then((exit) => this.#exit = exit, () => {});
  }

  /** Starts a member process (it joins at once, with its seeds or through its table). */
  static start(options: MemberProcessOptions): MemberProcess {
    if ((options.seeds === undefined) === (options.table === undefined)) {
      throw new TypeError(
        `Cannot start member ${options.node}: give exactly one of seeds and table`,
      );
    }
    const command = options.command ??
      sameRuntime(options.script ?? MEMBER_MAIN);
    const args = [
      ...command.args,
      options.node,
      "--hostname",
      options.hostname ?? "127.0.0.1",
      "--port",
      String(options.port ?? 0),
      ...(options.table === undefined
        ? ["--seeds", options.seeds!.join(",")]
        : [
          "--table",
          options.table.keyPrefix,
          "--redis-url",
          options.table.url,
        ]),
      "--cluster",
      CLUSTER,
      "--secret",
      SECRET,
    ];
    if (options.pruneTombstonesAfterMs !== undefined) {
      args.push(
        "--prune-tombstones-after-ms",
        String(options.pruneTombstonesAfterMs),
      );
    }
    if (options.stableAfterMs !== undefined) {
      args.push("--stable-after-ms", String(options.stableAfterMs));
    }
    if (options.deleteDefunctAfterMs !== undefined) {
      args.push(
        "--delete-defunct-after-ms",
        String(options.deleteDefunctAfterMs),
      );
    }
    args.push(...options.extraArgs ?? []);
    const prefix = options.prefix ?? [];
    const child = prefix.length === 0
      ? spawnTestProcess(command.command, args)
      : spawnTestProcess(prefix[0], [
        ...prefix.slice(1),
        command.command,
        ...args,
      ]);
    return new MemberProcess(options.node, child);
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** How it exited, once it has. */
  get exit(): TestProcessExit | undefined {
    return this.#exit;
  }

  /** Every JSON line printed so far. */
  lines(): readonly MemberLine[] {
    const output = this.#child.output();
    if (output.length > this.#parsed) {
      const text = this.#partial + output.slice(this.#parsed);
      this.#parsed = output.length;
      const parts = text.split("\n");
      this.#partial = parts.pop()!;
      for (const part of parts) {
        if (!part.startsWith("{")) continue;
        try {
          this.#lines.push(JSON.parse(part) as MemberLine);
        } catch {
          // A line of someone else's output that happens to start with a brace.
        }
      }
    }
    return this.#lines;
  }

  /** The membership events printed so far, optionally about one member only. */
  events(about?: string): Extract<MemberLine, { type: "event" }>[] {
    return this.lines().filter((
      l,
    ): l is Extract<MemberLine, { type: "event" }> =>
      l.type === "event" && (about === undefined || l.member === about)
    );
  }

  /** Its address, once it printed its ready line. */
  address(): string | undefined {
    const ready = this.lines().find((l) => l.type === "ready");
    return ready?.type === "ready" ? ready.address : undefined;
  }

  /** Everything it printed (for failure messages). */
  output(): string {
    return this.#child.output();
  }

  /** Sends a signal. */
  kill(signal: "SIGTERM" | "SIGKILL" = "SIGKILL"): void {
    this.#child.kill(signal);
  }

  /** Resolves when it exited. */
  get exited(): Promise<TestProcessExit> {
    return this.#child.exited;
  }

  /** Kills it (if still running) and waits for it to exit. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.#child.kill("SIGKILL");
    await this.#child.exited.catch(() => {});
  }
}

/** A node of the test process that talks to the members' control actors (it never joins). */
export class Controller implements AsyncDisposable {
  readonly #system: ActorSystem;
  readonly #remote: RemoteNode;

  private constructor(system: ActorSystem, remote: RemoteNode) {
    this.#system = system;
    this.#remote = remote;
  }

  /** Starts the controller node (listening on `hostname`, default 127.0.0.1). */
  static async start(hostname = "127.0.0.1"): Promise<Controller> {
    const system = new ActorSystem({
      node: "controller",
      logger: { error() {} },
    });
    const remote = await RemoteNode.start(system, {
      cluster: CLUSTER,
      secret: SECRET,
      hostname,
      logger: { error() {} },
    });
    return new Controller(system, remote);
  }

  /**
   * The control actor of the member at `address`.
   *
   * @param address Where the member listens.
   * @returns Its control actor.
   */
  async control(address: string): Promise<ActorRef<ControlProtocol>> {
    const node = await this.#remote.connect(address);
    return this.#remote.ref<ControlProtocol>(node, "control");
  }

  /**
   * Actor `id` of the member at `address`, with protocol `P` (for member scripts that serve
   * more than the control actor, such as tests/reliability/stream_main.ts).
   *
   * @param address Where the member listens.
   * @param id The actor's id there.
   * @returns A ref to it.
   */
  async ref<P>(address: string, id: string): Promise<ActorRef<P>> {
    const node = await this.#remote.connect(address);
    return this.#remote.ref<P>(node, id);
  }

  /** Stops the controller node. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.#remote.close();
    await this.#system.shutdown();
  }
}

/**
 * Polls `condition` until it holds, and fails with `message()` after `timeoutMs`.
 *
 * @param condition Checked every 50 ms.
 * @param message What the failure says (evaluated on failure, so it can show the state).
 * @param timeoutMs How long to wait.
 * @returns How long it took, in ms.
 */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  message: () => string,
  timeoutMs: number,
): Promise<number> {
  const start = Date.now();
  while (!await condition()) {
    if (Date.now() - start > timeoutMs) {
      throw new Error(
        `Timed out after ${timeoutMs} ms waiting for: ${message()}`,
      );
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - start;
}

/** Whether the order of `wanted` appears, in order, within `types`. */
export function inOrder(
  types: readonly string[],
  wanted: readonly string[],
): boolean {
  let i = 0;
  for (const t of types) if (t === wanted[i]) i++;
  return i === wanted.length;
}

/**
 * SIGKILLs `members[victimIndex]` and waits until every other member of `all` saw it
 * unreachable, then downed, then removed (in that order).
 *
 * @returns The indexes of the survivors.
 */
export async function killAndWitness(
  members: readonly MemberProcess[],
  all: readonly number[],
  victimIndex: number,
): Promise<number[]> {
  const victim = members[victimIndex];
  victim.kill("SIGKILL");
  assert.equal((await victim.exited).signal, "SIGKILL");
  const survivors = all.filter((i) => i !== victimIndex);
  const about = (m: MemberProcess) => m.events(victim.node).map((e) => e.event);
  await waitUntil(
    () => survivors.every((i) => about(members[i]).includes("unreachable")),
    () => `every survivor sees ${victim.node} unreachable\n${dump(members)}`,
    20_000,
  );
  await waitUntil(
    () => survivors.every((i) => about(members[i]).includes("removed")),
    () => `every survivor sees ${victim.node} removed\n${dump(members)}`,
    30_000,
  );
  for (const i of survivors) {
    assert.ok(
      inOrder(about(members[i]), ["unreachable", "downed", "removed"]),
      `${members[i].node} saw ${victim.node}: ${about(members[i])}`,
    );
  }
  return survivors;
}

/** A TCP port nothing listens on right now (on 127.0.0.1). */
export async function freePort(): Promise<number> {
  const listener = await platform.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

/**
 * Starts `count` member processes named `m1`…`mN` on free loopback ports, every one seeded
 * with every address, and waits for their ready lines.
 *
 * @param count How many.
 * @param options Extra options for every member.
 * @returns The members.
 */
export async function startMembers(
  count: number,
  options: Partial<MemberProcessOptions> = {},
): Promise<MemberProcess[]> {
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(await freePort());
  const seeds = ports.map((p) => `127.0.0.1:${p}`);
  const members: MemberProcess[] = [];
  for (let i = 0; i < count; i++) {
    members.push(MemberProcess.start({
      ...options,
      node: `m${i + 1}`,
      port: ports[i],
      seeds,
    }));
  }
  await waitReady(members);
  return members;
}

/** Waits until every member printed its ready line (fails if one exits first). */
export async function waitReady(
  members: readonly MemberProcess[],
  timeoutMs = 60_000,
): Promise<void> {
  await waitUntil(
    () => {
      const gone = members.find((m) => m.exit !== undefined);
      if (gone !== undefined) {
        throw new Error(
          `member ${gone.node} exited before it was ready:\n${gone.output()}`,
        );
      }
      return members.every((m) => m.address() !== undefined);
    },
    () => {
      const late = members.filter((m) => m.address() === undefined);
      return `ready lines from ${late.map((m) => m.node)}\n${
        late.map((m) => `--- ${m.node} (pid ${m.pid}):\n${m.output()}`).join(
          "\n",
        )
      }`;
    },
    timeoutMs,
  );
}

/** Kills every member and waits for them (for `finally`). */
export async function stopAll(
  members: readonly MemberProcess[],
): Promise<void> {
  await Promise.all(members.map((m) => m[Symbol.asyncDispose]()));
}

/** The last lines of each member's output, for a failure message. */
export function dump(members: readonly MemberProcess[], lines = 15): string {
  return members.map((m) =>
    `--- ${m.node}:\n${m.output().split("\n").slice(-lines).join("\n")}`
  ).join("\n");
}
