// Shared by the Redis provider's tests; it registers no test itself (named *_test.ts so that
// neither the JSR publish nor the npm package ships it).
//
// The tests use the Redis at REDIS_URL (default redis://127.0.0.1:6379), under a random key
// prefix per run, and delete their keys at the end. When that Redis does not answer, the tests
// fail on CI (env CI set) and are skipped, with a loud notice, everywhere else.
import { platform } from "../../platform/mod.ts";
import { test } from "../../platform/test_harness.ts";
import { freePort, ON_CI, serviceGate } from "../_service_gate_test.ts";
import {
  makeTempDir,
  removeDir,
  spawnTestProcess,
  type TestProcess,
} from "../../platform/test_process.ts";
import { NodeRedisCommands, type RedisCommands } from "./_client.ts";
import { prefixPattern } from "./_keys.ts";
import { RedisPersistence } from "./redis_persistence.ts";

/** The shared Redis of the tests. */
export const REDIS_URL: string = platform.env("REDIS_URL") ||
  "redis://127.0.0.1:6379";

async function probe(): Promise<string | undefined> {
  try {
    const provider = await RedisPersistence.connect({
      url: REDIS_URL,
      connectTimeoutMs: 2000,
      durability: "ignore",
    });
    await provider.close();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

const gate = await serviceGate(
  "Redis",
  REDIS_URL,
  "Start Redis or set REDIS_URL.",
  probe,
);

/** Why the tests that need the shared server are skipped, or undefined when they run. */
export const SKIP_REDIS: string | undefined = gate.skip;

/** Whether the tests run on CI, where missing infrastructure is a failure, not a skip. */
export const IS_CI: boolean = ON_CI;

/** Registers a test that needs the shared Redis. */
export function redisTest(name: string, fn: () => Promise<void>): void {
  gate.test(name, fn);
}

/** A key prefix no other run uses. */
export function randomPrefix(label: string): string {
  const random = crypto.getRandomValues(new Uint32Array(2)).join("");
  return `troupe-test:${label}:${random}:`;
}

/** A connection for raw commands (to plant bad data or look at keys); close it after use. */
export async function rawCommands(
  url: string = REDIS_URL,
): Promise<RedisCommands> {
  const commands = new NodeRedisCommands({
    url,
    connectTimeoutMs: 2000,
    reconnectMinDelayMs: 50,
    reconnectMaxDelayMs: 500,
  });
  try {
    await commands.connected();
  } catch (error) {
    await commands.close();
    throw error;
  }
  return commands;
}

/** Every key under `prefix` (SCAN). */
export async function keysUnder(
  commands: RedisCommands,
  prefix: string,
): Promise<string[]> {
  const keys: string[] = [];
  const decoder = new TextDecoder();
  let cursor = "0";
  do {
    const reply = await commands.send([
      "SCAN",
      cursor,
      "MATCH",
      prefixPattern(prefix),
      "COUNT",
      "1000",
    ]);
    const [next, batch] = reply as [Uint8Array, Uint8Array[]];
    cursor = decoder.decode(next);
    for (const key of batch) keys.push(decoder.decode(key));
  } while (cursor !== "0");
  return keys;
}

/** Deletes every key under `prefix` and returns how many there were. */
export async function deleteKeys(
  prefix: string,
  url: string = REDIS_URL,
): Promise<number> {
  const commands = await rawCommands(url);
  try {
    const keys = await keysUnder(commands, prefix);
    for (let i = 0; i < keys.length; i += 500) {
      await commands.send(["DEL", ...keys.slice(i, i + 500)]);
    }
    return keys.length;
  } finally {
    await commands.close();
  }
}

/** Waits `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => platform.setTimer(resolve, ms));
}

async function hasRedisServer(): Promise<boolean> {
  try {
    const probe = spawnTestProcess("redis-server", ["--version"]);
    return (await probe.exited).code === 0;
  } catch {
    return false;
  }
}

/** Whether `redis-server` can be started (tests that run their own server need it). */
export const SERVER_AVAILABLE: boolean = await hasRedisServer();
if (!SERVER_AVAILABLE) {
  const notice = "redis-server is not installed: ";
  if (ON_CI) {
    console.error(
      `\n!!! ${notice}the tests that run their own Redis will FAIL (CI is set) !!!\n`,
    );
  } else {
    console.warn(
      `\n!!! ${notice}SKIPPING the tests that run their own Redis !!!\n`,
    );
  }
}

/** Registers a test that starts its own redis-server (skipped loudly when there is none). */
export function serverTest(name: string, fn: () => Promise<void>): void {
  const skip = !SERVER_AVAILABLE && !ON_CI;
  test({
    name: skip ? `${name} (skipped: no redis-server)` : name,
    ignore: skip,
    fn,
  });
}

/** The test's own redis-server, on a free loopback port. */
export interface OwnRedis {
  /** Its port. */
  readonly port: number;
  /** `redis://127.0.0.1:<port>`. */
  readonly url: string;
  /** Its data directory. */
  readonly dir: string;
  /** The running process. */
  readonly process: TestProcess;
}

/** What a test can do with its own redis-server. */
export interface OwnRedisControl {
  /** The server as it runs now. */
  current(): OwnRedis;
  /** Kills it with SIGKILL and waits until it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port and directory (after kill()). */
  start(): Promise<void>;
  /** kill(), then start(). */
  restart(): Promise<void>;
  /** Pauses (`STOP`) or resumes (`CONT`) the process. */
  signal(name: "STOP" | "CONT"): Promise<void>;
}

/** Starts redis-server and waits until it accepts connections; kills it when it does not. */
async function startServerOn(
  port: number,
  dir: string,
  args: readonly string[],
): Promise<TestProcess> {
  const server = spawnTestProcess("redis-server", [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--save",
    "",
    "--dir",
    dir,
    ...args,
  ]);
  let exited = false;
  server.exited.then(() => exited = true, () => exited = true);
  const deadline = platform.now() + 10_000;
  while (!server.output().includes("Ready to accept connections")) {
    if (exited || platform.now() > deadline) {
      server.kill("SIGKILL");
      await server.exited.catch(() => {});
      throw new Error(
        `redis-server did not start on port ${port}:\n${server.output()}`,
      );
    }
    await sleep(20);
  }
  return server;
}

/**
 * Runs `body` with a redis-server of its own (started with `args`, e.g. `--appendonly yes`, in
 * a fresh directory), then kills it and removes the directory. `body` may kill, start again,
 * pause and resume it with the functions it gets.
 */
export async function withOwnRedis(
  args: readonly string[],
  body: (server: OwnRedisControl) => Promise<void>,
): Promise<void> {
  const dir = await makeTempDir("troupe-redis-own-");
  let current: OwnRedis | undefined;
  try {
    for (let attempt = 0; current === undefined; attempt++) {
      const port = await freePort();
      try {
        const process = await startServerOn(port, dir, args);
        current = { port, url: `redis://127.0.0.1:${port}`, dir, process };
      } catch (error) {
        if (attempt >= 2) throw error; // the port may have been taken meanwhile
      }
    }
    const kill = async () => {
      current!.process.kill("SIGKILL");
      await current!.process.exited.catch(() => {});
    };
    const start = async () => {
      const process = await startServerOn(current!.port, dir, args);
      current = { ...current!, process };
    };
    await body({
      current: () => current!,
      kill,
      start,
      restart: async () => {
        await kill();
        await start();
      },
      signal: async (name) => {
        const kill = spawnTestProcess("kill", [
          `-${name}`,
          String(current!.process.pid),
        ]);
        const exit = await kill.exited;
        if (exit.code !== 0) throw new Error(`kill -${name} failed`);
      },
    });
  } finally {
    if (current !== undefined) {
      // SIGKILL ends a stopped (SIGSTOP) process too.
      current.process.kill("SIGKILL");
      await current.process.exited.catch(() => {});
    }
    await removeDir(dir);
  }
}

export { freePort };
