// What an unauthenticated peer can cost a node: frame size, handshakes in progress (in all and per
// address), failed proofs on parallel connections, and bounded logging of refusals.
import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import { platform, type TcpConn } from "../platform/mod.ts";
import { ManualClock } from "../timer/mod.ts";
import { isHandshakeRefusedError } from "./errors.ts";
import {
  capture,
  hello,
  RawClient,
  startNode,
  until,
  within,
} from "./_handshake_support_test.ts";

// ---- 9.2: bounded memory before authentication ------------------------------------------------

test("RemoteNode handshake: an oversized frame before authentication closes the connection at its header", async () => {
  const log = capture();
  await using target = await startNode("target", {
    logger: log,
    handshakeTimeoutMs: 60_000,
  });
  const [hostname, port] = target.node.address.split(":");
  const conn: TcpConn = await platform.connect({
    hostname,
    port: Number(port),
  });
  const writer = conn.writable.getWriter();
  const reader = conn.readable.getReader();
  try {
    // Announce 1 MiB (well under maxFrameBytes) and send none of it: the listener must not wait
    // for (or allocate) the payload.
    await writer.write(new Uint8Array([0x00, 0x10, 0x00, 0x00]));
    const ended = (async () => {
      while (!(await reader.read()).done) { /* drain */ }
    })().catch(() => {});
    await within(5000, ended, "the listener to close the connection");
  } finally {
    reader.releaseLock();
    writer.releaseLock();
    conn.close();
  }
  await until(() => log.lines.length > 0, "the log line");
  assert.match(log.lines.join("\n"), /1048576 bytes|over the limit|4096/);
  // After authentication the full limit applies.
  await using friend = await startNode("friend");
  await friend.node.connect(target.node.address);
  const big = "x".repeat(256 * 1024);
  const ref = friend.node.ref<{ echo(t: string): string }>("target", "echo");
  assert.equal(await ref.ask("echo", big), big);
});

test("RemoteNode handshake: connections over the cap of handshakes in progress are refused at once", async () => {
  await using target = await startNode("target", {
    maxPendingHandshakes: 2,
    handshakeTimeoutMs: 60_000,
  });
  const pending = [
    await RawClient.connect(target.node.address),
    await RawClient.connect(target.node.address),
  ];
  try {
    // Both are in their handshake once the listener has answered their hellos.
    for (const client of pending) client.send(hello());
    for (const client of pending) {
      assert.equal((await client.message(0)).kind, "welcome");
    }
    await using third = await RawClient.connect(target.node.address);
    const refused = await third.message(0);
    assert.equal(refused.kind, "refused");
    assert.equal((refused as { code: string }).code, "busy");
    await within(5000, third.closed, "the third connection to close");
  } finally {
    for (const client of pending) await client[Symbol.asyncDispose]();
  }
  // Once they are gone, others get in again.
  await using friend = await startNode("friend");
  let name: string | undefined;
  for (let i = 0; i < 100 && name === undefined; i++) {
    // The listener may not have seen the two close yet: then it still says busy.
    name = await friend.node.connect(target.node.address).catch(
      async (e: unknown) => {
        assert.equal(isHandshakeRefusedError(e) && e.refusal, "busy");
        await new Promise<void>((r) => platform.setTimer(r, 10));
        return undefined;
      },
    );
  }
  assert.equal(name, "target");
});

// ---- 9.4: refusals are logged on the listener, boundedly, and always explained ------------------

test("RemoteNode handshake: refusals of unauthenticated peers are logged at most 10 per 10 s, with a count of the rest", async () => {
  const clock = new ManualClock();
  const log = capture();
  const target = await startNode("target", { logger: log }, clock);
  try {
    for (let i = 0; i < 15; i++) {
      await using client = await RawClient.connect(target.node.address);
      client.send(hello({ cluster: "elsewhere" }));
      assert.equal((await client.message(0)).kind, "refused");
    }
    await until(() => log.lines.length >= 10, "ten log lines");
    assert.equal(log.lines.length, 10, log.lines.join("\n"));
    assert.ok(log.lines.every((l) => /cluster "elsewhere"/.test(l)));
    // In the next interval the count of the suppressed lines comes first.
    await clock.advance(10_000);
    {
      await using client = await RawClient.connect(target.node.address);
      client.send(hello({ cluster: "elsewhere" }));
      await client.message(0);
    }
    await until(() => log.lines.length >= 12, "the count and the next line");
    assert.match(log.lines[10], /Suppressed 5 handshake log line/);
    assert.match(log.lines[11], /cluster "elsewhere"/);
  } finally {
    await target[Symbol.asyncDispose]();
  }
});

test("RemoteNode handshake: a handshake timeout sends the reason before closing, and is logged", async () => {
  const log = capture();
  await using target = await startNode("target", {
    logger: log,
    handshakeTimeoutMs: 100,
  });
  await using client = await RawClient.connect(target.node.address);
  const refused = await client.message(0);
  assert.equal(refused.kind, "refused");
  assert.equal((refused as { code: string }).code, "timeout");
  await within(5000, client.closed, "the connection to close");
  await until(() => log.lines.length > 0, "the log line");
  assert.match(log.lines[0], /Handshake refused \(timeout\)/);
});

// ---- review follow-ups: limits that parallel connections or other addresses cannot escape ------

test("RemoteNode handshake: wrong proofs sent at once on parallel connections get no more checks than the budget", async () => {
  const log = capture();
  await using target = await startNode("target", {
    maxAuthFailures: 2,
    authFailureRefillMs: 600_000,
    handshakeTimeoutMs: 60_000,
    logger: log,
  });
  const clients: RawClient[] = [];
  try {
    for (let i = 0; i < 6; i++) {
      const client = await RawClient.connect(target.node.address);
      clients.push(client);
      client.send(hello());
    }
    for (const client of clients) {
      assert.equal((await client.message(0)).kind, "welcome");
    }
    // Every proof is on its way before any is checked.
    for (const client of clients) {
      client.send({ kind: "proof", proof: new Uint8Array(32) });
    }
    const codes: string[] = [];
    for (const client of clients) {
      const answer = await client.message(1);
      assert.equal(answer.kind, "refused");
      codes.push((answer as { code: string }).code);
    }
    assert.equal(codes.filter((c) => c === "auth").length, 2, codes.join());
    assert.equal(
      codes.filter((c) => c === "rate-limited").length,
      4,
      codes.join(),
    );
  } finally {
    for (const client of clients) await client[Symbol.asyncDispose]();
  }
});

test("RemoteNode handshake: one address may hold only maxPendingHandshakesPerAddress handshakes", async () => {
  await using target = await startNode("target", {
    maxPendingHandshakesPerAddress: 1,
    handshakeTimeoutMs: 60_000,
  });
  await using first = await RawClient.connect(target.node.address);
  first.send(hello());
  assert.equal((await first.message(0)).kind, "welcome");
  {
    await using second = await RawClient.connect(target.node.address);
    const refused = await second.message(0);
    assert.equal(refused.kind, "refused");
    assert.equal((refused as { code: string }).code, "busy");
    assert.match((refused as { reason: string }).reason, /127\.0\.0\.1/);
  }
  // A node whose handshake ends frees the slot: once the raw one is gone, nodes get in.
  await first[Symbol.asyncDispose]();
  await using friend = await startNode("friend");
  let name: string | undefined;
  for (let i = 0; i < 100 && name === undefined; i++) {
    name = await friend.node.connect(target.node.address).catch(
      async (e: unknown) => {
        assert.equal(isHandshakeRefusedError(e) && e.refusal, "busy");
        await new Promise<void>((r) => platform.setTimer(r, 10));
        return undefined;
      },
    );
  }
  assert.equal(name, "target");
});
