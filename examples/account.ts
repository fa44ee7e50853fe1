// An event-sourced bank account. Run it with `deno task example:account`.
//
// The account persists every deposit and withdrawal as an event before applying it. It is
// stopped, spawned again, and comes back with its balance: the latest snapshot plus the events
// after it are replayed. Events go to Redis at REDIS_URL (default redis://127.0.0.1:6379), or with
// `--postgres` (`deno task example:account --postgres`) to PostgreSQL at DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres); when that server does not answer, the in-memory
// provider is used instead, and the example says so.
import {
  ActorSystem,
  definePersistentActor,
  MemoryPersistence,
  type PersistenceProvider,
  usePersistence,
} from "../mod.ts";
import { PostgresPersistence } from "../src/persistence/postgres/mod.ts";
import { RedisPersistence } from "../src/persistence/redis/mod.ts";

const account = definePersistentActor({
  name: "account",
  init: (owner: string) => ({ owner, balance: 0 }),
  events: {
    deposited: (state, e: { amount: number }) => {
      state.balance += e.amount;
    },
    withdrew: (state, e: { amount: number }) => {
      state.balance -= e.amount;
    },
  },
  snapshotEvery: 3,
}).handlers({
  deposit: async (state, amount: number, ctx) => {
    await ctx.persist("deposited", { amount });
    return state.balance;
  },
  withdraw: async (state, amount: number, ctx) => {
    // A refusal is an answer, not a failure: return it instead of throwing.
    if (amount > state.balance) {
      return `refused: balance is only ${state.balance}`;
    }
    await ctx.persist("withdrew", { amount });
    return state.balance;
  },
  balance: (state) => state.balance,
}, {
  recovered: (state, ctx) =>
    console.log(
      `  recovered ${state.owner}'s account: balance ${state.balance} after event #${ctx.lastSequenceNr}`,
    ),
});

const postgres = Deno.args.includes("--postgres");
const store = postgres ? "PostgreSQL" : "Redis";
const url = postgres
  ? Deno.env.get("DATABASE_URL") ??
    "postgres://postgres@127.0.0.1:5432/postgres"
  : Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
let provider: PersistenceProvider;
try {
  provider = postgres
    ? await connectPostgres(url)
    : await RedisPersistence.connect({
      url,
      keyPrefix: "troupe-example:",
    });
  console.log(`Storing events in ${store} at ${url}`);
} catch (error) {
  console.log(
    `No ${store} at ${url} (${
      (error as Error).message
    }); using the in-memory provider`,
  );
  provider = new MemoryPersistence();
}

/** PostgreSQL, with the tables created when missing (migrate() is idempotent). */
async function connectPostgres(url: string): Promise<PostgresPersistence> {
  const provider = await PostgresPersistence.connect({
    url,
    tablePrefix: "troupe_example_",
  });
  try {
    await provider.migrate();
    return provider;
  } catch (error) {
    await provider.close();
    throw error;
  }
}

try {
  const id = `acct-${Date.now().toString(36)}`;
  {
    await using system = new ActorSystem({ node: "bank" });
    usePersistence(system, provider);
    const ref = await system.spawn(account, "Ada", { id });
    console.log(`deposit 100  -> balance ${await ref.ask("deposit", 100)}`);
    console.log(`withdraw 30  -> balance ${await ref.ask("withdraw", 30)}`);
    console.log(`withdraw 500 -> ${await ref.ask("withdraw", 500)}`);
    console.log(`deposit 12   -> balance ${await ref.ask("deposit", 12)}`);
    await ref.stop();
    console.log("The account actor stopped; its system shuts down.");
  }
  {
    await using system = new ActorSystem({ node: "bank" });
    usePersistence(system, provider);
    const ref = await system.spawn(account, "Ada", { id });
    console.log(
      `After a restart the balance is ${await ref.ask(
        "balance",
      )} (expected 82).`,
    );
  }
} finally {
  await provider.close();
}
