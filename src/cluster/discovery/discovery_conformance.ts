// The discovery conformance suite: the contract of discovery.ts, checked the same way for every
// provider (static seeds, membership table, Kubernetes, yours). It needs no test framework.
import type { DiscoveredNode, Discovery } from "../discovery.ts";
import { isClusterClosedError } from "../errors.ts";
import {
  type ConformanceCase,
  conformanceCheck,
  type ConformanceOptions,
  expectRejection,
  forSeeds,
} from "../membership_table_conformance.ts";
import { parseNodeAddress } from "./static_seeds.ts";

/** A provider set up to find given nodes, for one case. */
export interface DiscoveryFixture {
  /** The provider. The suite closes it. */
  readonly discovery: Discovery;
  /** Called once at the end of the case (stop what the fixture started). */
  dispose?(): Promise<void>;
}

function randomNodes(random: () => number, count: number): DiscoveredNode[] {
  const nodes: DiscoveredNode[] = [];
  const seen = new Set<string>();
  while (nodes.length < count) {
    const port = 1 + Math.floor(random() * 65535);
    const a = Math.floor(random() * 256);
    const b = Math.floor(random() * 256);
    const address = random() < 0.2
      ? `[fd00::${a.toString(16)}:${b.toString(16)}]:${port}`
      : `10.${a}.${b}.${1 + Math.floor(random() * 254)}:${port}`;
    if (seen.has(address)) continue;
    seen.add(address);
    nodes.push({ address, node: `node-${nodes.length}` });
  }
  return nodes;
}

/**
 * The conformance suite of {@linkcode Discovery}: every provider must pass it. Each case asks
 * `create` for a provider whose source holds exactly the given nodes (a provider that does not
 * know node names may leave `node` out; one that does must give the right one). It returns the
 * cases; register each with your test framework.
 *
 * @param implementation The provider's name, used in the case names.
 * @param create Makes a provider that finds exactly `nodes` (in the order given, best first,
 * when its source has an order).
 * @param options Runs and seed of the randomized cases.
 * @returns The cases.
 * @example Run it with Deno's test runner
 * ```ts ignore
 * import { discoveryConformance, StaticSeeds } from "@troupe/troupe/cluster";
 * for (const c of discoveryConformance("StaticSeeds", (nodes) =>
 *   Promise.resolve({ discovery: new StaticSeeds(nodes.map((n) => n.address)) })
 * )) Deno.test(c.name, c.fn);
 * ```
 */
export function discoveryConformance(
  implementation: string,
  create: (nodes: readonly DiscoveredNode[]) => Promise<DiscoveryFixture>,
  options: ConformanceOptions = {},
): ConformanceCase[] {
  const cases: ConformanceCase[] = [];
  const add = (
    title: string,
    body: (
      make: (nodes: readonly DiscoveredNode[]) => Promise<Discovery>,
    ) => Promise<void>,
  ) => {
    cases.push({
      name: `${implementation} (Discovery conformance): ${title}`,
      fn: async () => {
        const fixtures: DiscoveryFixture[] = [];
        try {
          await body(async (nodes) => {
            const fixture = await create(nodes);
            fixtures.push(fixture);
            return fixture.discovery;
          });
        } finally {
          for (const fixture of fixtures) {
            await fixture.discovery.close();
            await fixture.dispose?.();
          }
        }
      },
    });
  };

  const check = (found: DiscoveredNode[], nodes: readonly DiscoveredNode[]) => {
    conformanceCheck(
      Array.isArray(found),
      "discover() did not return an array",
    );
    const want = new Map(nodes.map((n) => [n.address, n]));
    const seen = new Set<string>();
    for (const node of found) {
      parseNodeAddress(node.address);
      conformanceCheck(!seen.has(node.address), `${node.address} found twice`);
      seen.add(node.address);
      const expected = want.get(node.address);
      conformanceCheck(
        expected !== undefined,
        `found ${node.address}, which is not in the source`,
      );
      conformanceCheck(
        node.node === undefined || node.node === expected.node,
        `${node.address} found as node ${
          JSON.stringify(node.node)
        }, not ${expected.node}`,
      );
    }
    conformanceCheck(
      seen.size === want.size,
      `found ${seen.size} of ${want.size} nodes`,
    );
  };

  add(
    "a provider with a name; an empty source gives an empty list",
    async (make) => {
      const discovery = await make([]);
      conformanceCheck(
        typeof discovery.name === "string" && discovery.name !== "",
        "no name",
      );
      const found = await discovery.discover();
      conformanceCheck(
        Array.isArray(found) && found.length === 0,
        `found ${JSON.stringify(found)}`,
      );
    },
  );

  add(
    "it finds exactly the nodes of its source, each once, with valid addresses (random sources)",
    async (make) => {
      await forSeeds({
        ...options,
        runs: Math.max(1, Math.ceil((options.runs ?? 20) / 2)),
      }, async (random) => {
        const nodes = randomNodes(random, 1 + Math.floor(random() * 12));
        const discovery = await make(nodes);
        check(await discovery.discover(), nodes);
      });
    },
  );

  add(
    "the same source gives the same list, in the same order, as a new array each time",
    async (make) => {
      const nodes = randomNodes(Math.random, 5);
      const discovery = await make(nodes);
      const [first, second, third] = await Promise.all([
        discovery.discover(),
        discovery.discover(),
        discovery.discover(),
      ]);
      check(first, nodes);
      conformanceCheck(
        JSON.stringify(first) === JSON.stringify(second) &&
          JSON.stringify(second) === JSON.stringify(third),
        "concurrent calls disagree",
      );
      first.length = 0;
      const after = await discovery.discover();
      conformanceCheck(
        after.length === nodes.length,
        "changing a result changed the provider",
      );
    },
  );

  add("an aborted signal rejects with its reason", async (make) => {
    const discovery = await make(randomNodes(Math.random, 2));
    const controller = new AbortController();
    const reason = new Error("stop");
    controller.abort(reason);
    await expectRejection(
      discovery.discover(controller.signal),
      (e) => e === reason,
      "discover",
    );
  });

  add(
    "close() is idempotent and later calls reject with ClusterClosedError",
    async (make) => {
      const discovery = await make(randomNodes(Math.random, 2));
      await discovery.discover();
      await discovery.close();
      await discovery.close();
      await expectRejection(
        discovery.discover(),
        isClusterClosedError,
        "discover after close",
      );
    },
  );

  return cases;
}
