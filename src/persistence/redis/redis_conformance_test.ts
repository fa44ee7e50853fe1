// The provider contract (_conformance_test.ts), checked against RedisPersistence on the shared Redis,
// under a key prefix of its own that the last test deletes.
import assert from "node:assert/strict";
import { runProviderConformance } from "../_conformance_test.ts";
import {
  deleteKeys,
  keysUnder,
  randomPrefix,
  rawCommands,
  REDIS_URL,
  redisTest,
  SKIP_REDIS,
} from "./_helpers_test.ts";
import { RedisPersistence } from "./redis_persistence.ts";

const prefix = randomPrefix("conformance");

runProviderConformance(
  "RedisPersistence",
  () =>
    RedisPersistence.connect({
      url: REDIS_URL,
      keyPrefix: prefix,
      durability: "ignore",
    }),
  SKIP_REDIS === undefined ? {} : { skip: SKIP_REDIS },
);

redisTest(
  "RedisPersistence conformance: the suite's keys are deleted afterwards",
  async () => {
    assert.ok(await deleteKeys(prefix) > 0, "the suite wrote under its prefix");
    const raw = await rawCommands();
    try {
      assert.deepEqual(await keysUnder(raw, prefix), []);
    } finally {
      await raw.close();
    }
  },
);
