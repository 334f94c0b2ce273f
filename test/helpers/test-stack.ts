import { desc, eq } from "drizzle-orm";
import { createAuditLog } from "../../src/audit/audit-log";
import type { Config } from "../../src/config";
import { type AuditLog, auditLogs } from "../../src/db/schema";
import { seedDatabase } from "../../src/db/seed";
import { createDebateEngine, type DebateEngine } from "../../src/debate/debate-engine";
import type { DebateEvent } from "../../src/debate/debate-events";
import type { ChatModelOptions } from "../../src/debate/model-factory";
import type { SchedulerOptions } from "../../src/debate/scheduler";
import type { Coordination } from "../../src/platform/coordination";
import type { Db } from "../../src/platform/db";
import { createLogger, type Logger } from "../../src/platform/logger";
import { createMemoryCoordination } from "../../src/platform/memory-coordination";
import { createRedisCoordination } from "../../src/platform/redis-coordination";
import { createSecretBox, type SecretBox } from "../../src/platform/secret-box";
import { createSettingsService, type SettingsService } from "../../src/settings/settings-service";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "./fake-openai-server";
import { testConfig, testSecretsKey } from "./test-config";
import { createPgliteTestDatabase, createTestDatabase, type TestDatabase, testRedisUrl } from "./test-db";

/** A whole debate core on real Postgres and Redis, with providers pointed at a fake LLM server. */
export interface TestStack {
  config: Config;
  testDatabase: TestDatabase;
  db: Db;
  coordination: Coordination;
  engine: DebateEngine;
  events: DebateEngine["events"];
  debate: DebateEngine["debate"];
  settings: SettingsService;
  audit: ReturnType<typeof createAuditLog>;
  secretBox: SecretBox;
  logger: Logger;
  /** Every JSON log line written so far. */
  logLines: string[];
  fakeLlm: FakeOpenAiServer;
  /** Events of one session as they arrive; subscribe before starting the session. */
  recordEvents(sessionId: string): EventRecorder;
  /** The newest audit entry with this action, if any. */
  lastAudit(action: string): Promise<AuditLog | undefined>;
  stop(): Promise<void>;
}

export interface EventRecorder {
  events: DebateEvent[];
  /** Resolves with the first recorded event matching `predicate` (past or future). */
  waitFor<T extends DebateEvent["type"]>(
    type: T,
    predicate?: (event: Extract<DebateEvent, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<DebateEvent, { type: T }>>;
  stop(): void;
}

export interface TestStackOptions {
  coordination?: "redis" | "memory";
  env?: Record<string, string>;
  /** Settings written to the settings table before the engine starts. */
  settings?: Record<string, string | number>;
  scheduler?: SchedulerOptions;
  /** Share one fake LLM server across stacks. */
  fakeLlm?: FakeOpenAiServer;
  /** Share one database across stacks (two instances on one database). */
  testDatabase?: TestDatabase;
  /** `pglite` runs on the embedded database instead of a Postgres server. */
  database?: "postgres" | "pglite";
  /** Share one Redis prefix across stacks (two instances on one Redis). */
  redisPrefix?: string;
  startEngine?: boolean;
  /** Chat model options of the engine on top of the short test backoff (e.g. `providerHosts`). */
  models?: ChatModelOptions;
}

export async function createTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const fakeLlm = options.fakeLlm ?? (await startFakeOpenAiServer());
  const ownsFake = !options.fakeLlm;
  const testDatabase =
    options.testDatabase ??
    (options.database === "pglite" ? await createPgliteTestDatabase() : await createTestDatabase());
  const ownsDatabase = !options.testDatabase;
  const config = testConfig({
    OPENAI_BASE_URL: fakeLlm.url,
    DEEPSEEK_BASE_URL: fakeLlm.url,
    OPENAI_MODEL: "gpt-test",
    DEEPSEEK_MODEL: "deepseek-flash",
    ...options.env,
  });
  const logLines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => logLines.push(line) });
  const coordination =
    options.coordination === "memory"
      ? createMemoryCoordination()
      : await createRedisCoordination({
          url: testRedisUrl,
          prefix: options.redisPrefix ?? `rt-test:${crypto.randomUUID()}:`,
          logger,
        });
  const secretBox = createSecretBox(testSecretsKey);
  const db = testDatabase.database.db;
  await seedDatabase({ db, config, secretBox });
  const audit = createAuditLog(db);
  const settings = createSettingsService({ db, defaults: config.defaults, audit });
  if (options.settings) await settings.update(options.settings, "test");
  const engine = createDebateEngine({
    db,
    coordination,
    settings,
    secretBox,
    logger,
    scheduler: { pollMs: 20, leaseMs: 2_000, retryDelayMs: 200, ...options.scheduler },
    models: { retry: { baseDelayMs: 20, maxDelayMs: 200 }, ...options.models },
    deltaIntervalMs: 0,
  });
  if (options.startEngine !== false) await engine.start();
  const recorders = new Set<EventRecorder>();
  return {
    config,
    testDatabase,
    db,
    coordination,
    engine,
    events: engine.events,
    debate: engine.debate,
    settings,
    audit,
    secretBox,
    logger,
    logLines,
    fakeLlm,
    async lastAudit(action) {
      const [row] = await db
        .select()
        .from(auditLogs)
        .where(eq(auditLogs.action, action))
        .orderBy(desc(auditLogs.id))
        .limit(1);
      return row;
    },
    recordEvents(sessionId) {
      const recorder = recordEvents(engine.events, sessionId);
      recorders.add(recorder);
      return recorder;
    },
    async stop() {
      for (const recorder of recorders) recorder.stop();
      await engine.stop();
      await coordination.close();
      if (ownsDatabase) await testDatabase.drop();
      if (ownsFake) await fakeLlm.stop();
    },
  };
}

/** Records a session's events and lets a test await one. */
export function recordEvents(events: DebateEngine["events"], sessionId: string): EventRecorder {
  const recorded: DebateEvent[] = [];
  const waiters = new Set<() => void>();
  const unsubscribe = events.subscribe((event) => {
    recorded.push(event);
    for (const waiter of waiters) waiter();
  }, sessionId);
  return {
    events: recorded,
    waitFor(type, predicate, timeoutMs = 15_000) {
      type Wanted = Extract<DebateEvent, { type: typeof type }>;
      return new Promise<Wanted>((resolve, reject) => {
        const check = () => {
          const found = recorded.find(
            (event): event is Wanted => event.type === type && (!predicate || predicate(event as Wanted)),
          );
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(
            new Error(
              `timed out waiting for ${type}; saw: ${recorded.map((event) => event.type).join(", ")}`,
            ),
          );
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    stop: unsubscribe,
  };
}
