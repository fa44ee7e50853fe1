// One association per peer node, however many connections it uses: both directions in one
// peers() entry, messages both ways, the dial-back to a node that only dialed this one (with
// the expected name enforced), one connection lost while the other stays, and order kept.
import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { ActorSystem, defineActor } from "../../mod.ts";
import { TestCluster } from "../testing/mod.ts";
import { TcpRelay, waitFor } from "../../tests/remote/support.ts";
import { dialBackAddress } from "./_association.ts";
import { isHandshakeRefusedError, isNodeUnreachableError } from "./errors.ts";
import { type PeerChange, RemoteNode, type RemoteNodeOptions } from "./mod.ts";

const SECRET = "test secret, not for production";
const quiet = { error() {} };

const log = defineActor({
  name: "log",
  init: () => ({ seen: [] as number[] }),
  handlers: {
    add: (s, n: number) => void s.seen.push(n),
    seen: (s) => s.seen,
    echo: (_s, text: string) => text,
  },
});

interface LogProtocol {
  add(n: number): void;
  seen(): number[];
  echo(text: string): string;
}

interface Member extends AsyncDisposable {
  readonly system: ActorSystem;
  readonly node: RemoteNode;
}

/** A node `name` with a "log" actor. */
async function member(
  name: string,
  options: Partial<RemoteNodeOptions> = {},
): Promise<Member> {
  const system = new ActorSystem({
    node: name,
    logger: quiet,
    stopTimeoutMs: 100,
  });
  await system.spawn(log, undefined, { id: "log" });
  const node = await RemoteNode.start(system, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
    ...options,
  });
  return {
    system,
    node,
    async [Symbol.asyncDispose]() {
      await node.close();
      await system.shutdown();
    },
  };
}

test("dialBackAddress() replaces a wildcard host with the connection's source host", () => {
  assert.equal(dialBackAddress("10.0.0.5:4000", "10.0.0.9"), "10.0.0.5:4000");
  assert.equal(dialBackAddress("0.0.0.0:4000", "10.0.0.9"), "10.0.0.9:4000");
  assert.equal(dialBackAddress("[::]:4000", "fd00::9"), "[fd00::9]:4000");
  assert.equal(dialBackAddress("[::1]:4000", "::1"), "[::1]:4000");
  assert.equal(
    dialBackAddress("host.example:4000", "1.2.3.4"),
    "host.example:4000",
  );
  assert.equal(dialBackAddress("not an address", "1.2.3.4"), "not an address");
  // Whatever a peer announces: never a throw, and either its own text or the source host.
  fc.assert(
    fc.property(fc.string(), fc.string(), (announced, source) => {
      const address = dialBackAddress(announced, source);
      assert.ok(
        address === announced || address.startsWith(source) ||
          address.startsWith(`[${source}]`),
        address,
      );
    }),
  );
});

test("RemoteNode: two nodes that dial each other at once are one association each, with both directions", async () => {
  await using a = await member("a");
  await using b = await member("b");
  const [toB, toA] = await Promise.all([
    a.node.connect(b.node.address),
    b.node.connect(a.node.address),
  ]);
  assert.deepEqual([toB, toA], ["b", "a"]);
  await waitFor(
    () => a.node.inboundConnections === 1 && b.node.inboundConnections === 1,
    "both accepted",
  );
  assert.deepEqual(a.node.peers(), [{
    node: "b",
    address: b.node.address,
    connected: true,
    outbound: true,
    inbound: 1,
  }]);
  assert.deepEqual(b.node.peers(), [{
    node: "a",
    address: a.node.address,
    connected: true,
    outbound: true,
    inbound: 1,
  }]);

  // Tells and asks both ways, each over the connection its sender dialed.
  const inB = a.node.ref<LogProtocol>("b", "log");
  const inA = b.node.ref<LogProtocol>("a", "log");
  inB.tell("add", 1);
  inA.tell("add", 2);
  assert.equal(await inB.ask("echo", "to b"), "to b");
  assert.equal(await inA.ask("echo", "to a"), "to a");
  assert.deepEqual(await inB.ask("seen"), [1]);
  assert.deepEqual(await inA.ask("seen"), [2]);
  assert.equal(a.node.inboundConnections, 1, "no connection was added");
  assert.equal(b.node.inboundConnections, 1, "no connection was added");
});

test("RemoteNode: a node that only the other dialed is dialed back at its announced address when there is something to send", async () => {
  // b listens on every interface: its Hello announces 0.0.0.0, so a dials back the host the
  // connection came from.
  await using b = await member("b", { hostname: "0.0.0.0" });
  await using a = await member("a");
  const port = b.node.address.split(":")[1];
  const changes: PeerChange[] = [];
  a.node.onPeerChange((c) => void changes.push(c));
  assert.equal(await b.node.connect(a.node.address), "a");
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b");
  assert.deepEqual(a.node.peers(), [{
    node: "b",
    address: `127.0.0.1:${port}`,
    connected: true,
    outbound: false,
    inbound: 1,
  }]);
  assert.equal(b.node.inboundConnections, 0, "nothing dialed back yet");

  const inB = a.node.ref<LogProtocol>("b", "log");
  inB.tell("add", 7);
  assert.equal(await inB.ask("echo", "back"), "back");
  assert.deepEqual(await inB.ask("seen"), [7]);
  assert.deepEqual(a.node.peers().map((p) => [p.outbound, p.inbound]), [[
    true,
    1,
  ]]);
  assert.equal(b.node.inboundConnections, 1, "the dial-back");
  assert.deepEqual(b.node.peers().map((p) => [p.outbound, p.inbound]), [[
    true,
    1,
  ]]);
  assert.deepEqual(changes, [{
    node: "b",
    address: `127.0.0.1:${port}`,
    connected: true,
  }], "one association, reported connected once");

  await b.node.close();
  await waitFor(() => changes.length === 2, "a saw b go");
  assert.equal(changes[1].connected, false);
  assert.deepEqual(a.node.peers().map((p) => [p.connected, p.inbound]), [[
    false,
    0,
  ]]);
});

test("RemoteNode: a dial-back that finds another node at the announced address is refused before proving anything", async () => {
  await using a = await member("a");
  const b = await member("b");
  const address = b.node.address;
  await b.node.connect(a.node.address);
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b");
  await b[Symbol.asyncDispose]();
  await waitFor(() => a.node.inboundConnections === 0, "b is gone");

  // Node "c" now listens where "b" did.
  await using c = await member("c", { port: Number(address.split(":")[1]) });
  const inB = a.node.ref<LogProtocol>("b", "log");
  const error = await inB.ask("echo", "x", { timeoutMs: 5_000 }).catch((e) =>
    e
  );
  assert.ok(isNodeUnreachableError(error), String(error));
  assert.ok(
    isHandshakeRefusedError(error.cause) && error.cause.refusal === "node",
    String(error.cause),
  );
  assert.equal(c.node.inboundConnections, 0);
  assert.deepEqual(c.node.peers(), []);
  assert.deepEqual(a.node.peers().map((p) => [p.node, p.outbound]), [[
    "b",
    false,
  ]]);
});

test("RemoteNode: one connection of an association lost while the other stays up", async () => {
  await using a = await member("a", { reconnect: { minMs: 5, maxMs: 10 } });
  await using b = await member("b");
  await using relay = await TcpRelay.start(b.node.address);
  await a.node.connect(relay.address); // a → b through the relay
  await b.node.connect(a.node.address); // b → a directly
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b");
  const changes: PeerChange[] = [];
  a.node.onPeerChange((c) => void changes.push(c));
  const inB = a.node.ref<LogProtocol>("b", "log");
  const inA = b.node.ref<LogProtocol>("a", "log");
  assert.equal(await inB.ask("echo", "x"), "x");

  relay.cut();
  await waitFor(() => !a.node.peers()[0].outbound, "a lost its connection");
  assert.deepEqual(a.node.peers(), [{
    node: "b",
    address: relay.address,
    connected: true,
    outbound: false,
    inbound: 1,
  }]);
  assert.deepEqual(changes, [], "the association stayed connected");
  // b's own connection still carries b's messages.
  inA.tell("add", 1);
  assert.equal(await inA.ask("echo", "still"), "still");
  assert.deepEqual(await inA.ask("seen"), [1]);
  // a dials b again (through the relay) for its own.
  inB.tell("add", 2);
  assert.deepEqual(await inB.ask("seen"), [2]);
  assert.equal(relay.accepted, 2);
  assert.equal(a.node.peers()[0].outbound, true);
});

test("RemoteNode: tells from one sender arrive in order both ways, and across a dial-back", async () => {
  await using a = await member("a");
  await using b = await member("b");
  // Only b dials: a's first tells wait for the dial-back, the rest follow them.
  await b.node.connect(a.node.address);
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b");
  const inB = a.node.ref<LogProtocol>("b", "log");
  const inA = b.node.ref<LogProtocol>("a", "log");
  const sent: number[] = [];
  for (let i = 0; i < 6_000; i++) {
    inB.tell("add", i);
    inA.tell("add", i);
    sent.push(i);
    if (i % 1_000 === 0) await new Promise((r) => setTimeout(r, 1));
  }
  assert.deepEqual(
    await inB.ask("seen", undefined, { timeoutMs: 20_000 }),
    sent,
  );
  assert.deepEqual(
    await inA.ask("seen", undefined, { timeoutMs: 20_000 }),
    sent,
  );
});

test("RemoteNode associations under random schedules: one entry per node, tells in order without duplicates", async () => {
  await fc.assert(
    fc.asyncProperty(
      // Who dials whom first (either way, or both), then the schedule.
      fc.subarray(["a>b", "b>a", "a>c", "c>a", "b>c", "c>b"], {
        minLength: 1,
      }),
      fc.array(
        fc.oneof(
          {
            weight: 1,
            arbitrary: fc.record({
              op: fc.constant("connect" as const),
              from: fc.nat(2),
              to: fc.nat(2),
            }),
          },
          {
            weight: 5,
            arbitrary: fc.record({
              op: fc.constant("tell" as const),
              from: fc.nat(2),
              to: fc.nat(2),
              count: fc.integer({ min: 1, max: 20 }),
            }),
          },
          {
            weight: 1,
            arbitrary: fc.record({
              op: fc.constant("partition" as const),
              from: fc.nat(2),
              to: fc.nat(2),
            }),
          },
          {
            weight: 1,
            arbitrary: fc.record({ op: fc.constant("heal" as const) }),
          },
          {
            weight: 2,
            arbitrary: fc.record({
              op: fc.constant("advance" as const),
              ms: fc.integer({ min: 0, max: 6_000 }),
            }),
          },
        ),
        { minLength: 5, maxLength: 20 },
      ),
      async (dials, steps) => {
        const names = ["a", "b", "c"];
        await using cluster = await TestCluster.start({ nodes: names });
        const counters = new Map<string, number>();
        const logs = new Map<string, ActorSystem>();
        for (const name of names) {
          const system = cluster.system(name);
          logs.set(name, system);
          for (const from of names) {
            await system.spawn(log, undefined, { id: `from-${from}` });
          }
        }
        const known = new Set<string>();
        const cut = new Set<string>();
        const everCut = new Set<string>();
        for (const dial of dials) {
          const [from, to] = dial.split(">");
          await cluster.node(from).connect(cluster.node(to).address);
          known.add(`${from}>${to}`).add(`${to}>${from}`);
        }
        for (const step of steps) {
          if (step.op === "heal") {
            cluster.heal();
            cut.clear();
          } else if (step.op === "advance") await cluster.advance(step.ms);
          else {
            const from = names[step.from];
            const to = names[step.to];
            if (from === to) continue;
            if (step.op === "partition") {
              cluster.partition(from, to);
              cut.add(`${from}>${to}`).add(`${to}>${from}`);
              everCut.add(`${from}>${to}`).add(`${to}>${from}`);
            } else if (step.op === "connect") {
              // A handshake across a partition waits for virtual time: not awaited here.
              if (cut.has(`${from}>${to}`)) continue;
              await cluster.node(from).connect(cluster.node(to).address)
                .then(() => {
                  known.add(`${from}>${to}`);
                  known.add(`${to}>${from}`);
                }, () => {});
            } else if (known.has(`${from}>${to}`)) {
              const ref = cluster.node(from).ref<LogProtocol>(
                to,
                `from-${from}`,
              );
              const key = `${from}>${to}`;
              for (let i = 0; i < step.count; i++) {
                const n = counters.get(key) ?? 0;
                counters.set(key, n + 1);
                ref.tell("add", n);
              }
            }
          }
          for (const name of names) {
            const peers = cluster.node(name).peers().map((p) => p.node);
            assert.equal(new Set(peers).size, peers.length, "once each");
            for (const p of cluster.node(name).peers()) {
              assert.equal(p.connected, p.outbound || p.inbound > 0);
            }
          }
        }
        cluster.heal();
        await cluster.advance(8_000);
        for (const [key, sentCount] of counters) {
          const [from, to] = key.split(">");
          const local = logs.get(to)!.lookup(`from-${from}`) as unknown as {
            ask(type: "seen"): Promise<number[]>;
          };
          const seen = await local.ask("seen");
          // Some may be lost with a connection; what arrives is in order, once, and was sent.
          for (let i = 1; i < seen.length; i++) {
            assert.ok(seen[i] > seen[i - 1], `${key}: ${seen}`);
          }
          assert.ok(seen.every((n) => n < sentCount), key);
          if (!everCut.has(key)) {
            // Never partitioned: nothing is lost.
            assert.equal(seen.length, sentCount, `${key}: ${seen}`);
          }
        }
      },
    ),
    { numRuns: 8, seed: 42 },
  );
});

test("RemoteNode.extension(): the node that was dialed sends to the one that dialed it, over a dial-back", async () => {
  const heard: string[] = [];
  const greet = (name: string) => ({
    name: "test.greet",
    handle: (who: string, from: { node: string }) => {
      heard.push(`${name} heard ${who} from ${from.node}`);
      return `${name} greets ${who}`;
    },
  });
  await using a = await member("a", { extensions: [greet("a")] });
  await using b = await member("b", { extensions: [greet("b")] });
  await a.node.connect(b.node.address);
  await waitFor(() => b.node.inboundConnections === 1, "b accepted a");
  // b learnt what a handles from a's Hello, and dials back to send.
  const channel = b.node.extension<string, string>("test.greet");
  assert.equal(channel.supportedBy("a"), true);
  assert.equal(await channel.ask("a", "you"), "a greets you");
  assert.deepEqual(heard, ["a heard you from b"]);
  assert.equal(a.node.inboundConnections, 1, "the dial-back");
});

test("RemoteNode: a node that restarts elsewhere and dials again is dialed back at its new address", async () => {
  await using a = await member("a", { reconnect: { minMs: 5, maxMs: 10 } });
  const b1 = await member("b");
  await b1.node.connect(a.node.address);
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b");
  const inB = a.node.ref<LogProtocol>("b", "log");
  inB.tell("add", 1);
  assert.deepEqual(await inB.ask("seen"), [1]);
  await b1[Symbol.asyncDispose]();
  await waitFor(() => !a.node.peers()[0].connected, "a saw b go");

  await using b2 = await member("b");
  assert.notEqual(b2.node.address, b1.node.address);
  await b2.node.connect(a.node.address);
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b again");
  assert.equal(a.node.peers()[0].address, b2.node.address);
  inB.tell("add", 2);
  assert.deepEqual(await inB.ask("seen"), [2], "the new process");
  assert.deepEqual(a.node.peers().map((p) => [p.outbound, p.inbound]), [[
    true,
    1,
  ]]);
});

test("TestCluster: a node that only dialed, then dies, fails the asks on the dial-back, ends its watches, and is reported down once", async () => {
  await using cluster = await TestCluster.start({
    nodes: ["a", "b"],
    systemOptions: { stopTimeoutMs: 100 }, // the hanging actor is cut short
  });
  const a = cluster.node("a");
  await cluster.system("b").spawn(log, undefined, { id: "log" });
  const hang = defineActor({
    name: "hang",
    init: () => ({}),
    handlers: { hang: () => new Promise<void>(() => {}) },
  });
  await cluster.system("b").spawn(hang, undefined, { id: "hang" });
  await cluster.node("b").connect(a.address); // only b dials
  const changes: PeerChange[] = [];
  a.onPeerChange((c) => void changes.push(c));
  const inB = a.ref<LogProtocol>("b", "log");
  const stopped = cluster.system("a").whenStopped(inB); // a watch, over the dial-back
  const echoed = inB.ask("echo", "x");
  await cluster.advance(100);
  assert.equal(await echoed, "x");
  assert.deepEqual(a.peers().map((p) => [p.outbound, p.inbound]), [[true, 1]]);
  const waiting = a.ref<{ hang(): void }>("b", "hang").ask("hang", undefined, {
    timeoutMs: 60_000,
  }).catch((e) => e);
  await cluster.advance(100);

  const killed = cluster.kill("b");
  const error = await waiting;
  assert.ok(isNodeUnreachableError(error), String(error));
  assert.equal((await stopped).fault?.kind, "error");
  assert.deepEqual(a.peers().map((p) => [p.connected, p.outbound, p.inbound]), [
    [false, false, 0],
  ]);
  assert.equal(changes.length, 1, JSON.stringify(changes));
  assert.equal(changes[0].connected, false);
  await cluster.advance(2_000); // b's goodbyes time out on the dead network
  await killed;
});

test("RemoteNode.disconnect(): a node that dials again is served, but nothing goes to it until connect()", async () => {
  await using a = await member("a");
  await using b = await member("b", {
    reconnect: { minMs: 60_000, maxMs: 60_000 },
  });
  await a.node.connect(b.node.address);
  a.node.disconnect("b", "downed");
  await waitFor(() => b.node.inboundConnections === 0, "b heard the goodbye");

  await b.node.connect(a.node.address); // b comes back on its own
  await waitFor(() => a.node.inboundConnections === 1, "a accepted b");
  const inA = b.node.ref<LogProtocol>("a", "log");
  assert.equal(await inA.ask("echo", "served"), "served");
  const inB = a.node.ref<LogProtocol>("b", "log");
  await assert.rejects(
    inB.ask("echo", "refused"),
    (e) => isNodeUnreachableError(e) && e.reason === "downed",
  );
  assert.deepEqual(a.node.peers().map((p) => [p.connected, p.outbound]), [[
    true,
    false,
  ]]);
  assert.equal(b.node.inboundConnections, 0, "no dial-back");

  await a.node.connect(b.node.address);
  assert.equal(await inB.ask("echo", "again"), "again");
});
