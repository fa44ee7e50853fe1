// A small cluster of real RemoteNodes on loopback in this process, each with an HttpApi, for
// the HTTP API's tests and the dashboard's browser test.
import {
  ActorSystem,
  defineActor,
  generateClusterSecret,
  RemoteNode,
} from "../../mod.ts";
import {
  Cluster,
  ClusterExtensions,
  StaticSeeds,
} from "../../src/cluster/mod.ts";
import { HttpApi, type HttpApiOptions } from "../../src/http/mod.ts";
import { platform } from "../../src/platform/mod.ts";

/** Whether the tests run on CI (missing infrastructure is then a failure, not a skip). */
export const ON_CI: boolean =
  ((value) =>
    value !== undefined && value !== "" && value !== "0" && value !== "false")(
      platform.env("CI"),
    );

/** The write token of the test nodes. */
export const TOKEN = "test-token-0123456789abcdef";

/** A worker actor with children, so the actor tree has depth. */
export const worker = defineActor({
  name: "worker",
  init: () => 0,
  handlers: {
    work(state: number): number {
      return state + 1;
    },
  },
});

/** A supervisor that starts `count` workers as its children (`w0`, `w1`, ...). */
export const supervisor = defineActor({
  name: "supervisor",
  init: (count: number) => ({ count }),
  handlers: {},
  started: async (state: { count: number }, ctx) => {
    for (let i = 0; i < state.count; i++) {
      await ctx.spawn(worker, undefined, { id: `w${i}` });
    }
  },
});

/** A loopback cluster with an HttpApi per node. */
export class LoopbackCluster implements AsyncDisposable {
  readonly systems: ActorSystem[];
  readonly nodes: RemoteNode[];
  readonly clusters: Cluster[];
  readonly apis: HttpApi[];

  private constructor(
    systems: ActorSystem[],
    nodes: RemoteNode[],
    clusters: Cluster[],
    apis: HttpApi[],
  ) {
    this.systems = systems;
    this.nodes = nodes;
    this.clusters = clusters;
    this.apis = apis;
  }

  /**
   * Starts `names` on loopback, joins them and waits until every view has them all up.
   *
   * @param names The node names.
   * @param api Extra HttpApi options (the system, node, cluster and token are set here).
   * @returns The cluster.
   */
  static async start(
    names: readonly string[],
    api: Partial<HttpApiOptions> = {},
  ): Promise<LoopbackCluster> {
    const secret = generateClusterSecret();
    const extensions = new ClusterExtensions();
    const systems = names.map((node) => new ActorSystem({ node }));
    const nodes = await Promise.all(
      systems.map((system) =>
        RemoteNode.start(system, {
          cluster: "http-test",
          secret,
          hostname: "127.0.0.1",
          port: 0,
          extensions: extensions.remote,
        })
      ),
    );
    const seeds = new StaticSeeds(nodes.map((node) => node.address));
    const clusters = await Promise.all(
      nodes.map((node) =>
        Cluster.join(node, {
          extensions,
          discovery: seeds,
          gossipIntervalMs: 100,
        })
      ),
    );
    const apis = systems.map((system, i) =>
      new HttpApi({
        system,
        node: nodes[i],
        cluster: clusters[i],
        token: TOKEN,
        liveIntervalMs: 100,
        ...api,
      })
    );
    const result = new LoopbackCluster(systems, nodes, clusters, apis);
    await result.until(
      () =>
        clusters.every((c) =>
          c.converged() && c.members().length === names.length &&
          c.members().every((m) => m.status === "up")
        ),
      15_000,
      "every node up in every view",
    );
    return result;
  }

  /**
   * Polls `condition` every 20 ms until it holds.
   *
   * @throws {Error} When it does not hold within `timeoutMs`.
   */
  async until(
    condition: () => boolean,
    timeoutMs: number,
    what: string,
  ): Promise<void> {
    const deadline = platform.now() + timeoutMs;
    while (!condition()) {
      if (platform.now() > deadline) {
        throw new Error(`Timed out waiting for ${what}`);
      }
      await new Promise<void>((resolve) => platform.setTimer(resolve, 20));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const api of this.apis) await api.close();
    for (const cluster of this.clusters) await cluster.close();
    for (const node of this.nodes) await node.close();
    for (const system of this.systems) await system.shutdown();
  }
}
