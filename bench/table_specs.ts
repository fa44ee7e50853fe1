// The benchmark set of bench/table.ts: each bench's command, its figures, and how they are read
// from its output (one JSON line where the bench has a --json mode).
import {
  groupPair,
  lastJsonLine,
  type Measure,
  parseDenoBench,
} from "./table_format.ts";

/** One bench of the set: its command, its figures and how to read them from its output. */
export interface BenchSpec {
  readonly id: string;
  readonly runtime: "deno" | "node";
  /** argv, program first ("deno" and "node" are replaced by the binaries found). */
  readonly argv: readonly string[];
  readonly measures: readonly Measure[];
  /** A file the bench needs (relative to the repository); the row says so when it is missing. */
  readonly requires?: string;
  /** The figures of one run from its stdout and stderr; throws with the reason when none. */
  read(stdout: string, stderr: string): Record<string, number>;
}

const REMOTE_MEASURES: readonly Measure[] = [
  { key: "rawUs", label: "raw TCP ping-pong (baseline)", unit: "µs" },
  {
    key: "askUs",
    label: "sequential remote ask (after 20,000 warm-up)",
    unit: "µs",
    baselineKey: "rawUs",
  },
  {
    key: "askRatio",
    label: "sequential ask ÷ raw ping-pong",
    unit: "x",
    target: "≤ 1.3x",
  },
  {
    key: "coldAskUs",
    label: "first 2,500 asks after start (cold JIT)",
    unit: "µs",
    baselineKey: "coldRawUs",
  },
  {
    key: "coldAskRatio",
    label: "first 2,500 asks ÷ first raw round trips",
    unit: "x",
  },
  {
    key: "askCpuUs",
    label: "CPU per sequential ask (client + peer)",
    unit: "µs",
    baselineKey: "rawCpuUs",
  },
  {
    key: "pipelinedPerSec",
    label: "pipelined asks (1000 in flight)",
    unit: "/s",
    target: "≥ 300k/s",
  },
  {
    key: "pipelinedCpuUs",
    label: "CPU per pipelined ask (client + peer)",
    unit: "µs",
  },
  { key: "tellsPerSec", label: "one-way tells", unit: "/s", target: "≥ 2M/s" },
];

/** The remote figures of a `--json` line of remote_bench.ts or remote_runtimes.mjs. */
function readRemote(stdout: string): Record<string, number> {
  const line = lastJsonLine(stdout);
  if (line === null) throw new Error("no JSON line in its output");
  const values: Record<string, number> = {};
  for (
    const key of [
      "rawUs",
      "askUs",
      "askRatio",
      "coldRawUs",
      "coldAskUs",
      "coldAskRatio",
      "tellsPerSec",
      "pipelinedPerSec",
    ]
  ) {
    if (typeof line[key] === "number") values[key] = line[key] as number;
  }
  // CPU figures come as [client, peer]: the table shows their sum.
  for (const key of ["rawCpuUs", "askCpuUs", "pipelinedCpuUs"]) {
    const pair = line[key];
    if (Array.isArray(pair) && pair.length === 2) {
      values[key] = Number(pair[0]) + Number(pair[1]);
    }
  }
  if (values.askRatio === undefined) {
    throw new Error("its JSON line has no askRatio");
  }
  return values;
}

const ACTOR_MEASURES: readonly Measure[] = [
  {
    key: "tellsPerSec",
    label: "local tells, 1M to one actor",
    unit: "/s",
    baselineKey: "tellsBaselinePerSec",
    target: "≥ 10M/s",
  },
  {
    key: "asksPerSec",
    label: "local sequential asks, 10k",
    unit: "/s",
    baselineKey: "asksBaselinePerSec",
    target: "≥ 2M/s",
  },
];

/** The actor figures of `deno bench --json bench/actor_bench.ts`. */
function readActorDenoBench(stdout: string): Record<string, number> {
  const results = parseDenoBench(stdout);
  const tells = groupPair(results, /^tell_throughput$/);
  const asks = groupPair(results, /^ask_roundtrip$/);
  if (tells === null || asks === null) {
    throw new Error(
      "groups tell_throughput and ask_roundtrip not both in its output",
    );
  }
  const perSec = (count: number, ns: number): number => count / (ns / 1e9);
  return {
    tellsPerSec: perSec(1e6, tells.bench.avgNs),
    tellsBaselinePerSec: perSec(1e6, tells.baseline.avgNs),
    asksPerSec: perSec(1e4, asks.bench.avgNs),
    asksBaselinePerSec: perSec(1e4, asks.baseline.avgNs),
  };
}

/** The actor figures of a `--json` line of bench/runtimes/actor_runtimes.mjs. */
function readActorRuntimes(stdout: string): Record<string, number> {
  const line = lastJsonLine(stdout) as {
    medianMs?: Record<string, number>;
    batch?: { tells: number; asks: number };
  } | null;
  const ms = line?.medianMs;
  const batch = line?.batch;
  if (ms === undefined || batch === undefined) {
    throw new Error("no JSON line with medianMs in its output");
  }
  const perSec = (count: number, millis: number | undefined): number =>
    millis === undefined ? NaN : count / (millis / 1000);
  return {
    tellsPerSec: perSec(batch.tells, ms["tell 1M"]),
    tellsBaselinePerSec: perSec(batch.tells, ms["tell 1M (baseline)"]),
    asksPerSec: perSec(batch.asks, ms["ask 10k"]),
    asksBaselinePerSec: perSec(batch.asks, ms["ask 10k (baseline)"]),
  };
}

/**
 * Redis figures, as the share of the raw client's speed (raw time ÷ our time) in the same run.
 * The Redis benches are `Deno.bench` files whose groups another change may rename: the group is
 * found by pattern, and the row says so when it is not there.
 */
function redisReader(
  group: RegExp,
  bench: RegExp,
  key: string,
  lowerBound?: RegExp,
): (stdout: string, stderr: string) => Record<string, number> {
  return (stdout, stderr) => {
    const skipped = /skipped[^\n]*/i.exec(stderr + stdout);
    let results;
    try {
      results = parseDenoBench(stdout);
    } catch (error) {
      if (skipped !== null) throw new Error(skipped[0]);
      throw error;
    }
    const pair = groupPair(results, group, bench);
    if (pair === null) {
      throw new Error(
        skipped !== null
          ? skipped[0]
          : `no group matching ${group} with a baseline and a bench matching ${bench} in its output`,
      );
    }
    const values: Record<string, number> = {
      [key]: pair.baseline.avgNs / pair.bench.avgNs,
      [`${key}RawMs`]: pair.baseline.avgNs / 1e6,
      [`${key}Ms`]: pair.bench.avgNs / 1e6,
    };
    // The bench ÷ another bench of the group (not the baseline), when asked for and there.
    const other = lowerBound === undefined
      ? null
      : groupPair(results, group, lowerBound);
    if (other !== null) {
      values[`${key}Pre`] = other.bench.avgNs / pair.bench.avgNs;
    }
    return values;
  };
}

const REDIS_ROUNDS_MEASURES: readonly Measure[] = [
  {
    key: "actors",
    label: "100 actors × 20 persists on Redis, speed ÷ raw RPUSH (rounds)",
    unit: "%",
    target: "≥ 80%",
  },
  {
    key: "actorsMs",
    label: "100 actors × 20 persists on Redis (time)",
    unit: "ms",
    baselineKey: "actorsRawMs",
  },
  {
    key: "append",
    label: "provider append (100 ids × 200), speed ÷ raw RPUSH (rounds)",
    unit: "x",
    target: "≥ 1.00x",
  },
];

/**
 * The Redis figures of a `--child` JSON line of bench/runtimes/persistence_runtimes.mjs (the
 * same jobs on Deno and Node, in interleaved rounds against the raw client).
 */
function readRedisRounds(stdout: string): Record<string, number> {
  const line = lastJsonLine(stdout) as {
    ratios?: Record<string, number>;
    jobs?: Record<string, { wallMs?: number }>;
  } | null;
  const ratios = line?.ratios;
  const jobs = line?.jobs;
  if (ratios === undefined || jobs === undefined) {
    throw new Error("no JSON line with ratios and jobs in its output");
  }
  const values: Record<string, number> = {};
  const put = (key: string, value: number | undefined): void => {
    if (typeof value === "number") values[key] = value;
  };
  put("actors", ratios["actors ÷ raw RPUSH (100×20)"]);
  put("append", ratios["provider ÷ raw RPUSH (100×200)"]);
  put("actorsMs", jobs["actors 100×20"]?.wallMs);
  put("actorsRawMs", jobs["raw RPUSH 100×20"]?.wallMs);
  if (values.actors === undefined && values.append === undefined) {
    throw new Error("its JSON line has neither ratio the table shows");
  }
  return values;
}

export const SPECS: readonly BenchSpec[] = [
  {
    id: "remote",
    runtime: "deno",
    argv: ["deno", "run", "-A", "bench/remote_bench.ts", "--json"],
    measures: REMOTE_MEASURES,
    read: readRemote,
  },
  {
    id: "actor",
    runtime: "deno",
    argv: ["deno", "bench", "-A", "--json", "bench/actor_bench.ts"],
    measures: ACTOR_MEASURES,
    read: readActorDenoBench,
  },
  {
    id: "redis-actors",
    runtime: "deno",
    argv: ["deno", "bench", "-A", "--json", "bench/persistence_bench.ts"],
    measures: [
      {
        key: "actors",
        label:
          "100 actors × 20 persists on Redis, speed ÷ raw pipelined client",
        unit: "%",
        target: "≥ 80%",
      },
      {
        key: "actorsMs",
        label: "100 actors × 20 persists on Redis (time)",
        unit: "ms",
        baselineKey: "actorsRawMs",
      },
    ],
    read: redisReader(/100_actors_redis/, /persistent actors/i, "actors"),
  },
  {
    id: "redis-append",
    runtime: "deno",
    argv: [
      "deno",
      "bench",
      "-A",
      "--json",
      "bench/persistence_redis_bench.ts",
    ],
    measures: [
      {
        key: "append",
        label: "provider append (100 ids × 200), speed ÷ raw client",
        unit: "x",
        target: "≥ 1.00x",
      },
      {
        key: "appendMs",
        label: "provider append (100 ids × 200) (time)",
        unit: "ms",
        baselineKey: "appendRawMs",
      },
      {
        key: "appendPre",
        label:
          "provider append, speed ÷ raw RPUSH of records encoded beforehand (lower bound: no encoding, no check)",
        unit: "x",
      },
    ],
    read: redisReader(
      /append_100_writers/,
      /RedisPersistence|provider/i,
      "append",
      /encoded beforehand/,
    ),
  },
  {
    id: "redis-rounds",
    runtime: "deno",
    argv: [
      "deno",
      "run",
      "-A",
      "bench/runtimes/persistence_runtimes.mjs",
      "--child",
      "mod.ts",
      "9",
    ],
    requires: "bench/runtimes/persistence_runtimes.mjs",
    measures: REDIS_ROUNDS_MEASURES,
    read: readRedisRounds,
  },
  {
    id: "node-remote",
    runtime: "node",
    argv: [
      "node",
      "bench/runtimes/remote_runtimes.mjs",
      "npm/mod.js",
      "node",
      "--json",
    ],
    measures: REMOTE_MEASURES,
    read: readRemote,
  },
  {
    id: "node-actor",
    runtime: "node",
    argv: [
      "node",
      "bench/runtimes/actor_runtimes.mjs",
      "npm/mod.js",
      "7",
      "--json",
    ],
    measures: ACTOR_MEASURES,
    read: readActorRuntimes,
  },
  {
    id: "node-redis",
    runtime: "node",
    argv: [
      "node",
      "bench/runtimes/persistence_runtimes.mjs",
      "--child",
      "npm/mod.js",
      "9",
    ],
    requires: "bench/runtimes/persistence_runtimes.mjs",
    measures: REDIS_ROUNDS_MEASURES,
    read: readRedisRounds,
  },
];
