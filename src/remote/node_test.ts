// A remote node's scenarios, each run on real TCP and on the in-memory network under virtual
// time (testOnBoth, _node_fixture_test.ts). On one network only:
// - "TLS connections carry the same protocol": TCP only, the memory transport has no TLS.
// - "RemoteNode.start() validates its options": one node, no network at all.
// - "a peer that goes silent after the handshake...": TCP only, its fake peer is a raw frame
//   listener (listenFrames) that no TestCluster node can be.
// - "RemoteNode.start() takes its transport and clock as options...": memory only, it tests
//   building a node on a MemoryNetwork and ManualClock by hand.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  type ActorRef,
  ActorSystem,
  type DeadLetter,
  defineActor,
  isActorStoppedError,
  isAskTimeoutError,
  isMessageNotHandledError,
  jsonCodec,
  type StopNotice,
} from "../../mod.ts";
import {
  LOCALHOST_CERTIFICATE as TLS_CERTIFICATE,
  LOCALHOST_PRIVATE_KEY as TLS_PRIVATE_KEY,
} from "../../tests/fixtures/tls/localhost.ts";
import {
  isCodecError,
  isHandshakeRefusedError,
  isNodeUnreachableError,
  isRemoteFailureError,
} from "./errors.ts";
import {
  type HandshakeFacts,
  importSecret,
  newNonce,
  prove,
} from "./handshake.ts";
import { RemoteNode } from "./node.ts";
import type { RemoteNodeOptions } from "./options.ts";
import {
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
} from "./protocol/mod.ts";
import { listenFrames, MemoryNetwork } from "./transport/mod.ts";
import { ManualClock } from "../timer/mod.ts";
import { type NodeFixture, testOnBoth } from "./_node_fixture_test.ts";

const SECRET = "test secret, not for production";
const quiet = { error() {} };

interface EchoProtocol {
  echo(text: string): string;
  add(n: number): void;
  sum(): number;
  seen(): number[];
  fail(message: string): never;
  hang(): void;
}

const echo = defineActor({
  name: "echo",
  init: () => ({ sum: 0, seen: [] as number[] }),
  handlers: {
    echo: (_s, text: string) => text,
    add: (s, n: number) => {
      s.sum += n;
      s.seen.push(n);
    },
    sum: (s) => s.sum,
    seen: (s) => s.seen,
    fail: (_s, message: string): never => {
      throw new TypeError(message);
    },
    hang: () => new Promise<void>(() => {}),
  },
});

/** Nodes a and b with an echo actor on b, a connected to b. */
async function pair(
  f: NodeFixture,
  optionsA: Partial<RemoteNodeOptions> = {},
  optionsB: Partial<RemoteNodeOptions> = {},
): Promise<{ nodeA: RemoteNode; nodeB: RemoteNode }> {
  const nodeA = await f.start("a", {
    nodeOptions: optionsA,
    systemOptions: { stopTimeoutMs: 100 },
  });
  const nodeB = await f.start("b", {
    nodeOptions: optionsB,
    systemOptions: { stopTimeoutMs: 100 },
  });
  await f.system("b").spawn(echo, undefined, { id: "echo" });
  assert.equal(await f.connect("a", "b"), "b");
  return { nodeA, nodeB };
}

testOnBoth(
  "RemoteNode: tell and ask a remote actor with the same API as a local one",
  async (f) => {
    const { nodeA } = await pair(f);
    const ref = nodeA.ref<EchoProtocol>("b", "echo");
    assert.deepEqual(ref.address, { node: "b", path: "echo" });
    assert.equal(JSON.stringify(ref), '"troupe://b/echo"');
    ref.tell("add", 2);
    ref.tell("add", 3);
    assert.equal(await f.settle(ref.ask("sum")), 5);
    assert.equal(await f.settle(ref.ask("echo", "héllo 🎭")), "héllo 🎭");
    const byAddress = nodeA.ref<EchoProtocol>("troupe://b/echo");
    assert.equal(await f.settle(byAddress.ask("sum")), 5);
  },
);

testOnBoth(
  "RemoteNode: messages from one sender arrive in order and are handled one at a time",
  async (f) => {
    const { nodeA } = await pair(f);
    const ref = nodeA.ref<EchoProtocol>("b", "echo");
    const sent: number[] = [];
    for (let i = 0; i < 20_000; i++) {
      ref.tell("add", i);
      sent.push(i);
      if (i % 5000 === 0) await new Promise((r) => setTimeout(r, 0));
    }
    assert.deepEqual(
      await f.settle(ref.ask("seen", undefined, { timeoutMs: 20_000 })),
      sent,
    );
  },
);

testOnBoth(
  "RemoteNode: remote failures reject with the same typed errors as local ones",
  async (f) => {
    const { nodeA } = await pair(f);
    const ref = nodeA.ref<EchoProtocol>("b", "echo");
    await assert.rejects(
      f.settle(ref.ask("fail", "bad input")),
      (e: unknown) => {
        assert.ok(isRemoteFailureError(e));
        assert.equal(e.remoteName, "TypeError");
        assert.equal(e.remoteCode, "HANDLER_FAILED");
        assert.match(e.message, /bad input/);
        return true;
      },
    );
    const missing = nodeA.ref<EchoProtocol>("b", "nobody");
    await assert.rejects(f.settle(missing.ask("sum")), isActorStoppedError);
    const untyped = ref as unknown as { ask(t: string): Promise<unknown> };
    await assert.rejects(
      f.settle(untyped.ask("nope")),
      isMessageNotHandledError,
    );
    await assert.rejects(
      f.settle(ref.ask("hang", undefined, { timeoutMs: 50 })),
      isAskTimeoutError,
    );
  },
);

testOnBoth(
  "RemoteNode: a payload the codec cannot encode is a CodecError for the sender",
  async (f) => {
    const { nodeA } = await pair(f);
    const ref = nodeA.ref<{ echo(x: unknown): unknown }>("b", "echo");
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    await assert.rejects(f.settle(ref.ask("echo", cyclic)), isCodecError);
    assert.throws(() => ref.tell("echo", cyclic), isCodecError);
  },
);

testOnBoth(
  "RemoteNode: named codecs travel with each message; an unknown one is a typed error",
  async (f) => {
    const upper = {
      encode: (_t: string, v: unknown) =>
        jsonCodec.encode("x", String(v).toUpperCase()),
      decode: (_t: string, b: Uint8Array) => jsonCodec.decode("x", b),
    };
    const { nodeA } = await pair(
      f,
      { codecs: { upper }, messageCodecs: { echo: "upper" } },
      { codecs: { upper } },
    );
    const ref = nodeA.ref<EchoProtocol>("b", "echo");
    assert.equal(await f.settle(ref.ask("echo", "shout")), "SHOUT");
    // Node c sends with the codec, node d (the receiver) does not know it.
    const nodeC = await f.start("c", {
      nodeOptions: { codecs: { upper }, messageCodecs: { echo: "upper" } },
    });
    await f.start("d");
    await f.system("d").spawn(echo, undefined, { id: "echo" });
    await f.connect("c", "d");
    await assert.rejects(
      f.settle(nodeC.ref<EchoProtocol>("d", "echo").ask("echo", "x")),
      isCodecError,
    );
  },
);

testOnBoth(
  "RemoteNode.lookup() and spawn() find and create actors on another node",
  async (f) => {
    const { nodeA, nodeB } = await pair(f);
    nodeB.register("echo", echo);
    assert.equal(await f.settle(nodeA.lookup("b", "nobody")), undefined);
    const found = await f.settle(nodeA.lookup<EchoProtocol>("b", "echo"));
    assert.equal(await f.settle(found!.ask("echo", "x")), "x");
    const spawned = await f.settle(
      nodeA.spawn<EchoProtocol>("b", "echo", undefined, {
        id: "made-remotely",
      }),
    );
    assert.equal(spawned.path, "made-remotely");
    assert.equal(await f.settle(spawned.ask("echo", "y")), "y");
    assert.ok(f.system("b").lookup("made-remotely"));
    await assert.rejects(
      f.settle(nodeA.spawn("b", "no-such-factory", undefined)),
      (e: unknown) => {
        assert.ok(isRemoteFailureError(e));
        assert.equal(e.remoteCode, "FACTORY_UNKNOWN");
        return true;
      },
    );
    await f.settle(spawned.stop());
    assert.equal(f.system("b").lookup("made-remotely"), undefined);
  },
);

testOnBoth(
  "RemoteNode: watching a remote actor delivers terminated when it stops",
  async (f) => {
    const { nodeA } = await pair(f);
    const notices: Array<[string, string]> = [];
    const watcher = defineActor({
      name: "watcher",
      init: () => ({}),
      handlers: { watch: (_s, ref: ActorRef<object>, ctx) => ctx.watch(ref) },
      terminated: (_s, notice: StopNotice) =>
        void notices.push([notice.ref.path, notice.fault?.kind ?? "clean"]),
    });
    const w = await f.system("a").spawn(watcher, undefined);
    const remote = nodeA.ref<EchoProtocol>("b", "echo");
    await f.settle(w.ask("watch", remote));
    const stopped = f.system("a").whenStopped(remote);
    await f.settle(f.system("b").lookup("echo")!.stop());
    await f.settle(stopped);
    await f.until(() => notices.length > 0, "the terminated hook ran");
    assert.deepEqual(notices, [["echo", "clean"]]);
    assert.equal(remote.stopped, true);
  },
);

testOnBoth(
  "RemoteNode: node loss rejects waiting asks at once and tells watchers",
  async (f) => {
    const { nodeA } = await pair(f);
    const remote = nodeA.ref<EchoProtocol>("b", "echo");
    const stopped = f.system("a").whenStopped(remote);
    const hanging = remote.ask("hang", undefined, { timeoutMs: 60_000 })
      .catch((e) => e);
    // A round trip: the watch and the hanging ask are on the wire.
    await f.settle(nodeA.lookup("b", "echo"));
    const stopping = f.stop("b");
    // At once: the ask timeout would be an AskTimeoutError, not the node's loss.
    const error = await f.settle(hanging);
    assert.ok(isNodeUnreachableError(error), String(error));
    const notice = await f.settle(stopped);
    assert.equal(notice.fault?.kind, "error");
    await stopping;
  },
);

testOnBoth(
  "RemoteNode: a wrong secret, cluster or protocol is refused with a clear reason on both sides",
  async (f) => {
    const { nodeA } = await pair(f);
    await f.start("intruder", {
      nodeOptions: { secret: "not the secret, a guess" },
    });
    await assert.rejects(f.connect("intruder", "b"), (e: unknown) => {
      assert.ok(isHandshakeRefusedError(e));
      assert.equal(e.refusal, "auth");
      return true;
    });
    await f.start("stranger", { nodeOptions: { cluster: "other" } });
    await assert.rejects(f.connect("stranger", "b"), (e: unknown) => {
      assert.ok(isHandshakeRefusedError(e));
      assert.equal(e.refusal, "cluster");
      assert.match(
        e.message,
        /cluster "test" is not "other"|cluster "other" is not "test"/,
      );
      return true;
    });
    assert.ok(
      f.logs.some((line) => line.startsWith("b: ") && /cluster/.test(line)),
      f.logs.join("\n"),
    );
    // The node keeps serving everyone else.
    assert.equal(await f.connect("a", "b"), "b");
    assert.equal(
      await f.settle(
        nodeA.ref<EchoProtocol>("b", "echo").ask("echo", "still here"),
      ),
      "still here",
    );
  },
);

test("RemoteNode: TLS connections carry the same protocol", async () => {
  await using a = new ActorSystem({ node: "a", logger: quiet });
  await using b = new ActorSystem({ node: "b", logger: quiet });
  await b.spawn(echo, undefined, { id: "echo" });
  const options = { cluster: "test", secret: SECRET, logger: quiet };
  await using nodeA = await RemoteNode.start(a, {
    ...options,
    connectTls: { caCertificates: [TLS_CERTIFICATE], serverName: "localhost" },
  });
  await using nodeB = await RemoteNode.start(b, {
    ...options,
    tls: { certificate: TLS_CERTIFICATE, privateKey: TLS_PRIVATE_KEY },
  });
  await nodeA.connect(nodeB.address);
  assert.equal(
    await nodeA.ref<EchoProtocol>("b", "echo").ask("echo", "secure"),
    "secure",
  );
});

testOnBoth(
  "RemoteNode: after a node comes back, sends reconnect; while it is away tells are buffered boundedly",
  async (f) => {
    const { nodeA, nodeB } = await pair(f, {
      maxBufferedMessages: 5,
      reconnect: { minMs: 20, maxMs: 50 },
    });
    const port = Number(nodeB.address.split(":").at(-1));
    const letters: DeadLetter[] = [];
    f.system("a").deadLetters.subscribe((l) => letters.push(l));
    const ref = nodeA.ref<EchoProtocol>("b", "echo");
    await f.settle(ref.ask("sum"));
    await f.stop("b");
    await f.until(() => !nodeA.peers()[0].connected, "node a saw the loss");
    for (let i = 1; i <= 8; i++) ref.tell("add", i);
    await f.until(
      () => letters.length >= 3,
      "the tells without room are dead letters",
    );
    assert.equal(
      letters.filter((l) => l.reason === "node-unreachable").length,
      3,
      "8 tells, room for 5",
    );
    // The process comes back where it was (on TCP behind the same relay).
    await f.start("b", { nodeOptions: { port } });
    await f.system("b").spawn(echo, undefined, { id: "echo" });
    await f.until(() => nodeA.peers()[0].connected, "node a reconnected");
    assert.equal(
      await f.settle(ref.ask("sum")),
      1 + 2 + 3 + 4 + 5,
      "the five buffered tells were delivered after reconnecting",
    );
    assert.equal(letters.length, 3, "no more dead letters");
  },
);

test("RemoteNode.start() validates its options", async () => {
  await using system = new ActorSystem();
  await assert.rejects(
    RemoteNode.start(system, { cluster: "", secret: SECRET }),
    TypeError,
  );
  await assert.rejects(
    RemoteNode.start(system, { cluster: "c", secret: "short" }),
    RangeError,
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      heartbeatIntervalMs: 0,
    }),
    RangeError,
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      messageCodecs: { x: "nope" },
    }),
    TypeError,
  );
});

test("RemoteNode: a peer that goes silent after the handshake is dropped by the heartbeat", async () => {
  // A fake node: it completes a real handshake, then never answers anything (no pongs, no replies).
  const key = await importSecret(SECRET);
  const silent = await listenFrames(
    { hostname: "127.0.0.1", port: 0 },
    (conn) => {
      let facts: HandshakeFacts | undefined;
      conn.start({
        onFrame: async (bytes) => {
          const message = decodeMessage(bytes);
          if (message.kind === "hello") {
            facts = {
              cluster: "test",
              dialerNode: message.node,
              listenerNode: "silent",
              dialerNonce: message.nonce.slice(),
              listenerNonce: newNonce(),
            };
            conn.send(encodeMessage({
              kind: "welcome",
              protocolVersion: PROTOCOL_VERSION,
              node: "silent",
              address: "127.0.0.1:1",
              cluster: "test",
              nonce: facts.listenerNonce,
            }));
          } else if (message.kind === "proof" && facts !== undefined) {
            conn.send(encodeMessage({
              kind: "accepted",
              proof: await prove(key, "listener", facts),
            }));
          }
          // Everything after the handshake is swallowed.
        },
        onClose() {},
      });
    },
  );
  const system = new ActorSystem({ node: "a", logger: quiet });
  const node = await RemoteNode.start(system, {
    cluster: "test",
    secret: SECRET,
    logger: quiet,
    heartbeatIntervalMs: 50,
    heartbeatTimeoutMs: 200,
    reconnect: { minMs: 60_000, maxMs: 60_000 },
  });
  try {
    assert.equal(await node.connect(`127.0.0.1:${silent.addr.port}`), "silent");
    const started = Date.now();
    const error = await node.ref<EchoProtocol>("silent", "echo")
      .ask("sum", undefined, { timeoutMs: 10_000 })
      .catch((e) => e);
    assert.ok(isNodeUnreachableError(error), String(error));
    assert.ok(
      Date.now() - started < 5000,
      "dropped by the heartbeat, not by the ask timeout",
    );
    assert.deepEqual(node.peers().map((p) => [p.node, p.connected]), [[
      "silent",
      false,
    ]]);
  } finally {
    await node.close();
    await system.shutdown();
    await silent.close();
  }
});

testOnBoth(
  "RemoteNode: a producer faster than the network gets dead letters, never a lost connection",
  async (f) => {
    const { nodeA } = await pair(f, {
      maxSendBufferBytes: 256 * 1024,
      maxFrameBytes: 64 * 1024,
    });
    const ref = nodeA.ref<EchoProtocol>("b", "echo");
    const refused: number[] = [];
    f.system("a").deadLetters.subscribe((l) => {
      if (l.reason === "mailbox-full") refused.push(l.payload as number);
    });
    const total = 50_000;
    for (let i = 0; i < total; i++) ref.tell("add", i); // ~2 MB in one synchronous burst
    const seen = await f.settle(
      ref.ask("seen", undefined, { timeoutMs: 20_000 }),
    );
    assert.ok(refused.length > 0, "the burst overflowed the send buffer");
    assert.equal(
      seen.length + refused.length,
      total,
      "every tell was delivered or refused",
    );
    assert.ok(
      seen.every((n, i) => i === 0 || n > seen[i - 1]),
      "what was delivered is in order",
    );
    assert.deepEqual(
      nodeA.peers().map((x) => x.connected),
      [true],
      "the connection survived",
    );
  },
);

test("RemoteNode.start() takes its transport and clock as options (a MemoryNetwork under a ManualClock)", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock });
  await using a = new ActorSystem({ node: "a", logger: quiet, clock });
  await using b = new ActorSystem({ node: "b", logger: quiet, clock });
  await b.spawn(echo, undefined, { id: "echo" });
  const options = { cluster: "test", secret: SECRET, logger: quiet, clock };
  await using nodeA = await RemoteNode.start(a, {
    ...options,
    transport: network.transport("host-a"),
  });
  await using nodeB = await RemoteNode.start(b, {
    ...options,
    transport: network.transport("host-b"),
  });
  assert.match(nodeB.address, /^host-b:\d+$/, "listening on the network");
  assert.equal(await nodeA.connect(nodeB.address), "b");
  const ref = nodeA.ref<EchoProtocol>("b", "echo");
  assert.equal(await ref.ask("echo", "in memory"), "in memory");
  // The heartbeat runs on the node's clock: a partition is found only as virtual time passes.
  network.partition("host-a", "host-b");
  await clock.advance(4000);
  assert.equal(nodeA.peers()[0].connected, true);
  await clock.advance(2000);
  assert.equal(nodeA.peers()[0].connected, false);
  await using system = new ActorSystem({ logger: quiet });
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      transport: {} as never,
    }),
    TypeError,
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      clock: {} as never,
    }),
    TypeError,
  );
});
