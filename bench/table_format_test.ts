// The parsing, median and rewrite logic of bench/table.ts (not the benches themselves):
//   deno test bench/table_format_test.ts
import assert from "node:assert/strict";
import {
  BEGIN_MARKER,
  type BenchReport,
  END_MARKER,
  formatValue,
  groupPair,
  lastJsonLine,
  loadRange,
  parseDenoBench,
  renderTable,
  replaceSection,
  summarize,
} from "./table_format.ts";

const CONTEXT = {
  date: "2026-12-07T01:00:00Z",
  commit: "abc1234",
  runtimes: "Deno 2.9.6, Node v20.20.2",
  machine: "2 cores",
  command: "deno run -A bench/table.ts --runs 3",
};

Deno.test("summarize() gives the median, range and count, odd and even", () => {
  assert.deepEqual(summarize([3, 1, 2]), {
    median: 2,
    min: 1,
    max: 3,
    count: 3,
  });
  assert.deepEqual(summarize([4, 1, 3, 2]), {
    median: 2.5,
    min: 1,
    max: 4,
    count: 4,
  });
  assert.deepEqual(summarize([7]), { median: 7, min: 7, max: 7, count: 1 });
});

Deno.test("summarize() leaves out values that are not finite, and gives null for none", () => {
  assert.deepEqual(summarize([NaN, 5, Infinity, 1]), {
    median: 3,
    min: 1,
    max: 5,
    count: 2,
  });
  assert.equal(summarize([]), null);
  assert.equal(summarize([NaN]), null);
});

Deno.test("lastJsonLine() finds the last JSON object among other output", () => {
  const output = [
    "Download something",
    '{"bench":"remote","askRatio":1.2}',
    "load average 0.1",
    '{"bench":"remote","askRatio":1.4}',
    "{not json",
    "",
  ].join("\n");
  assert.deepEqual(lastJsonLine(output), { bench: "remote", askRatio: 1.4 });
  assert.equal(lastJsonLine("no json here\n[1,2]\n"), null);
});

const DENO_BENCH = `Check file:///x_bench.ts
{
  "version": 1,
  "benches": [
    { "group": "tell_throughput", "name": "base", "baseline": true,
      "results": [{ "ok": { "n": 10, "avg": 20000000 } }] },
    { "group": "tell_throughput", "name": "tells", "baseline": false,
      "results": [{ "ok": { "n": 10, "avg": 25000000 } }] },
    { "group": "broken", "name": "failed one", "baseline": false,
      "results": [{ "failed": "boom" }] },
    { "name": "no group", "results": [{ "ok": { "avg": 5 } }] }
  ]
}
`;

Deno.test("parseDenoBench() reads the successful benches of deno bench --json", () => {
  const results = parseDenoBench(DENO_BENCH);
  assert.deepEqual(results, [
    { group: "tell_throughput", name: "base", baseline: true, avgNs: 2e7 },
    { group: "tell_throughput", name: "tells", baseline: false, avgNs: 2.5e7 },
    { group: null, name: "no group", baseline: false, avgNs: 5 },
  ]);
  assert.throws(() => parseDenoBench("skipped: no Redis"), SyntaxError);
  assert.throws(() => parseDenoBench('{"version": 1}'), SyntaxError);
});

Deno.test("groupPair() finds a group's baseline and bench by pattern, or null", () => {
  const results = parseDenoBench(DENO_BENCH);
  const pair = groupPair(results, /^tell_/);
  assert.equal(pair?.baseline.name, "base");
  assert.equal(pair?.bench.name, "tells");
  assert.equal(groupPair(results, /^ask_roundtrip$/), null);
  // A group without a baseline gives no pair.
  assert.equal(groupPair(results, /^broken$/), null);
  // In a group of more than two, the bench is picked by name.
  const three = [
    ...results,
    {
      group: "tell_throughput",
      name: "raw checked",
      baseline: false,
      avgNs: 1,
    },
  ];
  assert.equal(
    groupPair(three, /^tell_/, /^raw checked$/)?.bench.name,
    "raw checked",
  );
  assert.equal(groupPair(three, /^tell_/, /^tells$/)?.bench.name, "tells");
  assert.equal(groupPair(three, /^tell_/, /^nothing$/), null);
});

Deno.test("formatValue() shows each unit", () => {
  assert.equal(formatValue(47.61, "µs"), "47.6 µs");
  assert.equal(formatValue(123.4, "ms"), "123 ms");
  assert.equal(formatValue(1.234, "x"), "1.23x");
  assert.equal(formatValue(0.804, "%"), "80%");
  assert.equal(formatValue(2_130_000, "/s"), "2.13M/s");
  assert.equal(formatValue(313_400, "/s"), "313k/s");
  assert.equal(formatValue(950, "/s"), "950/s");
});

Deno.test("loadRange() spans every load reading of the runs", () => {
  assert.equal(
    loadRange([{ values: {}, load: [0.5, 0.7] }, { values: {}, load: [0.2] }]),
    "0.20–0.70",
  );
  assert.equal(loadRange([{ values: {}, load: [] }]), "unknown");
});

function report(overrides: Partial<BenchReport>): BenchReport {
  return {
    id: "remote",
    runtime: "Deno 2.9.6",
    command: "deno run -A bench/remote_bench.ts --json",
    measures: [
      { key: "rawUs", label: "raw", unit: "µs" },
      { key: "askUs", label: "ask", unit: "µs", baselineKey: "rawUs" },
      { key: "ratio", label: "ask ÷ raw", unit: "x", target: "≤ 1.3x" },
    ],
    runs: [
      { values: { rawUs: 50, askUs: 60, ratio: 1.2 }, load: [0.1, 0.2] },
      { values: { rawUs: 40, askUs: 56, ratio: 1.4 }, load: [0.3, 0.3] },
      { values: { rawUs: 60, askUs: 78, ratio: 1.3 }, load: [0.2, 0.4] },
    ],
    attempted: 3,
    ...overrides,
  };
}

Deno.test("renderTable() gives medians, ranges, baselines, runs, load and command per row", () => {
  const text = renderTable([report({})], CONTEXT);
  assert.match(text, /deno run -A bench\/table.ts --runs 3/);
  assert.match(text, /abc1234/);
  const rows = text.split("\n").filter((l) => l.startsWith("| Deno"));
  assert.equal(rows.length, 3);
  assert.equal(
    rows[1],
    "| Deno 2.9.6 | ask | 60.0 µs | 56.0 µs – 78.0 µs | 50.0 µs (40.0 µs – 60.0 µs) |  | 3 | 0.10–0.40 | `deno run -A bench/remote_bench.ts --json` |",
  );
  assert.match(
    rows[2],
    /\| ask ÷ raw \| 1\.30x \| 1\.20x – 1\.40x \| — \| ≤ 1\.3x \| 3 \|/,
  );
});

Deno.test("renderTable() says when a bench gave nothing, or failed in some runs", () => {
  const none = renderTable(
    [report({
      runs: [],
      failure: "Redis at 127.0.0.1:6379 does not answer",
      attemptLoads: [0.5, 0.25],
    })],
    CONTEXT,
  );
  assert.match(
    none,
    /\| remote: \*\*no result\*\*: Redis at 127\.0\.0\.1:6379 does not answer \|.*\| 0 of 3 \| 0\.25–0\.50 \|/,
  );
  const some = renderTable(
    [report({ attempted: 5, failure: "exit code 1: boom | bang" })],
    CONTEXT,
  );
  assert.match(some, /\| 3 of 5 \|/);
  assert.match(some, /2 run\(s\) failed: exit code 1: boom \\\| bang/);
});

Deno.test("replaceSection() rewrites only what is between the markers", () => {
  const readme =
    `# Benchmarks\n\nhand-written\n\n${BEGIN_MARKER}\nold table\n${END_MARKER}\n\n## After\n`;
  const out = replaceSection(readme, "new table");
  assert.equal(
    out,
    `# Benchmarks\n\nhand-written\n\n${BEGIN_MARKER}\n\nnew table\n\n${END_MARKER}\n\n## After\n`,
  );
  // Idempotent: a second rewrite with the same text changes nothing.
  assert.equal(replaceSection(out, "new table"), out);
});

Deno.test("replaceSection() appends the section when there are no markers, refuses half of them", () => {
  const out = replaceSection("# Benchmarks\n\ntext\n", "table");
  assert.ok(out.startsWith("# Benchmarks\n\ntext\n\n## Reproducible table"));
  assert.ok(out.endsWith(`${BEGIN_MARKER}\n\ntable\n\n${END_MARKER}\n`));
  assert.throws(() => replaceSection(`a ${BEGIN_MARKER} b`, "t"), SyntaxError);
  assert.throws(
    () => replaceSection(`${END_MARKER} x ${BEGIN_MARKER}`, "t"),
    SyntaxError,
  );
});
