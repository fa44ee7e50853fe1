// The pure part of bench/table.ts: reading what a bench printed, medians and ranges over runs,
// the Markdown table, and the rewrite of the generated section of bench/README.md. No I/O here,
// so that bench/table_format_test.ts can check all of it without running a bench.

/** Where the generated table starts in bench/README.md. */
export const BEGIN_MARKER = "<!-- table:begin -->";
/** Where it ends. */
export const END_MARKER = "<!-- table:end -->";

/** How a figure is shown. */
export type Unit = "µs" | "ms" | "x" | "/s" | "%";

/** One figure of a bench, read from each run's values by `key`. */
export interface Measure {
  /** The key in a run's values. */
  readonly key: string;
  /** What it is, for the table. */
  readonly label: string;
  readonly unit: Unit;
  /** The key of the same-run baseline of this figure, if it has one. */
  readonly baselineKey?: string;
  /** The target, as text ("≤ 1.3x"), if there is one. */
  readonly target?: string;
}

/** What one run of one bench gave. */
export interface RunRecord {
  /** Figures by key; a figure the run did not give is absent. */
  readonly values: Record<string, number>;
  /** The 1-minute load average just before and just after the run (absent where unknown). */
  readonly load: readonly number[];
}

/** A bench of the table: how it is run, what it measures, and what its runs gave. */
export interface BenchReport {
  /** Short name, as given to `--only`. */
  readonly id: string;
  /** The runtime it ran on ("Deno 2.9.6", "Node v20.20.2"). */
  readonly runtime: string;
  /** The one command that runs it (from the repository root). */
  readonly command: string;
  readonly measures: readonly Measure[];
  readonly runs: readonly RunRecord[];
  /** Why some or all runs gave nothing (the first reason seen), if any. */
  readonly failure?: string;
  /** How many runs were attempted. */
  readonly attempted: number;
  /** The load readings of every attempt, failed ones included (for a row without results). */
  readonly attemptLoads?: readonly number[];
}

/** Where and when the table was made. */
export interface TableContext {
  readonly date: string;
  readonly commit: string;
  readonly runtimes: string;
  readonly machine: string;
  /** The command that made the table. */
  readonly command: string;
}

/** Median, smallest and largest of some values, and how many there were. */
export interface Summary {
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly count: number;
}

/**
 * The median (the mean of the middle two for an even count), smallest and largest value, or
 * null for no values. Values that are not finite are left out.
 */
export function summarize(values: readonly number[]): Summary | null {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return null;
  const middle = n >> 1;
  const median = n % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median, min: sorted[0], max: sorted[n - 1], count: n };
}

/**
 * The last line of `output` that is a JSON object (benches print one with `--json`), or null.
 */
export function lastJsonLine(output: string): Record<string, unknown> | null {
  const lines = output.split("\n");
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i].trim();
    if (!line.startsWith("{")) continue;
    try {
      const value = JSON.parse(line);
      if (
        value !== null && typeof value === "object" && !Array.isArray(value)
      ) {
        return value as Record<string, unknown>;
      }
    } catch {
      // Not JSON after all: keep looking.
    }
  }
  return null;
}

/** One benchmark of `deno bench --json`, with its mean time per iteration in nanoseconds. */
export interface DenoBenchResult {
  readonly group: string | null;
  readonly name: string;
  readonly baseline: boolean;
  readonly avgNs: number;
}

/**
 * The benchmarks that succeeded in the output of `deno bench --json` (a JSON document with a
 * `benches` array; anything around it is ignored).
 *
 * @throws {SyntaxError} When there is no such document in `output`.
 */
export function parseDenoBench(output: string): DenoBenchResult[] {
  const start = output.indexOf("{");
  const end = output.lastIndexOf("}");
  if (start < 0 || end < start) {
    throw new SyntaxError("no JSON document in the output of deno bench");
  }
  const doc = JSON.parse(output.slice(start, end + 1)) as {
    benches?: Array<{
      group?: string | null;
      name?: string;
      baseline?: boolean;
      results?: Array<{ ok?: { avg?: number } }>;
    }>;
  };
  if (!Array.isArray(doc.benches)) {
    throw new SyntaxError("the output of deno bench has no benches array");
  }
  const results: DenoBenchResult[] = [];
  for (const bench of doc.benches) {
    const avg = bench.results?.[0]?.ok?.avg;
    if (typeof avg !== "number" || typeof bench.name !== "string") continue;
    results.push({
      group: bench.group ?? null,
      name: bench.name,
      baseline: bench.baseline === true,
      avgNs: avg,
    });
  }
  return results;
}

/**
 * The baseline and the other benchmark of the first group whose name matches `group` (the first
 * whose name matches `bench`, when given: a group may hold more than two), or null when no group
 * matches or one of the two is missing.
 */
export function groupPair(
  results: readonly DenoBenchResult[],
  group: RegExp,
  bench?: RegExp,
): { baseline: DenoBenchResult; bench: DenoBenchResult } | null {
  const name = results.find((r) => r.group !== null && group.test(r.group))
    ?.group;
  if (name === undefined) return null;
  const members = results.filter((r) => r.group === name);
  const baseline = members.find((r) => r.baseline);
  const other = members.find((r) =>
    !r.baseline && (bench === undefined || bench.test(r.name))
  );
  return baseline === undefined || other === undefined
    ? null
    : { baseline, bench: other };
}

/** A figure as text: 3 significant digits, with k/M for rates. */
export function formatValue(value: number, unit: Unit): string {
  const digits = (v: number): string =>
    v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
  switch (unit) {
    case "µs":
      return `${digits(value)} µs`;
    case "ms":
      return `${digits(value)} ms`;
    case "x":
      return `${value.toFixed(2)}x`;
    case "%":
      return `${(value * 100).toFixed(0)}%`;
    case "/s":
      return value >= 1e6
        ? `${digits(value / 1e6)}M/s`
        : value >= 1e3
        ? `${digits(value / 1e3)}k/s`
        : `${digits(value)}/s`;
  }
}

function summaryText(summary: Summary | null, unit: Unit): [string, string] {
  if (summary === null) return ["—", "—"];
  return [
    formatValue(summary.median, unit),
    summary.count === 1
      ? "(one run)"
      : `${formatValue(summary.min, unit)} – ${formatValue(summary.max, unit)}`,
  ];
}

/** The load range of some runs ("0.21–0.48"), or "unknown". */
export function loadRange(runs: readonly RunRecord[]): string {
  const s = summarize(runs.flatMap((r) => r.load));
  return s === null ? "unknown" : `${s.min.toFixed(2)}–${s.max.toFixed(2)}`;
}

/** Escapes what would break a Markdown table cell. */
function cell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ");
}

/** The generated section (without the markers): a heading line, the context, one table. */
export function renderTable(
  reports: readonly BenchReport[],
  context: TableContext,
): string {
  const out: string[] = [];
  out.push(
    `Generated by \`${context.command}\` on ${context.date} at commit ${context.commit}; ${context.runtimes}; ${context.machine}.`,
    "Each figure is the median over the runs, with the range (smallest – largest); the baseline is",
    "measured in the same runs; load is the 1-minute load average before and after each run.",
    "Do not edit by hand: rerun the command.",
    "",
    "| runtime | measure | median | range | same-run baseline (median, range) | target | runs | load | command |",
    "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
  );
  for (const report of reports) {
    const runs = report.runs;
    const load = loadRange(
      runs.length > 0
        ? runs
        : [{ values: {}, load: report.attemptLoads ?? [] }],
    );
    const runsText = `${runs.length}${
      runs.length < report.attempted ? ` of ${report.attempted}` : ""
    }`;
    const command = `\`${report.command}\``;
    if (runs.length === 0) {
      out.push(
        `| ${cell(report.runtime)} | ${report.id}: **no result**: ${
          cell(report.failure ?? "nothing measured")
        } | — | — | — | — | 0 of ${report.attempted} | ${load} | ${
          cell(command)
        } |`,
      );
      continue;
    }
    for (const measure of report.measures) {
      const values = runs.map((r) => r.values[measure.key]).filter((v) =>
        v !== undefined
      );
      const [median, range] = summaryText(summarize(values), measure.unit);
      let baseline = "—";
      if (measure.baselineKey !== undefined) {
        const key = measure.baselineKey;
        const base = summarize(
          runs.map((r) => r.values[key]).filter((v) => v !== undefined),
        );
        const [m, r] = summaryText(base, measure.unit);
        baseline = base === null ? "—" : base.count === 1 ? m : `${m} (${r})`;
      }
      out.push(
        `| ${cell(report.runtime)} | ${
          cell(measure.label)
        } | ${median} | ${range} | ${baseline} | ${
          cell(measure.target ?? "")
        } | ${
          values.length === runs.length ? runsText : `${values.length}`
        } | ${load} | ${cell(command)} |`,
      );
    }
    if (report.failure !== undefined) {
      out.push(
        `| ${cell(report.runtime)} | ${report.id}: ${
          report.attempted - runs.length
        } run(s) failed: ${cell(report.failure)} | — | — | — | — | — | — | ${
          cell(command)
        } |`,
      );
    }
  }
  return out.join("\n");
}

/**
 * `readme` with the text between the markers replaced by `section`; when the markers are not
 * there, the section (with its markers and a heading) is appended at the end.
 *
 * @throws {SyntaxError} When only one marker is there, or the end comes before the begin.
 */
export function replaceSection(readme: string, section: string): string {
  const begin = readme.indexOf(BEGIN_MARKER);
  const end = readme.indexOf(END_MARKER);
  const block = `${BEGIN_MARKER}\n\n${section.trim()}\n\n${END_MARKER}`;
  if (begin < 0 && end < 0) {
    return `${readme.trimEnd()}\n\n## Reproducible table (\`bench/table.ts\`)\n\n${block}\n`;
  }
  if (begin < 0 || end < 0 || end < begin) {
    throw new SyntaxError(
      `bench/README.md must have ${BEGIN_MARKER} before ${END_MARKER}, or neither`,
    );
  }
  return readme.slice(0, begin) + block +
    readme.slice(end + END_MARKER.length);
}
