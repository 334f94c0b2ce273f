/**
 * A debate engine in its own process, for crash-recovery and multi-instance tests:
 * `bun test/helpers/engine-worker.ts` with
 *   DATABASE_URL   a migrated test database (seeded here if it is not yet)
 *   REDIS_URL      Redis; REDIS_PREFIX the namespace shared with the other instances
 *   FAKE_LLM_URL   the fake OpenAI-compatible server the seeded providers point at
 *   LEASE_MS       the scheduler's lease (default 1000)
 * Prints `engine-worker ready` once the scheduler runs; JSON log lines go to stdout.
 * SIGTERM stops it gracefully; tests kill it with SIGKILL to simulate a crash.
 */
import { createAuditLog } from "../../src/audit/audit-log";
import { seedDatabase } from "../../src/db/seed";
import { createDebateEngine } from "../../src/debate/debate-engine";
import { createPostgresDatabase } from "../../src/platform/db";
import { createLogger } from "../../src/platform/logger";
import { createRedisCoordination } from "../../src/platform/redis-coordination";
import { createSecretBox } from "../../src/platform/secret-box";
import { createSettingsService } from "../../src/settings/settings-service";
import { testConfig, testSecretsKey } from "./test-config";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`engine-worker: ${name} is required`);
  return value;
}

const fakeLlmUrl = required("FAKE_LLM_URL");
const config = testConfig({
  OPENAI_BASE_URL: fakeLlmUrl,
  DEEPSEEK_BASE_URL: fakeLlmUrl,
  OPENAI_MODEL: "gpt-test",
  DEEPSEEK_MODEL: "deepseek-flash",
});
const logger = createLogger({ level: "info", base: { worker: process.pid } });
const database = createPostgresDatabase(required("DATABASE_URL"), { max: 5 });
const coordination = await createRedisCoordination({
  url: required("REDIS_URL"),
  prefix: required("REDIS_PREFIX"),
  logger,
});
const secretBox = createSecretBox(testSecretsKey);
await seedDatabase({ db: database.db, config, secretBox });
const settings = createSettingsService({
  db: database.db,
  defaults: config.defaults,
  audit: createAuditLog(database.db),
});
const engine = createDebateEngine({
  db: database.db,
  coordination,
  settings,
  secretBox,
  logger,
  scheduler: { pollMs: 20, leaseMs: Number(process.env.LEASE_MS ?? 1000), retryDelayMs: 200 },
  models: { retry: { baseDelayMs: 20, maxDelayMs: 200 } },
  deltaIntervalMs: 0,
});
await engine.start();
console.log("engine-worker ready");

process.on("SIGTERM", async () => {
  await engine.stop();
  await coordination.close();
  await database.close();
  process.exit(0);
});
