// A handshake cut short: the node closes during a handshake (its own dial or an accepted one),
// or a reconnect finds another node at the old address.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { platform } from "../platform/mod.ts";
import { isNodeUnreachableError } from "./errors.ts";
import { newNonce } from "./handshake.ts";
import {
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type RemoteMessage,
} from "./protocol/mod.ts";
import { listenFrames } from "./transport/mod.ts";
import {
  hello,
  RawClient,
  startNode,
  until,
  within,
} from "./_handshake_support_test.ts";

// ---- 8.10: closing during a handshake ------------------------------------------------------

test("RemoteNode.close() refuses handshakes in progress and releases their sockets", async () => {
  const { system, node } = await startNode("target", {
    handshakeTimeoutMs: 60_000,
  });
  try {
    await using client = await RawClient.connect(node.address);
    client.send(hello());
    assert.equal((await client.message(0)).kind, "welcome");
    // The handshake waits for the client's proof: close now.
    await within(5000, node.close(), "close()");
    const refused = await client.message(1);
    assert.deepEqual(refused, {
      kind: "refused",
      code: "closing",
      reason: 'node "target" is closing',
    });
    await within(5000, client.closed, "the connection to close");
  } finally {
    await node.close();
    await system.shutdown();
  }
});

test("RemoteNode.close() during its own dial rejects the dial with a clear error", async () => {
  // A listener that accepts and never answers the hello.
  const silent = await listenFrames(
    { hostname: "127.0.0.1", port: 0 },
    (conn) => conn.start({ onFrame() {}, onClose() {} }),
  );
  try {
    const { system, node } = await startNode("dialer", {
      handshakeTimeoutMs: 60_000,
    });
    const dialing = node.connect(`127.0.0.1:${silent.addr.port}`).catch((
      e: unknown,
    ) => e);
    // Let the hello go out, then close.
    await new Promise<void>((r) => platform.setTimer(r, 50));
    await within(5000, node.close(), "close()");
    const error = await within(5000, dialing, "the dial to fail");
    assert.ok(isNodeUnreachableError(error), String(error));
    assert.match(error.message, /closed during the handshake/);
    await system.shutdown();
  } finally {
    await silent.close();
  }
});

test("RemoteNode: a reconnect that finds another node at the address refuses it before proving anything", async () => {
  await using dialer = await startNode("dialer", {
    reconnect: { minMs: 10, maxMs: 20 },
  });
  const b = await startNode("b");
  const address = b.node.address;
  const port = Number(address.split(":")[1]);
  await dialer.node.connect(address);
  await b[Symbol.asyncDispose]();
  // Someone else takes the port and answers as another node of the same cluster.
  const received: RemoteMessage[] = [];
  const mallory = await listenFrames(
    { hostname: "127.0.0.1", port },
    (conn) => {
      conn.start({
        onFrame(bytes) {
          const message = decodeMessage(bytes);
          received.push(message);
          if (message.kind === "hello") {
            conn.send(encodeMessage({
              kind: "welcome",
              protocolVersion: PROTOCOL_VERSION,
              node: "mallory",
              address,
              cluster: "test",
              nonce: newNonce(),
            }));
          }
        },
        onClose() {},
      });
    },
  );
  try {
    // Tells to "b" make the dialer reconnect to b's address (the first may still go out on the
    // old connection before its loss is noticed).
    const toB = dialer.node.ref<{ echo(t: string): string }>("b", "echo");
    for (let i = 0; i < 200 && received.length === 0; i++) {
      toB.tell("echo", "hi");
      await new Promise<void>((r) => platform.setTimer(r, 20));
    }
    await until(
      () => received.some((m) => m.kind === "refused"),
      "the dialer's refusal",
    );
    assert.equal(received.some((m) => m.kind === "proof"), false, "no proof");
    const refused = received.find((m) => m.kind === "refused") as {
      code: string;
    };
    assert.equal(refused.code, "node");
  } finally {
    await dialer.node.close();
    await mallory.close();
  }
});
