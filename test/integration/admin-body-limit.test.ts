/**
 * Oversized posts to the admin, against the app as a real process: they are refused before being
 * read, so the process's memory stays flat (measured from /proc/<pid>/status).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { csrfFrom } from "../helpers/admin-client";
import { chunkedBody, LISTENING, type SpawnedApp, spawnApp } from "../helpers/spawn-app";
import { testSecretsKey } from "../helpers/test-config";
import { createTestDatabase, type TestDatabase } from "../helpers/test-db";

const PASSWORD = "body-limit-admin-password";
const MB = 1024 * 1024;

let testDatabase: TestDatabase;
let app: SpawnedApp;
let url: string;

beforeAll(async () => {
  testDatabase = await createTestDatabase();
  app = spawnApp({
    env: {
      PORT: "0",
      NODE_ENV: "test",
      DATABASE_URL: testDatabase.url,
      SECRETS_KEY: testSecretsKey,
      ADMIN_PASSWORD: PASSWORD,
      LOG_LEVEL: "info",
    },
  });
  [, url = ""] = await app.waitFor(LISTENING, 30_000);
});
afterAll(async () => {
  app?.kill("SIGKILL");
  await app?.exited;
  await testDatabase?.drop();
});

const cookiesOf = (response: Response) =>
  response.headers
    .getSetCookie()
    .map((line) => line.split(";")[0]!)
    .filter((pair) => !pair.endsWith("="));

async function signIn(): Promise<{ cookie: string; csrf: string }> {
  const form = await fetch(`${url}/admin/login`);
  const loginCookies = cookiesOf(form);
  const login = await fetch(`${url}/admin/login`, {
    method: "POST",
    redirect: "manual",
    headers: { "content-type": "application/x-www-form-urlencoded", cookie: loginCookies.join("; ") },
    body: new URLSearchParams({ _csrf: csrfFrom(await form.text()), username: "admin", password: PASSWORD }),
  });
  expect(login.status).toBe(303);
  const cookie = cookiesOf(login).join("; ");
  const settings = await fetch(`${url}/admin/settings`, { headers: { cookie } });
  expect(settings.status).toBe(200);
  return { cookie, csrf: csrfFrom(await settings.text()) };
}

describe("admin body limit", () => {
  test("5 × 50 MB posts of each kind are refused and the process's memory stays flat", async () => {
    const { cookie, csrf } = await signIn();
    const big = new Uint8Array(50 * MB).fill(97);
    big.set(new TextEncoder().encode(`_csrf=${csrf}&PAYMENT_URL=`));
    const post = (path: string, body: BodyInit, headers: Record<string, string> = {}) =>
      fetch(`${url}${path}`, {
        method: "POST",
        redirect: "manual",
        body,
        headers: { "content-type": "application/x-www-form-urlencoded", ...headers },
      });
    // Warm up the routes measured below, so their first compile is not counted as growth.
    await post("/admin/settings", "x=1", { cookie });
    await post("/admin/login", "x=1");
    const before = await app.rssMb();
    for (let round = 0; round < 5; round++) {
      expect((await post("/admin/settings", big, { cookie })).status).toBe(413);
      expect((await post("/admin/settings", chunkedBody(big), { cookie })).status).toBe(413);
      // Unauthenticated: sent to the login form, the body never read (a declared 50 MB is refused
      // by the server's own cap before any route).
      expect((await post("/admin/settings", chunkedBody(big))).status).toBe(303);
      expect((await post("/admin/settings", big)).status).toBe(413);
      expect((await post("/admin/login", big)).status).toBe(413);
      expect(
        (await post("/admin/login", chunkedBody(big), { "content-type": "application/json" })).status,
      ).toBe(403);
    }
    const after = await app.rssMb();
    // 30 posts of 50 MB: reading any one of them would add ≥ 50 MB.
    expect(after - before).toBeLessThan(30);
    // Still serving.
    expect((await fetch(`${url}/admin/settings`, { headers: { cookie } })).status).toBe(200);
  }, 60_000);
});
