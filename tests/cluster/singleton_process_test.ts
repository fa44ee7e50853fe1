// The cluster singleton with real processes on loopback (tests/cluster/singleton_main.ts): three
// members start the singleton "counter"; every member's proxy reaches the one instance; the
// member that runs it is killed with SIGKILL, and once the survivors have downed and removed it
// the instance runs again on a survivor, reached from both. With the shared Redis the instance is
// fenced by a RedisLease (the new instance has a higher fencing token); without Redis (not on
// CI) the test runs unfenced and says so. About 10 s.
import assert from "node:assert/strict";
import type { ActorRef } from "../../mod.ts";
import { test } from "../../src/platform/test_harness.ts";
import {
  deleteKeys,
  randomPrefix,
  REDIS_URL,
  SKIP_REDIS,
} from "../../src/persistence/redis/_helpers_test.ts";
import {
  Controller,
  dump,
  type MemberProcess,
  startMembers,
  stopAll,
  waitUntil,
} from "./support.ts";

interface Where {
  readonly node: string;
  readonly token: number | null;
}

interface SingletonControl {
  where(): Where;
}

async function whereFrom(
  control: ActorRef<SingletonControl>,
): Promise<Where | undefined> {
  try {
    return await control.ask("where", undefined, { timeoutMs: 3000 });
  } catch {
    return undefined;
  }
}

test("ClusterSingleton across 3 processes: a SIGKILLed host's instance runs again on a survivor, reached from every survivor", async () => {
  const fenced = SKIP_REDIS === undefined;
  if (!fenced) {
    console.warn(
      `singleton_process_test: Redis does not answer (${SKIP_REDIS}): running without a lease`,
    );
  }
  const leasePrefix = randomPrefix("singleton-processes");
  const members: MemberProcess[] = await startMembers(3, {
    script: new URL("./singleton_main.ts", import.meta.url),
    stableAfterMs: 1000,
    extraArgs: fenced
      ? ["--redis-url", REDIS_URL, "--lease-prefix", leasePrefix]
      : [],
  });
  await using controller = await Controller.start();
  try {
    const controls = await Promise.all(
      members.map((m) =>
        controller.control(m.address()!) as Promise<
          ActorRef<unknown>
        > as Promise<ActorRef<SingletonControl>>
      ),
    );
    let answers: (Where | undefined)[] = [];
    await waitUntil(
      async () => {
        answers = await Promise.all(controls.map(whereFrom));
        return answers.every((a) =>
          a !== undefined && a.node === answers[0]!.node
        );
      },
      () =>
        `one instance reached from all: ${JSON.stringify(answers)}\n${
          dump(members)
        }`,
      20_000,
    );
    const first = answers[0]!;
    if (fenced) assert.ok(first.token !== null && first.token >= 1);
    const hostIndex = members.findIndex((m) => m.node === first.node);
    assert.ok(hostIndex >= 0, first.node);
    const killedAt = Date.now();
    members[hostIndex].kill("SIGKILL");
    assert.equal((await members[hostIndex].exited).signal, "SIGKILL");
    const survivors = controls.filter((_, i) => i !== hostIndex);
    await waitUntil(
      async () => {
        answers = await Promise.all(survivors.map(whereFrom));
        return answers.every((a) =>
          a !== undefined && a.node !== first.node &&
          a.node === answers[0]!.node
        );
      },
      () =>
        `the instance on a survivor: ${JSON.stringify(answers)}\n${
          dump(members)
        }`,
      20_000,
    );
    console.log(
      `singleton_process_test: answered from ${answers[0]!.node} ${
        Date.now() - killedAt
      } ms after the SIGKILL of ${first.node} (${
        fenced ? "RedisLease" : "no lease"
      })`,
    );
    if (fenced) {
      assert.ok(answers[0]!.token! > first.token!, JSON.stringify(answers));
    }
    // Exactly one survivor started an instance, once.
    const starts = members.filter((_, i) => i !== hostIndex).map((m) =>
      m.lines().filter((l) =>
        (l as { type: string; event?: string }).type === "instance" &&
        (l as { event?: string }).event === "start"
      ).length
    );
    assert.deepEqual([...starts].sort(), [0, 1], dump(members));
  } finally {
    await stopAll(members);
    if (fenced) await deleteKeys(leasePrefix);
  }
});
