// An event-sourced bank account. Run it with `deno task example:account`.
//
// The account persists every deposit and withdrawal as an event before applying it. It is
// stopped, spawned again, and comes back with its balance: the latest snapshot plus the events
// after it are replayed. Events go to Redis at REDIS_URL (default redis://127.0.0.1:6379), or with
// `--postgres` (`deno task example:account --postgres`) to PostgreSQL at DATABASE_URL (default
// postgres://postgres@127.0.0.1:5432/postgres); when that server does not answer, the in-memory
// provider is used instead, and the example says so. Each run writes under its own key prefix
// (Redis) or its own tables (PostgreSQL) and deletes them at the end, so runs do not add up.
import {
  ActorSystem,
  definePersistentActor,
  MemoryPersistence,
  type PersistenceProvider,
  usePersistence,
} from "../mod.ts";
import {
  PostgresPersistence,
  postgresSchemaSql,
} from "../src/persistence/postgres/mod.ts";
import { RedisPersistence } from "../src/persistence/redis/mod.ts";
import { createClient } from "redis";
import postgresClient from "postgres";

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
const run = `${Date.now().toString(36)}_${crypto.randomUUID().slice(0, 8)}`;
const keyPrefix = `troupe-example-${run}:`;
const tablePrefix = `troupe_example_${run}_`;
let provider: PersistenceProvider;
let stored = false;
try {
  provider = postgres
    ? await connectPostgres(url)
    : await RedisPersistence.connect({ url, keyPrefix });
  stored = true;
  console.log(
    `Storing events in ${store} at ${url}, ${
      postgres ? `tables ${tablePrefix}*` : `keys ${keyPrefix}*`
    }`,
  );
} catch (error) {
  console.log(
    `No ${store} at ${url} (${
      (error as Error).message
    }); using the in-memory provider`,
  );
  provider = new MemoryPersistence();
}

/** PostgreSQL, with this run's tables created (migrate() is idempotent). */
async function connectPostgres(url: string): Promise<PostgresPersistence> {
  const provider = await PostgresPersistence.connect({ url, tablePrefix });
  try {
    await provider.migrate();
    return provider;
  } catch (error) {
    await provider.close();
    throw error;
  }
}

try {
  const id = "acct-ada";
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
  if (stored && postgres) await dropTables(url);
  if (stored && !postgres) await deleteKeys(url, keyPrefix);
}

/** Drops this run's tables (journal, snapshots, streams). */
async function dropTables(url: string): Promise<void> {
  const sql = postgresClient(url, { max: 1, onnotice: () => {} });
  try {
    const names = [
      ...postgresSchemaSql({ tablePrefix }).matchAll(
        /CREATE TABLE IF NOT EXISTS (\S+)/g,
      ),
    ].map((match) => match[1]);
    await sql.unsafe(`DROP TABLE IF EXISTS ${names.join(", ")}`);
    console.log(`Dropped this run's ${names.length} tables from PostgreSQL.`);
  } finally {
    await sql.end();
  }
}

/** Deletes every key under `prefix` (this run's journal and snapshots). */
async function deleteKeys(url: string, prefix: string): Promise<void> {
  const client = createClient({ url });
  await client.connect();
  try {
    let deleted = 0;
    for await (const keys of client.scanIterator({ MATCH: `${prefix}*` })) {
      if (keys.length > 0) deleted += await client.del(keys);
    }
    console.log(`Deleted this run's ${deleted} keys from Redis.`);
  } finally {
    client.destroy();
  }
}
