// A higher layer's own message kinds over remoting, registered from outside src/remote/ through
// the public API only: exchanged with a peer that handles them, refused with a typed error (and
// the connection kept) by one that does not.
import assert from "node:assert/strict";
import { test } from "../../src/platform/test_harness.ts";
import {
  ActorSystem,
  defineActor,
  isExtensionUnsupportedError,
  isRemoteFailureError,
  type RemoteExtension,
  RemoteNode,
  type RemoteNodeOptions,
} from "../../mod.ts";

const quiet = { error() {} };
const SECRET = "test secret, not for production";

/** A toy membership gossip: each node keeps the views it was told, and answers with its own. */
interface Gossip {
  readonly from: string;
  readonly members: string[];
}

function gossipExtension(
  node: string,
  heard: Gossip[],
): RemoteExtension<Gossip, Gossip> {
  return {
    name: "test.gossip",
    handle: (message, from) => {
      assert.equal(
        message.from,
        from.node,
        "the sender is who the handshake proved",
      );
      heard.push(message);
      if (message.members.includes("boom")) throw new RangeError("bad view");
      return { from: node, members: [node, ...message.members] };
    },
  };
}

const echo = defineActor({
  name: "echo",
  init: () => ({}),
  handlers: { echo: (_s, text: string) => text },
});

interface Nodes extends AsyncDisposable {
  readonly a: RemoteNode;
  readonly b: RemoteNode;
}

async function nodes(
  optionsA: Partial<RemoteNodeOptions>,
  optionsB: Partial<RemoteNodeOptions>,
): Promise<Nodes> {
  const systemA = new ActorSystem({ node: "a", logger: quiet });
  const systemB = new ActorSystem({ node: "b", logger: quiet });
  await systemB.spawn(echo, undefined, { id: "echo" });
  const base = { cluster: "ext", secret: SECRET, logger: quiet };
  const a = await RemoteNode.start(systemA, { ...base, ...optionsA });
  const b = await RemoteNode.start(systemB, { ...base, ...optionsB });
  return {
    a,
    b,
    async [Symbol.asyncDispose]() {
      await a.close();
      await b.close();
      await systemA.shutdown();
      await systemB.shutdown();
    },
  };
}

test("RemoteNode.extension(): a kind registered outside src/remote/ is exchanged with a peer (ask and tell)", async () => {
  const heardA: Gossip[] = [];
  const heardB: Gossip[] = [];
  await using n = await nodes(
    { extensions: [gossipExtension("a", heardA)] },
    { extensions: [gossipExtension("b", heardB)] },
  );
  await n.a.connect(n.b.address);
  const gossip = n.a.extension<Gossip, Gossip>("test.gossip");
  assert.equal(gossip.supportedBy("b"), true);
  assert.deepEqual(
    await gossip.ask("b", { from: "a", members: ["a"] }),
    { from: "b", members: ["b", "a"] },
  );
  gossip.tell("b", { from: "a", members: ["a", "c"] });
  // The tell is handled before a later ask is answered (one connection, in order).
  await gossip.ask("b", { from: "a", members: [] });
  assert.deepEqual(heardB.map((m) => m.members), [["a"], ["a", "c"], []]);
  // A failing handler fails the ask, as an actor's would.
  await assert.rejects(
    gossip.ask("b", { from: "a", members: ["boom"] }),
    (e: unknown) => isRemoteFailureError(e) && e.remoteName === "RangeError",
  );
  assert.deepEqual(heardA, []);
});

test("RemoteNode.extension(): a peer without the extension gets nothing and the sender a typed refusal; the link stays up", async () => {
  const heard: Gossip[] = [];
  await using n = await nodes(
    { extensions: [gossipExtension("a", heard)] },
    {},
  );
  await n.a.connect(n.b.address);
  const gossip = n.a.extension<Gossip, Gossip>("test.gossip");
  assert.equal(gossip.supportedBy("b"), false);
  await assert.rejects(
    gossip.ask("b", { from: "a", members: ["a"] }),
    (e: unknown) => {
      assert.ok(isExtensionUnsupportedError(e), String(e));
      assert.equal(e.node, "b");
      assert.equal(e.extension, "test.gossip");
      return true;
    },
  );
  assert.throws(
    () => gossip.tell("b", { from: "a", members: ["a"] }),
    isExtensionUnsupportedError,
  );
  // The connection is still up and still carries the rest.
  assert.equal(n.a.peers()[0].connected, true);
  assert.equal(
    await n.a.ref<{ echo(t: string): string }>("b", "echo").ask("echo", "x"),
    "x",
  );
});

test("RemoteNode.extension() refuses a name that is not registered here, and start() checks extensions", async () => {
  await using n = await nodes({}, {});
  assert.throws(() => n.a.extension("test.gossip"), TypeError);
  await using system = new ActorSystem({ logger: quiet });
  const handle = () => undefined;
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "ext",
      secret: SECRET,
      extensions: [{ name: "x", handle }, { name: "x", handle }],
    }),
    TypeError,
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "ext",
      secret: SECRET,
      extensions: [{ name: "has space", handle }],
    }),
    TypeError,
  );
  // The names must fit the small frames of the handshake.
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "ext",
      secret: SECRET,
      extensions: Array.from({ length: 40 }, (_, i) => ({
        name: `test.${"x".repeat(60)}.${i}`,
        handle,
      })),
    }),
    RangeError,
  );
});

test("RemoteNode.extension(): a request queued for a node that comes back without the extension is refused by that node; the link stays up", async () => {
  const heard: Gossip[] = [];
  const systemA = new ActorSystem({ node: "a", logger: quiet });
  const base = { cluster: "ext", secret: SECRET, logger: quiet };
  const a = await RemoteNode.start(systemA, {
    ...base,
    extensions: [gossipExtension("a", heard)],
    reconnect: { minMs: 20, maxMs: 50 },
  });
  const b1System = new ActorSystem({ node: "b", logger: quiet });
  let b = await RemoteNode.start(b1System, {
    ...base,
    extensions: [gossipExtension("b", heard)],
  });
  let bSystem = b1System;
  try {
    const port = Number(b.address.split(":")[1]);
    await a.connect(b.address);
    const gossip = a.extension<Gossip, Gossip>("test.gossip");
    await b.close();
    await b1System.shutdown();
    while (a.peers()[0].connected) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    // b comes back without the extension; a learns that only when it reconnects.
    bSystem = new ActorSystem({ node: "b", logger: quiet });
    await bSystem.spawn(echo, undefined, { id: "echo" });
    b = await RemoteNode.start(bSystem, { ...base, port });
    assert.equal(gossip.supportedBy("b"), true, "as last announced");
    // So the request goes into the outbox, and b refuses it once it arrives.
    const error = await gossip.ask("b", { from: "a", members: ["a"] }, {
      timeoutMs: 10_000,
    }).catch((e) => e);
    assert.ok(isExtensionUnsupportedError(error), String(error));
    assert.equal(error.node, "b");
    assert.equal(gossip.supportedBy("b"), false, "learnt in the new handshake");
    assert.equal(
      await a.ref<{ echo(t: string): string }>("b", "echo").ask("echo", "up"),
      "up",
    );
    assert.equal(a.peers()[0].connected, true);
  } finally {
    await a.close();
    await b.close();
    await systemA.shutdown();
    await bSystem.shutdown();
  }
});
