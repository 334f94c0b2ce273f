import { Elysia } from "elysia";
import { createAuditLog } from "./audit/audit-log";
import { type CreateBotDeps, createBot, type TelegramBotDoor } from "./bot/create-bot";
import { createDeliveryStore } from "./bot/delivery/delivery-store";
import { createReports } from "./catalog/admin-reports";
import { createPersonalityService } from "./catalog/personality-service";
import { createProviderService } from "./catalog/provider-service";
import type { Config } from "./config";
import { seedDatabase } from "./db/seed";
import { createDebateEngine, type DebateEngine } from "./debate/debate-engine";
import type { ChatModelOptions } from "./debate/model-factory";
import type { SchedulerOptions } from "./debate/scheduler";
import { deriveCookieSecret } from "./http/admin/admin-auth";
import { type AdminRoutesOptions, createAdminRoutes } from "./http/admin/admin-routes";
import { createAdminSessionStore } from "./http/admin/admin-session-store";
import { createApiRoutes } from "./http/api/api-routes";
import { createBearerGuard } from "./http/api-auth";
import type { OperatorDoorDeps } from "./http/door-deps";
import { createHealthRoutes } from "./http/health";
import { createMetrics, createMetricsRoutes, type Metrics } from "./http/metrics";
import { createOpenApiPlugin } from "./http/openapi";
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

/** One instance: stores, services, the core and its doors. */
export interface App {
  config: Config;
  logger: Logger;
  database: Database;
  coordination: Coordination;
  services: AppServices;
  engine: DebateEngine;
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
 */
export async function createApp(deps: AppDeps): Promise<App> {
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
    const reports = createReports(db);
    const deliveries = createDeliveryStore(db);
    const metrics = createMetrics({
      logger,
      clock: tuning.clock,
      sources: {
        debates: () => reports.sessionsByOutcome(),
        dueSessions: (nowMs) => coordination.dueCount(nowMs),
        deliveryQueue: () => deliveries.pendingCounts(),
      },
    });
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
      observer: metrics.debate,
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
      reports,
      settings,
      audit,
      logger,
      secretBox,
      users: createUserService({ db, settings, audit, clock: tuning.clock }),
    };

    const telegram = config.telegram.botToken
      ? createBot({
          token: config.telegram.botToken,
          apiUrl: config.telegram.apiUrl,
          webhook: config.telegram.webhookUrl
            ? { url: config.telegram.webhookUrl, secret: config.telegram.webhookSecret }
            : null,
          debate: services.debate,
          events: services.events,
          deliveries,
          users: services.users,
          settings,
          coordination,
          logger,
          clock: tuning.clock,
          delivery: tuning.bot,
          onRateLimited: (method) => metrics.telegramRateLimited(method),
        })
      : null;
    if (!telegram) logger.info("telegram bot is off: TELEGRAM_BOT_TOKEN is empty (admin and API still run)");

    const bearerGuard = createBearerGuard(config.apiToken);
    const http = new Elysia()
      .use(
        createHealthRoutes({
          db: () => database.ping(),
          redis: () => coordination.ping(),
          coordinationKind: coordination.kind,
        }),
      )
      .use(createOpenApiPlugin({ guard: config.docsPublic ? undefined : bearerGuard }))
      .use(createApiRoutes({ ...services, apiToken: config.apiToken, ...tuning.api }))
      .use(
        createAdminRoutes({
          ...services,
          admin: config.admin,
          cookieSecret: deriveCookieSecret(config.secretsKey),
          sessions: createAdminSessionStore({
            coordination,
            idleTimeoutMs: async () => (await settings.getAll()).ADMIN_IDLE_TIMEOUT_MIN * 60_000,
            lifetimeMs: tuning.admin?.sessionTtlMs,
            now: tuning.admin?.now,
          }),
          trustProxy: config.trustProxy,
          settingsDefaults: config.defaults,
          options: tuning.admin,
        }),
      )
      .get("/", ({ redirect }) => redirect("/admin"), { detail: { hide: true } });
    if (telegram?.webhookRoutes) http.use(telegram.webhookRoutes);
    // On METRICS_PORT (see `listen`) only, or here behind the API token.
    if (config.metricsPort === null) http.use(createMetricsRoutes({ metrics, guard: bearerGuard }));

    let started = false;
    let stopped = false;
    let metricsUrl: string | null = null;
    return {
      config,
      logger,
      database,
      coordination,
      services,
      engine,
      telegram,
      metrics,
      get metricsUrl() {
        return metricsUrl;
      },
      http: http as unknown as Elysia,
      async start() {
        if (started) return;
        started = true;
        await engine.start();
        stack.push(() => engine.stop());
        if (telegram) {
          // In the background with backoff: a Telegram outage must not take the admin and API down.
          // (In webhook mode, call `listen` first: Telegram may post the first update right away.)
          const starting = startWithRetry(() => telegram.start(), logger);
          stack.push(async () => {
            starting.cancel();
            if (await starting.done) await telegram.stop();
          });
        }
      },
      listen(options = {}) {
        http.listen({
          port: options.port ?? config.port,
          hostname: options.hostname ?? "0.0.0.0",
          maxRequestBodySize: MAX_SERVER_BODY_BYTES,
        });
        stack.push(async () => {
          await http.stop();
        });
        const host = options.hostname === "127.0.0.1" ? "127.0.0.1" : "localhost";
        const url = `http://${host}:${http.server?.port ?? config.port}`;
        logger.info("http listening", { url });
        if (config.metricsPort !== null) {
          const metricsHttp = new Elysia().use(createMetricsRoutes({ metrics }));
          metricsHttp.listen({
            port: config.metricsPort,
            hostname: options.hostname ?? "0.0.0.0",
            // Prometheus posts nothing.
            maxRequestBodySize: 1024,
          });
          stack.push(async () => {
            await metricsHttp.stop();
          });
          metricsUrl = `http://${host}:${metricsHttp.server?.port ?? config.metricsPort}`;
          logger.info("metrics listening", { url: `${metricsUrl}/metrics` });
        }
        return url;
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

/** Retries `start` with a capped exponential backoff until it succeeds (`done` → true) or is cancelled. */
function startWithRetry(start: () => Promise<void>, logger: Logger) {
  let cancelled = false;
  let pause: { timer: ReturnType<typeof setTimeout>; resolve: () => void } | null = null;
  const done = (async () => {
    for (let attempt = 1; !cancelled; attempt++) {
      try {
        await start();
        return true;
      } catch (error) {
        if (cancelled) break;
        const delayMs = Math.min(60_000, 1_000 * 2 ** (attempt - 1));
        logger.warn("telegram bot could not start; retrying", { attempt, retry_in_ms: delayMs, error });
        await new Promise<void>((resolve) => {
          pause = { timer: setTimeout(resolve, delayMs), resolve };
        });
      }
    }
    return false;
  })();
  return {
    done,
    cancel() {
      cancelled = true;
      if (pause) {
        clearTimeout(pause.timer);
        pause.resolve();
      }
    },
  };
}
