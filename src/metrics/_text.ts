// The Prometheus text exposition format, version 0.0.4.
// https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format
import type { MetricSnapshot } from "./snapshot.ts";

/** Formats a sample value or bucket bound: `+Inf`, `-Inf`, `NaN`, otherwise JavaScript's shortest form. */
export function formatNumber(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  if (Number.isNaN(value)) return "NaN";
  return String(value);
}

const LABEL_VALUE_SPECIALS = /[\\"\n]/g;
const HELP_SPECIALS = /[\\\n]/g;

function escapeCharacter(character: string): string {
  return character === "\n" ? "\\n" : "\\" + character;
}

/** Escapes a label value: backslash, double quote and line feed. */
export function escapeLabelValue(value: string): string {
  return value.replace(LABEL_VALUE_SPECIALS, escapeCharacter);
}

/** Escapes HELP text: backslash and line feed. */
export function escapeHelp(help: string): string {
  return help.replace(HELP_SPECIALS, escapeCharacter);
}

/** `a="x",b="y"` for the labels, `""` for none. */
function labelPairs(labels: Readonly<Record<string, string>>): string {
  let pairs = "";
  for (const [name, value] of Object.entries(labels)) {
    if (pairs !== "") pairs += ",";
    pairs += `${name}="${escapeLabelValue(value)}"`;
  }
  return pairs;
}

/** Formats metrics, in the given order, as one exposition; every line ends with `\n`. */
export function formatExposition(snapshots: readonly MetricSnapshot[]): string {
  const lines: string[] = [];
  for (const metric of snapshots) {
    const name = metric.name;
    lines.push(`# HELP ${name} ${escapeHelp(metric.help)}`);
    lines.push(`# TYPE ${name} ${metric.kind}`);
    if (metric.kind === "histogram") {
      const les = metric.buckets.map((bound) => `le="${formatNumber(bound)}"`);
      les.push(`le="+Inf"`);
      for (const sample of metric.samples) {
        const pairs = labelPairs(sample.labels);
        const bucketPrefix = pairs === "" ? "{" : `{${pairs},`;
        for (let i = 0; i < les.length; i++) {
          lines.push(
            `${name}_bucket${bucketPrefix}${les[i]}} ${
              formatNumber(sample.bucketCounts[i])
            }`,
          );
        }
        const braces = pairs === "" ? "" : `{${pairs}}`;
        lines.push(`${name}_sum${braces} ${formatNumber(sample.sum)}`);
        lines.push(`${name}_count${braces} ${formatNumber(sample.count)}`);
      }
    } else {
      for (const sample of metric.samples) {
        const pairs = labelPairs(sample.labels);
        const braces = pairs === "" ? "" : `{${pairs}}`;
        lines.push(`${name}${braces} ${formatNumber(sample.value)}`);
      }
    }
  }
  return lines.length === 0 ? "" : lines.join("\n") + "\n";
}
