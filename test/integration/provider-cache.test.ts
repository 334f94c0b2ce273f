import { afterAll, describe, expect, test } from "bun:test";
import { eq } from "drizzle-orm";
import { providers } from "../../src/db/schema";
import { createProviderCache } from "../../src/debate/provider-cache";
import { eventually } from "../helpers/eventually";
import { createPgliteTestDatabase, createTestDatabase, type TestDatabase } from "../helpers/test-db";

for (const [driver, open] of [
  ["postgres", () => createTestDatabase()],
  ["pglite", () => createPgliteTestDatabase()],
] as const) {
  describe(`provider cache on ${driver}`, () => {
    let testDatabase: TestDatabase;
    afterAll(async () => {
      await testDatabase?.drop();
    });

    test("rows are read once, and an edit or a delete made in SQL reaches the next read", async () => {
      testDatabase = await open();
      const db = testDatabase.database.db;
      const [row] = await db
        .insert(providers)
        .values({
          name: "Cached",
          type: "openai_compatible",
          baseUrl: "http://x/v1",
          modelId: "m1",
        })
        .returning();
      const cache = createProviderCache(db);
      await cache.start();
      try {
        const first = await cache.get(row!.id);
        expect(first?.modelId).toBe("m1");
        // Held: the same row object, no second read.
        expect(await cache.get(row!.id)).toBe(first);
        await db.update(providers).set({ modelId: "m2" }).where(eq(providers.id, row!.id));
        await eventually(async () => (await cache.get(row!.id))?.modelId === "m2", {
          timeoutMs: 5000,
          message: "the edit",
        });
        await db.delete(providers).where(eq(providers.id, row!.id));
        await eventually(async () => (await cache.get(row!.id)) === undefined, {
          timeoutMs: 5000,
          message: "the delete",
        });
      } finally {
        await cache.stop();
      }
    });
  });
}
