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
import { createCore } from "../../src/app";
import { createPostgresDatabase } from "../../src/platform/db";
import { createLogger } from "../../src/platform/logger";
import { createRedisCoordination } from "../../src/platform/redis-coordination";
import { testConfig } from "./test-config";

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
// The product's own wiring without its doors: only the engine is started.
const app = await createCore({
  config,
  logger,
  database,
  coordination,
  tuning: {
    engine: {
      scheduler: { pollMs: 20, leaseMs: Number(process.env.LEASE_MS ?? 1000), retryDelayMs: 200 },
      models: { retry: { baseDelayMs: 20, maxDelayMs: 200 } },
      deltaIntervalMs: 0,
    },
  },
});
await app.start();
console.log("engine-worker ready");

process.on("SIGTERM", async () => {
  await app.stop();
  await coordination.close();
  await database.close();
  process.exit(0);
});
