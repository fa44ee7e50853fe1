import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { type Clock, ManualClock, type TimerHandle } from "../timer/mod.ts";
import {
  DEFAULT_FAILURE_DETECTOR_SETTINGS,
  type FailureDetectorSettings,
  failureDetectorSettings,
} from "./failure_detector.ts";
import {
  type HeartbeatMessage,
  HeartbeatMonitor,
} from "./_heartbeat_monitor.ts";
import { MonitorRing } from "./_monitor_ring.ts";
import { standardGapAtPhi } from "./_phi_accrual.ts";

const D = DEFAULT_FAILURE_DETECTOR_SETTINGS;
const I = D.heartbeatIntervalMs;
const P = D.acceptableHeartbeatPauseMs;
const Z = standardGapAtPhi(D.threshold);

/** The documented worst case `d + m + P + z·σ + I`, on a steady link (m = I, σ = minStd). */
function detectionBound(
  oneWayDelay: number,
  s: FailureDetectorSettings = D,
): number {
  const sigma = Math.max(s.minStdDeviationMs, s.firstHeartbeatEstimateMs / 4);
  return oneWayDelay + s.heartbeatIntervalMs + s.acceptableHeartbeatPauseMs +
    standardGapAtPhi(s.threshold) * sigma + s.heartbeatIntervalMs;
}

/**
 * Virtual time without ManualClock's per-timer macrotask (about 2 ms each here), for the
 * properties that run tens of thousands of timers; the monitor is synchronous, so nothing is
 * lost. Timers fire in deadline order, ties in the order they were set.
 */
class SyncClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: { at: number; seq: number; fire: (() => void) | null }[] = [];

  now(): number {
    return this.#now;
  }

  setTimer(callback: () => void, delayMs: number): TimerHandle {
    const timer = {
      at: this.#now + delayMs,
      seq: this.#seq++,
      fire: callback,
      unref() {},
    };
    this.#timers.push(timer);
    return timer as unknown as TimerHandle;
  }

  clearTimer(handle: TimerHandle): void {
    (handle as unknown as { fire: (() => void) | null }).fire = null;
  }

  advance(ms: number): void {
    const target = this.#now + ms;
    while (true) {
      let best = -1;
      for (let i = 0; i < this.#timers.length; i++) {
        const t = this.#timers[i];
        if (t.at > target) continue;
        if (
          best < 0 || t.at < this.#timers[best].at ||
          (t.at === this.#timers[best].at && t.seq < this.#timers[best].seq)
        ) best = i;
      }
      if (best < 0) break;
      const [timer] = this.#timers.splice(best, 1);
      this.#now = Math.max(this.#now, timer.at);
      const fire = timer.fire;
      timer.fire = null;
      fire?.();
    }
    this.#now = target;
  }
}

interface Verdict {
  readonly observer: string;
  readonly subject: string;
  readonly reachable: boolean;
  readonly at: number;
}

interface NetNode {
  readonly key: string;
  monitor: HeartbeatMonitor;
  dead: boolean;
  /** Paused (SIGSTOP, or a stalled event loop): its timers and inbound messages wait. */
  paused: boolean;
  readonly heldTimers: (() => void)[];
  readonly heldMessages: (() => void)[];
  acksSent: number;
}

type Link = (from: string, to: string, message: HeartbeatMessage) => boolean;

/** Monitors joined by an in-memory network on one virtual clock. */
class Net {
  readonly nodes = new Map<string, NetNode>();
  readonly verdicts: Verdict[] = [];
  /** One-way delay of a message, in ms. */
  delay: (from: string, to: string, message: HeartbeatMessage) => number = () =>
    1;
  /** Whether a message is lost. */
  lose: Link = () => false;
  /** Whether a delivered message is delivered twice. */
  duplicate: Link = () => false;

  constructor(
    readonly clock: Clock,
    readonly settings: FailureDetectorSettings = D,
  ) {}

  add(key: string): NetNode {
    const clock = this.clock;
    const node = {
      key,
      dead: false,
      paused: false,
      heldTimers: [],
      heldMessages: [],
      acksSent: 0,
    } as Omit<NetNode, "monitor"> as NetNode;
    const nodeClock: Clock = {
      now: () => clock.now(),
      setTimer: (callback, ms) =>
        clock.setTimer(
          () => node.paused ? node.heldTimers.push(callback) : callback(),
          ms,
        ),
      clearTimer: (handle) => clock.clearTimer(handle),
    };
    node.monitor = new HeartbeatMonitor({
      self: key,
      clock: nodeClock,
      settings: this.settings,
      send: (to, message) => {
        if (message.kind === "heartbeat-ack") node.acksSent++;
        this.#transmit(key, to, message);
      },
      onReachability: (subject, reachable) =>
        this.verdicts.push({
          observer: key,
          subject,
          reachable,
          at: clock.now(),
        }),
    });
    this.nodes.set(key, node);
    return node;
  }

  setMembers(keys: readonly string[]): void {
    for (const node of this.nodes.values()) {
      if (!node.dead) node.monitor.setMembers(keys);
    }
  }

  kill(key: string): void {
    const node = this.nodes.get(key)!;
    node.dead = true;
    node.monitor.close();
  }

  pause(key: string): void {
    this.nodes.get(key)!.paused = true;
  }

  /** Resumes a paused node: its due timers run first, then the messages that waited. */
  resume(key: string): void {
    const node = this.nodes.get(key)!;
    node.paused = false;
    for (const fire of node.heldTimers.splice(0)) fire();
    for (const deliver of node.heldMessages.splice(0)) deliver();
  }

  of(subject: string): Verdict[] {
    return this.verdicts.filter((v) => v.subject === subject);
  }

  close(): void {
    for (const node of this.nodes.values()) node.monitor.close();
  }

  #transmit(from: string, to: string, message: HeartbeatMessage): void {
    if (this.lose(from, to, message)) return;
    const copies = this.duplicate(from, to, message) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      this.clock.setTimer(() => {
        const node = this.nodes.get(to);
        if (node === undefined || node.dead) return;
        const deliver = () => node.monitor.receive(from, message);
        if (node.paused) node.heldMessages.push(deliver);
        else deliver();
      }, this.delay(from, to, message));
    }
  }
}

function keys(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `node-${i}#1`);
}

test("HeartbeatMonitor sends a heartbeat to each subject every interval and acks every heartbeat, even from a non-subject", async () => {
  const clock = new ManualClock();
  const sent: [string, HeartbeatMessage][] = [];
  const monitor = new HeartbeatMonitor({
    self: "a#1",
    clock,
    settings: D,
    send: (to, message) => sent.push([to, message]),
    onReachability: () => assert.fail("no verdict expected"),
  });
  try {
    monitor.setMembers(["a#1", "b#1", "c#1"]);
    assert.deepEqual([...monitor.subjects()].sort(), ["b#1", "c#1"]);
    await clock.advance(I - 1);
    assert.equal(sent.length, 0);
    await clock.advance(1);
    assert.deepEqual(sent.map(([to, m]) => [to, m.kind]).sort(), [
      ["b#1", "heartbeat"],
      ["c#1", "heartbeat"],
    ]);
    await clock.advance(I);
    assert.equal(sent.length, 4);
    const seqs = sent.map(([, m]) => m.seq);
    assert.equal(new Set(seqs).size, 4, "every heartbeat has its own seq");
    sent.length = 0;
    monitor.receive("stranger#9", { kind: "heartbeat", seq: 42 });
    assert.deepEqual(sent, [["stranger#9", {
      kind: "heartbeat-ack",
      seq: 42,
    }]]);
  } finally {
    monitor.close();
  }
  assert.equal(clock.pendingTimers, 0, "close() stops the ticks");
});

test("HeartbeatMonitor: a SIGKILLed member is reported unreachable once by each of its monitors, within the documented bound", async () => {
  const clock = new ManualClock();
  const net = new Net(clock);
  const members = keys(4);
  for (const key of members) net.add(key);
  try {
    net.setMembers(members);
    await clock.advance(5_000);
    assert.ok(net.verdicts.length === 0, JSON.stringify(net.verdicts));
    const killedAt = clock.now() + 37;
    await clock.advance(37);
    net.kill("node-2#1");
    await clock.advance(3_000);
    const verdicts = net.of("node-2#1");
    assert.deepEqual(verdicts.map((v) => v.observer).sort(), [
      "node-0#1",
      "node-1#1",
      "node-3#1",
    ]);
    for (const v of verdicts) {
      assert.equal(v.reachable, false);
      assert.ok(
        v.at - killedAt >= P,
        `not before the acceptable pause: ${v.at - killedAt}`,
      );
      assert.ok(
        v.at - killedAt <= detectionBound(1),
        `within the bound: ${v.at - killedAt}`,
      );
    }
    assert.equal(net.verdicts.length, 3, "nobody else is suspected");
  } finally {
    net.close();
  }
});

test("HeartbeatMonitor: a frozen member (open socket, nothing read) is detected like a dead one, and reported reachable once when it thaws", async () => {
  const clock = new ManualClock();
  const net = new Net(clock);
  const members = keys(3);
  for (const key of members) net.add(key);
  try {
    net.setMembers(members);
    await clock.advance(3_000);
    const frozenAt = clock.now();
    net.pause("node-1#1");
    await clock.advance(4_000);
    const down = net.of("node-1#1");
    assert.equal(down.length, 2);
    for (const v of down) {
      assert.equal(v.reachable, false);
      assert.ok(v.at - frozenAt <= detectionBound(1));
    }
    net.resume("node-1#1");
    await clock.advance(1_000);
    const all = net.of("node-1#1");
    for (const observer of ["node-0#1", "node-2#1"]) {
      assert.deepEqual(
        all.filter((v) => v.observer === observer).map((v) => v.reachable),
        [false, true],
      );
    }
    await clock.advance(5_000);
    assert.equal(net.verdicts.length, 4, "no further verdicts");
  } finally {
    net.close();
  }
});

test("HeartbeatMonitor: one-way loss (heartbeats arrive, acks are lost) is detected, and healing reports reachable once", async () => {
  const clock = new ManualClock();
  const net = new Net(clock);
  const members = keys(3);
  for (const key of members) net.add(key);
  try {
    net.setMembers(members);
    await clock.advance(2_000);
    let lossy = true;
    net.lose = (from, _to, m) =>
      lossy && from === "node-0#1" && m.kind === "heartbeat-ack";
    const before = net.nodes.get("node-0#1")!.acksSent;
    const lostAt = clock.now();
    await clock.advance(3_000);
    assert.ok(
      net.nodes.get("node-0#1")!.acksSent > before,
      "node-0 still gets heartbeats and answers",
    );
    const down = net.of("node-0#1");
    assert.equal(down.length, 2);
    for (const v of down) {
      assert.ok(!v.reachable && v.at - lostAt <= detectionBound(1));
    }
    lossy = false;
    await clock.advance(2_000);
    assert.deepEqual(net.of("node-0#1").map((v) => v.reachable), [
      false,
      false,
      true,
      true,
    ]);
    assert.equal(net.verdicts.length, 4, "the others were never suspected");
  } finally {
    net.close();
  }
});

test("HeartbeatMonitor: a member that never answers since it became a subject is detected after expectedResponseAfterMs", async () => {
  const clock = new ManualClock();
  const verdicts: [string, boolean, number][] = [];
  const monitor = new HeartbeatMonitor({
    self: "a#1",
    clock,
    settings: D,
    send: () => {},
    onReachability: (s, r) => verdicts.push([s, r, clock.now()]),
  });
  try {
    await clock.advance(100);
    monitor.setMembers(["a#1", "mute#1"]);
    await clock.advance(D.expectedResponseAfterMs + 2 * I + P);
    assert.deepEqual(
      verdicts,
      [],
      "not before expectedResponseAfter + estimate + pause",
    );
    await clock.advance(2_000);
    assert.equal(verdicts.length, 1);
    const [subject, reachable, at] = verdicts.slice(0)[0] as [
      string,
      boolean,
      number,
    ];
    assert.equal(subject, "mute#1");
    assert.equal(reachable, false);
    const bound = D.expectedResponseAfterMs + D.firstHeartbeatEstimateMs + P +
      Z * D.minStdDeviationMs + I;
    assert.ok(at - 100 <= bound, `${at - 100} ≤ ${bound}`);
  } finally {
    monitor.close();
  }
});

test("HeartbeatMonitor.setMembers() forgets removed subjects silently and keeps an unreachable one that left its slice until it answers", async () => {
  const clock = new ManualClock();
  const verdicts: [string, boolean][] = [];
  let answering = new Set<string>();
  const monitor: HeartbeatMonitor = new HeartbeatMonitor({
    self: "a#1",
    clock,
    settings: failureDetectorSettings({ monitoredBy: 1 }),
    send: (to, m) => {
      if (m.kind === "heartbeat" && answering.has(to)) {
        clock.setTimer(
          () => monitor.receive(to, { kind: "heartbeat-ack", seq: m.seq }),
          1,
        );
      }
    },
    onReachability: (s, r) => verdicts.push([s, r]),
  });
  try {
    // With k = 1, a monitors exactly its ring successor; find members whose order we know.
    const base = ["a#1", "b#1", "c#1", "d#1", "e#1"];
    const ring = new MonitorRing(base, 1);
    const [first] = ring.subjectsOf("a#1");
    answering = new Set(base);
    monitor.setMembers(base);
    assert.deepEqual(monitor.subjects(), [first]);
    await clock.advance(2_000);
    // The subject goes silent and is suspected.
    answering.delete(first);
    await clock.advance(4_000);
    assert.deepEqual(verdicts, [[first, false]]);
    // A member joins between a and its subject: the subject leaves a's slice but, being
    // unreachable, is still heartbeated.
    let joiner = "";
    for (let i = 0; joiner === ""; i++) {
      const candidate = `j${i}#1`;
      if (
        new MonitorRing([...base, candidate], 1).subjectsOf("a#1")[0] ===
          candidate
      ) {
        joiner = candidate;
      }
    }
    monitor.setMembers([...base, joiner]);
    answering.add(joiner);
    assert.deepEqual([...monitor.subjects()].sort(), [first, joiner].sort());
    answering.add(first);
    await clock.advance(1_000);
    assert.deepEqual(verdicts, [[first, false], [first, true]]);
    assert.deepEqual(
      monitor.subjects(),
      [joiner],
      "dropped once reachable again",
    );
    // The joiner goes silent and then leaves the members: forgotten, no verdict, acks ignored.
    answering.delete(joiner);
    await clock.advance(4_000);
    assert.deepEqual(verdicts.at(-1), [joiner, false]);
    const count = verdicts.length;
    monitor.setMembers(base);
    monitor.receive(joiner, { kind: "heartbeat-ack", seq: 1e9 });
    await clock.advance(5_000);
    assert.equal(verdicts.length, count);
    assert.deepEqual(monitor.subjects(), [first]);
    // Without self among the members, a node monitors nobody.
    monitor.setMembers(["b#1", "c#1"]);
    assert.deepEqual(monitor.subjects(), []);
  } finally {
    monitor.close();
  }
});

test("HeartbeatMonitor.receive() ignores malformed messages without throwing, and acks only well-formed heartbeats", () => {
  const clock = new ManualClock();
  const sent: [string, HeartbeatMessage][] = [];
  const monitor = new HeartbeatMonitor({
    self: "a#1",
    clock,
    settings: D,
    send: (to, m) => sent.push([to, m]),
    onReachability: () => assert.fail("no verdict expected"),
  });
  try {
    monitor.setMembers(["a#1", "b#1"]);
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (from, message) => {
        sent.length = 0;
        monitor.receive(from as string, message as HeartbeatMessage);
        const m = message as { kind?: unknown; seq?: unknown } | null;
        const valid = typeof from === "string" && typeof m === "object" &&
          m !== null &&
          m.kind === "heartbeat" && Number.isSafeInteger(m.seq) &&
          (m.seq as number) >= 0;
        assert.deepEqual(
          sent,
          valid ? [[from, { kind: "heartbeat-ack", seq: m!.seq }]] : [],
        );
      }),
      { numRuns: 1000 },
    );
    for (
      const bad of [
        { kind: "heartbeat", seq: -1 },
        { kind: "heartbeat", seq: 1.5 },
        { kind: "heartbeat", seq: "1" },
        { kind: "heartbeat", seq: 2 ** 53 },
        { kind: "ping", seq: 1 },
        null,
      ]
    ) {
      sent.length = 0;
      monitor.receive("b#1", bad as unknown as HeartbeatMessage);
      assert.deepEqual(sent, []);
    }
  } finally {
    monitor.close();
  }
});

test("HeartbeatMonitor: acks that were never asked for (unsent or stale seq, wrong sender) do not keep a dead subject alive", async () => {
  const clock = new ManualClock();
  const verdicts: [string, boolean][] = [];
  let lastSeq = 0;
  const monitor = new HeartbeatMonitor({
    self: "a#1",
    clock,
    settings: D,
    send: (_to, m) => lastSeq = m.seq,
    onReachability: (s, r) => verdicts.push([s, r]),
  });
  try {
    monitor.setMembers(["a#1", "b#1"]);
    await clock.advance(I);
    monitor.receive("b#1", { kind: "heartbeat-ack", seq: lastSeq });
    const good = lastSeq;
    for (let t = 0; t < 16; t++) {
      await clock.advance(I);
      monitor.receive("b#1", { kind: "heartbeat-ack", seq: lastSeq + 1 }); // never sent
      monitor.receive("b#1", { kind: "heartbeat-ack", seq: good }); // already counted
      monitor.receive("c#1", { kind: "heartbeat-ack", seq: lastSeq }); // not a subject
    }
    assert.deepEqual(verdicts, [["b#1", false]]);
  } finally {
    monitor.close();
  }
});

test("HeartbeatMonitor: a monitor whose own process stalled judges only after reading the acks that waited", async () => {
  const clock = new ManualClock();
  const net = new Net(clock);
  const members = keys(3);
  for (const key of members) net.add(key);
  try {
    net.setMembers(members);
    await clock.advance(3_000);
    net.pause("node-0#1");
    await clock.advance(3_000);
    net.resume("node-0#1");
    await clock.advance(3_000);
    assert.deepEqual(
      net.verdicts.filter((v) => v.observer === "node-0#1"),
      [],
      "the stalled node suspects nobody",
    );
    // The others did see it silent for 3 s, and saw it come back.
    assert.deepEqual(net.of("node-0#1").map((v) => v.reachable), [
      false,
      false,
      true,
      true,
    ]);
  } finally {
    net.close();
  }
});

test("HeartbeatMonitor: a send that throws is a lost message, and a throwing onReachability does not stop the ticks", async () => {
  const clock = new ManualClock();
  let calls = 0;
  const monitor = new HeartbeatMonitor({
    self: "a#1",
    clock,
    settings: D,
    send: () => {
      throw new Error("connection closed");
    },
    onReachability: () => {
      calls++;
      throw new Error("owner bug");
    },
  });
  try {
    monitor.setMembers(["a#1", "b#1"]);
    await assert.rejects(clock.advance(10_000), { message: "owner bug" });
    assert.equal(calls, 1);
    assert.equal(clock.pendingTimers, 1, "the next tick is armed");
    monitor.receive("b#1", { kind: "heartbeat", seq: 1 }); // the ack's send throws: swallowed
  } finally {
    monitor.close();
  }
});

test("HeartbeatMonitor rejects bad options", () => {
  const clock = new ManualClock();
  const base = {
    self: "a#1",
    clock,
    settings: D,
    send() {},
    onReachability() {},
  };
  assert.throws(() => new HeartbeatMonitor({ ...base, self: "" }), {
    name: "TypeError",
    message: /self must be a non-empty member key/,
  });
  assert.throws(() => new HeartbeatMonitor({ ...base, clock: {} as Clock }), {
    name: "TypeError",
  });
  assert.throws(
    () =>
      new HeartbeatMonitor({
        ...base,
        send: undefined as unknown as () => void,
      }),
    { name: "TypeError" },
  );
  assert.throws(
    () =>
      new HeartbeatMonitor({
        ...base,
        settings: { ...D, heartbeatIntervalMs: -5 },
      }),
    {
      name: "RangeError",
      message: /heartbeatIntervalMs must be a finite number > 0/,
    },
  );
  const monitor = new HeartbeatMonitor(base);
  assert.throws(() => monitor.setMembers("a#1" as unknown as string[]), {
    name: "TypeError",
  });
  monitor.close();
  monitor.close();
  monitor.setMembers(["a#1", "b#1"]);
  assert.deepEqual(
    monitor.subjects(),
    [],
    "a closed monitor ignores later calls",
  );
  assert.equal(clock.pendingTimers, 0);
});

test("HeartbeatMonitor never suspects healthy members whose round trips jitter within the acceptable pause (random delays, duplicates, start phases)", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 6 }),
      fc.integer({ min: 1, max: 5 }),
      fc.array(fc.integer({ min: 0, max: I - 1 }), {
        minLength: 6,
        maxLength: 6,
      }),
      fc.integer({ min: 1, max: 2 ** 31 - 1 }),
      (n, k, phases, seed) => {
        const clock = new SyncClock();
        const net = new Net(clock, failureDetectorSettings({ monitoredBy: k }));
        let state = seed;
        const random = () => {
          // xorshift32: a reproducible stream per fast-check case.
          state ^= state << 13;
          state ^= state >>> 17;
          state ^= state << 5;
          return (state >>> 0) / 2 ** 32;
        };
        // Each direction up to P/2, so a round trip is late by at most P.
        net.delay = () => random() * (P / 2);
        net.duplicate = () => random() < 0.05;
        const members = keys(n);
        try {
          for (let i = 0; i < n; i++) {
            clock.advance(phases[i]);
            net.add(members[i]).monitor.setMembers(members);
          }
          clock.advance(60_000);
          assert.ok(net.verdicts.length === 0, JSON.stringify(net.verdicts));
        } finally {
          net.close();
        }
      },
    ),
    { numRuns: 40 },
  );
});

type OutageKind = "freeze" | "ack-loss" | "partition";

test("HeartbeatMonitor detects a crash, a freeze, ack loss or a partition within the documented bound, once per monitor, and reports recovery once", () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 7 }),
      fc.integer({ min: 1, max: 5 }),
      fc.integer({ min: 0, max: 30 }),
      fc.array(fc.integer({ min: 0, max: I - 1 }), {
        minLength: 7,
        maxLength: 7,
      }),
      fc.integer({ min: 2_000, max: 30_000 }),
      fc.constantFrom<OutageKind | "kill">(
        "kill",
        "freeze",
        "ack-loss",
        "partition",
      ),
      (n, k, d, phases, warmUp, kind) => {
        const clock = new SyncClock();
        const net = new Net(clock, failureDetectorSettings({ monitoredBy: k }));
        net.delay = () => d;
        const members = keys(n);
        const victim = members[0];
        let cut: OutageKind | undefined;
        net.lose = (from, to, m) =>
          (cut === "ack-loss" && from === victim &&
            m.kind === "heartbeat-ack") ||
          (cut === "partition" && (from === victim || to === victim));
        try {
          for (let i = 0; i < n; i++) {
            clock.advance(phases[i]);
            net.add(members[i]).monitor.setMembers(members);
          }
          clock.advance(warmUp);
          assert.ok(net.verdicts.length === 0, JSON.stringify(net.verdicts));
          const start = clock.now();
          if (kind === "kill") net.kill(victim);
          else if (kind === "freeze") net.pause(victim);
          else cut = kind;
          const bound = detectionBound(d, net.settings);
          clock.advance(bound + 1);
          const observers = new MonitorRing(members, k).observersOf(victim);
          // Across a partition the victim suspects its own subjects too; that is correct.
          const about = () => net.verdicts.filter((v) => v.subject === victim);
          for (const v of net.verdicts) {
            if (v.subject !== victim) {
              assert.ok(
                kind === "partition" && v.observer === victim,
                JSON.stringify(v),
              );
            }
          }
          assert.deepEqual(
            about().map((v) => v.observer).sort(),
            [...observers].sort(),
            "each observer, and only they, report the victim",
          );
          for (const v of about()) {
            assert.equal(v.reachable, false);
            assert.ok(
              v.at - start >= P,
              `not before the pause: ${v.at - start}`,
            );
            assert.ok(v.at - start <= bound, `${v.at - start} ≤ ${bound}`);
          }
          clock.advance(5_000);
          assert.equal(about().length, observers.length, "reported once");
          if (kind === "kill") return;
          const healed = clock.now();
          if (kind === "freeze") net.resume(victim);
          cut = undefined;
          clock.advance(10_000);
          const ups = about().slice(observers.length);
          assert.equal(
            ups.length,
            observers.length,
            "reachable again, once each",
          );
          for (const v of ups) {
            assert.equal(v.reachable, true);
            assert.ok(
              v.at - healed <= I + 2 * d,
              `recovered ${v.at - healed} ms after healing`,
            );
          }
        } finally {
          net.close();
        }
      },
    ),
    { numRuns: 80 },
  );
});

test("HeartbeatMonitor under random schedules of outages: verdicts alternate per pair starting with unreachable, come only from outages, and recovery follows each", () => {
  const outage = fc.record({
    kind: fc.constantFrom<OutageKind>("freeze", "ack-loss", "partition"),
    duration: fc.integer({ min: 0, max: 6_000 }),
    upAfter: fc.integer({ min: 0, max: 5_000 }),
  });
  fc.assert(
    fc.property(
      fc.integer({ min: 2, max: 6 }),
      fc.integer({ min: 0, max: 20 }),
      fc.array(outage, { minLength: 1, maxLength: 8 }),
      (n, d, outages) => {
        const clock = new SyncClock();
        const net = new Net(clock);
        net.delay = () => d;
        const members = keys(n);
        const victim = members[n - 1];
        let cut: OutageKind | undefined;
        net.lose = (from, to, m) =>
          (cut === "ack-loss" && from === victim &&
            m.kind === "heartbeat-ack") ||
          (cut === "partition" && (from === victim || to === victim));
        try {
          for (const key of members) net.add(key);
          net.setMembers(members);
          clock.advance(3_000);
          const windows: { start: number; end: number }[] = [];
          for (const o of outages) {
            const start = clock.now();
            if (o.kind === "freeze") net.pause(victim);
            else cut = o.kind;
            clock.advance(o.duration);
            if (o.kind === "freeze") net.resume(victim);
            cut = undefined;
            // An outage that starts before the first ack after the previous one could be
            // processed (a tick and a round trip) continues that silence: one window.
            const last = windows.at(-1);
            if (last !== undefined && start - last.end < I + 2 * d + 1) {
              last.end = clock.now();
            } else windows.push({ start, end: clock.now() });
            clock.advance(o.upAfter);
          }
          clock.advance(5_000);
          const ring = new MonitorRing(members, D.monitoredBy);
          // The pairs that may see verdicts: the victim's observers about it, and (across a
          // partition) the victim about its own subjects.
          const pairs = [
            ...ring.observersOf(victim).map((o) => [o, victim]),
            ...ring.subjectsOf(victim).map((s) => [victim, s]),
          ];
          for (const v of net.verdicts) {
            assert.ok(
              pairs.some(([o, s]) => v.observer === o && v.subject === s),
              `unexpected verdict ${JSON.stringify(v)}`,
            );
          }
          for (const [observer, subject] of pairs) {
            const mine = net.verdicts.filter((v) =>
              v.observer === observer && v.subject === subject
            );
            mine.forEach((v, i) =>
              assert.equal(v.reachable, i % 2 === 1, "alternating")
            );
            assert.ok(mine.length % 2 === 0, "reachable again at the end");
            mine.forEach((v, i) => {
              if (v.reachable) return;
              // Suspicion only from P into an outage until its end (plus one tick and a round
              // trip), and recovery before that same limit.
              const w = windows.find((w) =>
                v.at >= w.start + P && v.at <= w.end + I + 2 * d
              );
              assert.ok(
                w,
                `unreachable at ${v.at} outside every outage ${
                  JSON.stringify(windows)
                }`,
              );
              assert.ok(
                mine[i + 1].at <= w.end + I + 2 * d,
                "recovered within a tick of healing",
              );
            });
            for (const w of windows) {
              if (w.end - w.start >= P) continue;
              assert.ok(
                !mine.some((v) =>
                  !v.reachable && v.at >= w.start && v.at <= w.end + I + 2 * d
                ),
                `a ${w.end - w.start} ms outage is tolerated`,
              );
            }
          }
        } finally {
          net.close();
        }
      },
    ),
    { numRuns: 60 },
  );
});
