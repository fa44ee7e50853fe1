import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../platform/test_harness.ts";
import { Device, type DeviceMessage, errorFault, LinkMode } from "./mod.ts";

type Op =
  | { op: "link"; a: number; b: number; mode: 1 | 2 | 3; line: boolean }
  | { op: "unlink"; a: number; b: number; mode: 1 | 2 | 3 }
  | { op: "fault"; a: number }
  | { op: "exit"; a: number };

const SIZE = 8;
const index = fc.integer({ min: 0, max: SIZE - 1 });
const mode = fc.constantFrom<1 | 2 | 3>(1, 2, 3);
const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant("link" as const),
      a: index,
      b: index,
      mode,
      line: fc.boolean(),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant("unlink" as const),
      a: index,
      b: index,
      mode,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("fault" as const), a: index }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ op: fc.constant("exit" as const), a: index }),
  },
);

test("Device (property): every watcher of a disconnected device hears exactly once, nobody else", () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
      const received: DeviceMessage[][] = Array.from(
        { length: SIZE },
        () => [],
      );
      const devices = received.map((inbox) =>
        new Device({ onMessage: (m) => inbox.push(m) })
      );
      // The model: edges[x] = who is told when x disconnects; alive[x]; expected inboxes.
      const edges = Array.from({ length: SIZE }, () => new Set<number>());
      const alive = new Array<boolean>(SIZE).fill(true);
      const expected: string[][] = Array.from({ length: SIZE }, () => []);
      const addEdge = (from: number, to: number) => {
        if (!alive[to]) return;
        if (!alive[from]) expected[to].push(devices[from].id);
        else edges[from].add(to);
      };
      for (const o of ops) {
        if (o.op === "link" && o.a !== o.b && alive[o.a]) {
          if (o.line) devices[o.a].linkLine(devices[o.b].line, o.mode);
          else devices[o.a].link(devices[o.b], o.mode);
          if (o.mode & LinkMode.Notify) addEdge(o.a, o.b);
          if (o.mode & LinkMode.Monitor) addEdge(o.b, o.a);
        } else if (o.op === "unlink" && o.a !== o.b) {
          devices[o.a].unlink(devices[o.b], o.mode);
          if (o.mode & LinkMode.Monitor) edges[o.b].delete(o.a);
          if (o.mode & LinkMode.Notify) edges[o.a].delete(o.b);
        } else if ((o.op === "fault" || o.op === "exit") && alive[o.a]) {
          // One disconnect tells each device watching at that moment exactly once.
          const before = received.map((inbox) => inbox.length);
          devices[o.a].disconnect(
            o.op === "fault" ? errorFault(o.a) : undefined,
          );
          alive[o.a] = false;
          const told = received.map((inbox, i) => inbox.length - before[i]);
          const watching = received.map((_, i) =>
            edges[o.a].has(i) && alive[i] ? 1 : 0
          );
          assert.deepEqual(told, watching, `disconnect of device ${o.a}`);
          for (const to of edges[o.a]) {
            if (alive[to]) expected[to].push(devices[o.a].id);
          }
          edges[o.a].clear();
        }
      }
      // Nobody else hears anything: every inbox is exactly what the model predicts (which
      // includes the immediate notice of a link to a device already gone).
      for (let i = 0; i < SIZE; i++) {
        assert.deepEqual(
          received[i].map((m) => m.id),
          expected[i],
          `inbox of device ${i}`,
        );
      }
      for (const device of devices) device.disconnect();
    }),
    { numRuns: 500 },
  );
});
