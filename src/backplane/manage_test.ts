import assert from "node:assert/strict";
import { test } from "../platform/test_harness.ts";
import {
  cascadeFault,
  type Crash,
  Device,
  DROPPED,
  err,
  errorFault,
  type Fault,
  isDeviceDisconnectedError,
  LinkMode,
  ok,
  type Result,
} from "./mod.ts";

function until(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

// The seed's chain: d1 → d2 → d3. d2 is managed and linked to d1; d3 monitors d2.
const outcomes = {
  clean: undefined,
  error: errorFault("d1 failed"),
  drop: DROPPED,
} as const satisfies Record<string, Fault | undefined>;

for (const mode of ["Monitor", "Peer"] as const) {
  for (const via of ["device", "line"] as const) {
    for (const [outcomeName, fault] of Object.entries(outcomes)) {
      for (const full of [true, false]) {
        const fn = full ? "manage" : "partManage";
        test(`Device.${fn}() chain d1 → d2 → d3: ${mode} by ${via} link, d1 ${outcomeName}`, async () => {
          const d1 = new Device();
          const d2 = new Device();
          const d3 = new Device();
          const i1 = d1.id;
          const i2 = d2.id;
          if (via === "device") d2.link(d1, LinkMode[mode]);
          else d2.linkLine(d1.line, LinkMode[mode]);
          d3.link(d2, LinkMode.Monitor);

          let release!: () => void;
          const released = new Promise<void>((resolve) => release = resolve);
          const running = d2[fn](async (device) => {
            await Promise.race([released, until(device.signal)]);
            return ok("finished");
          });
          await Promise.resolve();
          if (outcomeName === "drop") d1[Symbol.dispose]();
          else d1.disconnect(fault);
          if (fault === undefined) {
            // A clean exit of d1 is not a failure: d2 keeps working until its work ends.
            assert.equal(d2.connected, true);
            release();
            const result = await running;
            assert.deepEqual(result, ok("finished"));
            if (full) {
              assert.deepEqual(await d3.receive(), {
                kind: "disconnected",
                id: i2,
                fault: undefined,
              });
            } else {
              assert.equal(
                d2.connected,
                true,
                "partManage() keeps the device on success",
              );
              assert.equal(d3.tryReceive(), undefined, "nobody is notified");
              d2.disconnect();
            }
          } else {
            const result = await running;
            const expected: Crash<never> = {
              kind: "cascade",
              source: i1,
              fault,
            };
            assert.deepEqual(result, err(expected));
            assert.deepEqual(await d3.receive(), {
              kind: "disconnected",
              id: i2,
              fault: cascadeFault(i1, fault),
            });
            release();
          }
          assert.equal(
            d1.tryReceive(),
            undefined,
            "nothing reaches the device that went first",
          );
          d3.disconnect();
        });
      }
    }
  }
}

test("Device.manage() disconnects with an error fault when work resolves err()", async () => {
  const watcher = new Device();
  const d = new Device();
  watcher.link(d, LinkMode.Monitor);
  const result = await d.manage(() => Promise.resolve(err("no such file")));
  assert.deepEqual(result, err({ kind: "error", error: "no such file" }));
  assert.deepEqual(watcher.tryReceive(), {
    kind: "disconnected",
    id: d.id,
    fault: { kind: "error", error: "no such file" },
  });
  watcher.disconnect();
});

test("Device.manage(): watchers can tell a thrown exception from a returned error", async () => {
  const watcher = new Device();
  const returned = new Device();
  const threw = new Device();
  watcher.link(returned, LinkMode.Monitor);
  watcher.link(threw, LinkMode.Monitor);
  const boom = new Error("boom");
  await returned.manage(() => Promise.resolve(err(boom)));
  const result = await threw.manage((): Promise<Result<void, never>> =>
    Promise.reject(boom)
  );
  assert.deepEqual(result, err({ kind: "thrown", error: boom }));
  const kinds = [watcher.tryReceive(), watcher.tryReceive()].map((m) =>
    m?.kind === "disconnected" ? m.fault?.kind : undefined
  );
  assert.deepEqual(kinds, ["error", "thrown"]);
  watcher.disconnect();
});

test("Device.manage() counts a synchronous throw from work as thrown", async () => {
  const d = new Device();
  const result = await d.manage(() => {
    throw new RangeError("sync");
  });
  assert.equal(!result.ok && result.error.kind, "thrown");
  assert.equal(d.connected, false);
});

test("Device.manage() rejects work that does not resolve to a Result", async () => {
  const d = new Device();
  const result = await d.manage(() =>
    Promise.resolve(42 as unknown as Result<number, never>)
  );
  assert.equal(!result.ok && result.error.kind, "thrown");
  assert.ok(
    !result.ok && result.error.kind === "thrown" &&
      result.error.error instanceof TypeError,
  );
});

test("Device.manage() powers off cleanly on a Shutdown request", async () => {
  const watcher = new Device();
  const d = new Device();
  watcher.link(d, LinkMode.Monitor);
  const running = d.manage(async (device) => {
    await until(device.signal);
    return ok(1);
  });
  d.line.requestShutdown(watcher.id);
  assert.deepEqual(
    await running,
    err({ kind: "shutdown", requester: watcher.id }),
  );
  assert.deepEqual(watcher.tryReceive(), {
    kind: "disconnected",
    id: d.id,
    fault: undefined,
  });
  watcher.disconnect();
});

test("Device.manage() handles messages queued before it started", async () => {
  const d = new Device();
  const gone = new Device();
  d.link(gone, LinkMode.Monitor);
  gone.disconnect(errorFault("early"));
  let ran = false;
  const result = await d.manage(() => {
    ran = true;
    return Promise.resolve(ok(0));
  });
  assert.equal(ran, false, "the cascade wins before work starts");
  assert.deepEqual(
    result,
    err({ kind: "cascade", source: gone.id, fault: errorFault("early") }),
  );
});

test("Device.manage() ignores work that settles after the device went down", async () => {
  const d = new Device();
  const peer = new Device();
  d.link(peer, LinkMode.Peer);
  let fail!: (e: unknown) => void;
  const running = d.manage(() =>
    new Promise<Result<number, never>>((_, reject) => fail = reject)
  );
  peer.disconnect(errorFault("peer"));
  const result = await running;
  assert.equal(!result.ok && result.error.kind, "cascade");
  fail(new Error("late"));
  await Promise.resolve();
  assert.deepEqual(d.fault, cascadeFault(peer.id, errorFault("peer")));
});

test("Device.manage() refuses a device that is managed, listened to or disconnected", async () => {
  const d = new Device();
  const first = d.manage(async (device) => {
    await until(device.signal);
    return ok(0);
  });
  await assert.rejects(d.manage(() => Promise.resolve(ok(1))), TypeError);
  await assert.rejects(d.receive(), TypeError);
  d.line.requestShutdown(d.id);
  await first;
  await assert.rejects(
    d.manage(() => Promise.resolve(ok(1))),
    isDeviceDisconnectedError,
  );
  const listened = new Device({ onMessage: () => {} });
  await assert.rejects(
    listened.partManage(() => Promise.resolve(ok(1))),
    TypeError,
  );
  listened.disconnect();
});

test("Device.partManage() can run again after success", async () => {
  const d = new Device();
  assert.deepEqual(await d.partManage(() => Promise.resolve(ok(1))), ok(1));
  assert.deepEqual(await d.partManage(() => Promise.resolve(ok(2))), ok(2));
  assert.equal(d.connected, true);
  d.disconnect();
});

test("Device.manage() settles every device of a chain of 20,000 managed devices when the root fails", async () => {
  // Each managed device follows a fault inside the notice, and its work watches the signal,
  // whose abort reason describes the ever deeper cascade.
  const length = 20_000;
  const root = new Device();
  let last = root;
  const outcomes: Array<Promise<Result<number, Crash<never>>>> = [];
  const aborted: unknown[] = [];
  for (let i = 0; i < length; i++) {
    const device = new Device();
    device.link(last, LinkMode.Monitor);
    outcomes.push(
      device.manage(async (d) => {
        await until(d.signal);
        aborted.push(d.signal.reason);
        return ok(i);
      }),
    );
    last = device;
  }
  await Promise.resolve();
  root.disconnect(errorFault("root failed"));
  const results = await Promise.all(outcomes);
  assert.equal(
    results.filter((r) => !r.ok && r.error.kind === "cascade").length,
    length,
  );
  assert.equal(last.connected, false);
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(aborted.length, length);
  assert.ok(aborted.every(isDeviceDisconnectedError));
});
