// The in-memory network: the transport conformance suite, and its faults (latency, loss,
// partitions, freezing, killing) under a ManualClock.
import assert from "node:assert/strict";
import { test } from "../../platform/test_harness.ts";
import type { TcpConn, TcpListener } from "../../platform/mod.ts";
import { ManualClock } from "../../timer/mod.ts";
import { runTransportConformance } from "./_conformance_test.ts";
import {
  FrameConnection,
  isConnectionClosedError,
  MemoryNetwork,
} from "./mod.ts";

runTransportConformance("memory", () => ({
  transport: new MemoryNetwork().transport("a"),
  listen: { port: 0 },
  connect: (addr) => ({ hostname: addr.hostname, port: addr.port }),
}));

interface Wired {
  readonly listener: TcpListener;
  readonly a: TcpConn;
  readonly b: TcpConn;
  /** What b received from a, as numbers. */
  readonly atB: number[];
  /** What a received from b. */
  readonly atA: number[];
  close(): void;
}

/** Host a dialled host b; both ends read into arrays. */
async function wire(network: MemoryNetwork): Promise<Wired> {
  const listener = await network.transport("b").listen({ port: 7000 });
  const accepting = listener.accept();
  const a = await network.transport("a").connect({ hostname: "b", port: 7000 });
  const b = await accepting;
  const atA: number[] = [];
  const atB: number[] = [];
  a.startReading!((chunk) => atA.push(...chunk), () => {});
  b.startReading!((chunk) => atB.push(...chunk), () => {});
  return {
    listener,
    a,
    b,
    atA,
    atB,
    close() {
      a.close();
      b.close();
      listener.close();
    },
  };
}

/** Lets every queued microtask (and the ones they queue) run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

test("MemoryNetwork delivers after the latency, on its clock", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock, latencyMs: 50 });
  const w = await wire(network);
  try {
    await w.a.write!(new Uint8Array([1]));
    await clock.advance(30);
    await w.a.write!(new Uint8Array([2]));
    await settle();
    assert.deepEqual(w.atB, []);
    await clock.advance(20);
    await settle();
    assert.deepEqual(w.atB, [1]);
    await clock.advance(30);
    await settle();
    assert.deepEqual(w.atB, [1, 2]);
  } finally {
    w.close();
  }
});

test("MemoryNetwork.partition() holds bytes one way or both, until heal()", async () => {
  const network = new MemoryNetwork();
  const w = await wire(network);
  try {
    network.partition("a", "b", { oneWay: true });
    await w.a.write!(new Uint8Array([1]));
    await w.b.write!(new Uint8Array([9]));
    await settle();
    assert.deepEqual(w.atB, [], "a -> b is cut");
    assert.deepEqual(w.atA, [9], "b -> a still flows");
    network.heal("a", "b");
    await settle();
    assert.deepEqual(w.atB, [1]);
    network.partition("a", "b");
    await w.a.write!(new Uint8Array([2]));
    await w.b.write!(new Uint8Array([8]));
    await settle();
    assert.deepEqual([w.atA, w.atB], [[9], [1]]);
    network.heal();
    await settle();
    assert.deepEqual([w.atA, w.atB], [[9, 8], [1, 2]]);
  } finally {
    w.close();
  }
});

test("MemoryNetwork.partition() makes connect() wait until heal() or its abort", async () => {
  const network = new MemoryNetwork();
  const listener = await network.transport("b").listen({ port: 7000 });
  try {
    network.partition("a", "b");
    const attempt = new AbortController();
    const aborted = network.transport("a").connect({
      hostname: "b",
      port: 7000,
      signal: attempt.signal,
    });
    let settled = false;
    const waiting = network.transport("a").connect({
      hostname: "b",
      port: 7000,
    })
      .then((conn) => {
        settled = true;
        return conn;
      });
    await settle();
    assert.equal(settled, false);
    attempt.abort(new Error("timed out"));
    await assert.rejects(aborted, /timed out/);
    network.heal();
    const conn = await waiting;
    const accepted = await listener.accept();
    conn.close();
    accepted.close();
  } finally {
    listener.close();
  }
});

test("MemoryNetwork.freeze() stops a host reading without closing, and its peers' writes back up", async () => {
  const network = new MemoryNetwork({ windowBytes: 100 });
  const w = await wire(network);
  try {
    network.freeze("b");
    await w.a.write!(new Uint8Array(60));
    let written = false;
    const second = w.a.write!(new Uint8Array(60)).then(() => {
      written = true;
    });
    await settle();
    assert.equal(w.atB.length, 0);
    assert.equal(written, false, "the window is full: the write waits");
    network.thaw("b");
    await second;
    await settle();
    assert.equal(w.atB.length, 120);
  } finally {
    w.close();
  }
});

test("MemoryNetwork.freeze() lets a FrameConnection's stall detection close the link", async () => {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ clock, windowBytes: 1024 });
  const listener = await network.transport("b").listen({ port: 7000 });
  const accepting = listener.accept();
  const a = new FrameConnection(
    await network.transport("a").connect({ hostname: "b", port: 7000 }),
    { clock, stallTimeoutMs: 1000 },
  );
  const b = new FrameConnection(await accepting);
  try {
    const closed = new Promise<unknown>((resolve) => {
      a.start({ onFrame: () => {}, onClose: resolve });
    });
    b.start({ onFrame: () => {}, onClose: () => {} });
    network.freeze("b");
    for (let i = 0; i < 10; i++) a.send(new Uint8Array(500));
    await settle();
    await clock.advance(2000);
    const error = await closed;
    assert.ok(isConnectionClosedError(error), String(error));
  } finally {
    a.close();
    b.close();
    listener.close();
    await Promise.all([a.ended(), b.ended()]);
  }
});

test("MemoryNetwork.kill() resets every connection of the host and closes its listeners", async () => {
  const network = new MemoryNetwork();
  const listener = await network.transport("b").listen({ port: 7000 });
  const accepting = listener.accept();
  const a = await network.transport("a").connect({ hostname: "b", port: 7000 });
  const b = await accepting;
  const ended = new Promise<unknown>((resolve) => {
    a.startReading!(() => {}, (error) => resolve(error));
  });
  network.kill("b");
  assert.ok(isConnectionClosedError(await ended));
  await assert.rejects(
    network.transport("a").connect({ hostname: "b", port: 7000 }),
  );
  b.close();
  a.close();
});

test("MemoryNetwork loses the same writes for the same seed", async () => {
  const run = async (seed: number): Promise<number[]> => {
    const network = new MemoryNetwork({ lossRate: 0.5, seed });
    const w = await wire(network);
    try {
      for (let i = 0; i < 40; i++) await w.a.write!(new Uint8Array([i]));
      await settle();
      return [...w.atB];
    } finally {
      w.close();
    }
  };
  const first = await run(7);
  assert.ok(first.length > 0 && first.length < 40, String(first.length));
  assert.deepEqual(await run(7), first);
  assert.notDeepEqual(await run(8), first);
});

test("MemoryNetwork rejects a loss rate out of range", () => {
  assert.throws(() => new MemoryNetwork({ lossRate: 2 }), RangeError);
  assert.throws(() => new MemoryNetwork().setLatency(-1), RangeError);
});

test("MemoryNetwork: closing a connection fails its writes that wait on a frozen peer, so it can end", async () => {
  const network = new MemoryNetwork({ windowBytes: 100 });
  const w = await wire(network);
  try {
    network.freeze("b");
    await w.a.write!(new Uint8Array(60));
    const waiting = w.a.write!(new Uint8Array(60));
    await settle();
    w.a.close();
    await assert.rejects(waiting, isConnectionClosedError);
  } finally {
    w.close();
  }
  // The same through a FrameConnection: ended() needs its write in flight to finish.
  network.thaw("b");
  const listener = await network.transport("b").listen({ port: 7001 });
  const accepting = listener.accept();
  const frames = new FrameConnection(
    await network.transport("a").connect({ hostname: "b", port: 7001 }),
  );
  const accepted = await accepting;
  network.freeze("b");
  frames.start({ onFrame: () => {}, onClose: () => {} });
  for (let i = 0; i < 10; i++) frames.send(new Uint8Array(50));
  await settle();
  assert.ok(frames.bufferedBytes > 0, "the write waits for the frozen host");
  frames.close();
  await frames.ended();
  accepted.close();
  listener.close();
  network.thaw("b");
});

test("MemoryNetwork.reset() resets the connections between two hosts only, and connectionsOpened() counts the dials", async () => {
  const network = new MemoryNetwork();
  const listener = await network.transport("b").listen({ port: 7000 });
  const accepted: TcpConn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  const ab = await network.transport("a").connect({
    hostname: "b",
    port: 7000,
  });
  const cb = await network.transport("c").connect({
    hostname: "b",
    port: 7000,
  });
  await settle();
  assert.equal(accepted.length, 2);
  const ends = [ab, ...accepted, cb].map((conn) =>
    new Promise<unknown>((resolve) =>
      conn.startReading!(() => {}, (error) => resolve(error ?? "clean"))
    )
  );
  assert.equal(network.connectionsOpened("a", "b"), 1);
  assert.equal(network.connectionsOpened("b", "a"), 0);
  network.reset("b", "a");
  assert.ok(isConnectionClosedError(await ends[0]), "a's end was reset");
  assert.ok(isConnectionClosedError(await ends[1]), "b's end was reset");
  const untouched = await Promise.race([
    ends[2],
    ends[3],
    settle().then(() => "open"),
  ]);
  assert.equal(untouched, "open", "the connection of c is not touched");
  await assert.rejects(ab.write!(new Uint8Array(1)), isConnectionClosedError);
  // A new connection can be made at once, and is counted.
  const again = await network.transport("a").connect({
    hostname: "b",
    port: 7000,
  });
  assert.equal(network.connectionsOpened("a", "b"), 2);
  again.close();
  cb.close();
  for (const conn of accepted) conn.close();
  listener.close();
  await accepting;
});
