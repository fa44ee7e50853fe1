import assert from "node:assert/strict";
import fc from "fast-check";
import { test } from "../../platform/test_harness.ts";
import { discoveryConformance } from "./discovery_conformance.ts";
import {
  formatNodeAddress,
  parseNodeAddress,
  StaticSeeds,
} from "./static_seeds.ts";

for (
  const c of discoveryConformance(
    "StaticSeeds",
    (nodes) =>
      Promise.resolve({
        discovery: new StaticSeeds(nodes.map((n) => n.address)),
      }),
  )
) test(c.name, c.fn);

test("StaticSeeds keeps the given order and drops duplicates", async () => {
  const seeds = new StaticSeeds([
    "b.local:2",
    "a.local:1",
    "b.local:2",
    "[::1]:3",
  ]);
  assert.deepEqual((await seeds.discover()).map((n) => n.address), [
    "b.local:2",
    "a.local:1",
    "[::1]:3",
  ]);
  await seeds.close();
});

test("new StaticSeeds() refuses addresses that are not host:port with TypeError", () => {
  for (
    const bad of [
      "",
      "host",
      "host:",
      ":4000",
      "host:0",
      "host:65536",
      "host:04000",
      "host:4000:1",
      "::1:4000",
      "[::1]",
      "[not-ip]:1",
      "bad host:1",
      "-lead.example:1",
      "a..b:1",
      "1.2.3.4 :1",
    ]
  ) {
    assert.throws(() => new StaticSeeds([bad]), TypeError, JSON.stringify(bad));
  }
  assert.throws(() => new StaticSeeds("a:1" as unknown as string[]), TypeError);
  assert.throws(() => new StaticSeeds([1 as unknown as string]), TypeError);
});

test("parseNodeAddress() takes host names, IPv4 and bracketed IPv6 apart", () => {
  assert.deepEqual(parseNodeAddress("node-1.orders.svc:4000"), {
    host: "node-1.orders.svc",
    port: 4000,
  });
  assert.deepEqual(parseNodeAddress("10.0.0.5:1"), {
    host: "10.0.0.5",
    port: 1,
  });
  assert.deepEqual(parseNodeAddress("[fd00::7]:65535"), {
    host: "fd00::7",
    port: 65535,
  });
  assert.equal(formatNodeAddress("fd00::7", 4000), "[fd00::7]:4000");
  assert.equal(formatNodeAddress("10.0.0.5", 4000), "10.0.0.5:4000");
});

test("parseNodeAddress() on random strings throws only TypeError, and what it accepts formats back the same (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.tuple(fc.domain(), fc.integer({ min: -5, max: 70000 })).map((
          [h, p],
        ) => `${h}:${p}`),
        fc.tuple(fc.ipV6(), fc.integer({ min: 0, max: 70000 })).map(([h, p]) =>
          `[${h}]:${p}`
        ),
        fc.tuple(fc.ipV4(), fc.integer({ min: 0, max: 70000 })).map(([h, p]) =>
          `${h}:${p}`
        ),
      ),
      (address) => {
        try {
          const { host, port } = parseNodeAddress(address);
          assert.equal(formatNodeAddress(host, port), address);
        } catch (error) {
          assert.ok(error instanceof TypeError, String(error));
        }
      },
    ),
    { numRuns: 1000 },
  );
});
