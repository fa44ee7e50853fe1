// Network namespaces for a real partition between processes: one namespace per member, each
// with a veth pair onto a bridge in the test's namespace (so the test's controller reaches every
// member), and partitions made of blackhole routes inside the namespaces (packets between the
// two sides vanish silently, as on a real network: no reset, no error to the peer). Needs root
// and iproute2; everything created is deleted on dispose, even when the test fails.
import { spawnTestProcess } from "../../src/platform/test_process.ts";

/** Runs `ip` with `args`; rejects with its output when it fails. */
async function ip(args: readonly string[]): Promise<void> {
  const child = spawnTestProcess("ip", args);
  const exit = await child.exited;
  if (exit.code !== 0) {
    throw new Error(
      `ip ${args.join(" ")} failed (${
        exit.code ?? exit.signal
      }): ${child.output().trim()}`,
    );
  }
}

/**
 * Whether namespaces can be made here: `undefined` when they can, else why not.
 *
 * @returns The reason they cannot, or undefined.
 */
export async function netnsUnavailable(): Promise<string | undefined> {
  const name = `trpprobe${Math.floor(Math.random() * 1e6)}`;
  try {
    await ip(["netns", "add", name]);
  } catch (error) {
    return `cannot create a network namespace (needs root and iproute2): ${
      error instanceof Error ? error.message : String(error)
    }`;
  }
  await ip(["netns", "del", name]).catch(() => {});
  return undefined;
}

/** `count` namespaces on one bridge, with the addresses `10.213.<net>.1…count`. */
export class NetnsLab implements AsyncDisposable {
  readonly #prefix: string;
  readonly #net: string;
  readonly #count: number;
  #namespaces = 0;
  #bridge = false;
  readonly #routes = new Set<string>();

  private constructor(count: number) {
    const tag = Math.floor(Math.random() * 0xffff).toString(16).padStart(
      4,
      "0",
    );
    this.#prefix = `trp${tag}`;
    this.#net = `10.213.${Math.floor(Math.random() * 250) + 1}`;
    this.#count = count;
  }

  /**
   * Creates the bridge and the namespaces (deleted again when creating fails halfway).
   *
   * @param count How many namespaces.
   * @returns The lab.
   */
  static async create(count: number): Promise<NetnsLab> {
    const lab = new NetnsLab(count);
    try {
      await lab.#setUp();
    } catch (error) {
      await lab[Symbol.asyncDispose]();
      throw error;
    }
    return lab;
  }

  async #setUp(): Promise<void> {
    const bridge = `${this.#prefix}br`;
    await ip(["link", "add", bridge, "type", "bridge"]);
    this.#bridge = true;
    await ip(["addr", "add", `${this.hostAddress}/24`, "dev", bridge]);
    await ip(["link", "set", bridge, "up"]);
    for (let i = 1; i <= this.#count; i++) {
      const ns = this.namespace(i);
      const host = `${this.#prefix}h${i}`;
      const inner = `${this.#prefix}c${i}`;
      await ip(["netns", "add", ns]);
      this.#namespaces = i;
      await ip(["link", "add", host, "type", "veth", "peer", "name", inner]);
      await ip(["link", "set", inner, "netns", ns]);
      await ip(["link", "set", host, "master", bridge, "up"]);
      await ip([
        "-n",
        ns,
        "addr",
        "add",
        `${this.address(i)}/24`,
        "dev",
        inner,
      ]);
      await ip(["-n", ns, "link", "set", inner, "up"]);
      await ip(["-n", ns, "link", "set", "lo", "up"]);
    }
  }

  /** The test's own address on the bridge. */
  get hostAddress(): string {
    return `${this.#net}.254`;
  }

  /** The name of namespace `i` (1-based). */
  namespace(i: number): string {
    return `${this.#prefix}n${i}`;
  }

  /** The address of namespace `i` (1-based). */
  address(i: number): string {
    return `${this.#net}.${i}`;
  }

  /** The command prefix that runs a program in namespace `i`. */
  exec(i: number): string[] {
    return ["ip", "netns", "exec", this.namespace(i)];
  }

  /**
   * Cuts every path between the namespaces of `a` and those of `b` (both ways).
   *
   * @param a One side (1-based indexes).
   * @param b The other side.
   */
  async cut(a: readonly number[], b: readonly number[]): Promise<void> {
    for (const [from, to] of [[a, b], [b, a]]) {
      for (const i of from) {
        for (const j of to) {
          const route = `${i} ${j}`;
          if (this.#routes.has(route)) continue;
          await ip([
            "-n",
            this.namespace(i),
            "route",
            "add",
            "blackhole",
            `${this.address(j)}/32`,
          ]);
          this.#routes.add(route);
        }
      }
    }
  }

  /** Removes every cut. */
  async heal(): Promise<void> {
    for (const route of [...this.#routes]) {
      const [i, j] = route.split(" ").map(Number);
      await ip([
        "-n",
        this.namespace(i),
        "route",
        "del",
        "blackhole",
        `${this.address(j)}/32`,
      ]);
      this.#routes.delete(route);
    }
  }

  /** Deletes the namespaces (their veth pairs go with them) and the bridge. */
  async [Symbol.asyncDispose](): Promise<void> {
    const errors: unknown[] = [];
    for (let i = 1; i <= this.#namespaces; i++) {
      await ip(["netns", "del", this.namespace(i)]).catch((e) =>
        errors.push(e)
      );
      // A veth whose namespace creation failed halfway is still on the host.
      await ip(["link", "del", `${this.#prefix}h${i}`]).catch(() => {});
    }
    if (this.#bridge) {
      await ip(["link", "del", `${this.#prefix}br`]).catch((e) =>
        errors.push(e)
      );
    }
    if (errors.length > 0) {
      throw new AggregateError(errors, "could not delete the network lab");
    }
  }
}
