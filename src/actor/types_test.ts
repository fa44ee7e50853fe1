// Compile-time guarantees of the typed API. `deno test` type-checks this file (and the npm
// build compiles it with tsc): every `@ts-expect-error` must mark a real type error, or the
// check fails on the unused directive. The runtime assertions check the same calls behave.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { test } from "../platform/test_harness.ts";
import {
  makeTempDir,
  removeDir,
  spawnTestProcess,
} from "../platform/test_process.ts";
import { sameRuntime, testRuntime } from "../platform/test_runtime.ts";
import {
  type ActorRef,
  ActorSystem,
  defineActor,
  type ProtocolOfDefinition,
} from "../../mod.ts";

const account = defineActor({
  name: "account",
  init: (owner: string) => ({ owner, balance: 0 }),
  handlers: {
    deposit: (state, amount: number) => {
      state.balance += amount;
      return state.balance;
    },
    balance: (state) => state.balance,
    owner: async (state) => await Promise.resolve(state.owner),
    rename: (state, to: { name: string }) => {
      state.owner = to.name;
    },
  },
  started: (state, ctx) => {
    // Hooks get a typed context: only this actor's messages.
    ctx.self.tell("deposit", 0);
    const neverCalled = () => {
      // @ts-expect-error wrong payload type in a hook
      ctx.self.tell("deposit", "0");
    };
    void neverCalled;
    state.owner.toUpperCase();
  },
});

/** A protocol written by hand, for refs to actors whose code lives elsewhere. */
interface AccountProtocol {
  deposit(amount: number): number;
  balance(): number;
}

test("ActorRef types: messages, payloads and ask results are checked at compile time", async () => {
  await using system = new ActorSystem();
  // @ts-expect-error start arguments are typed (and the bad id is caught at run time)
  assert.throws(() => void system.spawn(account, 42, { id: "x/y" }), TypeError);
  const ref = await system.spawn(account, "ada");

  ref.tell("deposit", 5);
  const balance: number = await ref.ask("balance");
  const owner: string = await ref.ask("owner");
  const after: number = await ref.ask("deposit", 10, { timeoutMs: 1000 });
  ref.tell("rename", { name: "grace" });
  assert.equal(balance, 5);
  assert.equal(owner, "ada");
  assert.equal(after, 15);
  assert.equal(await ref.ask("owner"), "grace");

  // Type errors only: none of these run.
  const neverCalled = async () => {
    // @ts-expect-error a message the actor does not handle
    ref.tell("withdraw", 5);
    // @ts-expect-error a wrong payload type
    ref.tell("deposit", "5");
    // @ts-expect-error a missing payload
    ref.tell("deposit");
    // @ts-expect-error the result type is inferred: balance is a number
    const wrong: string = await ref.ask("balance");
    // @ts-expect-error a payload object must have the right shape
    ref.tell("rename", { nom: "x" });
    return wrong;
  };
  void neverCalled;

  // A ref typed by a hand-written protocol accepts the real actor's ref.
  const remoteLike: ActorRef<AccountProtocol> = ref;
  const typedAgain: ActorRef<ProtocolOfDefinition<typeof account>> = ref;
  assert.equal(await remoteLike.ask("deposit", 1), 16);
  assert.equal(await typedAgain.ask("balance"), 16);
  const alsoNeverCalled = () => {
    // @ts-expect-error the hand-written protocol has no rename
    remoteLike.tell("rename", { name: "x" });
  };
  void alsoNeverCalled;
});

test("ActorSystem.lookup() with a definition returns a typed ref", async () => {
  await using system = new ActorSystem();
  await system.spawn(account, "ada", { id: "acct" });
  const found = system.lookup("acct", account);
  assert.ok(found !== undefined);
  const n: number = await found.ask("balance");
  assert.equal(n, 0);
  const neverCalled = () => {
    // @ts-expect-error typed lookup keeps the protocol
    found.tell("nope");
  };
  void neverCalled;
});

// What a user reads when a message name is wrong: the compiler must blame the name and list
// the valid ones (not report a missing argument). Checked with `deno check` on a snippet, so
// under Deno only; the npm consumer test (tests/npm_consumer_test.ts) checks the same with tsc.
test({
  name:
    "ActorRef.tell() and ask() with an unknown message type: the type error names the valid types",
  ignore: testRuntime !== "deno",
  fn: async () => {
    const dir = await makeTempDir("troupe-types-");
    try {
      const mod = new URL("../../mod.ts", import.meta.url).href;
      const snippet = `${dir}/wrong_name.ts`;
      await writeFile(
        snippet,
        [
          `import { type ActorRef, ActorSystem, defineActor } from ${
            JSON.stringify(mod)
          };`,
          `const account = defineActor({`,
          `  name: "account",`,
          `  init: () => ({ balance: 0 }),`,
          `  handlers: {`,
          `    deposit: (state, amount: number) => (state.balance += amount),`,
          `    balance: (state) => state.balance,`,
          `  },`,
          `});`,
          `await using system = new ActorSystem();`,
          `const ref = await system.spawn(account, undefined);`,
          `ref.tell("withdraw", 5);`,
          `await ref.ask("balence");`,
          `interface Counter { add(by: number): void; get(): number }`,
          `declare const counter: ActorRef<Counter>;`,
          `counter.tell("ad", 1);`,
        ].join("\n") + "\n",
      );
      const { command } = sameRuntime(new URL(import.meta.url)); // the deno binary
      const config = new URL("../../deno.json", import.meta.url).pathname;
      const child = spawnTestProcess(command, [
        "check",
        "--config",
        decodeURIComponent(config),
        snippet,
      ]);
      const exit = await child.exited;
      // deno colours its output; the messages are what matters.
      // deno-lint-ignore no-control-regex -- colour codes start with the escape character
      const output = child.output().replace(/\x1b\[[0-9;]*m/g, "");
      assert.notEqual(exit.code, 0, output);
      for (
        const [name, valid] of [
          ["withdraw", `"balance" | "deposit"`],
          ["balence", `"balance" | "deposit"`],
          ["ad", `"add" | "get"`],
        ]
      ) {
        assert.match(
          output,
          new RegExp(
            `Argument of type '"${name}"' is not assignable to parameter of type '${
              valid.replace(/[|]/g, "\\|")
            }'`,
          ),
          output,
        );
      }
      assert.doesNotMatch(output, /Expected \d+ arguments/, output);
    } finally {
      await removeDir(dir);
    }
  },
});
