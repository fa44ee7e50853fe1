// Sharding across three real processes with the journal in Redis: SIGKILL the node that holds
// the coordinator (the oldest) and shards while a client keeps depositing through another node;
// every account answers again, and every acknowledged deposit is in the journal.
import assert from "node:assert/strict";
import { type ActorRef, ActorSystem, RemoteNode } from "../../mod.ts";
import {
  deleteKeys,
  randomPrefix,
  REDIS_URL,
  redisTest,
} from "../../src/persistence/redis/_helpers_test.ts";
import { RedisPersistence } from "../../src/persistence/redis/mod.ts";
import { jsonCodec } from "../../mod.ts";
import {
  spawnTestProcess,
  type TestProcess,
} from "../../src/platform/test_process.ts";
import { sameRuntime } from "../../src/platform/test_runtime.ts";
import { freePort, waitUntil } from "./support.ts";

interface ClientProtocol {
  deposit(
    d: { id: string; token: string; amount: number; timeoutMs: number },
  ): number;
  view(): string[];
  stats(): Record<string, { shards: number[]; entities: number }>;
}

const MAIN = new URL("./sharding_main.ts", import.meta.url);
const IDS = Array.from({ length: 24 }, (_, i) => `acct-${i}`);

redisTest(
  "Sharding across 3 processes: after SIGKILL of the node with the coordinator and shards, every entity answers again and no acknowledged event is lost",
  async () => {
    const keyPrefix = randomPrefix("sharding-processes");
    const ports = [await freePort(), await freePort(), await freePort()];
    const seeds = ports.map((p) => `127.0.0.1:${p}`).join(",");
    const children: TestProcess[] = [];
    const system = new ActorSystem({ node: "tester", logger: { error() {} } });
    const remote = await RemoteNode.start(system, {
      cluster: "sharding-processes",
      secret: "sharding multi-process secret, tests only",
      hostname: "127.0.0.1",
      logger: { error() {} },
    });
    const journal = await RedisPersistence.connect({
      url: REDIS_URL,
      keyPrefix,
    });
    const output = () => children.map((c) => c.output()).join("\n");
    try {
      for (let i = 0; i < 3; i++) {
        const command = sameRuntime(MAIN);
        children.push(spawnTestProcess(command.command, [
          ...command.args,
          `m${i + 1}`,
          "--port",
          String(ports[i]),
          "--seeds",
          seeds,
          "--redis-url",
          REDIS_URL,
          "--key-prefix",
          keyPrefix,
        ]));
        // m1 first, so it is the oldest member and hosts the coordinator.
        await waitUntil(
          () => children[i].output().includes('"type":"joined"'),
          () => `m${i + 1} to join\n${output()}`,
          10_000,
        );
      }
      const clients: ActorRef<ClientProtocol>[] = [];
      for (const port of ports) {
        const name = await remote.connect(`127.0.0.1:${port}`);
        clients.push(remote.ref<ClientProtocol>(name, "client"));
      }
      await waitUntil(
        async () =>
          (await Promise.all(clients.map((c) => c.ask("view")))).every((v) =>
            v.length === 3
          ),
        () => `3 up members everywhere\n${output()}`,
        10_000,
      );
      const acked = new Map<string, string[]>();
      let token = 0;
      const deposit = async (id: string): Promise<boolean> => {
        const t = `t${token++}`;
        try {
          await clients[2].ask("deposit", {
            id,
            token: t,
            amount: 1,
            timeoutMs: 2000,
          }, {
            timeoutMs: 3000,
          });
          (acked.get(id) ?? acked.set(id, []).get(id)!).push(t);
          return true;
        } catch {
          return false;
        }
      };
      for (const id of IDS) {
        assert.ok(await deposit(id), `first deposit to ${id}`);
      }
      // Rebalanced by now or soon: m1 holds shards.
      await waitUntil(
        async () =>
          ((await clients[0].ask("stats")).account?.shards.length ?? 0) >= 3,
        () => `m1 to hold shards\n${output()}`,
        5_000,
      );
      // Keep depositing while m1 dies.
      let stop = false;
      const load = (async () => {
        while (!stop) await Promise.all(IDS.slice(0, 6).map(deposit));
      })();
      children[0].kill("SIGKILL");
      await children[0].exited;
      const killedAt = Date.now();
      const answered = new Set<string>();
      await waitUntil(
        async () => {
          await Promise.all(
            IDS.filter((id) => !answered.has(id)).map(async (id) => {
              if (await deposit(id)) answered.add(id);
            }),
          );
          return answered.size === IDS.length;
        },
        () =>
          `every account to answer (${answered.size}/${IDS.length})\n${output()}`,
        12_000,
      );
      stop = true;
      await load;
      console.log(
        `every account answered ${Date.now() - killedAt} ms after SIGKILL`,
      );
      for (const id of IDS) {
        const events = await journal.journal.read(`account:${id}`, 1);
        const tokens = new Set(
          events.map((e) =>
            (jsonCodec.decode(e.type, e.data) as { token: string }).token
          ),
        );
        for (const t of acked.get(id) ?? []) {
          assert.ok(
            tokens.has(t),
            `${id}: acknowledged ${t} is in the journal`,
          );
        }
      }
    } finally {
      for (const child of children) child.kill("SIGKILL");
      await Promise.all(children.map((c) => c.exited.catch(() => {})));
      await remote.close();
      await system.shutdown();
      await deleteKeys(keyPrefix).catch(() => {});
      await journal.close();
    }
  },
);
