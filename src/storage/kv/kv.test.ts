import { ManualClock } from "../../clock.js";
import { createTestDatabase, drivers } from "../../../test/helpers/databases.js";
import { kvContract } from "./kv.contract.js";
import { MemoryKvStore } from "./memory.js";
import { likePrefix, PostgresKvStore } from "./postgres.js";
import { describe, expect, it } from "vitest";

kvContract("memory", async () => {
  const clock = new ManualClock();
  return { kv: new MemoryKvStore(clock), clock, cleanup: async () => {} };
});

for (const driver of drivers()) {
  kvContract(driver, async () => {
    const clock = new ManualClock();
    const testDb = await createTestDatabase(driver);
    return { kv: new PostgresKvStore(testDb.database.db, clock), clock, cleanup: testDb.cleanup };
  });
}

describe("likePrefix", () => {
  it("escapes the LIKE metacharacters", () => {
    expect(likePrefix("a%b_c\\d")).toBe("a\\%b\\_c\\\\d%");
  });
});
