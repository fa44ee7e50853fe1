// PostgresPersistence across a crash of PostgreSQL: the test makes its own cluster (initdb) in a
// temporary directory, starts it on a free loopback port, stops it with `pg_ctl -m immediate`
// (no checkpoint, the server recovers from its WAL on restart, as after a crash) in the middle
// of a stream of appends, starts it again, and checks that nothing acknowledged was lost. It
// never touches the shared server. As root, the cluster runs as the `postgres` user (runuser).
import assert from "node:assert/strict";
import { platform } from "../../platform/mod.ts";
import { test } from "../../platform/test_harness.ts";
import {
  makeTempDir,
  removeDir,
  spawnTestProcess,
} from "../../platform/test_process.ts";
import {
  isJournalConflictError,
  isJournalUnavailableError,
} from "../errors.ts";
import type { NewEvent } from "../journal.ts";
import { freePort, IS_CI, sleep } from "./_helpers_test.ts";
import { PostgresPersistence } from "./postgres_persistence.ts";

/** Runs a command to its end; its exit code and output. */
async function run(
  command: string,
  args: readonly string[],
): Promise<{ code: number | null; output: string }> {
  const child = spawnTestProcess(command, args);
  const exit = await child.exited;
  return { code: exit.code, output: child.output() };
}

async function succeeds(command: string, args: string[]): Promise<boolean> {
  try {
    return (await run(command, args)).code === 0;
  } catch {
    return false;
  }
}

/** The directory of initdb and pg_ctl, or undefined when PostgreSQL's server is not installed. */
async function findBinDir(): Promise<string | undefined> {
  const candidates: string[] = [];
  const fromEnv = platform.env("PG_BINDIR");
  if (fromEnv) candidates.push(fromEnv);
  try {
    const config = await run("pg_config", ["--bindir"]);
    if (config.code === 0) candidates.push(config.output.trim());
  } catch {
    // no pg_config
  }
  for (const version of [17, 16, 15, 14, 13]) {
    candidates.push(`/usr/lib/postgresql/${version}/bin`);
  }
  for (const dir of candidates) {
    if (
      await succeeds(`${dir}/initdb`, ["--version"]) &&
      await succeeds(`${dir}/pg_ctl`, ["--version"])
    ) return dir;
  }
  return undefined;
}

const binDir = await findBinDir();
/** PostgreSQL refuses to run as root: then every server command goes through runuser. */
const asRoot = binDir !== undefined &&
  (await run("id", ["-u"]).catch(() => ({ code: 1, output: "" }))).output
      .trim() === "0";
if (binDir === undefined) {
  const notice = "initdb/pg_ctl (PostgreSQL's server) are not installed: ";
  if (IS_CI) {
    console.error(
      `\n!!! ${notice}the PostgreSQL restart test will FAIL (CI is set) !!!\n`,
    );
  } else {
    console.warn(`\n!!! ${notice}SKIPPING the PostgreSQL restart test !!!\n`);
  }
}

/** Runs a server command, as the postgres user when we are root; throws when it fails. */
async function server(program: string, args: string[]): Promise<void> {
  const command = asRoot ? "runuser" : `${binDir}/${program}`;
  const full = asRoot
    ? ["-u", "postgres", "--", `${binDir}/${program}`, ...args]
    : args;
  const result = await run(command, full);
  if (result.code !== 0) {
    throw new Error(
      `${program} ${args.join(" ")} failed (${result.code}):\n${result.output}`,
    );
  }
}

function startArgs(data: string, dir: string, port: number): string[] {
  return [
    "-D",
    data,
    "-l",
    `${dir}/server.log`,
    "-w",
    "-t",
    "60",
    "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=on -c synchronous_commit=on`,
    "start",
  ];
}

/** The outcome of a promise, observed at once (so a rejection is never unhandled). */
function settle<T>(promise: Promise<T>): Promise<PromiseSettledResult<T>> {
  return promise.then(
    (value) => ({ status: "fulfilled", value }),
    (reason) => ({ status: "rejected", reason }),
  );
}

function event(n: number): NewEvent {
  return {
    type: "tick",
    version: 1,
    data: new TextEncoder().encode(String(n)),
    timestamp: n,
  };
}

test({
  name:
    "PostgresPersistence keeps every acknowledged append across an immediate stop of PostgreSQL and works again after it restarts" +
    (binDir !== undefined || IS_CI ? "" : " (skipped: no initdb)"),
  ignore: binDir === undefined && !IS_CI,
  fn: async () => {
    assert.ok(binDir !== undefined, "initdb and pg_ctl are installed");
    const dir = await makeTempDir("troupe-postgres-restart-");
    const data = `${dir}/data`;
    let started = false;
    let provider: PostgresPersistence | undefined;
    let stopped = false;
    let killer: Promise<void> | undefined;
    try {
      if (asRoot) {
        const chown = await run("chown", ["postgres:", dir]);
        assert.equal(chown.code, 0, chown.output);
      }
      await server("initdb", [
        "-D",
        data,
        "-U",
        "postgres",
        "-A",
        "trust",
        "--no-sync",
      ]);
      let port = 0;
      for (let attempt = 0; !started; attempt++) {
        port = await freePort();
        try {
          await server("pg_ctl", startArgs(data, dir, port));
          started = true;
        } catch (error) {
          if (attempt >= 2) throw error; // the port may have been taken meanwhile
        }
      }
      provider = await PostgresPersistence.connect({
        url: `postgres://postgres@127.0.0.1:${port}/postgres`,
        connectTimeoutMs: 2000,
        reconnectMinDelayMs: 20,
        reconnectMaxDelayMs: 200,
      });
      await provider.migrate();
      const { journal } = provider;
      const id = "orders/crash";
      const acknowledged: number[] = [];
      const failures: number[] = []; // how long each failed call took
      let killed = false;
      let restartedAt = Infinity;

      // The killer: once 150 appends are acknowledged, stop the server at once (with appends
      // of other ids in flight), wait, then start it again on the same port and directory.
      const inFlight: Promise<PromiseSettledResult<void>>[] = [];
      killer = (async () => {
        while (acknowledged.length < 150) {
          if (stopped) return;
          await sleep(1);
        }
        for (let i = 0; i < 50; i++) {
          inFlight.push(
            settle(journal.append(`bystander-${i}`, 0, [event(i)])),
          );
        }
        await server("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
        started = false;
        killed = true;
        await sleep(300);
        if (stopped) return;
        await server("pg_ctl", startArgs(data, dir, port));
        started = true;
        restartedAt = acknowledged.length;
      })();
      killer.catch(() => {}); // awaited below; a failure must not go unhandled meanwhile

      // The writer: one append at a time, each awaited. After a failure it does not know
      // whether the append was stored, so it asks for the last sequence number before going on.
      let next = 1;
      let resync = false;
      const deadline = platform.now() + 60_000;
      while (acknowledged.length < restartedAt + 100) {
        assert.ok(
          platform.now() < deadline,
          "the writer made no progress for 60 s",
        );
        const began = platform.now();
        try {
          if (resync) {
            next = await journal.lastSequenceNr(id) + 1;
            resync = false;
          }
          await journal.append(id, next - 1, [event(next)]);
          acknowledged.push(next);
          next++;
        } catch (error) {
          assert.ok(
            isJournalUnavailableError(error),
            `only JournalUnavailableError, not ${error}`,
          );
          failures.push(platform.now() - began);
          resync = true;
          await sleep(killed ? 10 : 1);
        }
      }
      await killer;

      assert.ok(
        failures.length > 0,
        "appends failed while PostgreSQL was down",
      );
      assert.ok(
        Math.max(...failures) < 2000,
        `failures are fast (slowest ${Math.max(...failures)} ms)`,
      );
      assert.ok(
        acknowledged.length >= restartedAt + 100,
        "appends work again after the restart",
      );

      // Appends in flight at the stop either succeeded or rejected: none hangs, none lies.
      const outcomes = await Promise.all(inFlight);
      for (const [i, outcome] of outcomes.entries()) {
        if (outcome.status === "rejected") {
          assert.ok(
            isJournalUnavailableError(outcome.reason),
            String(outcome.reason),
          );
        } else {
          const stored = await journal.read(`bystander-${i}`, 1);
          assert.equal(
            stored.length,
            1,
            `acknowledged bystander-${i} survived`,
          );
        }
      }

      // Every acknowledged event is there, in order, with no gap; an append whose reply was
      // lost may be there too, but only in its place.
      const stored = await journal.read(id, 1);
      const last = await journal.lastSequenceNr(id);
      assert.equal(stored.length, last);
      stored.forEach((e, i) => {
        assert.equal(e.sequenceNr, i + 1);
        assert.equal(new TextDecoder().decode(e.data), String(i + 1));
      });
      assert.ok(
        last >= acknowledged.at(-1)!,
        "the last acknowledged append is stored",
      );
      const storedSeqs = new Set(stored.map((e) => e.sequenceNr));
      assert.ok(
        acknowledged.every((n) => storedSeqs.has(n)),
        "no acknowledged append is missing",
      );

      // And the journal still refuses a stale writer.
      await assert.rejects(
        journal.append(id, 1, [event(0)]),
        isJournalConflictError,
      );
    } finally {
      stopped = true;
      await killer?.catch(() => {});
      await provider?.close();
      if (started || killer !== undefined) {
        await server("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"])
          .catch(() => {}); // not running
      }
      await removeDir(dir);
    }
  },
});
