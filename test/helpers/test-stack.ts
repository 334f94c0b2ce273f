import { desc, eq } from "drizzle-orm";
import { type App, type AppTuning, createApp } from "../../src/app";
import type { Config } from "../../src/config";
import { type AuditLog, auditLogs } from "../../src/db/schema";
import type { DebateEngine } from "../../src/debate/debate-engine";
import type { DebateEvent } from "../../src/debate/debate-events";
import type { SchedulerOptions } from "../../src/debate/scheduler";
import type { Coordination } from "../../src/platform/coordination";
import type { Database, Db } from "../../src/platform/db";
import { createLogger, type Logger } from "../../src/platform/logger";
import { createMemoryCoordination } from "../../src/platform/memory-coordination";
import { createRedisCoordination } from "../../src/platform/redis-coordination";
import { type FakeOpenAiServer, startFakeOpenAiServer } from "./fake-openai-server";
import { testConfig } from "./test-config";
import { createPgliteTestDatabase, createTestDatabase, type TestDatabase, testRedisUrl } from "./test-db";

/**
 * The product on real Postgres and Redis, built by the one composition root (`createApp`), with
 * providers pointed at a fake LLM server. The fields below `app` follow the current app across
 * {@link TestStack.restart}.
 */
export interface TestStack {
  /** The running app (engine started unless `startEngine: false`); replaced by `restart`. */
  readonly app: App;
  config: Config;
  testDatabase: TestDatabase;
  db: Db;
  coordination: Coordination;
  readonly engine: App["engine"];
  readonly events: App["engine"]["events"];
  readonly debate: App["services"]["debate"];
  readonly settings: App["services"]["settings"];
  readonly audit: App["services"]["audit"];
  readonly secretBox: App["services"]["secretBox"];
  logger: Logger;
  /** Every JSON log line written so far. */
  logLines: string[];
  fakeLlm: FakeOpenAiServer;
  /** Events of one session as they arrive (across restarts); subscribe before starting the session. */
  recordEvents(sessionId: string): EventRecorder;
  /** The newest audit entry with this action, if any. */
  lastAudit(action: string): Promise<AuditLog | undefined>;
  /**
   * Another instance on the same stores, started unless `start: false` (its doors answer through
   * `http.handle`): for a door with other settings (password, token, tuning) or a second instance.
   */
  instance(overrides?: InstanceOverrides & { start?: boolean }): Promise<App>;
  /** Stops the current app and starts a new one on the same stores, as a process restart does. */
  restart(overrides?: InstanceOverrides & { startEngine?: boolean }): Promise<App>;
  stop(): Promise<void>;
}

/** What another instance may change: env values, tuning, or (for failure tests) its database. */
export interface InstanceOverrides {
  env?: Record<string, string>;
  tuning?: AppTuning;
  database?: Database;
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
  /** Tuning of the app beyond the fast test defaults (merged over them). */
  tuning?: AppTuning;
  /** Share one fake LLM server across stacks. */
  fakeLlm?: FakeOpenAiServer;
  /** Share one database across stacks (two instances on one database). */
  testDatabase?: TestDatabase;
  /** `pglite` runs on the embedded database instead of a Postgres server. */
  database?: "postgres" | "pglite";
  /** Share one Redis prefix across stacks (two instances on one Redis). */
  redisPrefix?: string;
  startEngine?: boolean;
}

/** Fast timings for tests: the scheduler polls often, leases are short, retries quick. */
function testTuning(options: TestStackOptions, extra: AppTuning = {}): AppTuning {
  const base = options.tuning ?? {};
  return {
    ...base,
    ...extra,
    engine: {
      deltaIntervalMs: 0,
      models: { retry: { baseDelayMs: 20, maxDelayMs: 200 } },
      ...base.engine,
      ...extra.engine,
      scheduler: {
        pollMs: 20,
        leaseMs: 2_000,
        retryDelayMs: 200,
        ...options.scheduler,
        ...base.engine?.scheduler,
        ...extra.engine?.scheduler,
      },
    },
    // A roomy flood budget: tests that are about the limits set their own.
    bot: {
      perChatPerSecond: 20,
      chatBurst: 5,
      groupPerMinute: 1200,
      globalPerSecond: 500,
      globalBurst: 50,
      draftIntervalMs: 50,
      retryDelayMs: 200,
      ...base.bot,
      ...extra.bot,
    },
    testConnection: { retry: { maxAttempts: 1 }, ...base.testConnection, ...extra.testConnection },
  };
}

export async function createTestStack(options: TestStackOptions = {}): Promise<TestStack> {
  const fakeLlm = options.fakeLlm ?? (await startFakeOpenAiServer());
  const ownsFake = !options.fakeLlm;
  const testDatabase =
    options.testDatabase ??
    (options.database === "pglite" ? await createPgliteTestDatabase() : await createTestDatabase());
  const ownsDatabase = !options.testDatabase;
  const env = {
    OPENAI_BASE_URL: fakeLlm.url,
    DEEPSEEK_BASE_URL: fakeLlm.url,
    OPENAI_MODEL: "gpt-test",
    DEEPSEEK_MODEL: "deepseek-flash",
    ...options.env,
  };
  const config = testConfig(env);
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
  const db = testDatabase.database.db;
  const others: App[] = [];
  const build = (overrides: InstanceOverrides = {}, seed = false) =>
    createApp({
      config: overrides.env ? testConfig({ ...env, ...overrides.env }) : config,
      logger,
      database: overrides.database ?? testDatabase.database,
      coordination,
      seed,
      tuning: testTuning(options, overrides.tuning),
    });

  let app = await build({}, true);
  if (options.settings) await app.services.settings.update(options.settings, "test");
  if (options.startEngine !== false) await app.start();

  const recorders = new Set<RecorderHandle>();
  const stack: TestStack = {
    get app() {
      return app;
    },
    config,
    testDatabase,
    db,
    coordination,
    get engine() {
      return app.engine;
    },
    get events() {
      return app.engine.events;
    },
    get debate() {
      return app.services.debate;
    },
    get settings() {
      return app.services.settings;
    },
    get audit() {
      return app.services.audit;
    },
    get secretBox() {
      return app.services.secretBox;
    },
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
      const handle = recordEvents(app.engine.events, sessionId);
      recorders.add(handle);
      return handle.recorder;
    },
    async instance(overrides = {}) {
      const other = await build(overrides);
      others.push(other);
      if (overrides.start !== false) await other.start();
      return other;
    },
    async restart(overrides = {}) {
      await app.stop();
      app = await build(overrides);
      for (const handle of recorders) handle.attach(app.engine.events);
      if (overrides.startEngine !== false) await app.start();
      return app;
    },
    async stop() {
      for (const handle of recorders) handle.recorder.stop();
      for (const other of others) await other.stop();
      await app.stop();
      await coordination.close();
      if (ownsDatabase) await testDatabase.drop();
      if (ownsFake) await fakeLlm.stop();
    },
  };
  return stack;
}

interface RecorderHandle {
  recorder: EventRecorder;
  /** Follows another event bus (after a restart), keeping what was recorded. */
  attach(events: DebateEngine["events"]): void;
}

/** Records a session's events and lets a test await one. */
function recordEvents(events: DebateEngine["events"], sessionId: string): RecorderHandle {
  const recorded: DebateEvent[] = [];
  const waiters = new Set<() => void>();
  const onEvent = (event: DebateEvent) => {
    recorded.push(event);
    for (const waiter of waiters) waiter();
  };
  let unsubscribe = events.subscribe(onEvent, sessionId);
  const recorder: EventRecorder = {
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
    stop: () => unsubscribe(),
  };
  return {
    recorder,
    attach(next) {
      unsubscribe();
      unsubscribe = next.subscribe(onEvent, sessionId);
    },
  };
}
