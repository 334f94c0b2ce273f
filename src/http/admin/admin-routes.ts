/**
 * The operator's door (SPEC §5): server-rendered admin pages under /admin, one Elysia plugin per
 * feature on a shared kit (`admin-kit.tsx`: JSX responses, signed cookies, access macros).
 *
 * Thin by design: every write goes through the same services as the API (provider, personality,
 * settings, debate), which validate and audit it. Views in `admin-jsx/` are pure functions.
 */

import { Elysia } from "elysia";
import type { RuntimeSettings } from "../../config";
import type { Logger } from "../../platform/logger";
import type { OperatorDoorDeps } from "../door-deps";
import { createAdminAuth } from "./admin-auth";
import { createAdminKit } from "./admin-kit";
import type { AdminSessionStore } from "./admin-session-store";
import { createAssetRoutes } from "./asset-routes";
import { createAuditRoutes } from "./audit-routes";
import { createAuthRoutes } from "./auth-routes";
import { createDashboardRoutes } from "./dashboard-routes";
import { createLoginThrottle, type LoginThrottleOptions } from "./login-throttle";
import { createPersonalityRoutes } from "./personality-routes";
import { createProviderRoutes } from "./provider-routes";
import { createSessionRoutes } from "./session-routes";
import { createSettingsRoutes } from "./settings-routes";
import { createUserRoutes } from "./users-routes";

/** What the admin needs; `app.ts` builds these once and passes them in. */
export interface AdminRoutesDeps extends OperatorDoorDeps {
  /** ADMIN_USERNAME / ADMIN_PASSWORD; an empty password disables the admin. */
  admin: { username: string; password: string };
  /** Secret of the session cookie signatures; derive it from SECRETS_KEY. */
  cookieSecret: string;
  /** The logins (in coordination: a logout holds across restarts and instances). */
  sessions: AdminSessionStore;
  /** TRUST_PROXY: reverse proxies in front of the app. */
  trustProxy: number;
  logger: Logger;
  /** The env values of the runtime settings (`config.defaults`), shown as each field's default. */
  settingsDefaults?: RuntimeSettings;
  options?: AdminRoutesOptions;
}

export interface AdminRoutesOptions {
  loginThrottle?: LoginThrottleOptions;
  /** How long a login lasts at most. Default 12 hours. */
  sessionTtlMs?: number;
  /** The clock of logins and of the login throttle. */
  now?: () => number;
  /** Interval of SSE keep-alive comments. Default 10 s (Elysia's idle timeout is 30 s). */
  heartbeatMs?: number;
  /** Timeout of a "Test connection" call. Default 10 s. */
  testConnectionTimeoutMs?: number;
}

/**
 * Builds the admin plugin: pages and actions under `/admin`, assets under `/admin/assets`.
 * Mount it with `app.use(createAdminRoutes(deps))`.
 */
export function createAdminRoutes(deps: AdminRoutesDeps) {
  const options = deps.options ?? {};
  const auth = createAdminAuth({
    username: deps.admin.username,
    password: deps.admin.password,
    cookieSecret: deps.cookieSecret,
  });
  const assets = createAssetRoutes();
  const kit = createAdminKit({
    auth,
    sessions: deps.sessions,
    assets: assets.urls,
    logger: deps.logger,
    trustProxy: deps.trustProxy,
  });
  const services = { kit, ...deps };

  return (
    new Elysia({ name: "admin" })
      .use(assets.routes)
      .use(
        createAuthRoutes({
          kit,
          audit: deps.audit,
          throttle: createLoginThrottle({ now: options.now, ...options.loginThrottle }),
          trustProxy: deps.trustProxy,
        }),
      )
      .use(createDashboardRoutes(services))
      .use(
        createProviderRoutes({
          ...services,
          testConnectionTimeoutMs: options.testConnectionTimeoutMs ?? 10_000,
        }),
      )
      .use(createPersonalityRoutes(services))
      .use(createSessionRoutes({ ...services, heartbeatMs: options.heartbeatMs ?? 10_000 }))
      .use(createUserRoutes(services))
      .use(createSettingsRoutes({ ...services, defaults: deps.settingsDefaults }))
      .use(createAuditRoutes(services))
      // Anything else under /admin.
      .use(kit.feature().all("/*", ({ authed, set }) => kit.notFound(set, authed.page), { page: true }))
  );
}
