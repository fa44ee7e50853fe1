// The soak's leak check for timers and connections, on made-up series: a node that keeps its
// figures across restarts passes, and each kind of leak (timers that grow with every restart,
// socket descriptors that are never closed, a second connection to a peer, a connection to a
// dead incarnation, a socket left in CLOSE_WAIT) is found and named. Then the socket reader on
// this very process, so that it is known to see a connection that is open.
import assert from "node:assert/strict";
import process from "node:process";
import { test } from "../../src/platform/test_harness.ts";
import { platform } from "../../src/platform/mod.ts";
import {
  checkLeaks,
  connectionKey,
  type NodeResources,
  nodeResources,
} from "./leaks.ts";
import { parseTcpTable, socketsOf } from "./sockets.ts";

function node(
  name: string,
  pid: number,
  changes: Partial<NodeResources> = {},
): NodeResources {
  return {
    node: name,
    pid,
    timers: 13,
    descriptors: 13,
    established: { m1: 2, m2: 2, m3: 2, redis: 2, test: 1 },
    lingering: {},
    ...changes,
  };
}

const WARM = [node("m1", 10), node("m2", 20), node("m3", 30)];

/** After `restarts` restarts of m2, with `leak` applied to each incarnation's figures. */
function series(
  restarts: number,
  leak: (r: NodeResources, k: number) => Partial<NodeResources>,
): NodeResources[][] {
  const out: NodeResources[][] = [WARM];
  for (let k = 1; k <= restarts; k++) {
    out.push(
      WARM.map((r) => ({ ...r, ...leak(r, k) })).map((r) =>
        r.node === "m2" ? { ...r, pid: 20 + k } : r
      ),
    );
  }
  return out;
}

test("checkLeaks() passes a cluster whose idle figures are the same after restarts", () => {
  const runs = series(5, () => ({}));
  assert.deepEqual(checkLeaks(runs[0], runs.at(-1)!), {
    valid: true,
    problems: [],
  });
  // Fewer connections (a peer that has not dialled back yet) is no leak either.
  const fewer = checkLeaks(WARM, [
    node("m1", 10, { established: { m2: 1, m3: 2, redis: 2, test: 1 } }),
  ]);
  assert.equal(fewer.valid, true);
});

test("checkLeaks() finds timers that grow with every restart", () => {
  const runs = series(4, (r, k) => r.node === "m1" ? { timers: 13 + k } : {});
  const verdict = checkLeaks(runs[0], runs.at(-1)!);
  assert.equal(verdict.valid, false);
  assert.deepEqual(verdict.problems, [
    "live timers: 43 at the end (m1 17, m2 13, m3 13), 39 after the warm-up (m1 13, m2 13, m3 13)",
  ]);
  // Within the slack it passes; beyond it, it does not.
  assert.equal(checkLeaks(runs[0], runs[2], { timers: 2 }).valid, true);
  assert.equal(checkLeaks(runs[0], runs[3], { timers: 2 }).valid, false);
});

test("checkLeaks() lets timers move with a singleton from a restarted node to another", () => {
  const before = [
    node("m1", 10, { timers: 16 }),
    node("m2", 20),
    node("m3", 30),
  ];
  const after = [
    node("m1", 11),
    node("m2", 20),
    node("m3", 30, { timers: 16 }),
  ];
  assert.equal(checkLeaks(before, after).valid, true);
  // One more, wherever it is, is a leak.
  const more = [node("m1", 11), node("m2", 20, { timers: 14 }), after[2]];
  assert.equal(checkLeaks(before, more).valid, false);
});

test("checkLeaks() finds socket descriptors that were never closed", () => {
  // A connection reset by a dead peer leaves the TCP tables but keeps its descriptor open.
  const runs = series(
    3,
    (r, k) => r.node === "m3" ? { descriptors: 13 + k } : {},
  );
  const verdict = checkLeaks(runs[0], runs.at(-1)!);
  assert.deepEqual(verdict.problems, [
    "m3#30: 16 socket descriptors, 13 after the warm-up",
  ]);
});

test("checkLeaks() finds a second connection to a peer and one to a dead incarnation", () => {
  const after = [
    node("m1", 10, {
      established: { m2: 3, m3: 2, redis: 2, test: 1 },
      descriptors: 14,
    }),
    node("m2", 21),
    node("m3", 30, {
      established: { m1: 2, m2: 2, redis: 2, test: 1, unknown: 1 },
      descriptors: 14,
    }),
  ];
  const verdict = checkLeaks(WARM, after);
  assert.equal(verdict.valid, false);
  assert.deepEqual(verdict.problems, [
    "m1#10: 14 socket descriptors, 13 after the warm-up",
    "m1#10: 3 connection(s) with m2, 2 after the warm-up",
    "m3#30: 14 socket descriptors, 13 after the warm-up",
    "m3#30: 1 connection(s) to no live process of the run",
  ]);
});

test("checkLeaks() finds a socket left in CLOSE_WAIT, and a node without a warm-up figure", () => {
  const verdict = checkLeaks(WARM, [
    node("m2", 22, { lingering: { CLOSE_WAIT: 1 } }),
    node("m4", 40),
  ]);
  assert.deepEqual(verdict.problems, [
    'm2#22: sockets left closing: {"CLOSE_WAIT":1}',
    "m4: no figures from after the warm-up",
  ]);
});

test("nodeResources() names each connection by the process at its other end", () => {
  const r = nodeResources("m1", 10, 5, {
    descriptors: 6,
    tcp: [
      { local: "127.0.0.1:4001", remote: "0.0.0.0:0", state: "LISTEN" },
      // dialled: to m2's listener, to Redis
      {
        local: "127.0.0.1:50001",
        remote: "127.0.0.1:4002",
        state: "ESTABLISHED",
      },
      {
        local: "127.0.0.1:50002",
        remote: "127.0.0.1:6390",
        state: "ESTABLISHED",
      },
      // accepted: from m3's and the test's sockets, and from a port no live process holds
      {
        local: "127.0.0.1:4001",
        remote: "127.0.0.1:50100",
        state: "ESTABLISHED",
      },
      {
        local: "127.0.0.1:4001",
        remote: "127.0.0.1:50200",
        state: "ESTABLISHED",
      },
      {
        local: "127.0.0.1:4001",
        remote: "127.0.0.1:50300",
        state: "ESTABLISHED",
      },
      {
        local: "127.0.0.1:4001",
        remote: "127.0.0.1:50400",
        state: "CLOSE_WAIT",
      },
    ],
  }, {
    endpoints: new Map([
      [connectionKey("127.0.0.1:4002", "127.0.0.1:50001"), "m2"],
      [connectionKey("127.0.0.1:50100", "127.0.0.1:4001"), "m3"],
      [connectionKey("127.0.0.1:50200", "127.0.0.1:4001"), "test"],
      // m3 dialled m2 from the port of the test's connection to m1 (Linux shares a local port
      // between connections to different peers): that is not the test's connection.
      [connectionKey("127.0.0.1:50200", "127.0.0.1:4002"), "m3"],
    ]),
    listeners: new Map([[6390, "redis"]]),
  });
  assert.deepEqual(r, {
    node: "m1",
    pid: 10,
    timers: 5,
    descriptors: 6,
    established: { m2: 1, redis: 1, m3: 1, test: 1, unknown: 1 },
    lingering: { CLOSE_WAIT: 1 },
  });
});

test("parseTcpTable() reads IPv4, IPv6 and IPv4-mapped endpoints and the state", () => {
  const table = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111 1 0 100 0 0 10 0",
    "   1: 0100007F:C350 0100007F:1F90 08 00000000:00000000 00:00000000 00000000     0        0 222 1 0 20 4 30 10 -1",
    "   0: 00000000000000000000000001000000:1F91 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 333 1",
    "   1: 0000000000000000FFFF00000100007F:1F92 0000000000000000FFFF00000100007F:C351 01 00000000:00000000 00:00000000 00000000 0 0 444 1",
  ].join("\n");
  assert.deepEqual([...parseTcpTable(table)], [
    ["111", { local: "127.0.0.1:8080", remote: "0.0.0.0:0", state: "LISTEN" }],
    ["222", {
      local: "127.0.0.1:50000",
      remote: "127.0.0.1:8080",
      state: "CLOSE_WAIT",
    }],
    ["333", {
      local: "[0000:0000:0000:0000:0000:0000:0000:0001]:8081",
      remote: "[0000:0000:0000:0000:0000:0000:0000:0000]:0",
      state: "LISTEN",
    }],
    ["444", {
      local: "127.0.0.1:8082",
      remote: "127.0.0.1:50001",
      state: "ESTABLISHED",
    }],
  ]);
});

test({
  name:
    "socketsOf() sees this process's listener and both ends of a connection it holds",
  ignore: process.platform === "linux" ? false : "no /proc on this system",
  fn: async () => {
    const listener = await platform.listen({ hostname: "127.0.0.1", port: 0 });
    const client = await platform.connect({ port: listener.addr.port });
    const server = await listener.accept();
    try {
      const sockets = (await socketsOf(process.pid))!;
      const at = `127.0.0.1:${listener.addr.port}`;
      assert.ok(
        sockets.tcp.some((s) => s.local === at && s.state === "LISTEN"),
        JSON.stringify(sockets),
      );
      const ends = sockets.tcp.filter((s) =>
        s.state === "ESTABLISHED" && (s.local === at || s.remote === at)
      );
      assert.equal(ends.length, 2, JSON.stringify(sockets));
      assert.ok(sockets.descriptors >= 3);
    } finally {
      client.close();
      server.close();
      listener.close();
    }
    assert.equal(await socketsOf(2 ** 30), undefined);
  },
});
