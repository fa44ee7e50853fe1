// Redis persistence on Deno (sources) and Node (npm build), against the raw node-redis client
// in the same process, in interleaved rounds (each round runs every job once, in a rotated order).
//
//   deno run -A bench/runtimes/persistence_runtimes.mjs [--runs 5] [--rounds 9] [--warmup 60000]
//       [--runtimes deno,node] [--base <checkout>]
//       the whole set: builds npm/ when it is missing (--build: always), then runs one process per
//       runtime and run, alternating, and prints the table (medians of the runs, with ranges).
//       --base: also runs the jobs against another checkout (its mod.ts and npm/mod.js, built
//       beforehand, with node_modules/), alternating with this one: before and after in one go
//   deno run -A bench/runtimes/persistence_runtimes.mjs --child mod.ts [rounds] [warmup]
//   node bench/runtimes/persistence_runtimes.mjs --child npm/mod.js [rounds] [warmup]
//       one process: prints one JSON line with its per-job medians
//
// Warm-up: before the timed rounds each process runs every job again and again, in passes over
// the jobs, until each has made `warmup` persists (default 60,000: thirty runs of a 100×20 job,
// three of a 100×200 one). V8 optimizes a function fully only once it has run hot for long
// enough, and the jobs share code unevenly: the raw client's path also runs in the 100×200 job,
// ten times as many calls per round, so with warm-up by rounds the baseline's path was optimized
// long before the actors' one. Traced with --trace-opt (bench/README.md): TurboFan compiled the
// actors' ask and persist path after 40,000-46,000 asks, and the actors' ratio went from
// 0.6-0.8 to 1.0-1.1 then. Each job's first run (cold) is reported on its own as `coldWallMs`;
// no ratio is made of those, since the first runs go in a fixed order and warm code the later
// ones share.
//
// REDIS_URL (default redis://127.0.0.1:6379). Everything is written under a random key prefix
// and deleted after each round.
//
// Jobs (persists per job in brackets):
//   raw RPUSH 100×20      100 writers, each 20 sequential RPUSHes of a record it encodes then
//                         (the baseline of the target; it checks nothing) [2000]
//   raw checked 100×20    the same through the least an honest raw client needs for the
//                         provider's guarantee (an append lands only after the expected last
//                         sequence number, atomically): one EVALSHA per append [2000]
//   provider 100×20       RedisPersistence.journal.append, 100 ids × 20 sequential appends [2000]
//   actors 100×20         100 persistent actors, 20 sequential asks each that persist 1 event [2000]
//   raw RPUSH 100×200, provider 100×200
//                         the shape of bench/persistence_redis_bench.ts's provider-level group [20000]
// Per job: wall time, this process's CPU time and Redis's (INFO cpu), and the commands Redis
// ran (INFO commandstats: commands called inside scripts count too; script calls are also
// given alone), and the socket reads Redis handled (INFO stats total_reads_processed: about one
// per client write that arrived on its own, i.e. the round trips and wake-ups a job costs). The shared Redis may serve others meanwhile, so these are upper bounds.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const args = globalThis.Deno ? Deno.args : process.argv.slice(2);
const root = fileURLToPath(new URL("../../", import.meta.url));
const option = (name, fallback) => {
  const at = args.indexOf(name);
  return at >= 0 ? args[at + 1] : fallback;
};
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  return n % 2 ? sorted[n >> 1] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
};
const runtimeName = globalThis.Deno
  ? `Deno ${Deno.version.deno}`
  : globalThis.Bun
  ? `Bun ${Bun.version}`
  : `Node ${process.version.slice(1)}`;

if (args[0] === "--child") {
  await child(args[1], Number(args[2] ?? 9), Number(args[3] ?? 60_000));
} else await parent();

// ---- one process ------------------------------------------------------------------------------

async function child(modPath, rounds, warmup) {
  const modUrl = new URL(modPath, `file://${process.cwd()}/`);
  const npm = modUrl.pathname.endsWith(".js");
  const ext = npm ? "js" : "ts";
  const { ActorSystem, definePersistentActor, jsonCodec, usePersistence } =
    await import(modUrl.href);
  const { RedisPersistence } = await import(
    new URL(`src/persistence/redis/mod.${ext}`, modUrl).href
  );
  const { encodeRecord } = await import(
    new URL(`src/persistence/record_format.${ext}`, modUrl).href
  );
  const { createClient, RESP_TYPES } = await import("redis");

  const url = process.env.REDIS_URL || "redis://127.0.0.1:6379";
  const prefix = `troupe-bench:${crypto.randomUUID()}:`;
  const WRITERS = 100, SHORT = 20, LONG = 200;

  const provider = await RedisPersistence.connect({
    url,
    keyPrefix: prefix,
    durability: "ignore",
  });
  const raw = createClient({
    url,
    disableOfflineQueue: true,
    commandOptions: { typeMapping: { [RESP_TYPES.BLOB_STRING]: Buffer } },
  });
  raw.on("error", () => {});
  await raw.connect();
  // A separate connection for INFO and clean-up, so they never queue with timed commands.
  const admin = createClient({ url });
  admin.on("error", () => {});
  await admin.connect();

  const counter = definePersistentActor({
    name: "bench-counter",
    init: () => ({ n: 0 }),
    events: {
      added: (state, e) => {
        state.n += e.by;
      },
    },
  }).handlers({
    add: (_s, by, ctx) => ctx.persist("added", { by }),
    get: (s) => s.n,
  });
  const system = new ActorSystem({ node: "bench", askTimeoutMs: 60_000 });
  usePersistence(system, provider);
  const actors = await Promise.all(
    Array.from(
      { length: WRITERS },
      (_, i) => system.spawn(counter, undefined, { id: `a${i}` }),
    ),
  );

  // What one persist stores: the actors' event, as the actor encodes it.
  const data = jsonCodec.encode("added", { by: 1 });
  const newEvent = () => ({
    type: "added",
    version: 1,
    data,
    timestamp: Date.now(),
  });
  const recordOf = (sequenceNr) => {
    const bytes = encodeRecord({ sequenceNr, ...newEvent() });
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
  // The honest raw check-and-append: the same keys and check as the provider, one append a call.
  const CHECKED = `
local last = redis.call('HINCRBY', KEYS[2], 'last', 1)
if last - 1 ~= tonumber(ARGV[1]) then
  redis.call('HINCRBY', KEYS[2], 'last', -1)
  return last - 1
end
if redis.call('RPUSH', KEYS[1], ARGV[2]) == 1 then
  redis.call('HSET', KEYS[2], 'first', ARGV[1] + 1)
end
return 0`;
  const checkedSha = await raw.scriptLoad(CHECKED);

  let round = 0;
  const rawRpush = (perWriter) => async () => {
    const r = round;
    await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
      const key = `${prefix}raw:${perWriter}:${r}:${w}`;
      for (let i = 0; i < perWriter; i++) {
        await raw.sendCommand(["RPUSH", key, recordOf(i + 1)]);
      }
    }));
  };
  const rawChecked = (perWriter) => async () => {
    const r = round;
    await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
      const events = `${prefix}{checked:${r}:${w}}:events`;
      const meta = `${prefix}{checked:${r}:${w}}:meta`;
      for (let i = 0; i < perWriter; i++) {
        const reply = await raw.sendCommand([
          "EVALSHA",
          checkedSha,
          "2",
          events,
          meta,
          String(i),
          recordOf(i + 1),
        ]);
        if (reply !== 0) throw new Error(`conflict: ${reply}`);
      }
    }));
  };
  const providerAppend = (perWriter) => async () => {
    const r = round;
    await Promise.all(Array.from({ length: WRITERS }, async (_, w) => {
      const id = `provider:${perWriter}:${r}:${w}`;
      for (let i = 0; i < perWriter; i++) {
        await provider.journal.append(id, i, [newEvent()]);
      }
    }));
  };
  const jobs = {
    "raw RPUSH 100×20": rawRpush(SHORT),
    "raw checked 100×20": rawChecked(SHORT),
    "provider 100×20": providerAppend(SHORT),
    "actors 100×20": async () => {
      await Promise.all(actors.map(async (ref) => {
        for (let k = 0; k < SHORT; k++) await ref.ask("add", 1);
      }));
    },
    "raw RPUSH 100×200": rawRpush(LONG),
    "provider 100×200": providerAppend(LONG),
  };
  const persists = {
    "raw RPUSH 100×20": WRITERS * SHORT,
    "raw checked 100×20": WRITERS * SHORT,
    "provider 100×20": WRITERS * SHORT,
    "actors 100×20": WRITERS * SHORT,
    "raw RPUSH 100×200": WRITERS * LONG,
    "provider 100×200": WRITERS * LONG,
  };

  const serverStats = async () => {
    const text = await admin.info("all");
    const field = (name) =>
      Number(new RegExp(`${name}:([\\d.]+)`).exec(text)[1]);
    let calls = 0, scripts = 0;
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      calls += Number(m[2]);
      if (m[1] === "eval" || m[1] === "evalsha") scripts += Number(m[2]);
    }
    // Socket reads Redis handled (Redis 6+): about one per write of the client that arrived
    // on its own, so it counts the round trips (and wake-ups) a job costs.
    const reads = /total_reads_processed:(\d+)/.exec(text);
    return {
      cpu: field("used_cpu_user") + field("used_cpu_sys"),
      calls,
      scripts,
      reads: reads === null ? NaN : Number(reads[1]),
    };
  };
  // Between rounds the actors' journals stay (they go on appending); at the end all goes.
  const cleanUp = async (all) => {
    const actorKeys = `${prefix}{a`;
    for await (
      const keys of admin.scanIterator({ MATCH: `${prefix}*`, COUNT: 1000 })
    ) {
      const gone = all ? keys : keys.filter((k) => !k.startsWith(actorKeys));
      if (gone.length > 0) await admin.unlink(gone);
    }
  };

  const names = Object.keys(jobs);
  const samples = Object.fromEntries(
    names.map((
      n,
    ) => [n, {
      wall: [],
      cpu: [],
      server: [],
      calls: [],
      scripts: [],
      reads: [],
    }]),
  );
  // Each job's first wall time (the process's first persists of that job: cold).
  const coldWall = {};
  const measure = async (name, record, cold) => {
    const before = await serverStats();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await jobs[name]();
    const wall = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const after = await serverStats();
    if (cold) coldWall[name] = wall;
    if (!record) return;
    const s = samples[name];
    s.wall.push(wall);
    s.cpu.push((cpu.user + cpu.system) / 1000);
    s.server.push((after.cpu - before.cpu) * 1000);
    // Minus the INFO call that read `after`.
    s.calls.push(after.calls - before.calls - 1);
    s.scripts.push(after.scripts - before.scripts);
    // Minus the read of the INFO call that read `after`.
    s.reads.push(after.reads - before.reads - 1);
  };
  const made = Object.fromEntries(names.map((name) => [name, 0]));
  for (
    let pass = 0;
    pass === 0 || names.some((name) => made[name] < warmup);
    pass++
  ) {
    for (const name of names) {
      if (made[name] >= warmup && pass > 0) continue;
      await measure(name, false, pass === 0);
      made[name] += persists[name];
    }
    // A round number per pass: a job runs at most once with the same keys.
    round++;
    await cleanUp(false);
  }
  for (let r = 0; r < rounds; r++) {
    const offset = r % names.length;
    for (let j = 0; j < names.length; j++) {
      await measure(names[(j + offset) % names.length], true, false);
    }
    round++;
    await cleanUp(false);
  }
  const result = { runtime: runtimeName, rounds, warmup, jobs: {} };
  for (const name of names) {
    const s = samples[name];
    const n = persists[name];
    result.jobs[name] = {
      wallMs: median(s.wall),
      coldWallMs: coldWall[name],
      cpuUsPerPersist: median(s.cpu) * 1000 / n,
      serverUsPerPersist: median(s.server) * 1000 / n,
      commandsPerPersist: median(s.calls) / n,
      scriptsPerPersist: median(s.scripts) / n,
      readsPerPersist: median(s.reads) / n,
    };
  }
  // Ratios within the round: baseline time ÷ job time (throughput relative to the baseline).
  const RATIOS = {
    "actors ÷ raw RPUSH (100×20)": ["actors 100×20", "raw RPUSH 100×20"],
    "provider ÷ raw RPUSH (100×20)": ["provider 100×20", "raw RPUSH 100×20"],
    "raw checked ÷ raw RPUSH (100×20)": [
      "raw checked 100×20",
      "raw RPUSH 100×20",
    ],
    "provider ÷ raw RPUSH (100×200)": ["provider 100×200", "raw RPUSH 100×200"],
  };
  result.ratios = {};
  for (const [label, [job, base]] of Object.entries(RATIOS)) {
    result.ratios[label] = median(
      samples[job].wall.map((t, i) => samples[base].wall[i] / t),
    );
  }
  console.log(JSON.stringify(result));
  await system.shutdown();
  await provider.close();
  await cleanUp(true);
  await raw.close();
  await admin.close();
}

// ---- the whole set ----------------------------------------------------------------------------

async function parent() {
  const runs = Number(option("--runs", 5));
  const rounds = Number(option("--rounds", 9));
  const warmup = Number(option("--warmup", 60_000));
  const runtimes = option("--runtimes", "deno,node").split(",");
  const deno = process.env.DENO_BIN || "deno";
  const node = process.env.NODE_BIN || "node";
  const script = fileURLToPath(import.meta.url);
  if (
    runtimes.includes("node") &&
    (args.includes("--build") || !existsSync(`${root}npm/mod.js`))
  ) {
    await run(deno, ["run", "-A", `${root}scripts/build_npm.ts`], true);
  }
  const base = option("--base", undefined);
  const checkouts = base === undefined ? [["", root]] : [["", root], [
    " (base)",
    `${new URL(`${base}/`, `file://${process.cwd()}/`).pathname}`,
  ]];
  const commands = {};
  for (const runtime of runtimes) {
    for (const [label, dir] of checkouts) {
      commands[runtime + label] = runtime === "deno"
        ? [deno, "run", "-A", script, "--child", `${dir}mod.ts`, rounds, warmup]
        : [node, script, "--child", `${dir}npm/mod.js`, rounds, warmup];
    }
  }
  const results = Object.fromEntries(
    Object.keys(commands).map((r) => [r, []]),
  );
  const loads = [];
  for (let i = 0; i < runs; i++) {
    for (const [variant, [command, ...rest]] of Object.entries(commands)) {
      loads.push(loadAverage());
      const out = await run(command, rest.map(String), false);
      const line = out.trim().split("\n").at(-1);
      const result = JSON.parse(line);
      if (variant.endsWith(" (base)")) result.runtime += " (base)";
      results[variant].push(result);
      console.error(
        `run ${i + 1}/${runs} ${result.runtime}: ` +
          Object.entries(result.ratios).map(([k, v]) => `${k} ${v.toFixed(2)}`)
            .join(", "),
      );
    }
  }
  loads.push(loadAverage());
  printTable(results, runs, rounds, warmup, loads);
}

function loadAverage() {
  try {
    return Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
  } catch {
    return NaN;
  }
}

function run(command, commandArgs, inherit) {
  return new Promise((resolve, reject) => {
    const proc = spawn(command, commandArgs, {
      cwd: root,
      stdio: ["ignore", inherit ? "inherit" : "pipe", "inherit"],
    });
    let out = "";
    proc.stdout?.on("data", (d) => out += d);
    proc.on("error", reject);
    proc.on(
      "close",
      (code) =>
        code === 0 ? resolve(out) : reject(
          new Error(`${command} ${commandArgs.join(" ")} exited ${code}`),
        ),
    );
  });
}

function printTable(results, runs, rounds, warmup, loads) {
  const runtimes = Object.keys(results);
  const head = runtimes.map((r) => results[r][0].runtime);
  const cell = (values, digits, unit = "") =>
    `${median(values).toFixed(digits)}${unit} (${
      Math.min(...values).toFixed(digits)
    }–${Math.max(...values).toFixed(digits)})`;
  const lines = [];
  lines.push(`| measure | ${head.join(" | ")} |`);
  lines.push(`| --- | ${head.map(() => "---").join(" | ")} |`);
  for (const ratio of Object.keys(results[runtimes[0]][0].ratios)) {
    lines.push(
      `| ${ratio} | ${
        runtimes.map((r) => cell(results[r].map((x) => x.ratios[ratio]), 2))
          .join(" | ")
      } |`,
    );
  }
  for (const job of Object.keys(results[runtimes[0]][0].jobs)) {
    lines.push(
      `| ${job}: wall | ${
        runtimes.map((r) =>
          cell(results[r].map((x) => x.jobs[job].wallMs), 1, " ms")
        ).join(" | ")
      } |`,
    );
    lines.push(
      `| ${job}: wall of the process's first run (cold) | ${
        runtimes.map((r) =>
          cell(results[r].map((x) => x.jobs[job].coldWallMs), 1, " ms")
        ).join(" | ")
      } |`,
    );
    lines.push(
      `| ${job}: client CPU, Redis CPU, commands (scripts), Redis socket reads per persist | ${
        runtimes.map((r) => {
          const j = results[r].map((x) => x.jobs[job]);
          return `${median(j.map((x) => x.cpuUsPerPersist)).toFixed(1)} µs, ${
            median(j.map((x) => x.serverUsPerPersist)).toFixed(1)
          } µs, ${median(j.map((x) => x.commandsPerPersist)).toFixed(2)} (${
            median(j.map((x) => x.scriptsPerPersist)).toFixed(3)
          }), ${median(j.map((x) => x.readsPerPersist)).toFixed(3)}`;
        }).join(" | ")
      } |`,
    );
  }
  const finite = loads.filter(Number.isFinite);
  console.log(lines.join("\n"));
  console.log(
    `\n${runs} runs per column (alternating), ${rounds} interleaved rounds each (after a warm-up of ${warmup} ` +
      `persists per job); ratios: baseline time ÷ job time per round, median per run, then the median ` +
      `of the runs (range of the runs); load average (1 min) ${
        finite.length
          ? `${Math.min(...finite)}–${Math.max(...finite)}`
          : "unknown"
      }.`,
  );
}
