import { afterAll, describe, expect, test } from "bun:test";
import { sql } from "drizzle-orm";
import { messages, personalities, providers, sessions } from "../../src/db/schema";
import { seedDatabase, seedPersonalities } from "../../src/db/seed";
import {
  createPgliteDatabase,
  createPostgresDatabase,
  type Database,
  queryRows,
} from "../../src/platform/db";
import { createSecretBox } from "../../src/platform/secret-box";
import { testConfig, testSecretsKey } from "../helpers/test-config";
import { createTestDatabase, type TestDatabase } from "../helpers/test-db";

const expectedTables = [
  "audit_logs",
  "messages",
  "personalities",
  "providers",
  "session_participants",
  "sessions",
  "settings",
  "users",
];

async function tableNames(database: Database): Promise<string[]> {
  const rows = await queryRows<{ table_name: string }>(
    database.db,
    sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
  );
  return rows.map((row) => row.table_name);
}

const config = testConfig();
/** Drizzle queries are thenables, not promises: wrap before asserting the rejection. */
const rejects = (query: PromiseLike<unknown>) => expect(Promise.resolve(query)).rejects.toThrow();
const secretBox = createSecretBox(testSecretsKey);

/** The checks both drivers must pass: same schema, same migrations, same seed. */
function describeDriver(
  name: string,
  open: () => Promise<{ database: Database; dispose: () => Promise<void> }>,
) {
  describe(name, () => {
    let database: Database;
    let dispose: () => Promise<void>;
    afterAll(async () => {
      await dispose?.();
    });

    test("migrations create every table on an empty database", async () => {
      ({ database, dispose } = await open());
      await database.migrate();
      expect(await tableNames(database)).toEqual(expect.arrayContaining(expectedTables));
      // Applying again is a no-op, not an error.
      await database.migrate();
    });

    test("seed inserts ChatGPT, DeepSeek and personalities once", async () => {
      expect(await seedDatabase({ db: database.db, config, secretBox })).toBe(true);
      expect(await seedDatabase({ db: database.db, config, secretBox })).toBe(false);
      const rows = await database.db.select().from(providers).orderBy(providers.orderIndex);
      expect(rows.map((row) => [row.name, row.type, row.modelId])).toEqual([
        ["ChatGPT", "openai", "gpt-4o-mini"],
        ["DeepSeek", "deepseek", "deepseek-flash"],
      ]);
      const [chatGpt, deepSeek] = rows;
      expect(chatGpt?.params).toMatchObject({ price_input_per_1m: 0.15, price_output_per_1m: 0.6 });
      expect(deepSeek?.params).toMatchObject({ extra: { thinking: { type: "disabled" } } });
      // Keys are stored encrypted, never in plain text.
      expect(chatGpt?.apiKeyEncrypted).not.toContain("sk-test");
      expect(secretBox.decrypt(chatGpt!.apiKeyEncrypted!)).toBe("sk-test-openai-key-000000000000");
      const people = await database.db.select().from(personalities);
      expect(people.length).toBe(seedPersonalities.length);
      expect(people.length).toBeGreaterThanOrEqual(3);
    });

    test("a provider the operator deleted is not seeded back", async () => {
      await database.db.delete(providers).where(sql`${providers.name} = 'DeepSeek'`);
      await seedDatabase({ db: database.db, config, secretBox });
      const [count] = await database.db.select({ n: sql<number>`count(*)::int` }).from(providers);
      expect(count?.n).toBe(1);
    });

    test("constraints protect the data", async () => {
      const [session] = await database.db
        .insert(sessions)
        .values({ topic: "Is tea better than coffee?", maxRounds: 2 })
        .returning();
      const row = {
        sessionId: session!.id,
        round: 1,
        authorType: "model" as const,
        authorName: "A",
        content: "x",
      };
      await database.db.insert(messages).values({ ...row, turnIndex: 0 });
      // The unique (session_id, turn_index) is the final guard against a duplicate turn.
      await rejects(database.db.insert(messages).values({ ...row, turnIndex: 0 }));
      await rejects(database.db.insert(sessions).values({ topic: "", maxRounds: 2 }));
      await rejects(database.db.insert(sessions).values({ topic: "t", maxRounds: 2, status: "stopped" }));
      await rejects(database.db.insert(messages).values({ ...row, turnIndex: 1, cost: "-1" }));
      const [money] = await database.db
        .insert(messages)
        .values({ ...row, turnIndex: 2, cost: "0.12345678" })
        .returning();
      expect(money?.cost).toBe("0.12345678");
    });
  });
}

describeDriver("postgres", async () => {
  const test: TestDatabase = await createTestDatabase({ empty: true });
  return { database: test.database, dispose: () => test.drop() };
});

describeDriver("pglite (embedded default)", async () => {
  const database = await createPgliteDatabase("memory://");
  return { database, dispose: () => database.close() };
});

describe("concurrent start", () => {
  test("two instances migrating and seeding one empty database at once end with one schema and 2 providers", async () => {
    const target = await createTestDatabase({ empty: true });
    const other = createPostgresDatabase(target.url);
    try {
      await Promise.all([target.database.migrate(), other.migrate()]);
      const results = await Promise.all([
        seedDatabase({ db: target.database.db, config, secretBox }),
        seedDatabase({ db: other.db, config, secretBox }),
      ]);
      expect(results.filter(Boolean).length).toBe(1);
      const [count] = await target.database.db.select({ n: sql<number>`count(*)::int` }).from(providers);
      expect(count?.n).toBe(2);
    } finally {
      await other.close();
      await target.drop();
    }
  });
});
