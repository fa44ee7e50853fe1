// The handshake: the dialer proves first, secrets and their rotation, protocol versions, and
// how source addresses are keyed. Limits before authentication are in
// handshake_limits_test.ts, closing and reconnecting mid-handshake in handshake_close_test.ts.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { ActorSystem } from "../../mod.ts";
import { ManualClock } from "../timer/mod.ts";
import { isHandshakeRefusedError } from "./errors.ts";
import {
  generateClusterSecret,
  type HandshakeFacts,
  importSecret,
  newNonce,
  prove,
  sourceKey,
} from "./handshake.ts";
import { RemoteNode } from "./node.ts";
import {
  decodeMessage,
  encodeMessage,
  PROTOCOL_VERSION,
  type RemoteMessage,
} from "./protocol/mod.ts";
import { listenFrames } from "./transport/mod.ts";
import {
  capture,
  contains,
  echo,
  hello,
  OTHER_SECRET,
  quiet,
  RawClient,
  refusalOf,
  SECRET,
  startNode,
  until,
  within,
} from "./_handshake_support_test.ts";
import { testOnBoth } from "./_node_fixture_test.ts";

// ---- 9.1: the dialer proves first ----------------------------------------------------------

test("RemoteNode handshake: a client that knows only the cluster name gets nothing derived from the secret", async () => {
  await using target = await startNode("target");
  const key = await importSecret(SECRET);
  await using client = await RawClient.connect(target.node.address);
  const greeting = hello();
  client.send(greeting);
  const welcome = await client.message(0);
  assert.equal(welcome.kind, "welcome");
  if (welcome.kind !== "welcome") return;
  // The listener's proof for this handshake, as an attacker would want it.
  const facts: HandshakeFacts = {
    cluster: "test",
    dialerNode: "raw",
    listenerNode: "target",
    dialerNonce: (greeting as { nonce: Uint8Array }).nonce,
    listenerNonce: welcome.nonce,
  };
  const listenerProof = await prove(key, "listener", facts);
  // A wrong proof: refused, and still no proof of the listener's.
  client.send({ kind: "proof", proof: newNonce() });
  const refused = await client.message(1);
  assert.equal(refused.kind, "refused");
  assert.equal((refused as { code: string }).code, "auth");
  await within(5000, client.closed, "the refused connection to close");
  assert.equal(client.messages.length, 2);
  for (const bytes of client.raw) {
    assert.ok(
      !contains(bytes, listenerProof),
      "no frame before a valid dialer proof carries the listener's proof",
    );
  }
  // The welcome is exactly what its fields say: no extra field hides anything.
  assert.deepEqual(client.raw[0], encodeMessage(welcome));
});

test("RemoteNode handshake: with a valid dialer proof the listener answers with its proof", async () => {
  await using target = await startNode("target");
  const key = await importSecret(SECRET);
  await using client = await RawClient.connect(target.node.address);
  const greeting = hello() as { nonce: Uint8Array } & RemoteMessage;
  client.send(greeting);
  const welcome = await client.message(0);
  if (welcome.kind !== "welcome") return assert.fail(welcome.kind);
  const facts: HandshakeFacts = {
    cluster: "test",
    dialerNode: "raw",
    listenerNode: "target",
    dialerNonce: greeting.nonce,
    listenerNonce: welcome.nonce,
  };
  client.send({ kind: "proof", proof: await prove(key, "dialer", facts) });
  const accepted = await client.message(1);
  assert.equal(accepted.kind, "accepted");
  if (accepted.kind !== "accepted") return;
  assert.deepEqual(accepted.proof, await prove(key, "listener", facts));
});

testOnBoth(
  "RemoteNode handshake: a wrong secret is refused on both sides and logged on the listener",
  async (f) => {
    await f.start("target");
    await f.start("intruder", { nodeOptions: { secret: OTHER_SECRET } });
    assert.equal(
      await refusalOf(f.settle(f.connect("intruder", "target"))),
      "auth",
    );
    const logged = () => f.logs.filter((line) => line.startsWith("target: "));
    await f.until(() => logged().length > 0, "the listener's log line");
    assert.match(
      logged().join("\n"),
      /Refused connection from \S+:\d+: Handshake refused \(auth\): the dialer's proof does not match/,
    );
  },
);

test("generateClusterSecret() returns 32 random bytes as base64url, and RemoteNode.start() rejects short secrets", async () => {
  const a = generateClusterSecret();
  const b = generateClusterSecret();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  await using system = new ActorSystem({ logger: quiet });
  await assert.rejects(
    RemoteNode.start(system, { cluster: "c", secret: "fifteen bytes.." }),
    (e: unknown) =>
      e instanceof RangeError && /at least 16 bytes/.test(e.message) &&
      /secret/.test(e.message),
  );
  await assert.rejects(
    RemoteNode.start(system, {
      cluster: "c",
      secret: SECRET,
      acceptSecrets: ["short"],
    }),
    (e: unknown) =>
      e instanceof RangeError && /acceptSecrets\[0\]/.test(e.message) &&
      /at least 16 bytes/.test(e.message),
  );
  // 16 bytes is enough, and a generated secret works.
  const node = await RemoteNode.start(system, {
    cluster: "c",
    secret: "sixteen bytes..!",
    acceptSecrets: [a],
    logger: quiet,
  });
  await node.close();
});

testOnBoth(
  "RemoteNode handshake: during a rotation the old and the new secret are accepted, after it the old one is refused",
  async (f) => {
    const OLD = SECRET;
    const NEW = generateClusterSecret();
    await f.start("old", { nodeOptions: { secret: OLD } });
    await f.start("new", { nodeOptions: { secret: NEW } });
    await f.start("target", {
      nodeOptions: { secret: NEW, acceptSecrets: [OLD] },
    });
    await f.system("target").spawn(echo, undefined, { id: "echo" });
    assert.equal(await f.settle(f.connect("old", "target")), "target");
    assert.equal(await f.settle(f.connect("new", "target")), "target");
    for (const dialer of ["old", "new"]) {
      const ref = f.node(dialer).ref<{ echo(t: string): string }>(
        "target",
        "echo",
      );
      assert.equal(await f.settle(ref.ask("echo", "rotating")), "rotating");
    }
    await f.stop("target");
    await f.start("rotated", { nodeOptions: { secret: NEW } });
    assert.equal(await f.settle(f.connect("new", "rotated")), "rotated");
    assert.equal(
      await refusalOf(f.settle(f.connect("old", "rotated"))),
      "auth",
    );
  },
);

test("RemoteNode handshake: failed proofs are rate-limited per source address", async () => {
  const clock = new ManualClock();
  const log = capture();
  await using target = await startNode("target", {
    maxAuthFailures: 2,
    authFailureRefillMs: 60_000,
    logger: log,
  }, clock);
  await using intruder = await startNode("intruder", { secret: OTHER_SECRET });
  await using friend = await startNode("friend");
  assert.equal(
    await refusalOf(intruder.node.connect(target.node.address)),
    "auth",
  );
  assert.equal(
    await refusalOf(intruder.node.connect(target.node.address)),
    "auth",
  );
  assert.equal(
    await refusalOf(intruder.node.connect(target.node.address)),
    "rate-limited",
  );
  // Limited by address: refused before anything is read, so no HMAC work is done.
  {
    await using client = await RawClient.connect(target.node.address);
    const refused = await client.message(0);
    assert.equal(refused.kind, "refused");
    assert.equal((refused as { code: string }).code, "rate-limited");
    await within(5000, client.closed, "the limited connection to close");
  }
  assert.equal(
    await refusalOf(friend.node.connect(target.node.address)),
    "rate-limited",
  );
  // One failure is forgiven per refill period.
  await clock.advance(60_000);
  assert.equal(await friend.node.connect(target.node.address), "target");
  assert.match(log.lines.join("\n"), /rate-limited/);
});

test("RemoteNode handshake: a peer of the previous protocol version is refused with the reason, on both sides", async () => {
  // An old dialer: its hello says version 1.
  const log = capture();
  await using target = await startNode("target", { logger: log });
  {
    await using client = await RawClient.connect(target.node.address);
    client.send(hello({ protocolVersion: PROTOCOL_VERSION - 1 }));
    const refused = await client.message(0);
    assert.deepEqual(refused, {
      kind: "refused",
      code: "version",
      reason: `protocol version ${
        PROTOCOL_VERSION - 1
      } is not supported: this node speaks version ${PROTOCOL_VERSION}`,
    });
  }
  await until(() => log.lines.length > 0, "the listener's log line");
  assert.match(log.lines[0], /Handshake refused \(version\)/);

  // An old listener: it answers with a version 1 welcome (which carried its proof).
  const received: RemoteMessage[] = [];
  const old = await listenFrames({ hostname: "127.0.0.1", port: 0 }, (conn) => {
    conn.start({
      onFrame(bytes) {
        const message = decodeMessage(bytes);
        received.push(message);
        if (message.kind === "hello") {
          conn.send(encodeMessage({
            kind: "welcome",
            protocolVersion: PROTOCOL_VERSION - 1,
            node: "old",
            address: "127.0.0.1:1",
            cluster: "test",
            nonce: newNonce(),
          }));
        }
      },
      onClose() {},
    });
  });
  try {
    await using dialer = await startNode("dialer");
    const error = await dialer.node.connect(`127.0.0.1:${old.addr.port}`)
      .catch((e: unknown) => e);
    assert.ok(isHandshakeRefusedError(error), String(error));
    assert.equal(error.refusal, "version");
    assert.match(error.message, /protocol version 1 is not supported/);
    await until(() => received.length >= 2, "the dialer's refusal");
    assert.equal(received[1].kind, "refused");
    assert.equal((received[1] as { code: string }).code, "version");
  } finally {
    await old.close();
  }
});

test("sourceKey() keys IPv4 as is, IPv4-mapped IPv6 as IPv4, and IPv6 by its /64", () => {
  assert.equal(sourceKey("10.1.2.3"), "10.1.2.3");
  assert.equal(sourceKey("::ffff:10.1.2.3"), "10.1.2.3");
  assert.equal(sourceKey("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
  assert.equal(sourceKey("2001:db8:1:2:ffff:1:2:3"), "2001:db8:1:2::/64");
  assert.equal(sourceKey("[2001:DB8:0001:0002::9]"), "2001:db8:1:2::/64");
  assert.equal(sourceKey("2001:db8::1"), "2001:db8:0:0::/64");
  assert.equal(sourceKey("::1"), "0:0:0:0::/64");
  assert.equal(sourceKey("fe80::1%eth0"), "fe80:0:0:0::/64");
});
