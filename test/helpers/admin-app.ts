import { html } from "@elysiajs/html";
import { Elysia } from "elysia";
import { type AdminRoutesOptions, createAdminRoutes } from "../../src/http/admin/admin-routes";
import { ADMIN_PASSWORD, ADMIN_USERNAME, COOKIE_SECRET } from "./admin-client";
import type { TestStack } from "./test-stack";

/** An Elysia app with only the admin mounted, on a test stack's services. */
export function createAdminTestApp(
  stack: TestStack,
  overrides: {
    password?: string;
    username?: string;
    options?: AdminRoutesOptions;
    htmlPlugin?: boolean;
  } = {},
) {
  const host = overrides.htmlPlugin === false ? new Elysia() : new Elysia().use(html());
  return host.use(
    createAdminRoutes({
      db: stack.db,
      debate: stack.debate,
      events: stack.events,
      settings: stack.settings,
      audit: stack.audit,
      secretBox: stack.secretBox,
      admin: {
        username: overrides.username ?? ADMIN_USERNAME,
        password: overrides.password ?? ADMIN_PASSWORD,
      },
      cookieSecret: COOKIE_SECRET,
      logger: stack.logger,
      settingsDefaults: stack.config.defaults,
      options: overrides.options,
    }),
  );
}
