import type { Elysia } from "elysia";
import { createAuditLog } from "./audit/audit-log";
import type { CreateBotDeps, TelegramBotDoor } from "./bot/create-bot";
import { createReports } from "./catalog/admin-reports";
import { createPersonalityService } from "./catalog/personality-service";
import { createProviderService } from "./catalog/provider-service";
import type { Config } from "./config";
import { seedDatabase } from "./db/seed";
import { createDebateEngine, type DebateEngine } from "./debate/debate-engine";
import type { DebateObserver } from "./debate/debate-observer";
import type { ChatModelOptions } from "./debate/model-factory";
import type { SchedulerOptions } from "./debate/scheduler";
import type { AdminRoutesOptions } from "./http/admin/admin-routes";
import type { OperatorDoorDeps } from "./http/door-deps";
import type { Metrics } from "./http/metrics";
import type { OpenAiChatModelOptions } from "./llm/openai-chat-model";
import type { Clock } from "./platform/clock";
import type { Coordination } from "./platform/coordination";
import { type Database, openDatabase } from "./platform/db";
import type { Logger } from "./platform/logger";
import { createMemoryCoordination } from "./platform/memory-coordination";
import { MIB } from "./platform/read-body";
import { createRedisCoordination } from "./platform/redis-coordination";
import { createSecretBox, type SecretBox } from "./platform/secret-box";
import { createSettingsService } from "./settings/settings-service";
import { createUserService } from "./users/user-service";

/** The services every door is built on; one set per instance. */
export interface AppServices extends OperatorDoorDeps {
  secretBox: SecretBox;
}

/**
 * Knobs for tests and the bench; production runs on the defaults. Each goes to the one part it
 * tunes, so a test never needs to wire a part by hand.
 */
export interface AppTuning {
  engine?: {
    scheduler?: SchedulerOptions;
    models?: ChatModelOptions;
    deltaIntervalMs?: number;
    budgetRefreshMs?: number;
  };
  bot?: CreateBotDeps["delivery"];
  admin?: AdminRoutesOptions;
  api?: { sseKeepAliveMs?: number };
  /** Chat model options of "test connection" calls. */
  testConnection?: OpenAiChatModelOptions;
  /** Time for the scheduler, the bot's outbox and the daily limits' UTC day (tests advance a manual clock). */
  clock?: Clock;
}

export interface AppDeps {
  config: Config;
  logger: Logger;
  /** Given stores are used as they are and left open by `stop()` (tests and the bench own them). */
  database?: Database;
  coordination?: Coordination;
  /** Seed providers and personalities from the config (default true). */
  seed?: boolean;
  tuning?: AppTuning;
}

/** The core of one instance: stores, services and the debate engine, without any door. */
export interface Core {
  config: Config;
  logger: Logger;
  database: Database;
  coordination: Coordination;
  services: AppServices;
  engine: DebateEngine;
  /** Starts the engine (resuming debates). */
  start(): Promise<void>;
  /** Releases everything this core opened, in reverse order. Idempotent. */
  stop(): Promise<void>;
}

/** One instance: the core and its doors. */
export interface App extends Core {
  /** The Telegram door, or null when TELEGRAM_BOT_TOKEN is empty. */
  telegram: TelegramBotDoor | null;
  /** This instance's Prometheus metrics (served at /metrics). */
  metrics: Metrics;
  /** With METRICS_PORT, the base URL /metrics is served on once `listen` ran; null otherwise. */
  readonly metricsUrl: string | null;
  /** Every HTTP door (health, API, OpenAPI, admin, webhook); `handle(request)` works before `listen`. */
  http: Elysia;
  /** Starts the engine (resuming debates) and, in the background, the bot. */
  start(): Promise<void>;
  /** Serves `http`; resolves with the base URL. */
  listen(options?: { hostname?: string; port?: number }): string;
  /** Releases everything this app opened, in reverse order. Idempotent. */
  stop(): Promise<void>;
}

/**
 * The outer cap on request bodies: Bun refuses a bigger one itself (a bare 413, connection closed)
 * before any route sees it. The doors' own limits lie below it (API and webhook 1 MiB, admin forms
 * 64 KiB), so a body just over theirs gets their own answer.
 */
export const MAX_SERVER_BODY_BYTES = 2 * MIB;

/** Opens coordination: Redis, or in-process for one instance. */
export async function openCoordination(config: Config, logger: Logger): Promise<Coordination> {
  return config.redisUrl
    ? createRedisCoordination({ url: config.redisUrl, logger })
    : createMemoryCoordination();
}

/**
 * The composition root, the one wiring of the product: config → stores → services → core → doors.
 * No process-level side effects (`main.ts` owns signals); tests and the bench build through it too.
 * The doors (HTTP, bot, metrics) live in `app-doors.ts`, loaded here on demand: a process that runs
 * only the core (`createCore`: the bench, the tests' engine workers) never loads Elysia's routes,
 * GramIO or prom-client (≈ 50 MB of RSS).
 */
export async function createApp(deps: AppDeps): Promise<App> {
  const { createDoorMetrics, attachDoors } = await import("./app-doors");
  // The metrics read their gauges from the core on scrape; the engine reports to them as it works.
  let core: Core | undefined;
  const metrics = createDoorMetrics(deps, () => core);
  core = await createCore({ ...deps, observer: metrics.debate });
  try {
    return attachDoors(core, metrics, deps);
  } catch (error) {
    await core.stop();
    throw error;
  }
}

/** Builds the core alone: stores, services and the engine. `observer` hears the engine's work (metrics). */
export async function createCore(deps: AppDeps & { observer?: DebateObserver }): Promise<Core> {
  const { config, logger, tuning = {} } = deps;
  // Fail on a bad key before touching anything else.
  const secretBox = createSecretBox(config.secretsKey);
  const database = deps.database ?? (await openDatabase(config));
  const stack: (() => Promise<void>)[] = [];
  if (!deps.database) stack.push(() => database.close());
  const unwind = async () => {
    for (const close of stack.splice(0).reverse()) await close().catch(() => {});
  };
  try {
    if (!deps.database) {
      // Say which store is missing in words an operator can act on (never echoing the URL: it may hold a password).
      if (database.kind === "postgres" && !(await database.ping(10_000))) {
        throw new Error(
          "Cannot reach Postgres at DATABASE_URL (or POSTGRES_*): check that it runs and accepts connections, or leave both empty for the embedded database",
        );
      }
      await database.migrate();
    }
    const db = database.db;
    if (deps.seed !== false) await seedDatabase({ db, config, secretBox, logger });
    const coordination = deps.coordination ?? (await openCoordination(config, logger));
    if (!deps.coordination) {
      stack.push(() => coordination.close());
      if (!(await coordination.ping())) {
        throw new Error(
          "Cannot reach Redis at REDIS_URL: check that it runs, or leave REDIS_URL empty for in-process coordination (one instance)",
        );
      }
    }
    logger.info("storage ready", {
      database: database.kind === "postgres" ? "postgres" : `embedded pglite (${config.dataDir})`,
      coordination:
        coordination.kind === "redis" ? "redis" : "in-process (single instance; set REDIS_URL for several)",
    });

    const audit = createAuditLog(db);
    const settings = createSettingsService({ db, defaults: config.defaults, audit });
    const engine = createDebateEngine({
      db,
      coordination,
      settings,
      secretBox,
      logger,
      scheduler: tuning.engine?.scheduler,
      // Every call checks PROVIDER_HOSTS too, for rows stored before the setting.
      models: { ...tuning.engine?.models, providerHosts: config.providerHosts },
      deltaIntervalMs: tuning.engine?.deltaIntervalMs,
      budgetRefreshMs: tuning.engine?.budgetRefreshMs,
      clock: tuning.clock,
      observer: deps.observer,
    });
    const services: AppServices = {
      debate: engine.debate,
      events: engine.events,
      // One provider service for both doors: the same PROVIDER_HOSTS rule whichever door edits.
      providers: createProviderService({
        db,
        audit,
        secretBox,
        providerHosts: config.providerHosts,
        chatModelOptions: tuning.testConnection,
        logger: logger.child({ component: "providers" }),
      }),
      personalities: createPersonalityService({ db, audit }),
      reports: createReports(db),
      settings,
      audit,
      logger,
      secretBox,
      users: createUserService({ db, settings, audit, clock: tuning.clock }),
    };

    let started = false;
    let stopped = false;
    return {
      config,
      logger,
      database,
      coordination,
      services,
      engine,
      async start() {
        if (started) return;
        started = true;
        await engine.start();
        stack.push(() => engine.stop());
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await unwind();
      },
    };
  } catch (error) {
    await unwind();
    throw error;
  }
}

/** A running instance: the app, served, its engine and bot started. */
export type RunningApp = App & { url: string };

/** Creates, serves and starts the app (what `main.ts` runs). */
export async function startApp(deps: AppDeps & { hostname?: string }): Promise<RunningApp> {
  const app = await createApp(deps);
  try {
    // Serve first: in webhook mode Telegram may post the first update as soon as the bot starts.
    const url = app.listen({ hostname: deps.hostname });
    await app.start();
    return Object.assign(app, { url });
  } catch (error) {
    await app.stop();
    throw error;
  }
}
