import type { AdminRoutesOptions } from "../../src/http/admin/admin-routes";
import { ADMIN_PASSWORD, ADMIN_USERNAME } from "./admin-client";
import type { TestStack } from "./test-stack";

/**
 * The HTTP doors of an instance on the stack's stores with the admin configured for tests (another
 * password or username, env, admin tuning), built by the composition root; drive it with `handle`.
 */
export async function createAdminTestApp(
  stack: TestStack,
  overrides: {
    password?: string;
    username?: string;
    options?: AdminRoutesOptions;
    env?: Record<string, string>;
  } = {},
) {
  const app = await stack.instance({
    env: {
      ADMIN_USERNAME: overrides.username ?? ADMIN_USERNAME,
      ADMIN_PASSWORD: overrides.password ?? ADMIN_PASSWORD,
      ...overrides.env,
    },
    tuning: { admin: overrides.options },
  });
  return app.http;
}
