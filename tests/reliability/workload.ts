// The reliability suite's harness: stream nodes in child processes (stream_main.ts, started as
// MemberProcess with its own script), clients in the test process that append to streams
// through the nodes' "workload" actors and record every operation (the history), the read-back
// of every stream from the cluster and from the journal, and the figures the scenarios report
// (recovery time, RSS).
import { type ActorRef, jsonCodec } from "../../mod.ts";
import { platform } from "../../src/platform/mod.ts";
import {
  type ChildCommand,
  sameRuntime,
  testRuntime,
} from "../../src/platform/test_runtime.ts";
import { RedisPersistence } from "../../src/persistence/redis/mod.ts";
import {
  Controller,
  dump,
  type MemberProcess,
  type MemberProcessOptions,
  startMembers,
  stopAll,
  waitUntil,
} from "../cluster/support.ts";
import type { Completion, Op, StreamState } from "./checker.ts";
import {
  type Entry,
  errorCode,
  type HeapFigure,
  type WorkloadProtocol,
  type WorkloadStats,
  type WorkloadView,
} from "./workload_protocol.ts";

/** The node script. */
export const STREAM_MAIN: URL = new URL("./stream_main.ts", import.meta.url);

/** Where the nodes keep their journal, and how they detect failures. */
export interface StreamNodeOptions {
  /** The Redis of the journal, the coordinator's journal and its lease. */
  readonly redisUrl: string;
  /** The key prefix of this run. */
  readonly keyPrefix: string;
  /** `fast`: heartbeats every 100 ms, 300 ms acceptable pause; else the core's defaults. */
  readonly detector?: "fast" | "default";
  /** Passivate stream entities idle this long (default: never). */
  readonly idleMs?: number;
}

/** The MemberProcess options that run stream_main.ts with `options`. */
export function streamNodeOptions(
  options: StreamNodeOptions,
): Partial<MemberProcessOptions> {
  return {
    script: STREAM_MAIN,
    command: withExposedGc(sameRuntime(STREAM_MAIN)),
    extraArgs: [
      "--redis-url",
      options.redisUrl,
      "--key-prefix",
      options.keyPrefix,
      "--detector",
      options.detector ?? "default",
      ...(options.idleMs === undefined
        ? []
        : ["--idle-ms", String(options.idleMs)]),
    ],
  };
}

/**
 * `command` with the V8 flag that exposes `gc()` (Deno and Node), so a node can measure the heap
 * it still holds after a full collection; Bun forces one with `Bun.gc` instead.
 */
function withExposedGc(command: ChildCommand): ChildCommand {
  switch (testRuntime) {
    case "deno":
      return {
        ...command,
        args: ["run", "--v8-flags=--expose-gc", ...command.args.slice(1)],
      };
    case "node":
      return { ...command, args: ["--expose-gc", ...command.args] };
    case "bun":
      return command;
  }
}

/**
 * Starts `count` stream nodes `m1`…`mN` on loopback and waits until each printed its joined line.
 *
 * @param count How many.
 * @param options Journal and detector.
 * @param stableAfterMs The downing's `stableAfterMs`.
 * @returns The nodes.
 */
export async function startStreamNodes(
  count: number,
  options: StreamNodeOptions,
  stableAfterMs: number,
): Promise<MemberProcess[]> {
  const nodes = await startMembers(count, {
    ...streamNodeOptions(options),
    stableAfterMs,
  });
  await waitJoined(nodes);
  return nodes;
}

/** What {@linkcode underSteadyLoad} hands its body. */
export interface LoadedCluster {
  /** The three nodes, m1, m2 and m3. */
  readonly nodes: MemberProcess[];
  /** The workload, with its clients appending. */
  readonly workload: Workload;
  /** Where the journal is. */
  readonly journalAt: { readonly redisUrl: string; readonly keyPrefix: string };
}

/**
 * The start of the node-kill and Redis-restart scenarios: three stream nodes journalled in
 * `journalAt` (fast failure detector, `stableAfterMs` 1000), one cluster, 24 clients on
 * `streams` over three routes, and every stream answering; then `body`; then the nodes stop.
 *
 * @param journalAt The Redis and key prefix of the journal.
 * @param streams The streams the clients append to.
 * @param body The scenario.
 */
export async function underSteadyLoad(
  journalAt: { readonly redisUrl: string; readonly keyPrefix: string },
  streams: readonly string[],
  body: (cluster: LoadedCluster) => Promise<void>,
): Promise<void> {
  const names = ["m1", "m2", "m3"];
  const nodes = await startStreamNodes(
    3,
    { ...journalAt, detector: "fast" },
    1000,
  );
  try {
    await using workload = await Workload.connect(nodes);
    await workload.waitOneCluster(names, 30_000, () => dump(nodes));
    const startedAt = Date.now();
    workload.start({
      streams,
      clientsPerStream: 2,
      routes: [names, ["m2", "m3", "m1"], ["m3", "m1", "m2"]],
    });
    await waitEveryStreamAnswers(
      workload,
      streams,
      startedAt,
      20_000,
      () => dump(nodes),
    );
    await body({ nodes, workload, journalAt });
  } finally {
    await stopAll(nodes);
  }
}

/** Waits until every node printed its joined line (fails if one exits first). */
export async function waitJoined(
  nodes: readonly MemberProcess[],
  timeoutMs = 30_000,
): Promise<void> {
  await waitUntil(
    () => {
      const gone = nodes.find((m) => m.exit !== undefined);
      if (gone !== undefined) {
        throw new Error(`${gone.node} exited:\n${gone.output()}`);
      }
      return nodes.every((m) => m.lines().some((l) => l.type === "joined"));
    },
    () => `joined lines\n${dump(nodes)}`,
    timeoutMs,
  );
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, ms));
}

/**
 * Codes that mean the append was definitely not applied: the entity said its events were not
 * persisted, or the node had not started sharding (nothing was sent). Anything else (timeouts,
 * a lost node, an unknown outcome, a closed region) is indeterminate.
 */
const DEFINITE_FAILURES = new Set(["PERSIST_FAILED", "NOT_STARTED"]);

/** Options of {@linkcode Workload.start}. */
export interface LoadOptions {
  /** The streams. */
  readonly streams: readonly string[];
  /** Clients per stream (each one appends sequentially). */
  readonly clientsPerStream: number;
  /**
   * The nodes each client goes through, in order of preference; client `i` uses
   * `routes[i % routes.length]` and moves to the next node after each failure.
   */
  readonly routes: readonly (readonly string[])[];
  /** The entity ask's timeout (the client's own is 1 s longer). Default 2000. */
  readonly timeoutMs?: number;
  /** Pause after an acknowledged append. Default 20. */
  readonly pauseMs?: number;
  /** Pause after a failed one. Default 100. */
  readonly failurePauseMs?: number;
}

/** The clients, the history they record, and the refs to every node's workload actor. */
export class Workload implements AsyncDisposable {
  readonly #controller: Controller;
  readonly #refs = new Map<string, ActorRef<WorkloadProtocol>>();
  readonly #history: Op[] = [];
  readonly #viewFailures = new Map<string, string>();
  #running: Promise<void>[] = [];
  #stopped = false;

  private constructor(controller: Controller) {
    this.#controller = controller;
  }

  /**
   * Starts the test's remoting node (on `hostname`) and connects to `nodes`.
   *
   * @param nodes The nodes to reach.
   * @param hostname Where the test listens (the bridge address in network namespaces).
   * @returns The workload, with no clients running yet.
   */
  static async connect(
    nodes: readonly MemberProcess[],
    hostname = "127.0.0.1",
  ): Promise<Workload> {
    const workload = new Workload(await Controller.start(hostname));
    for (const node of nodes) await workload.attach(node);
    return workload;
  }

  /** Reaches `node` (again, after a restart). */
  async attach(node: MemberProcess): Promise<void> {
    const address = node.address();
    if (address === undefined) {
      throw new Error(`${node.node} has no address yet`);
    }
    this.#refs.set(
      node.node,
      await this.#controller.ref<WorkloadProtocol>(address, "workload"),
    );
  }

  /** Stops sending to `node` (it is being killed or restarted). */
  detach(node: string): void {
    this.#refs.delete(node);
  }

  /** The workload actor of `node`, if attached. */
  ref(node: string): ActorRef<WorkloadProtocol> | undefined {
    return this.#refs.get(node);
  }

  /** Every operation recorded so far. */
  get history(): readonly Op[] {
    return this.#history;
  }

  /** Starts the clients (they run until {@linkcode Workload.stop}). */
  start(options: LoadOptions): void {
    this.#stopped = false;
    let index = 0;
    for (const stream of options.streams) {
      for (let k = 1; k <= options.clientsPerStream; k++) {
        const route = options.routes[index % options.routes.length];
        this.#running.push(
          this.#client(`${stream}/c${k}`, stream, route, options),
        );
        index++;
      }
    }
  }

  /** Stops the clients and waits for their last operations to complete. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#running);
    this.#running = [];
  }

  async #client(
    client: string,
    stream: string,
    route: readonly string[],
    options: LoadOptions,
  ): Promise<void> {
    const timeoutMs = options.timeoutMs ?? 2000;
    let seq = this.#history.filter((op) => op.client === client).length;
    let attempt = 0;
    while (!this.#stopped) {
      const node = route[attempt % route.length];
      const ref = this.#refs.get(node);
      if (ref === undefined) {
        attempt++;
        await sleep(20);
        continue;
      }
      seq++;
      const token = `${client}:${seq}`;
      const entry: Entry = { client, seq, token };
      const invokedAt = Date.now();
      let completion: Completion;
      let code: string | undefined;
      try {
        const outcome = await ref.ask("append", { stream, entry, timeoutMs }, {
          timeoutMs: timeoutMs + 1000,
        });
        if (outcome.ok) completion = "ok";
        else {
          completion = DEFINITE_FAILURES.has(outcome.code) ? "fail" : "info";
          code = outcome.cause === undefined
            ? outcome.code
            : `${outcome.code}/${outcome.cause}`;
        }
      } catch (error) {
        completion = "info";
        code = errorCode(error);
      }
      this.#history.push({
        client,
        stream,
        seq,
        token,
        node,
        invokedAt,
        completedAt: Date.now(),
        completion,
        ...(code === undefined ? {} : { code }),
      });
      if (completion === "ok") await sleep(options.pauseMs ?? 20);
      else {
        attempt++;
        await sleep(options.failurePauseMs ?? 100);
      }
    }
  }

  /** `node`'s view, or undefined when it does not answer. */
  async view(node: string): Promise<WorkloadView | undefined> {
    try {
      return await this.#refs.get(node)?.ask("view", undefined, {
        timeoutMs: 2000,
      });
    } catch (error) {
      this.#viewFailures.set(
        node,
        `${errorCode(error)}: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
      return undefined;
    }
  }

  /** Why each node's last failed `view` failed, and what the clients got in the last 10 s. */
  #whyNoAnswer(): string {
    const since = Date.now() - 10_000;
    const recent = [...new Set(this.#history.map((op) => op.node))].sort().map(
      (node) => {
        const ops = this.#history.filter((op) =>
          op.node === node && op.completedAt >= since
        );
        const ok = ops.filter((op) => op.completion === "ok").length;
        return `${node}: ${ok} ok, ${codeCounts(ops)}`;
      },
    );
    return `last view failures: ${
      JSON.stringify(Object.fromEntries(this.#viewFailures))
    }\nclients in the last 10 s: ${recent.join("; ")}`;
  }

  /** `node`'s heap after a full collection, or undefined when it does not answer. */
  async heap(node: string): Promise<HeapFigure | undefined> {
    try {
      return await this.#refs.get(node)?.ask("heap", undefined, {
        timeoutMs: 10_000,
      });
    } catch {
      return undefined;
    }
  }

  /** `node`'s figures, or undefined when it does not answer. */
  async stats(node: string): Promise<WorkloadStats | undefined> {
    try {
      return await this.#refs.get(node)?.ask("stats", undefined, {
        timeoutMs: 2000,
      });
    } catch {
      return undefined;
    }
  }

  /**
   * Waits until each of `nodes` sees exactly `nodes` up, converged.
   *
   * @returns How long it took, in ms.
   */
  async waitOneCluster(
    nodes: readonly string[],
    timeoutMs: number,
    context: () => string = () => "",
  ): Promise<number> {
    const want = JSON.stringify([...nodes].sort());
    let last: (WorkloadView | undefined)[] = [];
    return await waitUntil(
      async () => {
        last = await Promise.all(nodes.map((n) => this.view(n)));
        return last.every((v) =>
          v !== undefined && v.status === "up" && v.converged &&
          JSON.stringify(v.up) === want
        );
      },
      () =>
        `${want} up everywhere: ${
          JSON.stringify(last)
        }\n${this.#whyNoAnswer()}\n${context()}`,
      timeoutMs,
    );
  }

  /** Stops the clients and the test's remoting node. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop();
    await this.#controller[Symbol.asyncDispose]();
  }
}

/**
 * For each stream, how long after `since` its first append invoked after `since` was
 * acknowledged; the largest is the time until every stream answered again.
 *
 * @param history The history.
 * @param streams The streams.
 * @param since Wall clock (ms), e.g. the moment of a kill.
 * @returns The times by stream (missing: not answered yet).
 */
export function answeredAfter(
  history: readonly Op[],
  streams: readonly string[],
  since: number,
): Map<string, number> {
  const times = new Map<string, number>();
  for (const op of history) {
    if (op.completion !== "ok" || op.invokedAt < since) continue;
    const t = op.completedAt - since;
    const before = times.get(op.stream);
    if (before === undefined || t < before) times.set(op.stream, t);
  }
  for (const key of [...times.keys()]) {
    if (!streams.includes(key)) times.delete(key);
  }
  return times;
}

/**
 * Waits until every stream acknowledged an append invoked after `since`.
 *
 * @returns The time from `since` until the last stream answered, in ms.
 */
export async function waitEveryStreamAnswers(
  workload: Workload,
  streams: readonly string[],
  since: number,
  timeoutMs: number,
  context: () => string = () => "",
): Promise<number> {
  let times = new Map<string, number>();
  await waitUntil(
    () => {
      times = answeredAfter(workload.history, streams, since);
      return times.size === streams.length;
    },
    () =>
      `every stream to answer (${times.size}/${streams.length}); last failures: ${
        JSON.stringify(
          workload.history.filter((op) => op.completion !== "ok").slice(-5),
        )
      }\n${context()}`,
    timeoutMs,
  );
  return Math.max(...times.values());
}

/**
 * Reads every stream back: from the cluster (a read through `via`, retried until it answers
 * or `timeoutMs` passes) and from the journal in Redis directly.
 *
 * @returns The streams' states, for the checker.
 */
export async function readBack(
  workload: Workload,
  via: readonly string[],
  streams: readonly string[],
  journalAt: { readonly redisUrl: string; readonly keyPrefix: string },
  timeoutMs = 15_000,
): Promise<StreamState[]> {
  const provider = await RedisPersistence.connect({
    url: journalAt.redisUrl,
    keyPrefix: journalAt.keyPrefix,
    durability: "ignore",
  });
  try {
    const states: StreamState[] = [];
    for (const stream of streams) {
      let served: Entry[] | undefined;
      const deadline = Date.now() + timeoutMs;
      for (let i = 0; served === undefined && Date.now() < deadline; i++) {
        const ref = workload.ref(via[i % via.length]);
        try {
          const out = await ref?.ask("read", { stream, timeoutMs: 2000 }, {
            timeoutMs: 3000,
          });
          if (out?.ok) served = out.entries;
        } catch {
          // Try the next node.
        }
        if (served === undefined) await sleep(100);
      }
      const events = await provider.journal.read(`stream:${stream}`, 1);
      states.push({
        stream,
        journal: events.map((e) => jsonCodec.decode(e.type, e.data) as Entry),
        sequenceNrs: events.map((e) => e.sequenceNr),
        served,
      });
    }
    return states;
  } finally {
    await provider.close();
  }
}

/**
 * The resident set size of process `pid` in MiB (from /proc; Linux only).
 *
 * @returns The RSS, or undefined when the process is gone.
 */
export async function rssMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await platform.readTextFile(`/proc/${pid}/status`);
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match === null ? undefined : Number(match[1]) / 1024;
  } catch {
    return undefined;
  }
}

/** Counts of failure codes in `ops`, as `CODE×n` joined by spaces. */
export function codeCounts(ops: readonly Op[]): string {
  const counts = new Map<string, number>();
  for (const op of ops) {
    if (op.code !== undefined) {
      counts.set(op.code, (counts.get(op.code) ?? 0) + 1);
    }
  }
  return [...counts].map(([c, n]) => `${c}×${n}`).join(" ") || "none";
}

/** Stream ids `s1`…`sN`. */
export function streamIds(count: number): string[] {
  return Array.from({ length: count }, (_, i) => `s${i + 1}`);
}
