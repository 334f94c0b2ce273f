import { Elysia } from "elysia";
import { type AuditLogService, createAuditLog } from "./audit/audit-log";
import { createBot, type TelegramBotDoor } from "./bot/create-bot";
import { createProviderService } from "./catalog/provider-service";
import type { Config } from "./config";
import { seedDatabase } from "./db/seed";
import { createDebateEngine, type DebateEngine } from "./debate/debate-engine";
import { deriveCookieSecret } from "./http/admin/admin-auth";
import { createAdminRoutes } from "./http/admin/admin-routes";
import { createApiRoutes } from "./http/api/api-routes";
import type { OperatorDoorDeps } from "./http/door-deps";
import { createHealthRoutes } from "./http/health";
import { createOpenApiPlugin } from "./http/openapi";
import type { Coordination } from "./platform/coordination";
import { type Database, openDatabase } from "./platform/db";
import type { Logger } from "./platform/logger";
import { createMemoryCoordination } from "./platform/memory-coordination";
import { createRedisCoordination } from "./platform/redis-coordination";
import { createSecretBox, type SecretBox } from "./platform/secret-box";
import { createSettingsService, type SettingsService } from "./settings/settings-service";

/** Everything a running instance holds; `stop()` releases it in reverse order. */
export interface RunningApp {
  config: Config;
  database: Database;
  coordination: Coordination;
  secretBox: SecretBox;
  audit: AuditLogService;
  settings: SettingsService;
  engine: DebateEngine;
  /** The Telegram door, or null when TELEGRAM_BOT_TOKEN is empty. */
  telegram: TelegramBotDoor | null;
  http: Elysia;
  /** Base URL the HTTP server listens on. */
  url: string;
  stop(): Promise<void>;
}

// Lives with the drivers so that CLIs (`bun run rekey`) open the database without loading the doors.
export { openDatabase } from "./platform/db";

/** Opens coordination: Redis, or in-process for one instance. */
export async function openCoordination(config: Config, logger: Logger): Promise<Coordination> {
  return config.redisUrl
    ? createRedisCoordination({ url: config.redisUrl, logger })
    : createMemoryCoordination();
}

/**
 * Composition root without process-level side effects: config → clients → services → doors.
 * `main.ts` calls it and wires signals; tests call it directly.
 */
export async function startApp(deps: {
  config: Config;
  logger: Logger;
  hostname?: string;
}): Promise<RunningApp> {
  const { config, logger } = deps;
  // Fail on a bad key before touching anything else.
  const secretBox = createSecretBox(config.secretsKey);
  const database = await openDatabase(config);
  const stack: (() => Promise<void>)[] = [() => database.close()];
  const unwind = async () => {
    for (const close of stack.reverse()) await close().catch(() => {});
  };
  try {
    // Say which store is missing in words an operator can act on (never echoing the URL: it may hold a password).
    if (database.kind === "postgres" && !(await database.ping(10_000))) {
      throw new Error(
        "Cannot reach Postgres at DATABASE_URL (or POSTGRES_*): check that it runs and accepts connections, or leave both empty for the embedded database",
      );
    }
    await database.migrate();
    await seedDatabase({ db: database.db, config, secretBox, logger });
    const coordination = await openCoordination(config, logger);
    stack.push(() => coordination.close());
    if (!(await coordination.ping())) {
      throw new Error(
        "Cannot reach Redis at REDIS_URL: check that it runs, or leave REDIS_URL empty for in-process coordination (one instance)",
      );
    }
    logger.info("storage ready", {
      database: database.kind === "postgres" ? "postgres" : `embedded pglite (${config.dataDir})`,
      coordination:
        coordination.kind === "redis" ? "redis" : "in-process (single instance; set REDIS_URL for several)",
    });
    const audit = createAuditLog(database.db);
    const settings = createSettingsService({ db: database.db, defaults: config.defaults, audit });
    const engine = createDebateEngine({
      db: database.db,
      coordination,
      settings,
      secretBox,
      logger,
      models: { providerHosts: config.providerHosts },
    });
    await engine.start();
    stack.push(() => engine.stop());

    const telegram = config.telegram.botToken
      ? createBot({
          token: config.telegram.botToken,
          apiUrl: config.telegram.apiUrl,
          webhook: config.telegram.webhookUrl
            ? { url: config.telegram.webhookUrl, secret: config.telegram.webhookSecret }
            : null,
          db: database.db,
          engine,
          settings,
          coordination,
          logger,
        })
      : null;
    if (!telegram) logger.info("telegram bot is off: TELEGRAM_BOT_TOKEN is empty (admin and API still run)");

    const http = new Elysia().use(
      createHealthRoutes({
        db: () => database.ping(),
        redis: () => coordination.ping(),
        coordinationKind: coordination.kind,
      }),
    );
    const doorDeps: OperatorDoorDeps = {
      db: database.db,
      debate: engine.debate,
      events: engine.events,
      settings,
      audit,
      secretBox,
      logger,
    };
    // One provider service for both doors: the same PROVIDER_HOSTS rule whichever door edits.
    const providers = createProviderService({
      db: database.db,
      audit,
      secretBox,
      providerHosts: config.providerHosts,
      logger: logger.child({ component: "providers" }),
    });
    http
      .use(createOpenApiPlugin())
      .use(createApiRoutes({ ...doorDeps, apiToken: config.apiToken, providers }));
    http.use(
      createAdminRoutes({
        ...doorDeps,
        providers,
        admin: config.admin,
        cookieSecret: deriveCookieSecret(config.secretsKey),
        settingsDefaults: config.defaults,
      }),
    );
    http.get("/", ({ redirect }) => redirect("/admin"), { detail: { hide: true } });
    if (telegram?.webhookRoutes) http.use(telegram.webhookRoutes);
    http.listen({ port: config.port, hostname: deps.hostname ?? "0.0.0.0" });
    stack.push(async () => {
      await http.stop();
    });
    const port = http.server?.port ?? config.port;
    const url = `http://${deps.hostname === "127.0.0.1" ? "127.0.0.1" : "localhost"}:${port}`;
    logger.info("http listening", { url });
    if (telegram) {
      // After the HTTP server: in webhook mode Telegram may post the first update right away.
      // In the background with backoff: a Telegram outage must not take the admin and API down.
      const starting = startWithRetry(() => telegram.start(), logger);
      stack.push(async () => {
        starting.cancel();
        if (await starting.done) await telegram.stop();
      });
    }

    let stopped = false;
    return {
      config,
      database,
      coordination,
      secretBox,
      audit,
      settings,
      engine,
      telegram,
      http: http as unknown as Elysia,
      url,
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
