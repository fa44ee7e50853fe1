// The provider contract (_conformance_test.ts), checked against PostgresPersistence on the
// shared server, in a schema of its own that the last test drops.
import assert from "node:assert/strict";
import { runProviderConformance } from "../_conformance_test.ts";
import {
  DATABASE_URL,
  dropSchema,
  postgresTest,
  randomSchema,
  SKIP_POSTGRES,
} from "./_helpers_test.ts";
import { PostgresPersistence } from "./postgres_persistence.ts";

const schema = randomSchema("conformance");
let migrated = false;

runProviderConformance(
  "PostgresPersistence",
  async () => {
    const provider = await PostgresPersistence.connect({
      url: DATABASE_URL,
      schema,
    });
    if (!migrated) {
      await provider.migrate();
      migrated = true;
    }
    return provider;
  },
  SKIP_POSTGRES === undefined ? {} : { skip: SKIP_POSTGRES },
);

postgresTest(
  "PostgresPersistence conformance: the suite's schema is dropped afterwards",
  async () => {
    assert.equal(
      await dropSchema(schema),
      3,
      "the suite made its three tables",
    );
  },
);
