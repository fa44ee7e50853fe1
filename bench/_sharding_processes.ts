// Shared by bench/sharding_failover.ts and bench/sharding_scale.ts: starts cluster members with
// sharding in child processes (bench/sharding_node.ts), follows their JSON lines, and reaches
// each one's "bench" actor through a driver node that is not a cluster member.
import { type ActorRef, ActorSystem, RemoteNode } from "../mod.ts";

const NODE_MAIN = new URL("./sharding_node.ts", import.meta.url).pathname;

/** A line a member prints. */
export interface NodeLine {
  readonly type: string;
  readonly node: string;
  readonly at: number;
  readonly event?: string;
  readonly member?: string;
  readonly status?: string;
  readonly address?: string;
  readonly message?: string;
}

/** The protocol of a member's "bench" actor (see sharding_node.ts). */
export interface BenchProtocol {
  deposits(d: {
    items: { id: string; token: string }[];
    timeoutMs: number;
  }): (
    | { ok: true; balance: number; at: number }
    | { ok: false; error: string; at: number }
  )[];
  probe(d: {
    ids: string[];
    prefix: string;
    timeoutMs: number;
    untilMs: number;
  }): ({ token: string; at: number } | null)[];
  touch(
    d: { from: number; to: number; inFlight: number; timeoutMs: number },
  ): number;
  memory(): { heapUsed: number; rss: number };
  plain(d: { count: number }): { count: number; heap: number; rss: number };
  view(): string[];
  stats(): { shards: number[]; shardEntities: number[]; entities: number };
  clusterStats(): Record<string, number>;
}

/** A member process. */
export class NodeProcess {
  readonly name: string;
  readonly child: Deno.ChildProcess;
  readonly lines: NodeLine[] = [];
  address: string | undefined;
  ref: ActorRef<BenchProtocol> | undefined;

  constructor(name: string, child: Deno.ChildProcess) {
    this.name = name;
    this.child = child;
    void this.#read();
  }

  async #read(): Promise<void> {
    let partial = "";
    for await (
      const chunk of this.child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      partial += chunk;
      const parts = partial.split("\n");
      partial = parts.pop()!;
      for (const part of parts) {
        if (!part.startsWith("{")) continue;
        try {
          const line = JSON.parse(part) as NodeLine;
          if (line.type === "ready") this.address = line.address;
          this.lines.push(line);
        } catch {
          // Not one of ours.
        }
      }
    }
  }

  /** The process's pid (for /proc). */
  get pid(): number {
    return this.child.pid;
  }

  kill(): void {
    try {
      this.child.kill("SIGKILL");
    } catch {
      // Gone already.
    }
  }
}

/** Waits until `check` holds, polling; throws after `timeoutMs`. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 60_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The driver: a remote node outside the cluster that talks to the members. */
export class Driver {
  readonly system: ActorSystem;
  readonly remote: RemoteNode;
  readonly nodes: NodeProcess[] = [];
  readonly prefix: string;
  readonly #extra: string[];
  readonly #ports: number[];

  private constructor(
    system: ActorSystem,
    remote: RemoteNode,
    prefix: string,
    extra: string[],
    ports: number[],
  ) {
    this.system = system;
    this.remote = remote;
    this.prefix = prefix;
    this.#extra = extra;
    this.#ports = ports;
  }

  /**
   * A driver whose members share the Redis key prefix `prefix` and take `extra` flags; the
   * members' seeds are the first `seeds` ports.
   */
  static async start(
    prefix: string,
    extra: string[],
    seeds: number,
  ): Promise<Driver> {
    const system = new ActorSystem({ node: "driver", askTimeoutMs: 600_000 });
    const remote = await RemoteNode.start(system, {
      cluster: "sharding-bench",
      secret: "sharding bench secret, not for production",
      hostname: "127.0.0.1",
      logger: { error() {} },
      // The driver waits out members that the machine starves for a while (a shared, busy
      // machine): losing its connection would lose the answers it waits for.
      heartbeatTimeoutMs: 120_000,
    });
    const ports: number[] = [];
    for (let i = 0; i < seeds; i++) {
      const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      ports.push((l.addr as Deno.NetAddr).port);
      l.close();
    }
    return new Driver(system, remote, prefix, extra, ports);
  }

  /** Starts member `name` (the i-th start takes the i-th seed port, if any) and waits until it joined. */
  async add(name: string): Promise<NodeProcess> {
    const port = this.#ports[this.nodes.length] ?? 0;
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "--v8-flags=--expose-gc,--max-old-space-size=8192",
        NODE_MAIN,
        name,
        "--port",
        String(port),
        "--seeds",
        this.#ports.map((p) => `127.0.0.1:${p}`).join(","),
        "--prefix",
        this.prefix,
        ...this.#extra,
      ],
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const proc = new NodeProcess(name, child);
    this.nodes.push(proc);
    await waitFor(() => proc.address !== undefined, `${name} to start`);
    await this.remote.connect(proc.address!);
    proc.ref = this.remote.ref<BenchProtocol>(name, "bench");
    await waitFor(
      () => proc.lines.some((l) => l.type === "joined"),
      `${name} to join`,
    );
    return proc;
  }

  /** Waits until every live member sees `count` up members. */
  async converged(live: NodeProcess[], count: number): Promise<void> {
    await waitFor(
      async () =>
        (await Promise.all(live.map((n) => n.ref!.ask("view")))).every((v) =>
          v.length === count
        ),
      `${count} up members everywhere`,
    );
  }

  /** Kills the members, closes the driver and deletes the run's Redis keys. */
  async close(): Promise<void> {
    for (const n of this.nodes) n.kill();
    await Promise.all(this.nodes.map((n) => n.child.status.catch(() => {})));
    await this.remote.close();
    await this.system.shutdown();
    await deletePrefix(this.prefix);
  }
}

/** Deletes every Redis key under `prefix` (with redis-cli). */
export async function deletePrefix(prefix: string): Promise<void> {
  const url = Deno.env.get("REDIS_URL") || "redis://127.0.0.1:6379";
  await new Deno.Command("sh", {
    args: [
      "-c",
      `redis-cli -u "$1" --scan --pattern "$2*" | xargs -r -n 500 redis-cli -u "$1" del > /dev/null`,
      "sh",
      url,
      prefix,
    ],
  }).output();
}

/** The median of `xs`. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1
    ? s[s.length >> 1]
    : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

/** `min–max` of `xs`, rounded. */
export function range(xs: number[], digits = 0): string {
  return `${Math.min(...xs).toFixed(digits)}–${
    Math.max(...xs).toFixed(digits)
  }`;
}

/** CPU time (user + system) a process has used so far, in ms (Linux /proc; 10 ms ticks). */
export function cpuMs(pid: number): number {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return NaN;
  }
}

/** The 1-, 5- and 15-minute load averages. */
export function load(): string {
  return Deno.loadavg().map((x) => x.toFixed(2)).join(" ");
}
