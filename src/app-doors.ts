import { Elysia } from "elysia";
import type { App, AppDeps, Core } from "./app";
import { MAX_SERVER_BODY_BYTES } from "./app";
import { createBot } from "./bot/create-bot";
import { createDeliveryStore, type DeliveryStore } from "./bot/delivery/delivery-store";
import { deriveCookieSecret } from "./http/admin/admin-auth";
import { createAdminRoutes } from "./http/admin/admin-routes";
import { createAdminSessionStore } from "./http/admin/admin-session-store";
import { createApiRoutes } from "./http/api/api-routes";
import { createBearerGuard } from "./http/api-auth";
import { createHealthRoutes } from "./http/health";
import { createMetrics, createMetricsRoutes, type Metrics } from "./http/metrics";
import { createOpenApiPlugin } from "./http/openapi";
import type { Logger } from "./platform/logger";

/**
 * The doors of the composition root (`app.ts` loads this module on demand): metrics, the Telegram
 * bot and every HTTP door, built on a core's services.
 */

/** The instance's metrics; their gauges read the core (once it exists) on scrape. */
export function createDoorMetrics(deps: AppDeps, core: () => Core | undefined): Metrics {
  const built = () => {
    const current = core();
    if (!current) throw new Error("the core is not built yet");
    return current;
  };
  let deliveries: DeliveryStore | undefined;
  return createMetrics({
    logger: deps.logger,
    clock: deps.tuning?.clock,
    sources: {
      debates: () => built().services.reports.sessionsByOutcome(),
      dueSessions: (nowMs) => built().coordination.dueCount(nowMs),
      deliveryQueue: () => {
        deliveries ??= createDeliveryStore(built().database.db);
        return deliveries.pendingCounts();
      },
    },
  });
}

/** The core with its doors: the bot (when a token is set), the HTTP doors and the metrics. */
export function attachDoors(core: Core, metrics: Metrics, deps: AppDeps): App {
  const { config, logger, services, coordination, database } = core;
  const tuning = deps.tuning ?? {};
  const { settings } = services;
  const telegram = config.telegram.botToken
    ? createBot({
        token: config.telegram.botToken,
        apiUrl: config.telegram.apiUrl,
        webhook: config.telegram.webhookUrl
          ? { url: config.telegram.webhookUrl, secret: config.telegram.webhookSecret }
          : null,
        debate: services.debate,
        events: services.events,
        deliveries: createDeliveryStore(database.db),
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

  // The doors' own resources, released before the core's.
  const stack: (() => Promise<void>)[] = [];
  let started = false;
  let stopped = false;
  let metricsUrl: string | null = null;
  return {
    ...core,
    telegram,
    metrics,
    get metricsUrl() {
      return metricsUrl;
    },
    http: http as unknown as Elysia,
    async start() {
      if (started) return;
      started = true;
      await core.start();
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
      for (const close of stack.splice(0).reverse()) await close().catch(() => {});
      await core.stop();
    },
  };
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
